package parser

import (
	"strings"
	"unicode/utf8"
)

// ReadBody reads notices typed into a mail body (plain text, or HTML already turned into
// lines with cells separated by tabs): the labels of the PDF notice followed by `：`, `:`, a
// tab or spaces, or with the value on the next line. Fields the sender did not write stay
// empty. Quoted lines (`>`) are skipped: they are what someone else wrote.
func ReadBody(text string) []Notice {
	notices, _ := readBody(text)
	return notices
}

// BodyProblems reports the number and key pairs typed into a mail body that fail the
// self-check ReadBody applies (a key of a length or case no surety company issues, a number
// that is not 10 digits): a typing mistake, which the sender is asked to check, rather than a
// wrong key queued for a clerk. Masked keys (AB******EF, as our replies quote them) are not
// reported.
func BodyProblems(text string) []Problem {
	_, problems := readBody(text)
	return problems
}

func readBody(text string) (notices []Notice, problems []Problem) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var d draft
	masked := false
	flush := func() {
		n, bad := d.notice()
		switch {
		case bad == "":
			n.Source = "body"
			notices = append(notices, n)
		case d.has(fieldNumber) && !masked:
			// A number without a usable key is named, never dropped in silence: the sender
			// is asked for the key of that number.
			if !d.has(fieldKey) {
				bad = "no 認証キー beside the 保証契約番号"
			}
			problems = append(problems, Problem{Code: CodeInvalidKey, Detail: bad, ContractNumber: contractDigits(d.vals[fieldNumber])})
		}
		d, masked = draft{}, false
	}
	for i := 0; i < len(lines); i++ {
		raw, line := lines[i], Normalize(lines[i])
		if t := strings.TrimLeft(line, " \t"); strings.HasPrefix(t, ">") || strings.HasPrefix(t, "|") {
			continue
		}
		cells := labelledCells(line)
		for c, cell := range cells {
			f, rest, ok := bodyLabel(cell)
			if !ok {
				continue
			}
			if rest == "" && c == len(cells)-1 {
				// The value on the next line that is not blank, unless that is a label itself.
				for j := i + 1; j < len(lines); j++ {
					next := Normalize(lines[j])
					if strings.TrimSpace(next) == "" {
						continue
					}
					if _, _, isLabel := matchLabel(next); !isLabel {
						rest, i, raw = strings.TrimSpace(next), j, lines[j]
					}
					break
				}
			}
			rest = strings.TrimLeft(rest, "、, ")
			switch f {
			case fieldNumber:
				rest = leading(rest, "0123456789- ")
			case fieldKey:
				raw := rest
				rest = leading(rest, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")
				if rest != "" && strings.ContainsAny(strings.TrimPrefix(raw, rest), "*●") {
					if d.has(f) {
						flush()
					}
					masked = true
				}
			}
			if rest == "" {
				continue
			}
			if d.has(f) {
				flush()
			}
			d.putWritten(f, rest, written(raw, rest))
		}
	}
	flush()
	return notices, problems
}

// bodyLabel is matchLabel for a sentence as well: 「保証契約番号は2070004426です」. Only
// the number and the key are read from such a sentence: their self-checks reject prose
// (「認証キーは半角英数字です」), which a 工事名 could not.
func bodyLabel(line string) (field, string, bool) {
	if f, rest, ok := matchLabel(line); ok {
		return f, rest, true
	}
	if i := strings.Index(line, "は"); i > 0 {
		if f, rest, ok := matchLabel(line[:i] + ":" + line[i+len("は"):]); ok && (f == fieldNumber || f == fieldKey) {
			return f, rest, true
		}
	}
	return 0, "", false
}

// labelledCells splits a line where a second label begins after white space, a tab, 「、」
// or 「/」: 「保証契約番号：2070004426　認証キー：AB12CD34EF」 is two fields.
func labelledCells(line string) []string {
	var cells []string
	start := 0
	for i, r := range line {
		if i == 0 || !(isSpace(r) || r == '/' || r == '、' || r == ',') {
			continue
		}
		next := i + utf8.RuneLen(r)
		if _, _, ok := bodyLabel(strings.TrimLeftFunc(line[next:], isSpace)); ok {
			if _, _, here := bodyLabel(strings.TrimLeftFunc(line[start:i], isSpace)); here {
				cells = append(cells, line[start:i])
				start = next
			}
		}
	}
	return append(cells, line[start:])
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
