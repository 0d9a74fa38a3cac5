package parser

import (
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Damaged labels (issue 11). A producer or a re-distillation sometimes loses or changes one
// glyph of a label: 発注者 comes out as ~注者, 工事名 as 工事?. The row is then no label, its
// value is lost, and the notice shows the field empty. A notice's rows come in a known
// shape, so such a row is read again when all of these hold:
//
//   - it starts in the label column, with a short first cell and a value after it;
//   - the first cell is one of the field's labels with one glyph changed or lost;
//   - it lies among the rows of one notice's table (between two of its labels, or next to
//     the first or last one at the table's row pitch), and that notice lacks the field;
//   - the value has the field's shape (a 区分 word, 10 digits, a key's letters, a surety
//     company's name, a name ending as orderers' do);
//   - exactly one field fits.
//
// The notice then carries a remark naming the damaged label. A 保証契約番号 or 認証キー
// read this way goes through the same self-check as any (keys.go, doubtful glyphs): a row
// with a guessed glyph makes the notice a problem, never a key shown to a clerk.

// damagedRow splits a row that may be a label with a damaged glyph into that label and its
// value: "~注者<TAB>島根県知事" or "~注者:島根県知事". doubt tells whether the value's spans
// have a guessed glyph; a value in the label's own span shares the label's doubt.
func damagedRow(r row) (label, value string, doubt, ok bool) {
	cells := strings.Split(r.text, "\t")
	label, value = strings.TrimSpace(cells[0]), strings.TrimSpace(strings.Join(cells[1:], ""))
	if len(cells) == len(r.spanDoubt) {
		doubt = slices.Contains(r.spanDoubt[1:], true)
	} else {
		doubt = r.doubt
	}
	if len(cells) == 1 {
		i := strings.IndexAny(r.text, ":=")
		if i < 0 {
			return "", "", false, false
		}
		label, value = strings.TrimSpace(r.text[:i]), trimSeparators(r.text[i+1:])
		doubt = r.doubt
	}
	label = compact(trimSeparators(label))
	if n := utf8.RuneCountInString(label); n == 0 || n > 8 || value == "" {
		return "", "", false, false
	}
	return label, value, doubt, true
}

// labelFields are the fields one of whose labels read has one glyph changed or lost.
func labelFields(read string) []field {
	var out []field
	a := []rune(read)
	for k, l := range labels {
		if !slices.Contains(out, l.field) && oneGlyphOff(a, labelRunes[k]) {
			out = append(out, l.field)
		}
	}
	return out
}

// labelRunes are the labels' characters, for labelFields.
var labelRunes = func() [][]rune {
	out := make([][]rune, len(labels))
	for k, l := range labels {
		out[k] = []rune(l.text)
	}
	return out
}()

// oneGlyphOff reports that a (a label as read) is b (the label) with one glyph changed or
// missing, and at least one glyph left.
func oneGlyphOff(a, b []rune) bool {
	switch {
	case len(a) == len(b):
		diff := 0
		for i := range a {
			if a[i] != b[i] {
				diff++
			}
		}
		return diff == 1
	case len(a) == len(b)-1 && len(a) > 0:
		// b without one glyph is a: past their first difference, a is the rest of b
		// after that glyph (a run of equal glyphs may lose any of its own).
		j := 0
		for j < len(a) && a[j] == b[j] {
			j++
		}
		return slices.Equal(a[j:], b[j+1:])
	}
	return false
}

// categories are the 区分 a notice prints.
var categories = []string{"前払金保証", "中間前払金保証", "契約保証", "契約保証予約"}

// ordererEnds are how the orderers' names end: an office holder (島根県知事, 松江市長,
// …整備局長, …センター理事長, 企業管理者) or the body itself.
var ordererEnds = []string{"長", "知事", "大臣", "管理者", "県", "市", "町", "村", "都", "道", "府"}

// fitsShape reports that value has the shape of field f's values.
func fitsShape(f field, value string) bool {
	c := compact(value)
	switch f {
	case fieldCategory:
		return slices.Contains(categories, c)
	case fieldNumber:
		return len(contractDigits(value)) == anySurety.numberDigits
	case fieldKey:
		return slices.Contains(keyLengths, len(authKey(value)))
	case fieldProject:
		return hasHan(c) && contractDigits(value) == ""
	case fieldOrderer:
		return hasHan(c) && hasAnySuffix(orderer(value), ordererEnds)
	case fieldGuarantor:
		g := Guarantor(value)
		return IsSurety(g) || strings.Contains(g, "銀行") || strings.Contains(g, "保険") || strings.Contains(g, "信用金庫")
	}
	return false
}

func hasHan(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) })
}

// recoverLabels adds an anchor for each row whose label is damaged (see above), in row
// order among anchors. labelX is the label column's left edge.
func recoverLabels(rows []row, anchors []anchor, labelX float64) []anchor {
	// The notices of the page, as the reader will split them: a field seen again starts the
	// next notice.
	type table struct {
		first, last int // rows of its first and last label
		has         [fieldCount]bool
		pitch       float64
	}
	var tables []*table
	for _, a := range anchors {
		if len(tables) == 0 || tables[len(tables)-1].has[a.field] {
			tables = append(tables, &table{first: a.row})
		}
		t := tables[len(tables)-1]
		t.last, t.has[a.field] = a.row, true
	}
	for _, t := range tables {
		t.pitch = math.Inf(1)
		prev := -1
		for _, a := range anchors {
			if a.row < t.first || a.row > t.last || a.row == prev {
				continue
			}
			if prev >= 0 {
				t.pitch = math.Min(t.pitch, rows[a.row].y-rows[prev].y)
			}
			prev = a.row
		}
	}
	isAnchor := map[int]bool{}
	for _, a := range anchors {
		isAnchor[a.row] = true
	}
	var found []anchor
	for i, r := range rows {
		if isAnchor[i] || math.Abs(r.x0-labelX) > 1.5*r.size {
			continue
		}
		label, value, doubt, ok := damagedRow(r)
		if !ok {
			continue
		}
		for _, t := range tables {
			inside := t.first < i && i < t.last
			next := (i == t.last+1 && r.y-rows[t.last].y <= 1.5*t.pitch) || (i == t.first-1 && rows[t.first].y-r.y <= 1.5*t.pitch)
			if !inside && !next {
				continue
			}
			var fits []field
			for _, f := range labelFields(label) {
				if !t.has[f] && fitsShape(f, value) {
					fits = append(fits, f)
				}
			}
			// A guessed glyph in the value: a 保証契約番号 or 認証キー is read so that the
			// self-check refuses it (a problem beats a silent loss); a name is left unread
			// as before, rather than making the whole notice a problem.
			if len(fits) == 1 && (!doubt || fits[0] == fieldNumber || fits[0] == fieldKey) {
				f := fits[0]
				t.has[f] = true
				found = append(found, anchor{row: i, field: f, rest: value, doubt: doubt, damaged: label,
					written: [][]string{nil, {written(r.raw, value)}, nil}})
			}
			break
		}
	}
	if len(found) == 0 {
		return anchors
	}
	anchors = append(anchors, found...)
	sort.SliceStable(anchors, func(i, j int) bool { return anchors[i].row < anchors[j].row })
	return anchors
}
