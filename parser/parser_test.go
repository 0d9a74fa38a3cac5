package parser

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"hosho-intake/parser/pdftext"
)

// page builds a page from lines of cells: each line is a Y and cells of (X, text).
type cell struct {
	x    float64
	text string
}

func line(y float64, cells ...cell) pdftext.Line {
	l := pdftext.Line{Y: y}
	for _, c := range cells {
		w := float64(len([]rune(c.text))) * 10.5
		l.Spans = append(l.Spans, pdftext.Span{Text: c.text, X0: c.x, X1: c.x + w, Y: y, Size: 10.5})
	}
	return l
}

func page(lines ...pdftext.Line) pdftext.Page {
	p := pdftext.Page{Number: 1, Width: 595, Height: 842, Lines: lines}
	for _, l := range lines {
		for _, s := range l.Spans {
			p.Glyphs += len([]rune(s.Text))
		}
	}
	return p
}

var want = Notice{Category: "前払金保証", ContractNumber: "2094591510", AuthKey: "HR0E4FWKFQ",
	ProjectName: "県道松江木次線道路改良工事", Orderer: "島根県知事", Guarantor: WestJapan, Source: "pdf", Page: 1}

func tableRows(y0, pitch float64, rows [][2]string) []pdftext.Line {
	var ls []pdftext.Line
	for i, r := range rows {
		ls = append(ls, line(y0+float64(i)*pitch, cell{72, r[0]}, cell{200, r[1]}))
	}
	return ls
}

func TestFromPages(t *testing.T) {
	title := line(80, cell{150, "電子証書閲覧用「認証キー」等のお知らせ"})
	prose := line(110, cell{72, "「保証確認サービス (D-Sure)」で電子証書を閲覧するための「認証キー」等は、以下のとおりとなります。"})
	foot := []pdftext.Line{
		line(400, cell{72, "【発注者様へのお願い】"}),
		line(420, cell{72, "上記の「保証契約番号」と「認証キー」を入力の上、電子証書を閲覧ください。"}),
		line(700, cell{350, "西日本建設業保証株式会社"}),
	}
	std := [][2]string{{"区分", "前払金保証"}, {"保証契約番号", "2094591510"}, {"認証キー", "HR0E4FWKFQ"},
		{"工事名", "県道松江木次線道路改良工事"}, {"発注者", "島根県知事"}, {"保証機関", "西日本建設業保証株式会社"}}
	build := func(middle ...pdftext.Line) pdftext.Page {
		ls := append([]pdftext.Line{title, prose}, middle...)
		return page(append(ls, foot...)...)
	}
	tests := []struct {
		name string
		page pdftext.Page
		want []Notice
		code string
	}{
		{"table", build(tableRows(150, 28, std)...), []Notice{want}, ""},
		{"full-width and radicals", build(tableRows(150, 28, [][2]string{{"区　　分", "前払金保証"}, {"保証契約番号", "２０９４５９１５１０"},
			{"認証キー", "ＨＲ０Ｅ４ＦＷＫＦＱ"}, {"⼯事名", "県道松江⽊次線道路改良⼯事"}, {"発注者", "島根県知事　殿"}, {"保証機関", "⻄⽇本建設業保証株式会社　東京支店"}})...), []Notice{want}, ""},
		{"names as written (issue 18)", build(tableRows(150, 28, [][2]string{{"区分", "前払金保証"}, {"保証契約番号", "2094591510"},
			{"認証キー", "HR0E4FWKFQ"}, {"工事名", "一般国道9号益田道路改良工事（第2工区）"}, {"発注者", "国土交通省　中国地方整備局長"},
			{"保証機関", "西日本建設業保証株式会社"}})...),
			[]Notice{func() Notice {
				n := want
				n.ProjectName, n.Orderer = "一般国道9号益田道路改良工事（第2工区）", "国土交通省中国地方整備局長"
				return n
			}()}, ""},
		{"circled digit wrapped in its cell", build(
			line(150, cell{72, "区分"}, cell{200, "前払金保証"}), line(178, cell{72, "保証契約番号"}, cell{200, "2094591510"}),
			line(206, cell{72, "認証キー"}, cell{200, "HR0E4FWKFQ"}),
			line(234, cell{72, "工事名"}, cell{200, "県道松江木次線道路改良工事"}), line(248, cell{200, "（その①）"}),
			line(276, cell{72, "発注者"}, cell{200, "島根県知事"}), line(304, cell{72, "保証機関"}, cell{200, "西日本建設業保証株式会社"})),
			[]Notice{func() Notice {
				n := want
				n.ProjectName = "県道松江木次線道路改良工事（その①）"
				return n
			}()}, ""},
		{"hyphenated number", build(tableRows(150, 28, [][2]string{{"区分", "前払金保証"}, {"保証契約番号", "2094-591510"},
			{"認証キー", "HR0E4FWKFQ"}, {"工事名", "県道松江木次線道路改良工事"}, {"発注者", "島根県知事"}, {"保証機関", "西日本建設業保証株式会社"}})...), []Notice{want}, ""},
		{"inline", build(
			line(150, cell{72, "区分：前払金保証"}), line(170, cell{72, "保証契約番号：2094591510"}),
			line(190, cell{72, "認証キー：HR0E4FWKFQ"}), line(210, cell{72, "工事名：県道松江木次線道路改良工事"}),
			line(230, cell{72, "発注者：島根県知事"}), line(250, cell{72, "保証機関：西日本建設業保証株式会社"})), []Notice{want}, ""},
		{"spaced label glyphs", build(append(tableRows(178, 28, std[1:]),
			line(150, cell{72, "区"}, cell{140, "分"}, cell{200, "前払金保証"}))...), []Notice{want}, ""},
		{"key wrapped in its cell", build(
			line(150, cell{72, "区分"}, cell{200, "前払金保証"}), line(178, cell{72, "保証契約番号"}, cell{200, "2094591510"}),
			line(206, cell{72, "認証キー"}, cell{200, "HR0E4"}), line(220, cell{200, "FWKFQ"}),
			line(248, cell{72, "工事名"}, cell{200, "県道松江木次線道路"}), line(262, cell{200, "改良工事"}),
			line(290, cell{72, "発注者"}, cell{200, "島根県知事"}), line(318, cell{72, "保証機関"}, cell{200, "西日本建設業保証株式会社"})),
			[]Notice{want}, ""},
		{"centred cells", build(
			line(150, cell{90, "項目"}, cell{260, "内容"}),
			line(180, cell{90, "保証契約番号"}, cell{200, "2094591510"}), line(210, cell{90, "認証キー"}, cell{200, "HR0E4FWKFQ"}),
			line(240, cell{90, "保証区分"}, cell{200, "前払金保証"}),
			line(264, cell{200, "県道松江木次線道路改良"}), line(270, cell{90, "工事名"}), line(276, cell{200, "工事"}),
			line(294, cell{200, "島根県知"}), line(300, cell{90, "発注者"}), line(306, cell{200, "事"}),
			line(324, cell{200, "西日本建設業保証株式"}), line(330, cell{90, "保証会社"}), line(336, cell{200, "会社"})),
			[]Notice{want}, ""},
		{"two pairs per line", build(
			line(150, cell{72, "区分"}, cell{140, "前払金保証"}, cell{300, "保証契約番号"}, cell{400, "2094591510"}),
			line(178, cell{72, "認証キー"}, cell{140, "HR0E4FWKFQ"}, cell{300, "発注者"}, cell{400, "島根県知事"}),
			line(206, cell{72, "工事名"}, cell{140, "県道松江木次線道路改良工事"}),
			line(234, cell{72, "保証機関"}, cell{140, "西日本建設業保証株式会社"})), []Notice{want}, ""},
		{"certificate", build(
			line(150, cell{72, "前払金保証証書"}), line(178, cell{72, "保証契約番号"}, cell{200, "3021930923"}),
			line(206, cell{72, "保証金額"}, cell{200, "金 12,300,000 円"}), line(234, cell{72, "工事名"}, cell{200, "宍道湖東岸護岸整備工事"})),
			nil, CodeWrongDocument},
		{"mis-decoded key", build(tableRows(150, 28, [][2]string{{"区分", "前払金保証"}, {"保証契約番号", "2094591510"},
			{"認証キー", "\uE001\uE002\uE003\uE004\uE005\uE006\uE007\uE008"}, {"工事名", "x"}})...), nil, CodeNoText},
		{"key of mixed case", build(tableRows(150, 28, [][2]string{{"区分", "契約保証"}, {"保証契約番号", "2073937876"},
			{"認証キー", "43H5efgH3h"}, {"工事名", "x"}, {"発注者", "島根県知事"}, {"保証機関", "東日本建設業保証株式会社"}})...), nil, CodeNoText},
		{"key of no surety's length", build(tableRows(150, 28, [][2]string{{"区分", "前払金保証"}, {"保証契約番号", "2094591510"},
			{"認証キー", "HR0E4FWKF"}, {"工事名", "x"}, {"発注者", "島根県知事"}, {"保証機関", "西日本建設業保証株式会社"}})...), nil, CodeNoText},
		{"number of nine digits", build(tableRows(150, 28, [][2]string{{"区分", "前払金保証"}, {"保証契約番号", "209459151"},
			{"認証キー", "HR0E4FWKFQ"}, {"工事名", "x"}, {"発注者", "島根県知事"}, {"保証機関", "西日本建設業保証株式会社"}})...), nil, CodeNoText},
		{"surety name with a character changed", build(tableRows(150, 28, [][2]string{{"区分", "前払金保証"}, {"保証契約番号", "2094591510"},
			{"認証キー", "HR0E4FWKFQ"}, {"工事名", "x"}, {"発注者", "島根県知事"}, {"保証機関", "U日本建設業保証株式会社"}})...), nil, CodeNoText},
		{"key drawn with guessed glyphs", build(doubtful(tableRows(150, 28, std), 2)...), nil, CodeNoText},
		{"wrapped key's second line guessed", build(
			line(150, cell{72, "区分"}, cell{200, "前払金保証"}), line(178, cell{72, "保証契約番号"}, cell{200, "2094591510"}),
			line(206, cell{72, "認証キー"}, cell{200, "HR0E4"}), doubtful([]pdftext.Line{line(220, cell{200, "FWKFQ"})}, 0)[0],
			line(248, cell{72, "工事名"}, cell{200, "県道松江木次線道路改良工事"}),
			line(290, cell{72, "発注者"}, cell{200, "島根県知事"}), line(318, cell{72, "保証機関"}, cell{200, "西日本建設業保証株式会社"})),
			nil, CodeNoText},
		{"damaged page", damaged(build(tableRows(150, 28, std)...)), nil, CodeCorrupt},
		{"no text", pdftext.Page{Number: 1}, nil, CodeNoText},
		{"cover letter", page(line(100, cell{72, "電子証書閲覧用認証キー等の提出について"}), line(130, cell{72, "工事名：新大橋橋梁補修工事"}),
			line(160, cell{72, "提出書類：電子証書閲覧用「認証キー」等のお知らせ　１部"})), nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPage(t, tc.page, tc.want, tc.code) })
	}
}

// checkPage reads one page and compares its notices and its problems' codes (joined by ",").
func checkPage(t *testing.T, p pdftext.Page, want []Notice, code string) {
	t.Helper()
	doc := fromPages([]pdftext.Page{p})
	if len(doc.Notices) != len(want) {
		t.Fatalf("fromPages: notices = %+v (problems %+v), want %+v", doc.Notices, doc.Problems, want)
	}
	for i := range want {
		if doc.Notices[i] != want[i] {
			t.Errorf("fromPages: notice %d = %+v\nwant %+v", i, doc.Notices[i], want[i])
		}
	}
	var codes []string
	for _, p := range doc.Problems {
		codes = append(codes, p.Code)
	}
	if got := strings.Join(codes, ","); got != code {
		t.Errorf("fromPages: problems = %+v, want code %q", doc.Problems, code)
	}
}

// doubtful marks the value of line i as drawn with glyphs whose text is a guess.
func doubtful(ls []pdftext.Line, i int) []pdftext.Line {
	ls = append([]pdftext.Line(nil), ls...)
	spans := append([]pdftext.Span(nil), ls[i].Spans...)
	spans[len(spans)-1].Doubtful = 1
	ls[i].Spans = spans
	return ls
}

func damaged(p pdftext.Page) pdftext.Page {
	p.Damaged = 1
	return p
}

func TestCheckShape(t *testing.T) {
	tests := []struct {
		guarantor, number, key string
		ok                     bool
	}{
		{EastJapan, "2073937876", "43H5ZEOH3X", true},
		{EastJapan, "2073937876", "43H5efgH3h", false}, // issue 17
		{WestJapan, "2117975723", "jhb5x8nsu0", true},
		{WestJapan, "2105058603", "NMJSZZI131S7", true},
		{Hokkaido, "2111243409", "OZ4VWB48J09J7864", true},
		{Hokkaido, "2111243409", "OZ4VWB48J09J786", false},
		{WestJapan, "21050586031", "NMJSZZI131S7", false},
		{"株式会社山陰合同銀行", "2110471048", "IqPL68LV", true}, // not a surety: no known shape
		{"", "2070004426", "AB12cd34EF", true},         // typed, guarantor unknown: case not checked
		{"", "2070004426", "AB12cd34E", false},
		{"", "207000442", "AB12cd34EF", false},
	}
	for _, tt := range tests {
		if got := checkShape(tt.guarantor, tt.number, tt.key); (got == "") != tt.ok {
			t.Errorf("checkShape(%q, %q, %q) = %q, want ok %v", tt.guarantor, tt.number, tt.key, got, tt.ok)
		}
	}
}

func TestSeveralNoticesOnePage(t *testing.T) {
	var ls []pdftext.Line
	for i, k := range []string{"AAAA1111", "BBBB2222"} {
		ls = append(ls, tableRows(100+float64(i)*300, 28, [][2]string{{"区分", "契約保証"}, {"保証契約番号", "209459151" + string(rune('0'+i))},
			{"認証キー", k}, {"工事名", "工事"}, {"発注者", "島根県知事"}, {"保証機関", "東日本建設業信用保証"}})...)
	}
	doc := fromPages([]pdftext.Page{page(ls...)})
	if len(doc.Notices) != 2 || doc.Notices[1].AuthKey != "BBBB2222" || doc.Notices[0].Guarantor != EastJapan {
		t.Fatalf("notices = %+v", doc.Notices)
	}
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		name, body string
		want       []Notice
	}{
		{"colon lines", "中海測量設計の松本です。\n\n業務名：県道米子境港線測量業務委託\n区分：前払金保証\n保証契約番号：2089886436\n認証キー：T2RFT6PKGQ\n保証会社：西日本建設業保証株式会社\n\n--\n",
			[]Notice{{Category: "前払金保証", ContractNumber: "2089886436", AuthKey: "T2RFT6PKGQ", ProjectName: "県道米子境港線測量業務委託", Guarantor: WestJapan, Source: "body"}}},
		{"full-width, aligned colons", "\u3000工事名\u3000\u3000\u3000：静間川河川改修工事（その２）\n\u3000保証契約番号：４０６８２１１５８９\n\u3000認証キー\u3000\u3000：QZZDRU11NF\n",
			[]Notice{{ContractNumber: "4068211589", AuthKey: "QZZDRU11NF", ProjectName: "静間川河川改修工事（その２）", Source: "body"}}},
		{"names as written (issue 18)", "工事名：県道松江木次線道路改良工事（その①）\n発注者：島根県知事　殿\n保証契約番号：2070004426\n認証キー：AB12cd34EF\n",
			[]Notice{{ContractNumber: "2070004426", AuthKey: "AB12cd34EF", ProjectName: "県道松江木次線道路改良工事（その①）", Orderer: "島根県知事", Source: "body"}}},
		{"name on the line after its label", "工事名：\n　ｶﾞｰﾄﾞﾚｰﾙ設置工事（第２工区）\n保証契約番号：2070004426\n認証キー：AB12cd34EF\n",
			[]Notice{{ContractNumber: "2070004426", AuthKey: "AB12cd34EF", ProjectName: "ｶﾞｰﾄﾞﾚｰﾙ設置工事（第２工区）", Source: "body"}}},
		{"html table cells", "区分\t前払金保証\n工事名\t県道境港美保関線舗装工事\n保証契約番号\t3021414295\n認証キー\tUJPNI2E3JK\n発注者\t鳥取県知事\n保証機関\t西日本建設業保証株式会社\n",
			[]Notice{{Category: "前払金保証", ContractNumber: "3021414295", AuthKey: "UJPNI2E3JK", ProjectName: "県道境港美保関線舗装工事", Orderer: "鳥取県知事", Guarantor: WestJapan, Source: "body"}}},
		{"value on next line, remark after key", "【保証契約番号】\n2070-004426\n【認証キー】\nAB12cd34EF（大文字小文字を区別）\n",
			[]Notice{{ContractNumber: "2070004426", AuthKey: "AB12cd34EF", Source: "body"}}},
		{"quoted reply is not a submission", "> 保証契約番号：2070004426\n> 認証キー：AB12cd34EF\n", nil},
		{"masked key in our own reply", "保証契約番号：2070004426\n認証キー：AB******EF\n", nil},
		{"remark after the label", "保証契約番号(10桁)：2070004426\n認証キー(半角英数字)：AB12cd34EF\n",
			[]Notice{{ContractNumber: "2070004426", AuthKey: "AB12cd34EF", Source: "body"}}},
		{"sentences", "お世話になっております。\n保証契約番号は2070004426、認証キーは、AB12cd34EFです。\n",
			[]Notice{{ContractNumber: "2070004426", AuthKey: "AB12cd34EF", Source: "body"}}},
		{"two fields on one line", "保証契約番号：２０７０００４４２６　認証キー：AB12cd34EF\n工事名：県道改良工事 / 区分：前払金保証\n",
			[]Notice{{ContractNumber: "2070004426", AuthKey: "AB12cd34EF", ProjectName: "県道改良工事", Category: "前払金保証", Source: "body"}}},
		{"other label words, half-width katakana", "工事の名称：県道改良工事\n保証番号：2070004426\n認証ｷｰ：AB12cd34EF\n",
			[]Notice{{ContractNumber: "2070004426", AuthKey: "AB12cd34EF", ProjectName: "県道改良工事", Source: "body"}}},
		{"prose", "認証キーは半角英数字です。保証契約番号と一緒に送ってください。\n", nil},
		{"key mistyped, one character short", "保証契約番号：2070004426\n認証キー：AB12CD34E\n", nil},
		{"mixed case for a named surety", "保証会社：東日本建設業保証\n保証契約番号：2070004426\n認証キー：AB12cd34EF\n", nil},
		{"two notices", "保証契約番号：2070004426\n認証キー：AB12cd34EF\n\n保証契約番号：2070004427\n認証キー：ZZ12cd34EF\n",
			[]Notice{{ContractNumber: "2070004426", AuthKey: "AB12cd34EF", Source: "body"}, {ContractNumber: "2070004427", AuthKey: "ZZ12cd34EF", Source: "body"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := ReadBody(tc.body)
			if len(got) != len(tc.want) {
				t.Fatalf("ReadBody(%q) = %+v, want %+v", tc.body, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("notice %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestBodyProblems(t *testing.T) {
	tests := []struct {
		name, body string
		want       int // invalid_key problems
	}{
		{"right", "保証契約番号：2070004426\n認証キー：AB12CD34EF\n", 0},
		{"key one character short", "保証契約番号：2070004426\n認証キー：AB12CD34E\n", 1},
		{"number one digit short", "保証契約番号：207000442\n認証キー：AB12CD34EF\n", 1},
		{"mixed case for a named surety", "保証会社：西日本建設業保証\n保証契約番号：2070004426\n認証キー：AB12cd34EF\n", 1},
		{"masked key in our own reply", "保証契約番号：2070004426\n認証キー：AB******EF\n", 0},
		// Issue 18: a number seen and not used is named, never dropped in silence.
		{"number alone", "保証契約番号：2070004426\n", 1},
		{"the issue's two lines, one key unreadable", "保証番号:2070000401 認証キー:ab12-cd34-ef\n保証番号:2070000402 認証キー:ZZ99YY88XX\n", 1},
		{"prose", "認証キーは半角英数字です。\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := ReadBody(tt.body)
			if len(got) != tt.want {
				t.Fatalf("ReadBody(%q) problems = %+v, want %d", tt.body, got, tt.want)
			}
			for _, p := range got {
				if p.Code != CodeInvalidKey || p.Detail == "" {
					t.Errorf("ReadBody(%q) problem %+v, want code %s with a detail", tt.body, p, CodeInvalidKey)
				}
			}
		})
	}
}

func TestGuarantor(t *testing.T) {
	for in, want := range map[string]string{
		"西日本建設業保証株式会社":        WestJapan,
		"⻄⽇本建設業保証株式会社 東京支店":   WestJapan,
		"東日本建設業信用保証株式会社":      EastJapan,
		"北海道建設業保証(株)":         Hokkaido,
		"株式会社山陰合同銀行　本店営業部":    "株式会社山陰合同銀行",
		"東京海上日動火災保険株式会社 松江支店": "東京海上日動火災保険株式会社",
	} {
		if got := Guarantor(in); got != want {
			t.Errorf("Guarantor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNoticeJSONNulls(t *testing.T) {
	b, err := json.Marshal(Notice{ContractNumber: "2070004426", AuthKey: "AB12cd34EF", Source: "body"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"category":null,"contract_number":"2070004426","auth_key":"AB12cd34EF","project_name":null,"orderer":null,"guarantor":null,"source":"body","attachment":""}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
}

// FuzzReadBody: mail text is hostile; reading it must never panic, and whatever it yields
// must pass the same self-checks as a PDF notice.
func FuzzReadBody(f *testing.F) {
	f.Add("保証契約番号：2070004426\n認証キー：AB12cd34EF\n")
	f.Add("【保証契約番号】\n２０７０－００４４２６\n【認証キー】\nＡＢ１２\n")
	f.Add("区　分\t前払金保証\n保証機関\t⻄⽇本建設業保証\n")
	f.Add("工事名はいずれも県道改良工事です。\n【1件目】前払金保証\n保証契約番号：20700\n04426\n認証キー：ABCD1234EFGH\n　5678\n(2)契約保証\n保証契約番号は2070004427、認証キーはAB12CD34です。\n")
	f.Add("区分\t保証契約番号\t認証キー\n前払金保証\t2070004426\tAB12CD34EF\n\n認証キー：ZX98YW76VU\n上記2件とも斐伊川堤防補強工事です。\n")
	f.Add("再送します\n> 保証契約番号：2070004426\nOn Mon, Jun 15, 2026 山田 <a@b.example> wrote:\n-----Original Message-----\nFrom: a\nSent: b\n認証キー：AB12CD34EF\n")
	f.Fuzz(func(t *testing.T, body string) {
		notices, problems := ReadBody(body)
		if len(notices)+len(problems) > maxBodyItems {
			t.Fatalf("ReadBody(%q) yielded %d notices and %d problems", body, len(notices), len(problems))
		}
		for _, n := range notices {
			if contractDigits(n.ContractNumber) != n.ContractNumber || authKey(n.AuthKey) != n.AuthKey ||
				checkShape(n.Guarantor, n.ContractNumber, n.AuthKey) != "" {
				t.Fatalf("ReadBody(%q) yielded unchecked values %+v", body, n)
			}
		}
		for _, p := range problems {
			if p.Code != CodeInvalidKey || p.Missing == MissingKey && p.ContractNumber == "" || p.Missing == MissingNumber && p.AuthKey == "" {
				t.Fatalf("ReadBody(%q) problems: yielded %+v, which names nothing", body, p)
			}
		}
	})
}

// TestWritten checks that a value found on a normalised line is shown as the line wrote it,
// cut only where NFKC normalises independently.
func TestWritten(t *testing.T) {
	tests := []struct{ raw, value, want string }{
		{"工事名：静間川河川改修工事（その２）", "静間川河川改修工事(その2)", "静間川河川改修工事（その２）"},
		{"工事名\t一般国道9号（その①）", "一般国道9号(その1)", "一般国道9号（その①）"},
		{"工事名：ｶﾞｰﾄﾞﾚｰﾙ設置工事", "ガードレール設置工事", "ｶﾞｰﾄﾞﾚｰﾙ設置工事"},
		{"⼯事名\t県道松江⽊次線改良⼯事", "県道松江木次線改良工事", "県道松江⽊次線改良⼯事"},
		{"㈱山陰建設", "(株)山陰建設", "㈱山陰建設"},
		{"県道改良工事 / 区分：前払金保証", "県道改良工事", "県道改良工事"},
		{"発注者：島根県知事", "鳥取県知事", "鳥取県知事"}, // not found: the value itself
		{"", "", ""},
	}
	for _, tc := range tests {
		if got := written(tc.raw, tc.value); got != tc.want {
			t.Errorf("written(%q, %q) = %q, want %q", tc.raw, tc.value, got, tc.want)
		}
	}
	// ASCII runs beside what NFKC changes or combines (a combining mark after a letter,
	// full-width forms, radicals, dashes), and plain kana and kanji (written's shortcut),
	// whole characters or cut: the same as the segment-by-segment reading.
	rng := rand.New(rand.NewPCG(14, 2))
	alphabet := []string{"a", "Z", "9", "-", " ", "\t", ":", "(", "\u0301", "\u3099", "ｶ", "ﾞ", "①", "１", "：", "⼯", "—", "工", "é", "e\u0301", "\xff", "か", "カ", "保", "〜", "。", "ゟ"}
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(24) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		raw := b.String()
		norm := Normalize(raw)
		for range 3 {
			i := rng.IntN(len(norm) + 1)
			j := i + rng.IntN(len(norm)-i+1)
			if got, want := written(raw, norm[i:j]), writtenBySegment(raw, norm[i:j]); got != want {
				t.Fatalf("written(%q, %q) = %q, segment by segment %q", raw, norm[i:j], got, want)
			}
		}
	}
	// Shown names fold only what a font map got wrong (radicals), never what was written.
	for in, want := range map[string]string{
		"県道松江⽊次線改良⼯事": "県道松江木次線改良工事", "一般国道9号　（その①）": "一般国道9号（その①）", "⻄日本": "西日本",
	} {
		if got := asWritten(in); got != want {
			t.Errorf("asWritten(%q) = %q, want %q", in, got, want)
		}
	}
}

// writtenBySegment is written as it was before its ASCII fast path: every segment found by
// NextBoundaryInString and normalised alone. TestWritten holds written to it.
func writtenBySegment(raw, value string) string {
	if value == "" || !needsWork(raw) {
		return value
	}
	type seg struct{ raw, norm int }
	segs := []seg{{0, 0}}
	var b strings.Builder
	for i := 0; i < len(raw); {
		n := norm.NFKC.NextBoundaryInString(raw[i:], true)
		if n <= 0 {
			n = len(raw) - i
		}
		b.WriteString(Normalize(raw[i : i+n]))
		i += n
		segs = append(segs, seg{i, b.Len()})
	}
	at := strings.LastIndex(b.String(), value)
	if at < 0 {
		return value
	}
	start, end := 0, len(raw)
	for _, s := range segs {
		if s.norm <= at {
			start = s.raw
		}
		if s.norm >= at+len(value) {
			end = s.raw
			break
		}
	}
	return raw[start:end]
}
