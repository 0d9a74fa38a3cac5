package parser

import (
	"testing"

	"hosho-intake/parser/pdftext"
)

// TestDamagedLabels: a row whose label lost or changed one glyph (issue 11: 発注者 read as
// ~注者, 工事名 as 工事?) is read by its place among the rows read and its value's shape,
// with a remark; never when the place, the shape or the self-check says otherwise.
func TestDamagedLabels(t *testing.T) {
	rowsWith := func(swap map[string]string) [][2]string {
		var out [][2]string
		for _, r := range [][2]string{{"区分", "前払金保証"}, {"保証契約番号", "2094591510"}, {"認証キー", "HR0E4FWKFQ"},
			{"工事名", "県道松江木次線道路改良工事"}, {"発注者", "島根県知事"}, {"保証機関", "西日本建設業保証株式会社"}} {
			if v, ok := swap[r[0]]; ok {
				r[0] = v
			}
			if v, ok := swap[r[0]+"="]; ok {
				r[1] = v
			}
			out = append(out, r)
		}
		return out
	}
	build := func(ls ...pdftext.Line) pdftext.Page {
		head := []pdftext.Line{line(80, cell{150, "電子証書閲覧用「認証キー」等のお知らせ"})}
		return page(append(head, ls...)...)
	}
	remark := func(field, label string) string {
		return field + " read from a row whose label is damaged (「" + label + "」), by its place in the table and its value's shape"
	}
	with := func(f func(*Notice)) []Notice { n := want; f(&n); return []Notice{n} }
	tests := []struct {
		name string
		page pdftext.Page
		want []Notice
		code string
	}{
		{"発注者 read as ~注者", build(tableRows(150, 28, rowsWith(map[string]string{"発注者": "~注者"}))...),
			with(func(n *Notice) { n.Remark = remark("発注者", "~注者") }), ""},
		{"工事名 read as 工事?", build(tableRows(150, 28, rowsWith(map[string]string{"工事名": "工事?"}))...),
			with(func(n *Notice) { n.Remark = remark("工事名", "工事?") }), ""},
		{"工事名 lost a glyph, full-width value kept", build(tableRows(150, 28, rowsWith(map[string]string{"工事名": "工名", "工名=": "県道改良工事（その①）"}))...),
			with(func(n *Notice) {
				n.ProjectName, n.Remark = "県道改良工事（その①）", remark("工事名", "工名")
			}), ""},
		{"区分 read as 区\ufffd", build(tableRows(150, 28, rowsWith(map[string]string{"区分": "区\ufffd"}))...),
			with(func(n *Notice) { n.Remark = remark("区分", "区\ufffd") }), ""},
		{"inline label", build(
			line(150, cell{72, "区分：前払金保証"}), line(170, cell{72, "保証契約番号：2094591510"}),
			line(190, cell{72, "認証キー：HR0E4FWKFQ"}), line(210, cell{72, "工事名：県道松江木次線道路改良工事"}),
			line(230, cell{72, "~注者：島根県知事"}), line(250, cell{72, "保証機関：西日本建設業保証株式会社"})),
			with(func(n *Notice) { n.Remark = remark("発注者", "~注者") }), ""},
		{"last row, at the table's pitch", build(tableRows(150, 28, rowsWith(map[string]string{"保証機関": "保証機?", "保証機?=": "東日本建設業保証株式会社"}))...),
			with(func(n *Notice) { n.Guarantor, n.Remark = EastJapan, remark("保証機関", "保証機?") }), ""},
		{"認証キー read as 認証キ?: the key passes its self-check", build(tableRows(150, 28, rowsWith(map[string]string{"認証キー": "認証キ?"}))...),
			with(func(n *Notice) { n.Remark = remark("認証キー", "認証キ?") }), ""},
		{"damaged key label, key of mixed case: refused", build(tableRows(150, 28, rowsWith(map[string]string{"認証キー": "認証キ?", "認証キ?=": "HR0e4FWKFQ"}))...),
			nil, CodeNoText},
		{"damaged key label, key drawn with guessed glyphs: refused", build(doubtful(tableRows(150, 28, rowsWith(map[string]string{"認証キー": "認証キ?"})), 2)...),
			nil, CodeNoText},
		{"the damaged glyph guessed, the value not", build(guessedLabel(tableRows(150, 28, rowsWith(map[string]string{"発注者": "~注者"})), 4)...),
			with(func(n *Notice) { n.Remark = remark("発注者", "~注者") }), ""},
		{"damaged orderer label, value guessed: left unread", build(doubtful(tableRows(150, 28, rowsWith(map[string]string{"発注者": "~注者"})), 4)...),
			with(func(n *Notice) { n.Orderer = "" }), ""},
		{"damaged number label, nine digits: refused", build(tableRows(150, 28, rowsWith(map[string]string{"保証契約番号": "保証契約番?", "保証契約番?=": "209459151"}))...),
			nil, ""},
		{"value of another shape", build(tableRows(150, 28, rowsWith(map[string]string{"発注者": "~注者", "~注者=": "12,300,000円"}))...),
			with(func(n *Notice) { n.Orderer = "" }), ""},
		{"field already read", build(append(tableRows(150, 28, rowsWith(nil)[:5]),
			line(290, cell{72, "工事?"}, cell{200, "別の工事"}), line(318, cell{72, "保証機関"}, cell{200, "西日本建設業保証株式会社"}))...),
			[]Notice{want}, ""},
		{"far below the table", build(append(tableRows(150, 28, rowsWith(nil)[:4]),
			line(500, cell{72, "~注者"}, cell{200, "島根県知事"}))...),
			with(func(n *Notice) { n.Orderer, n.Guarantor = "", "" }), ""},
		{"two glyphs damaged", build(tableRows(150, 28, rowsWith(map[string]string{"発注者": "~?者"}))...),
			with(func(n *Notice) { n.Orderer = "" }), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPage(t, tc.page, tc.want, tc.code) })
	}
}

func TestOneGlyphOff(t *testing.T) {
	tests := []struct {
		read, label string
		want        bool
	}{
		{"~注者", "発注者", true},
		{"工事?", "工事名", true},
		{"工名", "工事名", true},
		{"注者", "発注者", true},
		{"発注者", "発注者", false},
		{"~?者", "発注者", false},
		{"", "区分", false},
		{"区", "区分", true},
		{"工事名称変更", "工事名", false},
	}
	for _, tc := range tests {
		if got := oneGlyphOff([]rune(tc.read), []rune(tc.label)); got != tc.want {
			t.Errorf("oneGlyphOff(%q, %q) = %v, want %v", tc.read, tc.label, got, tc.want)
		}
	}
}

// guessedLabel marks the label span of line i as drawn with a guessed glyph.
func guessedLabel(ls []pdftext.Line, i int) []pdftext.Line {
	ls = append([]pdftext.Line(nil), ls...)
	spans := append([]pdftext.Span(nil), ls[i].Spans...)
	spans[0].Doubtful = 1
	ls[i].Spans = spans
	return ls
}
