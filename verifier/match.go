package verifier

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"hosho-intake/parser"
)

// compact is the form names are compared in: parser.Normalize (NFKC, radicals folded) with
// every kind of white space removed.
func compact(s string) string { return withoutSpaces(parser.Normalize(s)) }

// withoutSpaces is s without its white space.
func withoutSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// ContractKind tells a works contract (KindWorks) from a design, survey or consultancy
// contract (KindServices, 業務) by its 工事名 / 業務名, because the notice says nothing else
// about it. The heuristic, in order, on the compacted name with trailing bracketed
// remarks such as (その2), (第2工区) or (債務) removed:
//
//  1. ending in 工事 -> works (業務棟改修工事 is works);
//  2. containing 業務 or 委託 -> services (測量設計業務委託, 橋梁点検業務(その2));
//  3. ending in a service's noun (設計, 測量, 調査, 点検, 診断, 検討, 計画, 監理, 解析,
//     補償) -> services;
//  4. anything else, or no name -> works: most notices are for works, and guessing
//     services would reject a works contract's 契約保証 under shimane.
//
// A notice whose label read 業務名 is services too, but parser.Notice does not record the label.
func ContractKind(projectName string) string {
	name := stripRemarks(compact(projectName))
	switch {
	case strings.HasSuffix(name, "工事"):
		return KindWorks
	case strings.Contains(name, "業務"), strings.Contains(name, "委託"):
		return KindServices
	}
	for _, s := range []string{"設計", "測量", "調査", "点検", "診断", "検討", "計画", "監理", "解析", "補償"} {
		if strings.HasSuffix(name, s) {
			return KindServices
		}
	}
	return KindWorks
}

// stripRemarks removes the bracketed remarks that end a project name: (その2), (第2工区),
// 【R5】. NFKC has already made full-width parentheses ASCII.
func stripRemarks(s string) string {
	for {
		r, _ := utf8.DecodeLastRuneInString(s)
		var open string
		switch r {
		case ')':
			open = "("
		case '】':
			open = "【"
		case '〕':
			open = "〔"
		case ']':
			open = "["
		default:
			return s
		}
		i := strings.LastIndex(s, open)
		if i <= 0 {
			return s
		}
		s = s[:i]
	}
}

// withoutParentheses drops the parentheses of 契約保証(予約). One for all calls: a Replacer
// built per call was a thirtieth of what the daemon allocated (issue 14).
var withoutParentheses = strings.NewReplacer("(", "", ")", "")

// canonicalCategory maps the 区分 as printed to one of the category constants; variants
// seen in typed mail bodies (前払金, 中間前払, 契約保証(予約)) included. Anything else is
// returned compacted, and is not accepted by any policy.
func canonicalCategory(s string) string {
	c := withoutParentheses.Replace(compact(s))
	switch strings.TrimSuffix(c, "保証") {
	case "前払金", "前払":
		return CategoryAdvance
	case "中間前払金", "中間前払":
		return CategoryIntermediateAdvance
	case "契約":
		return CategoryContract
	case "契約予約", "契約保証予約":
		return CategoryContractReservation
	}
	return c
}

// honorifics that may follow an orderer's name in a typed body; parser strips them from
// the notices it reads, a Notice from elsewhere may keep them.
var honorifics = []string{"御中", "殿", "様", "宛", "あて"}

// ordererMatches reports whether the orderer printed on a notice is one of the policy's.
// Names are compared compacted (spaces and full-width forms do not matter). A pattern
// without a trailing "*" also matches with a person's name after it: the notices print
// 島根県知事 丸山達也 as often as 島根県知事.
func (p Policy) ordererMatches(orderer string) bool {
	o := compact(orderer)
	for again := true; again; {
		again = false
		for _, h := range honorifics {
			if t, ok := strings.CutSuffix(o, h); ok && t != "" {
				o, again = t, true
			}
		}
	}
	for _, pat := range p.Orderers {
		pat = compact(pat)
		if glob(pat, o) {
			return true
		}
		if strings.HasSuffix(pat, "*") {
			continue
		}
		// Try every split of o into a title and a person's name.
		for i := range o {
			if i > 0 && personName(o[i:]) && glob(pat, o[:i]) {
				return true
			}
		}
	}
	return false
}

// personName reports whether s can be a person's name following a title: 1 to 10 kanji or
// kana. A name ending in 長 is refused, so 島根県知事 does not match 島根県知事公室長: the
// rest would be a title, not a name.
func personName(s string) bool {
	n := utf8.RuneCountInString(s)
	if n == 0 || n > 10 || strings.HasSuffix(s, "長") {
		return false
	}
	for _, r := range s {
		if !unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) && r != 'ー' && r != '・' && r != '々' {
			return false
		}
	}
	return true
}

// glob matches s against pattern, where "*" matches any text (also none).
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// OrdererMatches reports whether orderer is one of the policy's orderers, as Judge
// compares them (for intake's reading of an orderer read from an image).
func (p Policy) OrdererMatches(orderer string) bool { return p.ordererMatches(orderer) }
