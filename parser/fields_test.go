package parser

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TestIsSpace: isSpace is unicode.IsSpace for every code point (and past them).
func TestIsSpace(t *testing.T) {
	for r := rune(-1); r <= unicode.MaxRune+1; r++ {
		if isSpace(r) != unicode.IsSpace(r) {
			t.Errorf("isSpace(%U) = %v, unicode.IsSpace %v", r, isSpace(r), unicode.IsSpace(r))
		}
	}
}

// matchLabelAtLength is matchLabel without its first looks at the line: bullets, numbers
// and brackets trimmed, then every label tried.
func matchLabelAtLength(line string) (f field, rest string, ok bool) {
	s := trimBullet(strings.TrimLeftFunc(line, isSpace))
	open := false
	if r, n := utf8.DecodeRuneInString(s); strings.ContainsRune("【[〔(<", r) {
		s, open = s[n:], true
	}
	all := make([]int, len(labels))
	for k := range all {
		all[k] = k
	}
	return matchLabelOf(s, open, all)
}

// FuzzMatchLabel: matchLabel's first looks (a line's first character, the labels that start
// with it) refuse only lines that the whole reading refuses.
func FuzzMatchLabel(f *testing.F) {
	for _, s := range []string{"保証契約番号\t2070004426", "・認証キー:ABCD1234", "1. 工事名 道路改良", "(2) 発注者 島根県",
		"【認証キー】 x", "<区 分> 前払", "　 ●保証機関: 西日本", "認証キーは半角英数字です", "12) 保証区分", "-*保証番号 1",
		"x 認証キー 1", "〔業務名〕", "（１）工事名", "", "\xff認証キー"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		f1, r1, ok1 := matchLabel(line)
		f2, r2, ok2 := matchLabelAtLength(line)
		if f1 != f2 || r1 != r2 || ok1 != ok2 {
			t.Fatalf("matchLabel(%q) = %v %q %v, read at length %v %q %v", line, f1, r1, ok1, f2, r2, ok2)
		}
	})
}

// FuzzNormalize: Normalize, which skips the passes a text does not need, is its definition:
// radicals folded, NFKC, dashes folded.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"保証契約番号\t２０７０－００４４２６", "⼯事名", "ｶﾞｲﾄﾞ", "e\u0301", "〜～∼", "﹘", "abc", "\xff⺠", "①—工", "\xe4", "a\xe4b", "\uFFFD",
		"か\u3099", "カ\u309a", "ゟ", "ヿ", "〱", "゛", "保証\u3000番号", "㈱", "ｱ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Normalize(s), strings.Map(foldDash, norm.NFKC.String(foldRadicals(s))); got != want {
			t.Fatalf("Normalize(%q) = %q, want %q", s, got, want)
		}
	})
}

// TestNFKCInert: nfkcInert holds for what the norm tables say is inert, over all of Unicode
// (it knows a part), and a text of inert characters is NFKC already.
func TestNFKCInert(t *testing.T) {
	var inert []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !nfkcInert(r) {
			continue
		}
		inert = append(inert, r)
		if !inertProperties(norm.NFKC.PropertiesString(string(r))) {
			t.Errorf("nfkcInert(%U), but its properties are not", r)
		}
	}
	if len(inert) < 20000 {
		t.Fatalf("%d inert characters; the CJK block alone has 20,992", len(inert))
	}
	// Every pair of a kana or punctuation character and another inert one.
	for r := rune(firstKana); r <= lastKana; r++ {
		for _, q := range []rune{'a', ' ', 'か', 'カ', 'ﾞ', '\u3099', '゛', '工', 'ｶ', r} {
			s := string(r) + string(q) + string(r)
			want := nfkcInert(r) && nfkcInert(q)
			if got := norm.NFKC.String(s) == s; want && !got {
				t.Errorf("%q: inert characters NFKC changes", s)
			}
		}
	}
}

// FuzzOneGlyphOff: oneGlyphOff is its definition: a is b with one glyph changed, or
// with one glyph (any) taken out, and not empty.
func FuzzOneGlyphOff(f *testing.F) {
	for _, s := range [][2]string{{"~注者", "発注者"}, {"注者", "発注者"}, {"発注", "発注者"}, {"aab", "aaab"}, {"", "a"}, {"工事?", "工事名"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, read, label string) {
		a, b := []rune(read), []rune(label)
		want := false
		if len(a) == len(b) {
			diff := 0
			for i := range a {
				if a[i] != b[i] {
					diff++
				}
			}
			want = diff == 1
		} else if len(a) == len(b)-1 && len(a) > 0 {
			for i := range b {
				want = want || slices.Equal(a, slices.Concat(b[:i], b[i+1:]))
			}
		}
		if got := oneGlyphOff(a, b); got != want {
			t.Fatalf("oneGlyphOff(%q, %q) = %v, want %v", read, label, got, want)
		}
	})
}
