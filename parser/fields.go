package parser

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// field is one of the six values of a notice.
type field int

const (
	fieldCategory field = iota
	fieldNumber
	fieldKey
	fieldProject
	fieldOrderer
	fieldGuarantor
	fieldCount
)

// wraps tells whether a value of the field can run onto a second line of its table cell.
func (f field) wraps() bool {
	return f == fieldKey || f == fieldProject || f == fieldOrderer || f == fieldGuarantor
}

// labels are the printed labels of each field, after Normalize and without spaces, longest
// first so that 保証区分 wins over 区分. Surety companies and agencies vary them: the
// notices say 区分, 保証区分 or 保証の種類; 工事名 or 業務名; 保証機関, 保証会社 or 保証人.
var labels = []struct {
	text  string
	field field
}{
	{"保証事業会社名", fieldGuarantor},
	{"保証契約番号", fieldNumber},
	{"保証証書番号", fieldNumber},
	{"保証事業会社", fieldGuarantor},
	{"発注者名称", fieldOrderer},
	{"発注機関名", fieldOrderer},
	{"保証会社名", fieldGuarantor},
	{"保証機関名", fieldGuarantor},
	{"保証の区分", fieldCategory},
	{"認証キー", fieldKey},
	{"認証KEY", fieldKey},
	{"保証の種類", fieldCategory},
	{"保証区分", fieldCategory},
	{"保証種別", fieldCategory},
	{"工事件名", fieldProject},
	{"工事名称", fieldProject},
	{"工事の名称", fieldProject},
	{"業務の名称", fieldProject},
	{"業務名称", fieldProject},
	{"業務件名", fieldProject},
	{"委託業務名", fieldProject},
	{"発注機関", fieldOrderer},
	{"保証機関", fieldGuarantor},
	{"保証会社", fieldGuarantor},
	{"契約番号", fieldNumber},
	{"保証番号", fieldNumber},
	{"発注者名", fieldOrderer},
	{"工事名", fieldProject},
	{"業務名", fieldProject},
	{"発注者", fieldOrderer},
	{"保証人", fieldGuarantor},
	{"区分", fieldCategory},
}

// labelsByFirst lists the labels (their indices, in order) by first character: only those
// can open a line that starts with it.
var labelsByFirst = func() map[rune][]int {
	m := map[rune][]int{}
	for k, l := range labels {
		r, _ := utf8.DecodeRuneInString(l.text)
		m[r] = append(m[r], k)
	}
	return m
}()

// labelStarts holds the first character of every label.
var labelStarts = func() string {
	var b strings.Builder
	for _, l := range labels {
		if r, _ := utf8.DecodeRuneInString(l.text); !strings.ContainsRune(b.String(), r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}()

// matchLabel reports the field whose label opens line (already normalised) and the text
// after the label and its separator. Spaces inside the label are skipped (均等割付 spreads
// 区　　分 over its cell); the label must be followed by a separator, white space or the end
// of the line, so prose such as 「認証キーは半角英数字です」 is not a label.
func matchLabel(line string) (f field, rest string, ok bool) {
	s := strings.TrimLeftFunc(line, isSpace)
	if r, _ := utf8.DecodeRuneInString(s); !strings.ContainsRune(labelStarts, r) && !strings.ContainsRune(opensLabel, r) && (r < '0' || r > '9') {
		// Neither a label nor a bullet, number or bracket before one: most lines are
		// values or prose, refused at one look.
		return 0, "", false
	}
	s = trimBullet(s)
	// 「」 quote a label in prose (「認証キー」等のお知らせ); only these brackets frame one.
	open := false
	if r, n := utf8.DecodeRuneInString(s); strings.ContainsRune("【[〔(<", r) {
		s, open = s[n:], true
	}
	first, _ := utf8.DecodeRuneInString(strings.TrimLeftFunc(s, isSpace))
	if !strings.ContainsRune(labelStarts, first) {
		return 0, "", false // most lines are values or prose: one look, not 32
	}
	return matchLabelOf(s, open, labelsByFirst[first])
}

// matchLabelOf is matchLabel past the bullet and the bracket (open: there was one), trying
// the labels whose indices are candidates, in order.
func matchLabelOf(s string, open bool, candidates []int) (f field, rest string, ok bool) {
	for _, k := range candidates {
		l := labels[k]
		i, matched := s, true
		for _, want := range l.text {
			i = strings.TrimLeftFunc(i, isSpace)
			r, n := utf8.DecodeRuneInString(i)
			if r != want {
				matched = false
				break
			}
			i = i[n:]
		}
		if !matched {
			continue
		}
		// A remark in brackets may follow the label: 認証キー（半角英数字）.
		if strings.HasPrefix(i, "(") {
			if j := strings.IndexByte(i, ')'); j > 0 && j < 40 {
				i = i[j+1:]
			}
		}
		r, n := utf8.DecodeRuneInString(i)
		switch {
		case i == "":
		case open && strings.ContainsRune("】]〕)>", r):
			i = i[n:]
		case isSpace(r) || strings.ContainsRune(":=|", r):
		default:
			continue
		}
		return l.field, trimSeparators(i), true
	}
	return 0, "", false
}

// isSpace is unicode.IsSpace (the White_Space property) without its range-table search for
// every character past Latin-1: notice text is mostly kana and kanji, and its rows are
// trimmed and compacted rune by rune.
func isSpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || r >= '\t' && r <= '\r'
	}
	switch r {
	case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// bullets are the list markers trimBullet drops.
const bullets = "・●○■□◆◇-*"

// opensLabel holds what may come before a label's first character (besides a number):
// bullets, "(" of a numbered item and the brackets a label may stand in.
const opensLabel = bullets + "(【[〔<"

// trimBullet drops list markers a sender puts before a label: ・, ●, ■, 1. or (1).
func trimBullet(s string) string {
	s = strings.TrimLeft(s, bullets)
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i > 0 && i < 3 && strings.ContainsRune(".)", rune(s[i])) {
		s = s[i+1:]
	} else if strings.HasPrefix(s, "(") {
		if j := strings.IndexByte(s, ')'); j > 1 && j < 4 && contractDigits(s[1:j]) == "" && strings.Trim(s[1:j], "0123456789") == "" {
			s = s[j+1:]
		}
	}
	return strings.TrimLeftFunc(s, isSpace)
}

func trimSeparators(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return isSpace(r) || strings.ContainsRune(":=|", r) })
}

// draft collects the values of one notice as they are found.
type draft struct {
	vals [fieldCount]string // normalised: what is matched and checked
	// text is each value as written (before Normalize), for the names a person reads.
	text [fieldCount]string
	set  [fieldCount]bool
	// doubt marks values drawn partly with glyphs whose text is a guess or comes from a
	// damaged font map (pdftext.Span.Doubtful).
	doubt [fieldCount]bool
	n     int
	// remarks say how values were read when not plainly (Notice.Remark).
	remarks []string
	// keyShape is why the 認証キー fails (its surety's shape, or glyphs that are not letters
	// or digits) when that is all that is wrong with it: an image's misread key (ocr.go).
	keyShape string
	// image: the values are OCR's, whose key may hold a glyph read as a mark or a kanji.
	image bool
}

func (d *draft) has(f field) bool { return d.set[f] }

func (d *draft) put(f field, v string) { d.putWritten(f, v, v) }

// putWritten records the normalised value v of field f and the text w it was written as.
func (d *draft) putWritten(f field, v, w string) {
	d.vals[f], d.text[f], d.set[f] = v, w, true
	d.n++
}

// honorifics that follow an orderer's name in an address line.
var honorifics = []string{"御中", "殿", "様", "宛", "あて"}

// notice turns the raw values into a Notice, or explains why they cannot be trusted.
// A value that fails its self-check (a 保証契約番号 that is not digits, a 認証キー outside
// the ASCII letters and digits or the guarantor's shape, glyphs decoded by a guess, a surety
// company's name with a character changed) is a problem, never a wrong key shown to a clerk:
// that is how a silently mis-decoded font shows. (From an image, a key that fails alone is
// kept for the key's own OCR pass and shown unsure: draft.keyShape, pageNotices.)
func (d *draft) notice() (Notice, string) {
	var n Notice
	n.ContractNumber = contractDigits(d.vals[fieldNumber])
	n.AuthKey = authKey(d.vals[fieldKey])
	misread := ""
	if n.AuthKey == "" && d.image {
		// OCR read a glyph of the key as a mark or a kanji (f2|2ei, 2WKMIVOぐSUCB): its letters
		// and digits are the first reading, which fails its shape or stays unsure; the key's
		// own pass reads the box again (SettleKey).
		if k := keyGlyphs(d.vals[fieldKey]); len(k) >= 6 {
			n.AuthKey = k
			misread = "認証キー read as " + quoteShort(compact(d.vals[fieldKey])) + ", with glyphs that are not letters or digits"
		}
	}
	switch {
	case !d.set[fieldNumber] || !d.set[fieldKey]:
		return n, "保証契約番号 or 認証キー missing"
	case n.ContractNumber == "":
		return n, "保証契約番号 is not a number: " + quoteShort(d.vals[fieldNumber])
	case n.AuthKey == "":
		return n, "認証キー is not made of ASCII letters and digits"
	}
	n.Category = compact(d.vals[fieldCategory])
	n.ProjectName = asWritten(d.text[fieldProject])
	n.Orderer = orderer(d.text[fieldOrderer])
	n.Guarantor = Guarantor(d.vals[fieldGuarantor])
	for _, v := range []string{n.Category, n.ProjectName, n.Orderer, n.Guarantor} {
		if garbled(v) {
			return n, "text does not decode: " + quoteShort(v)
		}
	}
	n.Remark = strings.Join(d.remarks, "; ")
	bad := checkShape(n.Guarantor, n.ContractNumber, n.AuthKey)
	if (bad != "" || misread != "") && checkShape(n.Guarantor, n.ContractNumber, keyOfAnyShape) == "" {
		d.keyShape = strings.TrimPrefix(strings.TrimSuffix(misread+"; "+bad, "; "), "; ")
		return n, d.keyShape
	}
	return n, bad
}

// keyGlyphs keeps the ASCII letters and digits of an OCR'd key.
func keyGlyphs(s string) string {
	var b strings.Builder
	for _, c := range compact(s) {
		if c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// keyOfAnyShape fits every surety's key shape: a notice whose key fails where this one
// would pass fails by its key alone.
const keyOfAnyShape = "0000000000"

// printedNotice is notice for a value printed in a PDF, where the font, not a person, may be
// at fault: glyphs decoded by a guess, or a surety company's name with one character changed,
// are problems too. A key that fails alone (draft.keyShape) is checked like the rest, so
// that the key's problem is the one returned only when nothing else is wrong.
func (d *draft) printedNotice() (Notice, string) {
	n, bad := d.notice()
	if bad != "" && d.keyShape == "" {
		return n, bad
	}
	for f := range fieldCount {
		if d.doubt[f] {
			return n, fmt.Sprintf("%s is drawn with glyphs whose font map is damaged or missing", fieldNames[f])
		}
	}
	if !IsSurety(n.Guarantor) && nearSurety(n.Guarantor) {
		return n, "保証機関 is a surety company's name with a character changed: " + quoteShort(n.Guarantor)
	}
	return n, bad
}

// fieldNames name the fields in problem details.
var fieldNames = [fieldCount]string{"区分", "保証契約番号", "認証キー", "工事名", "発注者", "保証機関"}

// orderer is the 発注者 as written, without the honorific an address line adds.
func orderer(s string) string {
	s = asWritten(s)
	for again := true; again; {
		again = false
		for _, h := range honorifics {
			if t, ok := strings.CutSuffix(s, h); ok && t != "" {
				s, again = t, true
			}
		}
	}
	return s
}

// garbled reports text that only a mis-decoded font produces: replacement characters,
// private-use code points and control characters.
func garbled(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.Is(unicode.Co, r) || unicode.IsControl(r) {
			return true
		}
	}
	return false
}

func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 24 {
		s = string([]rune(s)[:24]) + "…"
	}
	return "「" + s + "」"
}
