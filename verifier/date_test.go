package verifier

import (
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	"hosho-intake/config"
)

func date(y int, m time.Month, d int) config.Date { return config.Date{Year: y, Month: m, Day: d} }

func TestParseDate(t *testing.T) {
	tests := []struct {
		in, era string
		want    config.Date
		ok      bool
	}{
		{"令和5年6月1日", "", date(2023, 6, 1), true},
		{"令和元年6月1日", "", date(2019, 6, 1), true},
		{"令和元年5月1日", "", date(2019, 5, 1), true},
		{"令和1年5月1日", "", date(2019, 5, 1), true},
		{"令和元年4月30日", "", config.Date{}, false}, // still 平成
		{"R1.5.1", "", date(2019, 5, 1), true},
		{"R元.7.1", "", date(2019, 7, 1), true},
		{"R5.6.1", "", date(2023, 6, 1), true},
		{"R5/6/1", "", date(2023, 6, 1), true},
		{"R5-6-1", "", date(2023, 6, 1), true},
		{"R5.6/1", "", config.Date{}, false}, // mixed separators
		{"Ｒ５．６．１", "", date(2023, 6, 1), true},
		{"平成31年4月30日", "", date(2019, 4, 30), true},
		{"平成31年5月1日", "", config.Date{}, false}, // 令和元年5月1日
		{"平成元年1月8日", "", date(1989, 1, 8), true},
		{"平成元年1月7日", "", config.Date{}, false}, // 昭和64年
		{"昭和64年1月7日", "", date(1989, 1, 7), true},
		{"H31.4.30", "", date(2019, 4, 30), true},
		{"大正15年12月24日", "", date(1926, 12, 24), true},
		{"明治45年7月29日", "", date(1912, 7, 29), true},
		{"明治45年7月30日", "", config.Date{}, false},
		{"令和５年６月１日", "", date(2023, 6, 1), true},
		{"令和 5 年 6 月 1 日", "", date(2023, 6, 1), true},
		{"５年６月１日", "令和", date(2023, 6, 1), true},
		{"元年6月1日", "令和", date(2019, 6, 1), true},
		{"５年６月１日", "", config.Date{}, false}, // no era to put it in
		{"令和5年2月30日", "", config.Date{}, false},
		{"令和6年2月29日", "", date(2024, 2, 29), true},
		{"令和5年13月1日", "", config.Date{}, false},
		{"令和0年6月1日", "", config.Date{}, false},
		{"2023/6/1", "", date(2023, 6, 1), true},
		{"2023-06-01", "", date(2023, 6, 1), true},
		{"2023.6.1", "", date(2023, 6, 1), true},
		{"2023年6月1日", "", date(2023, 6, 1), true},
		{"２０２３／０６／０１", "", date(2023, 6, 1), true},
		{"2023/02/29", "", config.Date{}, false},
		{"2023/6-1", "", config.Date{}, false},
		{"0852-22-5111", "", config.Date{}, false},
		{"令和5年6月1日です", "", config.Date{}, false},
		{"", "", config.Date{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseDate(tt.in, tt.era)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseDate(%q, %q) = %v, %v; want %v, %v", tt.in, tt.era, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStatedDates(t *testing.T) {
	tests := []struct {
		name, text string
		want       []StatedDate
	}{
		{"labelled era", "契約日：令和5年6月1日", []StatedDate{{BasisContract, date(2023, 6, 1), "令和5年6月1日"}}},
		{"full-width colon and digits", "入札公告日：令和７年１０月１日", []StatedDate{{BasisTenderNotice, date(2025, 10, 1), "令和7年10月1日"}}},
		{"は", "本工事の契約日は2023/6/1です。", []StatedDate{{BasisContract, date(2023, 6, 1), "2023/6/1"}}},
		{"bullet and letter era", "・契約締結日 R5.6.1", []StatedDate{{BasisContract, date(2023, 6, 1), "R5.6.1"}}},
		{"original before contract", "当初契約日：令和5年5月31日\n変更契約日：令和5年8月1日", []StatedDate{
			{BasisOriginalContract, date(2023, 5, 31), "令和5年5月31日"},
			{labelChangeContract, date(2023, 8, 1), "令和5年8月1日"},
		}},
		{"era context", "令和5年度発注の工事です。\n契約日：５年６月１日", []StatedDate{{BasisContract, date(2023, 6, 1), "5年6月1日"}}},
		{"no era context", "契約日：５年６月１日", nil},
		{"label on the line above", "契約日\n　令和5年6月1日", []StatedDate{{BasisContract, date(2023, 6, 1), "令和5年6月1日"}}},
		{"unlabelled", "日時：令和8年7月10日（金）14時～", []StatedDate{{"", date(2026, 7, 10), "令和8年7月10日"}}},
		{"two on a line", "指名通知日：2025-09-01、契約日：2025-10-15", []StatedDate{
			{BasisNomination, date(2025, 9, 1), "2025-09-01"},
			{BasisContract, date(2025, 10, 15), "2025-10-15"},
		}},
		{"telephone", "TEL 0852-22-5111", nil},
		{"invalid", "契約日：令和5年2月30日", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StatedDates(tt.text)
			if len(got) != len(tt.want) {
				t.Fatalf("StatedDates(%q) = %v, want %v", tt.text, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("StatedDates(%q)[%d] = %v, want %v", tt.text, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func FuzzStatedDates(f *testing.F) {
	for _, s := range []string{
		"契約日：令和5年6月1日", "R5.6.1", "令和元年5月1日", "平成31年4月30日", "令和5年度\n５年６月１日",
		"入札公告日\n2025/10/01", "0852-22-5111", "契約日：令和5年2月30日", "当初契約日 H30.4.1 変更契約日 R5.8.1",
		"令\xff和 平成令和元年 昭和63年 大\n正",
		"明治大正昭和平成令和令明和平成",
		"Mr. Tanaka 2023.6.1ST R 5 . 6 . 1 令和元年１２月２５日",
		"工事 x2023/6/1y 令和\n5年\n6月1日",
		"令和５年６月１日と2023-06-01、R5.6.1 および 5 年 6 月 1 日\n（H31/4/30）",
	} {
		f.Add(s)
	}
	labels := map[string]bool{"": true, labelChangeContract: true}
	for _, b := range dateBases {
		labels[b] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		// eraMentions finds the era names as a pattern of them would.
		if got, want := eraMentions(s), regexp.MustCompile(`明治|大正|昭和|平成|令和`).FindAllStringIndex(s, -1); !reflect.DeepEqual(got, want) {
			t.Errorf("eraMentions(%q) = %v; the pattern finds %v", s, got, want)
		}
		// dateMatches finds what the pattern finds over the whole text.
		if got, want := dateMatches(s), dateRe.FindAllStringSubmatchIndex(s, -1); !reflect.DeepEqual(got, want) {
			t.Errorf("dateMatches(%q) = %v; over the whole text: %v", s, got, want)
		}
		for _, d := range StatedDates(s) {
			if !labels[d.Label] {
				t.Errorf("StatedDates(%q): label %q", s, d.Label)
			}
			if _, ok := civil(d.Date.Year, itoa(int(d.Date.Month)), itoa(d.Date.Day)); !ok || d.Date.Year < 1868 {
				t.Errorf("StatedDates(%q): impossible date %v", s, d.Date)
			}
			// A date with its era or year written parses alone to the same date.
			if got, ok := ParseDate(d.Text, "令和"); ok && got != d.Date {
				if _, alone := ParseDate(d.Text, ""); alone {
					t.Errorf("StatedDates(%q): %q is %v, ParseDate says %v", s, d.Text, d.Date, got)
				}
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
