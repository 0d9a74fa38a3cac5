package verifier

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"hosho-intake/config"
	"hosho-intake/parser"
)

// japan is the zone the agencies' dates are in. A fixed UTC+9 equals Asia/Tokyo since
// Japan dropped daylight saving in 1951, and needs no tzdata on the host.
func japan() *time.Location { return time.FixedZone("Asia/Tokyo", 9*60*60) }

// era is a Japanese era (元号) and the first day of its year 1 (元年).
type era struct {
	name, letter string
	start        config.Date
}

// eras in order. Each ends the day before the next starts: 平成31年4月30日 exists,
// 平成31年5月1日 does not (it is 令和元年5月1日). 明治 counts from 1868-01-01, the year
// the 一世一元の詔 made 明治元年 (its dates before 明治6年 are lunar; no contract has them).
var eras = []era{
	{"明治", "M", config.Date{Year: 1868, Month: time.January, Day: 1}},
	{"大正", "T", config.Date{Year: 1912, Month: time.July, Day: 30}},
	{"昭和", "S", config.Date{Year: 1926, Month: time.December, Day: 25}},
	{"平成", "H", config.Date{Year: 1989, Month: time.January, Day: 8}},
	{"令和", "R", config.Date{Year: 2019, Month: time.May, Day: 1}},
}

// dateRe finds the date forms senders write, on parser.Normalize'd text (so full-width
// digits and separators are ASCII): an era date (令和5年6月1日, 令和元年6月1日, R5.6.1,
// R5/6/1, H31-4-30), a Western date (2023年6月1日, 2023/6/1, 2023-06-01, 2023.6.1), or a
// date without an era (5年6月1日), which counts only after an era was named.
var dateRe = regexp.MustCompile(
	`(明治|大正|昭和|平成|令和|[MTSHR])\s*(元|\d{1,2})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|([./-])\s*(\d{1,2})\s*([./-])\s*(\d{1,2}))` +
		`|(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|([./-])(\d{1,2})([./-])(\d{1,2}))` +
		`|(元|\d{1,2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日`)

// ParseDate reads one date written the ways senders and registers write them: 令和5年6月1日,
// 令和元年6月1日, R5.6.1, R5/6/1, 2023/6/1, 2023-06-01, 2023年6月1日, full-width digits
// included. era ("令和", "平成", … or "") is the era a date without one (５年６月１日) is in;
// with era "" such a date is refused. Dates that do not exist (令和5年2月30日) or fall
// outside their era (平成31年5月1日, 令和元年4月30日) are refused.
func ParseDate(s string, era string) (config.Date, bool) {
	t := strings.TrimSpace(parser.Normalize(s))
	m := dateRe.FindStringSubmatchIndex(t)
	if m == nil || m[0] != 0 || m[1] != len(t) {
		return config.Date{}, false
	}
	return dateAt(t, m, era)
}

// dateAt converts the match m of dateRe in s. ctx is the era in force for a date without one.
func dateAt(s string, m []int, ctx string) (config.Date, bool) {
	g := func(i int) string {
		if m[2*i] < 0 {
			return ""
		}
		return s[m[2*i]:m[2*i+1]]
	}
	// A date glued to more digits or letters is part of something else: a telephone
	// number (0852-22-5111), a code (TR5.6.1).
	if r, _ := utf8.DecodeLastRuneInString(s[:m[0]]); isDigit(r) || g(1) != "" && len(g(1)) == 1 && isASCIILetter(r) {
		return config.Date{}, false
	}
	if r, _ := utf8.DecodeRuneInString(s[m[1]:]); isDigit(r) {
		return config.Date{}, false
	}
	switch {
	case g(1) != "":
		month, day := g(3), g(4)
		if month == "" {
			if g(5) != g(7) {
				return config.Date{}, false
			}
			month, day = g(6), g(8)
		}
		return eraDate(g(1), g(2), month, day)
	case g(9) != "":
		month, day := g(10), g(11)
		if month == "" {
			if g(12) != g(14) {
				return config.Date{}, false
			}
			month, day = g(13), g(15)
		}
		y, _ := strconv.Atoi(g(9))
		if y < eras[0].start.Year {
			return config.Date{}, false
		}
		return civil(y, month, day)
	default:
		if ctx == "" {
			return config.Date{}, false
		}
		return eraDate(ctx, g(16), g(17), g(18))
	}
}

// eraDate converts a date in the era named (or lettered) name; year "元" is 1.
func eraDate(name, year, month, day string) (config.Date, bool) {
	for i, e := range eras {
		if name != e.name && name != e.letter {
			continue
		}
		y := 1
		if year != "元" {
			y, _ = strconv.Atoi(year)
		}
		if y < 1 {
			return config.Date{}, false
		}
		d, ok := civil(e.start.Year+y-1, month, day)
		if !ok || before(d, e.start) || i+1 < len(eras) && !before(d, eras[i+1].start) {
			return config.Date{}, false
		}
		return d, true
	}
	return config.Date{}, false
}

// civil returns the date if it exists: time.Date would carry 2月30日 into March.
func civil(year int, month, day string) (config.Date, bool) {
	mo, _ := strconv.Atoi(month)
	d, _ := strconv.Atoi(day)
	t := time.Date(year, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != year || int(t.Month()) != mo || t.Day() != d {
		return config.Date{}, false
	}
	return config.Date{Year: year, Month: time.Month(mo), Day: d}, true
}

// before reports whether a is earlier than b.
func before(a, b config.Date) bool {
	if a.Year != b.Year {
		return a.Year < b.Year
	}
	if a.Month != b.Month {
		return a.Month < b.Month
	}
	return a.Day < b.Day
}

func isDigit(r rune) bool       { return r >= '0' && r <= '9' }
func isASCIILetter(r rune) bool { return r < utf8.RuneSelf && unicode.IsLetter(r) }

// StatedDate is a date found in a mail's text, with the label it was stated under.
type StatedDate struct {
	// Label is the date's label in canonical form: one of the date bases (契約日, 当初契約日,
	// 入札公告日, 指名日, 通知日), 変更契約日, or "" when the date stands without a label.
	Label string
	Date  config.Date
	// Text is the date as written, after normalisation.
	Text string
}

// dateLabels are the labels senders put before a date, longest first so that 当初契約日 and
// 変更契約日 are not read as 契約日, mapped to their canonical form.
var dateLabels = []struct{ text, label string }{
	{"当初契約締結日", BasisOriginalContract},
	{"当初契約年月日", BasisOriginalContract},
	{"変更契約締結日", labelChangeContract},
	{"変更契約年月日", labelChangeContract},
	{"入札公告年月日", BasisTenderNotice},
	{"当初契約日", BasisOriginalContract},
	{"変更契約日", labelChangeContract},
	{"指名通知日", BasisNomination},
	{"指名年月日", BasisNomination},
	{"通知年月日", BasisNotification},
	{"公告年月日", BasisTenderNotice},
	{"契約締結日", BasisContract},
	{"契約年月日", BasisContract},
	{"入札公告日", BasisTenderNotice},
	{"公告日", BasisTenderNotice},
	{"契約日", BasisContract},
	{"指名日", BasisNomination},
	{"通知日", BasisNotification},
}

// labelChangeContract labels the date of a change contract (変更契約): not a basis of any
// policy, but a sign that the contract is a change of an earlier one.
const labelChangeContract = "変更契約日"

// StatedDates returns the dates stated in text, in order, each with the label written just
// before it on the same line (契約日：令和5年6月1日, 入札公告日 R7.10.1) or alone on the
// line before it. A date without an era (5年6月1日) takes the era named last before it.
func StatedDates(text string) []StatedDate {
	return statedDates(parser.Normalize(text))
}

// statedDates is StatedDates of a parser.Normalize'd text.
func statedDates(t string) []StatedDate {
	mentions := eraMentions(t)
	var out []StatedDate
	ctx := ""
	for _, m := range dateMatches(t) {
		// Both lists are in text order: advance through the mentions as the dates go.
		for len(mentions) > 0 && mentions[0][0] < m[0] {
			ctx, mentions = t[mentions[0][0]:mentions[0][1]], mentions[1:]
		}
		d, ok := dateAt(t, m, ctx)
		if !ok {
			continue
		}
		out = append(out, StatedDate{Label: labelBefore(t, m[0]), Date: d, Text: t[m[0]:m[1]]})
	}
	return out
}

// dateMatches is dateRe.FindAllStringSubmatchIndex(t, -1), run only over the stretches of t
// that can hold a date: a date is written with digits, white space, separators, era names
// and letters, 元, 年, 月 and 日 alone, so every match lies within one maximal run of such
// characters that holds a digit, and the pattern looks at nothing around it. Run over the
// whole of a mail's text, the pattern (which has no literal prefix to skip to) was tried at
// every byte: most of the judge's time (issue 14).
func dateMatches(t string) [][]int {
	var out [][]int
	start, digit := -1, false
	flush := func(end int) {
		if start >= 0 && digit {
			for _, m := range dateRe.FindAllStringSubmatchIndex(t[start:end], -1) {
				for i := range m {
					if m[i] >= 0 {
						m[i] += start
					}
				}
				out = append(out, m)
			}
		}
		start, digit = -1, false
	}
	for i, r := range t {
		if !inDate(r) {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
		}
		digit = digit || '0' <= r && r <= '9'
	}
	flush(len(t))
	return out
}

// eraMentions finds the era names that set the era of a later date written without one
// (令和5年度の工事 … 5年6月1日), as [start, end] pairs in text order, by the first character
// of each: no name starts with a character another one holds, so they neither overlap nor
// hide each other (a pattern of the five, tried at every byte, was as slow as the dates').
func eraMentions(t string) [][]int {
	var out [][]int
	for i := 0; i < len(t); {
		j := strings.IndexAny(t[i:], "明大昭平令")
		if j < 0 {
			break
		}
		i += j
		matched := false
		for _, e := range eras {
			if strings.HasPrefix(t[i:], e.name) {
				out = append(out, []int{i, i + len(e.name)})
				i += len(e.name)
				matched = true
				break
			}
		}
		if !matched {
			_, n := utf8.DecodeRuneInString(t[i:])
			i += n
		}
	}
	return out
}

// inDate reports whether r can be part of a dateRe match.
func inDate(r rune) bool {
	switch {
	case '0' <= r && r <= '9':
		return true
	case r < 0x80:
		return strings.ContainsRune("\t\n\f\r ./-MTSHR", r)
	}
	return strings.ContainsRune("元年月日明治大正昭和平成令", r)
}

// labelBefore returns the canonical date label that ends right before position i of s
// (separators between them allowed), or that stands alone on the previous non-blank line
// (a table pasted as text puts the value under its label).
func labelBefore(s string, i int) string {
	// Labels are short: look back a bounded window, so a long line of dates stays linear.
	if lo := i - labelWindow; lo > 0 {
		s, i = s[lo:], i-lo
	}
	lineStart := strings.LastIndexByte(s[:i], '\n') + 1
	if head := trimSeps(s[lineStart:i]); head != "" || lineStart == 0 {
		for _, l := range dateLabels {
			if strings.HasSuffix(head, l.text) {
				return l.label
			}
		}
		return ""
	}
	prev := strings.TrimRightFunc(s[:lineStart], unicode.IsSpace)
	prev = strings.TrimFunc(prev[strings.LastIndexByte(prev, '\n')+1:], isSep)
	for _, l := range dateLabels {
		if prev == l.text {
			return l.label
		}
	}
	return ""
}

// labelWindow is how many bytes before a date labelBefore looks at: a label, its
// separators and, on the line above, a label alone.
const labelWindow = 96

// trimSeps removes what stands between a label and its value: white space, colons, an
// equals sign, は, brackets and bullets.
func trimSeps(s string) string { return strings.TrimRightFunc(s, isSep) }

func isSep(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(":=は(【[「・●■-", r)
}
