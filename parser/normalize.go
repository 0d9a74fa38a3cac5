package parser

import (
	"strings"
	"unicode"

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
	if strings.IndexFunc(s, isRadical) >= 0 {
		var b strings.Builder
		b.Grow(len(s))
		for _, r := range s {
			if u, ok := radicalIdeograph[r]; ok && isRadical(r) {
				r = u
			}
			b.WriteRune(r)
		}
		s = b.String()
	}
	out := norm.NFKC.String(s)
	return strings.Map(foldDash, out)
}

// isRadical reports a rune in the blocks radicalIdeograph maps (CJK Radicals Supplement to
// CJK Strokes): most text has none, and is then not copied (a 10 MiB mail body).
func isRadical(r rune) bool { return r >= 0x2E80 && r <= 0x31EF }

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
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
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
