package noticepdf

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"hosho-intake/parser"
)

// A4 in points, as producers write it (210 x 297 mm).
const (
	pageW = 595.276
	pageH = 841.89
)

// Font sizes and leading of the real notices (reportlab's notice: 10.5 pt body, 15.5 pt title).
const (
	bodySize  = 10.5
	titleSize = 15.5
	footSize  = 12
	leading   = 18.375 // between body lines
	cellLead  = 12.6   // between the lines of a wrapped cell
)

type itemKind uint8

const (
	kindText  itemKind = iota // title, paragraphs, footer
	kindLabel                 // one of the six labels
	kindValue                 // one of the six values (or a line of one)
	kindRule                  // a table cell's rectangle
)

// item is one thing drawn on a page, in upright page space (origin bottom-left, points).
type item struct {
	kind   itemKind
	x, y   float64 // text: start of the baseline; rule: lower-left corner
	size   float64 // text: font size
	text   string
	spread float64 // label: 均等割付, the glyphs spread evenly over this width
	w, h   float64 // rule
	fill   bool    // rule: shaded label cell (filled and stroked) rather than a frame
}

// page is a page's drawing in the order a producer would paint it.
type page struct {
	items []item
}

func (p *page) text(kind itemKind, x, y, size float64, s string) {
	p.items = append(p.items, item{kind: kind, x: x, y: y, size: size, text: s})
}

func (p *page) rule(x, y, w, h float64, fill bool) {
	p.items = append(p.items, item{kind: kindRule, x: x, y: y, w: w, h: h, fill: fill})
}

// centred draws s centred on the page.
func (p *page) centred(y, size float64, s string) {
	p.text(kindText, (pageW-emWidth(s)*size)/2, y, size, s)
}

// paragraph draws s from x, wrapped to width, and returns the baseline after it.
func (p *page) paragraph(x, y, width float64, s string) float64 {
	for _, line := range wrapEm(s, width/bodySize) {
		p.text(kindText, x, y, bodySize, line)
		y -= leading
	}
	return y
}

// emWidth is the advance of s in ems.
func emWidth(s string) float64 {
	var w float64
	for _, r := range s {
		w += advance(r) / 1000
	}
	return w
}

// wrapEm breaks s into lines of at most maxEm ems, anywhere, as Japanese layout engines do
// (sp01 breaks "となり|ます。"). It never returns an empty slice.
func wrapEm(s string, maxEm float64) []string {
	var lines []string
	start, w := 0, 0.0
	for i, r := range s {
		a := advance(r) / 1000
		if w+a > maxEm+1e-9 && i > start {
			lines = append(lines, s[start:i])
			start, w = i, 0
		}
		w += a
	}
	return append(lines, s[start:])
}

// field is one of the six rows.
type field struct {
	label string // as printed
	value string
	key   bool // the 認証キー row (WrapKey applies)
}

// fields returns the six rows in the order of sp01's table: 区分, 保証契約番号, 認証キー, 工事名,
// 発注者, 保証機関.
func fields(n *parser.Notice, o *Options) []field {
	number, key := n.ContractNumber, n.AuthKey
	if o.HyphenNumber && len(number) > 4 {
		number = number[:4] + "-" + number[4:]
	}
	if o.FullWidthNumber {
		number, key = fullWidth(number), fullWidth(key)
	}
	return []field{
		{label: o.label(LabelCategory), value: n.Category},
		{label: o.label(LabelNumber), value: number},
		{label: o.label(LabelKey), value: key, key: true},
		{label: o.label(LabelProject), value: n.ProjectName},
		{label: o.label(LabelOrderer), value: n.Orderer},
		{label: o.label(LabelGuarantor), value: n.Guarantor},
	}
}

// fullWidth maps printable ASCII to the full-width forms block (U+FF01-FF5E), as a
// word processor's 全角 conversion does.
func fullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0x20 && r < 0x7f {
			r += 0xfee0
		}
		b.WriteRune(r)
	}
	return b.String()
}

// valueLines splits a value into the lines of its cell: wrapped to maxEm, and the key broken
// in two when WrapKey asks for it.
func valueLines(f field, o *Options, maxEm float64) []string {
	if f.key && o.WrapKey && utf8.RuneCountInString(f.value) > 1 {
		half := utf8.RuneCountInString(f.value) / 2
		i := 0
		for j := range f.value {
			if half == 0 {
				i = j
				break
			}
			half--
		}
		return []string{f.value[:i], f.value[i:]}
	}
	return wrapEm(f.value, maxEm)
}

// label draws a row label at x, spread over width when Options.SpacedLabels (均等割付).
func (p *page) label(o *Options, x, y, width float64, s string) {
	it := item{kind: kindLabel, x: x, y: y, size: bodySize, text: s}
	if o.SpacedLabels && utf8.RuneCountInString(s) > 1 {
		it.spread = width
	}
	p.items = append(p.items, it)
}

// noticePage lays out one notice.
func noticePage(n *parser.Notice, o *Options) *page {
	p := &page{items: make([]item, 0, 48)}
	switch o.Layout {
	case Centered:
		centeredNotice(p, n, o)
	case Inline:
		inlineNotice(p, n, o)
	default:
		tableNotice(p, n, o)
	}
	if o.OutOfOrder {
		// Some producers draw the form first and fill in the values afterwards.
		vals := make([]item, 0, 8)
		rest := p.items[:0:0]
		for _, it := range p.items {
			if it.kind == kindValue {
				vals = append(vals, it)
			} else {
				rest = append(rest, it)
			}
		}
		p.items = append(rest, vals...)
	}
	return p
}

const (
	marginL = 62
	marginR = 533.276
)

// requestText is the お願い paragraphs of the west's notice (sp01), a blank line between them.
const requestText = "【お客様へのお願い】\n" +
	"次の方法で当該PDFファイルを発注者様にご提出ください。\n" +
	"①電子契約システムへの登録 (アップロード) 又は\n" +
	"②電子メールに添付して送信\n" +
	"\n" +
	"【発注者様へのお願い】\n" +
	"「保証確認サービス (D-Sure)」にログインし、上記の「保証契約番号」と「認証キー」を入力の上、電子証書を閲覧ください。"

func (p *page) requests(y float64) float64 {
	for s := range strings.SplitSeq(requestText, "\n") {
		if s == "" {
			y -= leading / 2
			continue
		}
		y = p.paragraph(marginL, y, marginR-marginL, s)
	}
	return y
}

// footer draws the guarantor's name right-aligned at the foot, below y.
func (p *page) footer(y float64, s string) {
	y = min(318.665, y-46)
	p.text(kindText, marginR-emWidth(s)*footSize, y, footSize, s)
}

// tableNotice is reportlab's notice (sp01): shaded label cells, framed value cells.
func tableNotice(p *page, n *parser.Notice, o *Options) {
	p.centred(755.89, titleSize, o.title())
	y := p.paragraph(marginL, 720.977, marginR-marginL, "「保証確認サービス (D-Sure)」で電子証書を閲覧するための「認証キー」等は、以下のとおりとなります。")
	const labelW, rowH, pad = 141.383, 28.5, 8
	top := y - 24
	for _, f := range fields(n, o) {
		lines := valueLines(f, o, (marginR-marginL-labelW-2*pad)/bodySize)
		h := rowH + float64(len(lines)-1)*cellLead
		p.rule(marginL, top-h, labelW, h, true)
		p.rule(marginL+labelW, top-h, marginR-marginL-labelW, h, false)
		base := top - 17.925
		p.label(o, marginL+pad, base, labelW-2*pad, f.label)
		for i, l := range lines {
			p.text(kindValue, marginL+labelW+pad, base-float64(i)*cellLead, bodySize, l)
		}
		top -= h
	}
	y = p.requests(top - 34)
	p.footer(y, n.Guarantor)
}

// centeredNotice is Chromium's notice (sp04): a narrow centred table whose value cells are
// centred vertically, so a value wrapped onto two lines straddles its label's baseline.
func centeredNotice(p *page, n *parser.Notice, o *Options) {
	p.centred(770, 14, o.title())
	p.centred(748, bodySize, "（保証確認サービス D-Sure 用）")
	y := p.paragraph(marginL, 715, marginR-marginL, "下表の保証契約番号と認証キーにより、保証確認サービス（D-Sure）で電子証書を閲覧することができます。")
	const labelW, valueEm, pad, lineH = 112.0, 12.0, 8.0, 13.0
	valueW := valueEm*bodySize + 2*pad
	x0 := (pageW - labelW - valueW) / 2
	top := y - 20
	// Header row.
	p.rule(x0, top-22, labelW, 22, true)
	p.rule(x0+labelW, top-22, valueW, 22, true)
	p.text(kindText, x0+(labelW-2*bodySize)/2, top-15, bodySize, "項目")
	p.text(kindText, x0+labelW+(valueW-2*bodySize)/2, top-15, bodySize, "内容")
	top -= 22
	fs := fields(n, o)
	// sp04's order: number and key first.
	fs[0], fs[1], fs[2] = fs[1], fs[2], fs[0]
	for _, f := range fs {
		lines := valueLines(f, o, valueEm)
		h := max(26, float64(len(lines))*lineH+13)
		p.rule(x0, top-h, labelW, h, false)
		p.rule(x0+labelW, top-h, valueW, h, false)
		base := top - h/2 - 0.35*bodySize // the label's baseline, centred in the row
		p.label(o, x0+pad, base, labelW-2*pad, f.label)
		for i, l := range lines {
			p.text(kindValue, x0+labelW+pad, base+(float64(len(lines)-1)/2-float64(i))*lineH, bodySize, l)
		}
		top -= h
	}
	y = top - 30
	y = p.paragraph(marginL, y, marginR-marginL, "※認証キーは半角英数字です（英字の大文字・小文字を区別します）。")
	y -= leading / 2
	y = p.paragraph(marginL, y, marginR-marginL, "＜ご注意＞")
	y = p.paragraph(marginL, y, marginR-marginL, "このPDFファイルを、電子契約システムへのアップロード又は電子メールへの添付により発注者へ提出してください。")
	// Chromium's notice signs with a branch; the parser must still report the legal name.
	p.footer(y, n.Guarantor+"　本店業務部")
}

// inlineNotice prints "保証契約番号：2070004426" lines, as notices typed in a word processor do.
func inlineNotice(p *page, n *parser.Notice, o *Options) {
	p.centred(760, 14, o.title())
	y := p.paragraph(marginL, 720, marginR-marginL, "保証確認サービス（D-Sure）で電子証書を閲覧するための認証キー等をお知らせします。")
	y -= 14
	const x = 84.0
	const labelEm = 6.0
	for _, f := range fields(n, o) {
		labelEnd := x + emWidth(f.label+"：")*bodySize
		if o.SpacedLabels {
			labelEnd = x + (labelEm+1)*bodySize
		}
		lines := valueLines(f, o, (marginR-labelEnd)/bodySize)
		switch {
		case !o.SpacedLabels && !o.OutOfOrder && !o.GlyphByGlyph:
			// One string for the whole line: the reader must split label and value itself.
			p.text(kindValue, x, y, bodySize, f.label+"："+lines[0])
		case o.SpacedLabels:
			p.label(o, x, y, labelEm*bodySize, f.label)
			p.text(kindLabel, x+labelEm*bodySize, y, bodySize, "：")
			p.text(kindValue, labelEnd, y, bodySize, lines[0])
		default:
			p.label(o, x, y, 0, f.label+"：")
			p.text(kindValue, labelEnd, y, bodySize, lines[0])
		}
		for _, l := range lines[1:] {
			y -= cellLead + 2
			p.text(kindValue, labelEnd, y, bodySize, l)
		}
		y -= 22
	}
	y = p.requests(y - 18)
	p.footer(y, n.Guarantor)
}

// coverPage is a contractor's cover letter (送付状, sp14): it names the works and the
// document enclosed, but carries no number and no key.
func coverPage(ns []parser.Notice, o *Options) *page {
	p := &page{}
	p.text(kindText, marginR-9*bodySize, 790, bodySize, "令和8年6月12日")
	p.text(kindText, marginL, 766, bodySize, ns[0].Orderer+"　様")
	p.text(kindText, 380, 740, bodySize, "株式会社山陰建設")
	p.text(kindText, 380, 722, bodySize, "工務課　佐藤花子")
	p.centred(680, 13, "電子証書閲覧用認証キー等の提出について")
	y := p.paragraph(marginL, 640, marginR-marginL, "標記について、下記のとおり提出します。")
	p.centred(y-6, bodySize, "記")
	y -= 40
	seen := map[string]bool{}
	for _, n := range ns {
		if seen[n.ProjectName] {
			continue
		}
		seen[n.ProjectName] = true
		y = p.paragraph(marginL, y, marginR-marginL, o.label(LabelProject)+"：　"+n.ProjectName)
	}
	y = p.paragraph(marginL, y, marginR-marginL, "提出書類：　"+o.title()+"　"+fullWidth(strconv.Itoa(len(ns)))+"部")
	p.text(kindText, marginR-2*bodySize, y-30, bodySize, "以上")
	return p
}

// certificateTitle is the certificate's heading for a category.
func certificateTitle(category string) string {
	switch category {
	case "前払金保証", "中間前払金保証":
		return category + "証書"
	}
	return "保証証書"
}

// certificatePage is the 電子証書 itself as D-Sure shows it (sp08): what a contractor saves at
// STEP 3 and sends instead of the notice. It has 保証契約番号 and 保証金額 but no 認証キー.
func certificatePage(n *parser.Notice, o *Options) *page {
	p := &page{}
	p.text(kindText, 300, 790, bodySize, "電子証書　　発行日　令和8年5月20日")
	p.centred(740, 16, certificateTitle(n.Category))
	p.text(kindText, marginL, 705, bodySize, n.Orderer+"　殿")
	y := p.paragraph(marginL, 684, marginR-marginL,
		n.Guarantor+"（以下「保証会社」という。）は、公共工事の前払金保証事業に関する法律及び保証約款に基づき、下記の"+
			n.Category+"について、保証金額を限度として保証します。")
	// Amounts derived from the number so that the page is deterministic and varies by notice.
	contract := int64(10+digitSum(n.ContractNumber)%80) * 1_100_000
	number := n.ContractNumber
	if o.FullWidthNumber {
		number = fullWidth(number)
	}
	rows := [][2]string{
		{o.label(LabelNumber), number},
		{"保証金額", "金 " + yen(contract*4/10) + " 円"},
		{"保証期間", "令和8年5月20日から令和9年3月19日まで"},
		{o.label(LabelProject), n.ProjectName},
		{"請負代金額", "金 " + yen(contract) + " 円"},
		{"保証契約者（請負者）", "株式会社山陰建設"},
	}
	y -= 24
	for _, r := range rows {
		p.label(o, marginL, y, 7*bodySize, r[0])
		for i, l := range wrapEm(r[1], (marginR-180)/bodySize) {
			p.text(kindValue, 180, y-float64(i)*cellLead, bodySize, l)
		}
		y -= 28
	}
	y = p.paragraph(marginL, y-10, marginR-marginL, "この証書は電子証書であり、保証確認サービスにより真正性を確認することができます。")
	p.footer(y, n.Guarantor+"　代表取締役社長")
	return p
}

func digitSum(s string) int {
	t := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			t += int(r - '0')
		}
	}
	return t
}

// yen formats an amount with thousands separators: 12,300,000.
func yen(v int64) string {
	s := strconv.FormatInt(v, 10)
	var b []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}
