package parser

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

//go:generate go run gen_radicals.go

// Normalize returns s in the form notices are compared and reported in: CJK radicals that
// some ToUnicode maps emit folded to the ideograph they stand for (NFKC folds the Kangxi
// block U+2F00– but not the supplement U+2E80–), then NFKC (full-width digits, letters and
// colons), then the dash and wave-dash variants folded to '-' and '~'.
func Normalize(s string) string {
	if !needsWork(s) {
		return s
	}
	// One look for radicals and dashes: where NFKC leaves the text as it is (norm returns
	// the input itself, which == finds at once), a text without dashes needs no pass for
	// them after it.
	radicals, dashes, inert := false, false, true
	for _, r := range s {
		radicals = radicals || isRadical(r)
		// strings.Map writes an invalid byte as U+FFFD, as the pass for dashes did.
		dashes = dashes || foldDash(r) != r || r == utf8.RuneError
		inert = inert && nfkcInert(r)
	}
	if inert && !radicals && !dashes {
		return s // NFKC leaves it as it is, and nothing else applies
	}
	in := s
	if radicals {
		in = foldRadicals(s)
	}
	out := norm.NFKC.String(in)
	if !dashes && out == in {
		return out
	}
	return strings.Map(foldDash, out)
}

// nfkcInert reports a character that NFKC leaves as it is wherever it stands among
// others that are (a text of them is NFKC already): no decomposition, combining class 0,
// and nothing before it that it composes with (the Unicode quick check's Yes). It knows
// ASCII, the kana and CJK punctuation block and the CJK Unified Ideographs, which notices
// are written in, so that their rows skip NFKC's lookups rune by rune; others are not
// known to be (false).
func nfkcInert(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return true
	case r >= firstKana && r <= lastKana:
		return kanaInert[r-firstKana]
	}
	return r >= 0x4E00 && r <= 0x9FFF // every one is (TestNFKCInert)
}

// plain reports a text that Normalize returns as it is, each of its characters alone too:
// NFKC-inert characters, none a radical or a dash.
func plain(s string) bool {
	for _, r := range s {
		if !nfkcInert(r) || isRadical(r) || foldDash(r) != r || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// firstKana and lastKana bound the CJK Symbols and Punctuation, Hiragana and Katakana
// blocks, where some characters are not inert (゛, ゟ, combining marks, 〱 ...).
const firstKana, lastKana = 0x3000, 0x30FF

// kanaInert is nfkcInert over the kana blocks, as the norm tables say (256 lookups at
// start).
var kanaInert = func() (t [lastKana - firstKana + 1]bool) {
	for i := range t {
		t[i] = inertProperties(norm.NFKC.PropertiesString(string(rune(firstKana + i))))
	}
	return t
}()

// inertProperties reports properties of an inert character (nfkcInert).
func inertProperties(p norm.Properties) bool {
	return p.CCC() == 0 && p.BoundaryBefore() && len(p.Decomposition()) == 0
}

// foldRadicals maps the CJK radicals that some ToUnicode maps emit to the ideograph the page
// shows (wkhtmltopdf's ⼯事名 is drawn 工事名): a decoding repair, not a change of what was
// written, so displayed values get it too.
func foldRadicals(s string) string {
	if strings.IndexFunc(s, isRadical) < 0 {
		return s // most text has none, and is then not copied (a 10 MiB mail body)
	}
	return strings.Map(func(r rune) rune {
		if isRadical(r) {
			return radicalTable[r-firstRadical]
		}
		return r
	}, s)
}

// firstRadical and lastRadical bound the blocks radicalIdeograph maps (CJK Radicals
// Supplement to CJK Strokes).
const firstRadical, lastRadical = 0x2E80, 0x31EF

// radicalTable is radicalIdeograph as an array over those blocks, a rune mapping to itself
// where the map has none: between them lie the kana and the CJK punctuation, which every
// Japanese line holds and a map lookup per rune was spent on.
var radicalTable = func() (t [lastRadical - firstRadical + 1]rune) {
	for i := range t {
		t[i] = firstRadical + rune(i)
	}
	for r, u := range radicalIdeograph {
		if r >= firstRadical && r <= lastRadical { // as the map has them all
			t[r-firstRadical] = u
		}
	}
	return t
}()

// isRadical reports a rune that radicalIdeograph maps to an ideograph.
func isRadical(r rune) bool {
	return r >= firstRadical && r <= lastRadical && radicalTable[r-firstRadical] != r
}

// asWritten returns a name as the notice or the sender wrote it, for display: radicals folded
// and white space removed, but full-width forms, circled digits and dashes kept (「（その①）」
// stays as printed). Normalize is for matching and keying only (DESIGN.md: NFKC is never for
// display).
func asWritten(s string) string { return compact(foldRadicals(s)) }

// written returns the part of raw that Normalize turns into value, a substring of
// Normalize(raw) (the last one: a value follows its label), so that a value found on the
// normalised line is shown as raw wrote it. raw is cut only between the segments NFKC
// normalises independently; value itself is returned when it is not found.
func written(raw, value string) string {
	if value == "" || !needsWork(raw) || plain(raw) && utf8.ValidString(value) {
		// Normalize leaves raw as it is, character by character: whole characters found
		// in it are written as they are.
		return value
	}
	type seg struct{ raw, norm int } // where a segment ends, in raw and in the normalised text
	segs := make([]seg, 1, len(raw)+1)
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		if raw[i] < utf8.RuneSelf && i+1 < len(raw) && raw[i+1] < utf8.RuneSelf {
			// An ASCII byte before another is a segment of its own (no ASCII character
			// combines with the next) that Normalize leaves as it is: the labels and
			// values of a line, without a boundary search and a Normalize call each.
			b.WriteByte(raw[i])
			i++
			segs = append(segs, seg{i, b.Len()})
			continue
		}
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

// needsWork is a fast path for the plain ASCII that most of a notice is.
func needsWork(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

func foldDash(r rune) rune {
	switch r {
	case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\uFE63', '\uFF0D':
		return '-'
	case '\u301C', '\uFF5E', '\u223C':
		return '~'
	}
	return r
}

// compact removes every kind of white space (ASCII, U+3000 and line breaks).
func compact(s string) string {
	for _, r := range s {
		if isSpace(r) {
			return compactSpaces(s)
		}
	}
	return s // most cells have none: no call per rune
}

func compactSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if isSpace(r) {
			return -1
		}
		return r
	}, s)
}

// contractDigits returns the 保証契約番号 in s as ASCII digits, accepting the printed forms
// 2070-004426, 207-0004-426 and 2070 004 426, or "" when s is not such a number.
func contractDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == 'ー' || unicode.IsSpace(r):
		default:
			return ""
		}
	}
	d := b.String()
	if len(d) < 6 || len(d) > 16 {
		return ""
	}
	return d
}

// authKey returns the 認証キー in s with spaces removed, or "" when s holds anything but
// ASCII letters and digits or has a length no surety company issues.
func authKey(s string) string {
	k := compact(s)
	if len(k) < 6 || len(k) > 20 {
		return ""
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return ""
		}
	}
	return k
}
