package reply

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// A reply is signed by the agency. What a stranger wrote (the From display name, the
// subject, a 工事名 typed in a body, an attachment's name) may be shown back only as plain
// words: a link or an address in it would be the agency lending its name to whoever forged
// the mail (a From name 「会計課（口座確認は https://evil.example/ へ）」 greeted in a signed
// reply). So every such field goes through plainLine, names through displayName, and
// attachment names through fileName before a template sees them.

// linkPattern finds what a mail client would make clickable or a reader would follow: a URL
// with a scheme, the schemes that need no "//", www., an e-mail address, and a bare domain
// name (ASCII labels ending in a TLD of letters, with an optional port or path). It runs over
// the text with full-width letters folded to ASCII, because ｈｔｔｐｓ：／／ reads as a link
// to a person. Domains of non-ASCII labels are left alone: they would catch ordinary Japanese
// text such as 見積書.pdf, and mail clients do not link them without a scheme.
var linkPattern = regexp.MustCompile(`(?i)` +
	`[a-z][a-z0-9+.\-]*://\S*` +
	`|\b(?:mailto|tel|sms|callto|javascript|data|file|news|skype|line):\S*` +
	`|\bwww\.\S*` +
	`|[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+` +
	`|\b(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\b(?:[:/?#]\S*)?`)

// foldWidth maps each rune to its narrow form where it has one (ｈ -> h, ：-> :), one rune
// for one rune, so that positions found in the folded text are positions in the original.
func foldWidth(rs []rune) string {
	var b strings.Builder
	for _, r := range rs {
		f := []rune(width.Narrow.String(string(r)))
		if len(f) == 1 {
			r = f[0]
		}
		switch r {
		case '．', '。', '｡':
			r = '.' // a full stop between ASCII labels still reads as a domain's dot
		}
		b.WriteRune(r)
	}
	return b.String()
}

// links returns the rune ranges [start, end) of the links in s.
func links(s string) [][2]int {
	rs := []rune(s)
	folded := foldWidth(rs)
	var out [][2]int
	for _, m := range linkPattern.FindAllStringIndex(folded, -1) {
		// Byte offsets in folded to rune offsets: folding kept one rune per rune.
		start := len([]rune(folded[:m[0]]))
		end := start + len([]rune(folded[m[0]:m[1]]))
		out = append(out, [2]int{start, end})
	}
	return out
}

// hasLink reports whether s holds a link or an address.
func hasLink(s string) bool { return len(links(s)) > 0 }

// withoutLinks drops every link and address from s.
func withoutLinks(s string) string {
	ls := links(s)
	if len(ls) == 0 {
		return s
	}
	rs := []rune(s)
	var b strings.Builder
	last := 0
	for _, l := range ls {
		b.WriteString(string(rs[last:l[0]]))
		b.WriteRune(' ')
		last = l[1]
	}
	b.WriteString(string(rs[last:]))
	return b.String()
}

// plainLine is cleanLine for a stranger's words: links and addresses removed first.
func plainLine(s string, max int) string { return cleanLine(withoutLinks(s), max) }

// maxName is the longest display name a reply greets by: a person's name with a company or a
// section fits; a sentence does not.
const maxName = 30

// displayName is the From display name a reply may greet, or "" (the templates then say
// ご担当者): only a short plain name, letters, digits, spaces and the punctuation of names.
func displayName(name string) string {
	n := cleanLine(name, 4*maxName)
	if n == "" || hasLink(n) || len([]rune(n)) > maxName {
		return ""
	}
	for _, r := range n {
		switch {
		case unicode.IsLetter(r), unicode.IsMark(r), unicode.IsDigit(r), r == ' ', r == '\u3000':
		case strings.ContainsRune("・･-－ー.．&＆'’()（）", r):
		default:
			return ""
		}
	}
	return n
}

// fileName is an attachment's name as a reply may show it: without a link in the name itself
// (hosho.pdf is fine; evil.example.pdf or https://… is not), else the generic 添付ファイル.
func fileName(name string, max int) string {
	n := cleanLine(name, max)
	stem := n
	if i := strings.LastIndexByte(n, '.'); i > 0 {
		stem = n[:i]
	}
	if hasLink(stem) || strings.ContainsAny(n, "/\\") {
		return "添付ファイル"
	}
	return n
}
