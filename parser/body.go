package parser

import (
	"strings"
)

// ReadBody reads notices typed into a mail body (plain text, or HTML already turned into
// lines with cells separated by tabs): the labels of the PDF notice followed by `：`, `:`, a
// tab or spaces, or with the value on the next line. Fields the sender did not write stay
// empty. Quoted lines (`>`) are skipped: they are what someone else wrote.
func ReadBody(text string) []Notice {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var notices []Notice
	var d draft
	flush := func() {
		if n, bad := d.notice(); bad == "" {
			n.Source = "body"
			notices = append(notices, n)
		}
		d = draft{}
	}
	for i := 0; i < len(lines); i++ {
		line := Normalize(lines[i])
		if t := strings.TrimLeft(line, " \t"); strings.HasPrefix(t, ">") || strings.HasPrefix(t, "|") {
			continue
		}
		f, rest, ok := matchLabel(line)
		if !ok {
			continue
		}
		if rest == "" {
			// The value on the next line that is not blank, unless that is a label itself.
			for j := i + 1; j < len(lines); j++ {
				next := Normalize(lines[j])
				if strings.TrimSpace(next) == "" {
					continue
				}
				if _, _, isLabel := matchLabel(next); !isLabel {
					rest, i = strings.TrimSpace(next), j
				}
				break
			}
		}
		switch f {
		case fieldNumber:
			rest = leading(rest, "0123456789- ")
		case fieldKey:
			rest = leading(rest, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")
		}
		if rest == "" {
			continue
		}
		if d.has(f) {
			flush()
		}
		d.put(f, rest)
	}
	flush()
	return notices
}

// leading returns the longest prefix of s made of the characters in set, trimmed: a value
// followed by a remark, as in 「認証キー：T2RFT6PKGQ（大文字）」.
func leading(s, set string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(set, r) })
	if i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
