package parser

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxBodyItems bounds what one text yields: a real mail carries a handful of notices, and a
// hostile one must not make its reader's output (and the callers' work on it) grow with it.
const maxBodyItems = 100

// Values of Problem.Missing.
const (
	MissingKey    = "auth_key"
	MissingNumber = "contract_number"
)

// ReadBody reads notices typed into a mail body (plain text, or HTML already turned into
// lines with cells separated by tabs). It reads what people write, not only what the PDF
// prints: labels with or without a separator (：, :, a tab, spaces, 「」), in sentences
// (保証契約番号は…、認証キーは…です), the value on the next line; several notices under
// headings that carry their 区分 (【1件目】前払金保証, (1) 契約保証, ■中間前払金保証); context
// written once for all of them (a paragraph above the list, 工事名はいずれも…, 上記2件とも…),
// a field inside a notice winning over it; tables with a header row; a key or number
// wrapped onto the next line when only the joined pieces fit a surety company's shape.
// Quoted text (> lines, reply headers of Outlook, Gmail, Thunderbird, iPhone) is what
// someone else wrote and is not read. Fields the sender did not write stay empty.
//
// problems are the notices typed into the body that cannot be used: a number and key that
// fail the self-check notices pass (a key of a length or case no surety company issues, a
// number that is not 10 digits: a typing mistake, which the sender is asked to check, rather
// than a wrong key queued for a clerk), a number without its key or a key without its number
// (Problem.Missing says which), a key that may or may not run on to the next line. Masked
// keys (AB******EF, as our replies quote them) are not reported. One reading gives both:
// the intake wants both of every text.
func ReadBody(text string) (notices []Notice, problems []Problem) {
	raw := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	r := bodyReader{raw: raw, lines: unquoted(raw)}
	r.read()
	for _, b := range r.blocks {
		if len(notices)+len(problems) >= maxBodyItems {
			break
		}
		n, p, ok := r.finish(b)
		switch {
		case !ok:
		case p.Code != "":
			problems = append(problems, p)
		default:
			notices = append(notices, n)
		}
	}
	return notices, problems
}

// block is one notice as the body states it, before the shared context is added.
type block struct {
	d       draft
	headCat string             // 区分 from the notice's heading
	shared  [fieldCount]string // context above the notice (a paragraph, a preamble)
	headed  bool               // opened by a heading: it owns every line up to the next
	masked  bool               // the key is masked (AB******EF): our own reply quoted back
	doubt   string             // why the key or number may be misread
}

func (b *block) core() bool { return b.d.has(fieldNumber) || b.d.has(fieldKey) }

type bodyReader struct {
	raw    []string // the lines as written: what a name is shown as
	lines  []string // normalised; quoted lines blank
	blocks []*block
	cur    *block
	shared [fieldCount]string // context for the notices below it
	global [fieldCount]string // context said for all notices (いずれも, 2件とも)
	// leading: the first notice's context came above its number and key, so a context
	// paragraph between notices belongs to the one below; otherwise to the one above.
	leading, layoutKnown bool
	para                 [fieldCount]bool // fields put since the last blank line
	paraCore             bool
	pending              [fieldCount]string // a context paragraph waiting for the notice below
}

func (r *bodyReader) read() {
	r.newBlock(false)
	for i := 0; i < len(r.lines); i++ {
		line := r.lines[i]
		if strings.TrimSpace(line) == "" {
			r.endParagraph()
			continue
		}
		if cols := headerRow(line); cols != nil {
			i = r.readRows(i, cols)
			continue
		}
		toks := findLabels(line)
		prefix := line
		if len(toks) > 0 {
			prefix = line[:toks[0].start]
		}
		if cat, ok := bodyHeading(prefix, len(toks) > 0); ok {
			r.heading(cat)
		}
		shared := sharedSentence(line)
		if len(toks) == 0 {
			if shared {
				r.sharedWithoutLabel(line)
			}
			continue
		}
		for k, t := range toks {
			end := len(line)
			if k+1 < len(toks) {
				end = toks[k+1].start
			}
			v, tail := fieldValue(t.f, line[t.end:end], t.sentence)
			at := i
			if v == "" && k == len(toks)-1 && strings.Trim(line[t.end:], " \t:：=") == "" {
				// The value on the next line that is not blank, unless that is a label or
				// a heading itself.
				for j := i + 1; j < len(r.lines) && j < i+4; j++ {
					next := strings.TrimSpace(r.lines[j])
					if next == "" {
						continue
					}
					if len(findLabels(next)) == 0 && (t.f == fieldCategory || !isHeading(next)) {
						v, tail = fieldValue(t.f, next, false)
						if v != "" {
							at, i = j, j
						}
					}
					break
				}
			}
			if v == "" {
				continue
			}
			doubt := ""
			if (t.f == fieldNumber || t.f == fieldKey) && strings.TrimSpace(tail) == "" && at+1 < len(r.lines) {
				var joined bool
				v, joined, doubt = wrapped(t.f, v, r.lines[at+1])
				if joined {
					i = max(i, at+1)
				}
			}
			switch {
			case t.f == fieldKey && (strings.HasPrefix(strings.TrimLeft(tail, " "), "*") || strings.HasPrefix(tail, "●")):
				r.put(t.f, v)
				r.cur.masked = true
			case shared && t.f != fieldNumber && t.f != fieldKey:
				r.global[t.f] = v
			default:
				r.putWritten(t.f, v, written(r.raw[at], v))
				if doubt != "" {
					r.cur.doubt = doubt
				}
			}
		}
	}
	r.endParagraph()
	// Trailing context waiting for a notice below it that never came belongs to the last one.
	for f, v := range r.pending {
		if v != "" && !r.cur.d.has(field(f)) {
			r.cur.d.put(field(f), v)
		}
	}
	r.push()
}

// newBlock starts a notice; a context paragraph that stood between the last notice and this
// one is this one's context.
func (r *bodyReader) newBlock(headed bool) {
	for f, v := range r.pending {
		if v != "" {
			r.shared[f] = v
		}
	}
	r.pending = [fieldCount]string{}
	r.cur = &block{headed: headed, shared: r.shared}
}

// push ends the current notice: one without a number or key is context for those below.
func (r *bodyReader) push() {
	if r.cur.core() {
		r.blocks = append(r.blocks, r.cur)
		return
	}
	for f := range fieldCount {
		if r.cur.d.has(f) {
			r.shared[f] = r.cur.d.vals[f]
		}
	}
	if r.cur.headCat != "" {
		r.shared[fieldCategory] = r.cur.headCat
	}
}

func (r *bodyReader) heading(cat string) {
	r.push()
	r.newBlock(true)
	r.cur.headCat = cat
	r.para, r.paraCore = [fieldCount]bool{}, false
}

func (r *bodyReader) put(f field, v string) { r.putWritten(f, v, v) }

// putWritten is put with w, the text v was written as (a name is shown as written; the
// normalised v is for matching).
func (r *bodyReader) putWritten(f field, v, w string) {
	if r.cur.d.has(f) {
		r.push()
		r.newBlock(false)
	}
	if (f == fieldNumber || f == fieldKey) && !r.layoutKnown {
		r.layoutKnown = true
		r.leading = r.cur.d.n > 0 || r.cur.headed || r.shared != [fieldCount]string{}
	}
	if f == fieldNumber || f == fieldKey {
		r.paraCore = true
	}
	r.cur.d.putWritten(f, v, w)
	r.para[f] = true
}

// endParagraph: a paragraph of context only (工事名, 発注者 … and no number or key) is
// context for the notices that follow, unless the notices put their context below them.
func (r *bodyReader) endParagraph() {
	para, core := r.para, r.paraCore
	r.para, r.paraCore = [fieldCount]bool{}, false
	if core || para == [fieldCount]bool{} || r.cur.headed {
		return
	}
	switch {
	case !r.cur.core():
		for f := range fieldCount {
			if para[f] {
				r.shared[f] = r.cur.d.vals[f]
				r.cur.d.set[f], r.cur.d.vals[f] = false, ""
				r.cur.d.n--
			}
		}
		r.cur.shared = r.shared
	case r.leading:
		for f := range fieldCount {
			if para[f] {
				r.pending[f] = r.cur.d.vals[f]
				r.cur.d.set[f], r.cur.d.vals[f] = false, ""
				r.cur.d.n--
			}
		}
	}
}

// readRows reads a table whose first row names the columns (保証契約番号 | 認証キー | 工事名)
// and each following row is one notice, as an HTML table or aligned plain text.
func (r *bodyReader) readRows(i int, cols []field) int {
	r.endParagraph()
	for i+1 < len(r.lines) {
		cells := splitCells(r.lines[i+1])
		if len(cells) < 2 || len(cells) > len(cols) || len(findLabels(r.lines[i+1])) > 0 {
			break
		}
		i++
		r.push()
		r.newBlock(true)
		for c, cell := range cells {
			if cols[c] < 0 {
				continue
			}
			f := field(cols[c])
			if v, tail := fieldValue(f, cell, false); v != "" {
				r.cur.d.put(f, v)
				if f == fieldKey && strings.HasPrefix(strings.TrimSpace(tail), "*") {
					r.cur.masked = true
				}
			}
		}
	}
	return i
}

// finish adds the shared context to a notice and checks it, or names what is wrong with it.
// ok is false for what is neither a notice nor worth a problem (a masked key).
func (r *bodyReader) finish(b *block) (Notice, Problem, bool) {
	if b.masked {
		return Notice{}, Problem{}, false
	}
	d := b.d
	for f := range fieldCount {
		if d.has(f) {
			continue
		}
		v := b.shared[f]
		if f == fieldCategory && b.headCat != "" {
			v = b.headCat
		}
		if v == "" {
			v = r.global[f]
		}
		if v != "" {
			d.put(f, v)
		}
	}
	n, bad := d.notice()
	number := contractDigits(d.vals[fieldNumber])
	switch {
	case bad == "" && b.doubt != "":
		return n, Problem{Code: CodeInvalidKey, Detail: b.doubt, ContractNumber: number}, true
	case bad == "":
		n.Source = "body"
		return n, Problem{}, true
	case !d.has(fieldKey) && number == "":
		return n, Problem{}, false // not a 保証契約番号 (契約番号：第12号): nothing to name
	case !d.has(fieldKey):
		// A number without a usable key is named, never dropped in silence: the sender
		// is asked for the key of that number.
		return n, Problem{Code: CodeInvalidKey, Detail: "no 認証キー beside the 保証契約番号", ContractNumber: number, Missing: MissingKey}, true
	case !d.has(fieldNumber):
		k := authKey(d.vals[fieldKey])
		if k == "" || !validKeyLength(len(k)) {
			return n, Problem{}, false // not a key: nothing to name
		}
		return n, Problem{Code: CodeInvalidKey, Detail: "no 保証契約番号 beside the 認証キー", AuthKey: k, Missing: MissingNumber}, true
	}
	return n, Problem{Code: CodeInvalidKey, Detail: bad, ContractNumber: number}, true
}

func validKeyLength(n int) bool {
	for _, l := range keyLengths {
		if n == l {
			return true
		}
	}
	return false
}

// labelTok is a label found in a line: the field, where the label starts, and where its
// value starts (after the label, a remark in brackets and the separator).
type labelTok struct {
	f          field
	start, end int
	sentence   bool // 工事名は…: the value is in a sentence
}

// bodyLabels are labels people type that no notice prints: the common mistake 保障, and
// words for the key.
var bodyLabels = []struct {
	text  string
	field field
}{
	{"保障契約番号", fieldNumber},
	{"認証キー番号", fieldKey},
	{"認証コード", fieldKey},
	{"認証番号", fieldKey},
}

// findLabels returns the labels in line, left to right. A label starts the line or follows
// a character that is not a letter (a space, a tab, punctuation, a bracket, a digit of a
// list marker) or の (前払金保証の保証契約番号は…); it is followed by a separator, white
// space, は, the end of the line, or (for the number and the key) the value itself. Each
// position is tried against a fixed table, so the work is linear in the line.
func findLabels(line string) []labelTok {
	var toks []labelTok
	prev := rune(-1)
	for i := 0; i < len(line); {
		r, n := utf8.DecodeRuneInString(line[i:])
		if prev == -1 || !unicode.IsLetter(prev) || prev == 'の' {
			if t, ok := labelAt(line, i, prev); ok {
				toks = append(toks, t)
				i, prev = t.end, ' '
				continue
			}
		}
		prev = r
		i += n
	}
	return toks
}

// labelAt matches a label at line[i:]. It is matchLabel's loop with two differences that
// a long hostile line needs: the labels come from a table by first rune, and the spaces
// skipped inside a label are capped, so that each position costs a bounded time.
func labelAt(line string, i int, prev rune) (labelTok, bool) {
	first, n0 := utf8.DecodeRuneInString(line[i:])
	var cands []bodyLabel
	for _, g := range bodyLabelTable {
		if g.first == first {
			cands = g.labels
			break
		}
	}
	for _, l := range cands {
		s, ok := line[i+n0:], true
		for _, want := range l.rest {
			// 均等割付 spreads a label over its cell: 区　　分, 工 事 名.
			for sp := 0; sp < 4 && s != "" && (s[0] == ' ' || s[0] == '\t'); sp++ {
				s = s[1:]
			}
			r, n := utf8.DecodeRuneInString(s)
			if r != want {
				ok = false
				break
			}
			s = s[n:]
		}
		if !ok {
			continue
		}
		// A remark in brackets may follow the label: 認証キー（半角英数字）.
		if strings.HasPrefix(s, "(") {
			if j := strings.IndexByte(s[:min(len(s), 40)], ')'); j > 0 {
				s = s[j+1:]
			}
		}
		opened := prev == '「' || prev == '【' || prev == '[' || prev == '〔' || prev == '<' || prev == '『' || prev == '('
		if r, n := utf8.DecodeRuneInString(s); opened && strings.ContainsRune("」】]〕>』)", r) {
			s = s[n:]
		}
		t := labelTok{f: l.f, start: i}
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case s == "" || unicode.IsSpace(r) || strings.ContainsRune(":=|", r):
		case r == 'は':
			t.sentence = true
			s = s[n:]
		case l.f == fieldNumber && r >= '0' && r <= '9':
		case l.f == fieldKey && r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
		default:
			continue
		}
		t.end = len(line) - len(s)
		return t, true
	}
	return labelTok{}, false
}

type bodyLabel struct {
	rest []rune // the label after its first rune
	f    field
}

// bodyLabelTable is bodyLabels and the notice's labels grouped by their first rune, in their
// order (longest first), so that a position in a long line is tried against a few labels.
var bodyLabelTable = func() []struct {
	first  rune
	labels []bodyLabel
} {
	var t []struct {
		first  rune
		labels []bodyLabel
	}
	add := func(text string, f field) {
		rs := []rune(text)
		for i := range t {
			if t[i].first == rs[0] {
				t[i].labels = append(t[i].labels, bodyLabel{rs[1:], f})
				return
			}
		}
		t = append(t, struct {
			first  rune
			labels []bodyLabel
		}{rs[0], []bodyLabel{{rs[1:], f}}})
	}
	for _, l := range bodyLabels {
		add(l.text, l.field)
	}
	for _, l := range labels {
		add(l.text, l.field)
	}
	return t
}()

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// fieldValue reads the value of field f from the text after its label, up to the next
// label; tail is what follows a number or key (a remark, the mask of a masked key).
func fieldValue(f field, s string, sentence bool) (v, tail string) {
	s = strings.TrimLeftFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(":=|、,は「『【[", r)
	})
	switch f {
	case fieldNumber:
		v, tail = leading(s, "0123456789-ー ")
		return strings.Trim(v, "-ー "), tail
	case fieldKey:
		return leading(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")
	}
	if i := strings.IndexAny(s, "\t"); i >= 0 {
		s = s[:i]
	}
	s = trimProse(s)
	if sentence {
		// 工事名は添付のとおりです: prose, not a name.
		for _, w := range []string{"添付", "下記", "上記", "以下", "別紙", "とおり", "通り", "同じ", "同様", "記載", "不明"} {
			if strings.Contains(s, w) {
				return "", ""
			}
		}
	}
	if utf8.RuneCountInString(s) > 120 {
		return "", "" // a paragraph, not a name
	}
	if f == fieldCategory {
		if c := categoryWord(s); c != "" {
			return c, ""
		}
	}
	return s, ""
}

// trimProse takes the value out of what frames it in a sentence: いずれも…です。, 「…」.
func trimProse(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"いずれも", "どちらも", "共通で", "共通", "すべて", "全て"} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.TrimLeft(s, " :、「『")
	if i := strings.IndexAny(s, "」』"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "。"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, " 、,./・")
	for _, suf := range []string{"になります", "となります", "でございます", "です", "で"} {
		if t, ok := strings.CutSuffix(s, suf); ok && t != "" {
			s = t
			break
		}
	}
	return strings.TrimSpace(s)
}

// leading returns the longest prefix of s made of the characters in set, trimmed, and the
// rest: a value followed by a remark, as in 「認証キー：T2RFT6PKGQ（大文字）」.
func leading(s, set string) (string, string) {
	i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(set, r) })
	if i < 0 {
		i = len(s)
	}
	return strings.TrimSpace(s[:i]), s[i:]
}

// wrapped joins a number or key with the start of the next line when the two together fit
// a surety company's shape and the piece below cannot be a value of its own (a mail client's
// line length, a sender's line break, a continuation indented with full-width spaces). When
// the value and the piece each fit alone and joined as well (8 letters and 8 more below),
// it could be one key or two: doubt says so, and the notice is not read as certain.
func wrapped(f field, v, next string) (out string, joined bool, doubt string) {
	next = strings.TrimSpace(next)
	set := "0123456789"
	if f == fieldKey {
		set += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	}
	piece, rest := leading(next, set)
	if piece == "" || strings.ContainsRune(piece, ' ') {
		return v, false, ""
	}
	// The piece must stand alone or run on into Japanese text (…MNOPです。): 0852-22-1234 or
	// "TEL 0852" below a key is another line, not the rest of the key.
	if r := firstRune(rest); rest != "" && r < utf8.RuneSelf {
		return v, false, ""
	}
	if len(findLabels(next)) > 0 {
		return v, false, ""
	}
	fits := func(s string) bool {
		if f == fieldNumber {
			d := contractDigits(s)
			return len(d) == anySurety.numberDigits
		}
		k := authKey(s)
		return k != "" && validKeyLength(len(k))
	}
	alone, both := fits(v), fits(v+piece)
	switch {
	case !both:
	case !alone || !fits(piece):
		// Only together do they make a key: ABCD1234EFGH and 5678 below it.
		return v + piece, true, ""
	default:
		return v, false, fmt.Sprintf("%s %s is followed by %s on the next line: one value or two", fieldNames[f], v, piece)
	}
	return v, false, ""
}

// headerRow returns the fields of a table's header row (保証契約番号 | 認証キー | 工事名, by
// tabs or runs of spaces), -1 for a column of something else (No.), or nil when line is not
// one: at least two columns, one of them the number or the key, every label alone.
func headerRow(line string) []field {
	cells := splitCells(line)
	if len(cells) < 2 {
		return nil
	}
	cols := make([]field, len(cells))
	labelled, core := 0, false
	for i, c := range cells {
		cols[i] = -1
		c = strings.TrimSpace(c)
		f, rest, ok := matchLabel(c)
		switch {
		case ok && rest == "":
			cols[i] = f
			labelled++
			core = core || f == fieldNumber || f == fieldKey
		case utf8.RuneCountInString(c) > 6:
			return nil // a value: this is a row, not a header
		}
	}
	if labelled < 2 || !core {
		return nil
	}
	return cols
}

// splitCells splits a table row at tabs (HTML cells), or else at runs of two or more spaces
// (a plain-text table aligned by hand).
func splitCells(line string) []string {
	line = strings.TrimSpace(line)
	if strings.Contains(line, "\t") {
		return strings.Split(line, "\t")
	}
	var cells []string
	for {
		i := strings.Index(line, "  ")
		if i < 0 {
			return append(cells, line)
		}
		cells = append(cells, line[:i])
		line = strings.TrimLeft(line[i:], " ")
	}
}

// categoryWord returns the 区分 that s names, written out or shortened (前払金, 中間前払,
// 契約保証分), or "".
func categoryWord(s string) string {
	s = compact(s)
	for _, suf := range []string{"の分", "分", "について", "に係るもの", "関係"} {
		s = strings.TrimSuffix(s, suf)
	}
	switch s {
	case "前払金保証", "前払保証", "前払金", "前払い金保証", "前払":
		return "前払金保証"
	case "中間前払金保証", "中間前払保証", "中間前払金", "中間前払い金保証", "中間前払":
		return "中間前払金保証"
	case "契約保証":
		return "契約保証"
	case "契約保証予約":
		return "契約保証予約"
	}
	return ""
}

// bodyHeading reports a line (or the text before the first label of a line) that opens a
// notice: a list marker (【1件目】, (1), 1., ■, その2) and or a 区分 (前払金保証, 【契約保証】).
// Before a label on the same line only a 区分 or a count (1件目) opens a notice: 「1. 工事名：…」
// numbers the fields of one notice.
func bodyHeading(s string, beforeLabel bool) (cat string, ok bool) {
	t := strings.TrimSpace(s)
	if t == "" || utf8.RuneCountInString(t) > 40 {
		return "", false
	}
	indexed, counted := false, false
	for again := true; again && t != ""; {
		again = false
		t = strings.TrimLeft(t, " ")
		r, n := utf8.DecodeRuneInString(t)
		if strings.ContainsRune("■□●○◆◇◎★☆▼▽▲△・*#〇", r) {
			t, again = t[n:], true
			continue
		}
		if c, ok := closer[r]; ok {
			j := strings.IndexRune(t[n:], c)
			if j < 0 {
				return "", false
			}
			inner := strings.TrimSpace(t[n : n+j])
			if w := categoryWord(inner); w != "" {
				cat = w
			} else if size, strong := listIndex(inner); size > 0 && size == len(inner) {
				indexed, counted = true, counted || strong
			} else {
				return "", false
			}
			t, again = t[n+j+utf8.RuneLen(c):], true
			continue
		}
		if size, strong := listIndex(t); size > 0 {
			t, indexed, again = t[size:], true, true
			counted = counted || strong
		}
	}
	t = strings.Trim(t, " :-")
	if w := categoryWord(t); w != "" {
		cat, t = w, ""
	}
	switch {
	case t != "":
		return "", false
	case cat != "":
		return cat, true
	case beforeLabel:
		return "", counted
	}
	return "", indexed
}

var closer = map[rune]rune{'【': '】', '[': ']', '(': ')', '<': '>', '〔': '〕', '《': '》', '≪': '≫', '〈': '〉'}

// listIndex returns the length of a list index at the start of s (1. 1) 1件目 第1件 その1
// No.1), and whether it counts notices (件目, その, No.) rather than any list's items.
func listIndex(s string) (int, bool) {
	digits := func(s string) int {
		return len(s) - len(strings.TrimLeft(s, "0123456789"))
	}
	for _, p := range []string{"第", "その", "No.", "NO.", "no.", "No", "案件"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			if d := digits(strings.TrimLeft(rest, " ")); d > 0 {
				n := len(s) - len(strings.TrimLeft(rest, " ")) + d
				for _, suf := range []string{"件目", "件"} {
					if strings.HasPrefix(s[n:], suf) {
						n += len(suf)
						break
					}
				}
				return n, true
			}
		}
	}
	d := digits(s)
	if d == 0 || d > 2 {
		return 0, false
	}
	switch rest := s[d:]; {
	case strings.HasPrefix(rest, "件目"):
		return d + len("件目"), true
	case rest == "" || strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, ")"):
		if rest == "" {
			return d, false
		}
		return d + 1, false
	case strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, ":"):
		return d + 1, false
	}
	return 0, false
}

func isHeading(line string) bool {
	_, ok := bodyHeading(line, false)
	return ok
}

// sharedSentence reports a line that says something of all the notices: 工事名はいずれも…,
// 上記2件とも…, 共通.
func sharedSentence(line string) bool {
	for _, w := range []string{"いずれも", "どちらも", "件とも", "つとも", "共通"} {
		if strings.Contains(line, w) {
			return true
		}
	}
	return false
}

// sharedWithoutLabel reads a sentence of shared context that names no field (上記2件とも
// 県道改良工事です。) by the shape of its value.
func (r *bodyReader) sharedWithoutLabel(line string) {
	for _, w := range []string{"いずれも", "どちらも", "件とも", "つとも"} {
		if i := strings.Index(line, w); i >= 0 {
			line = line[i+len(w):]
			break
		}
	}
	v := trimProse(line)
	if v == "" || utf8.RuneCountInString(v) > 80 {
		return
	}
	switch {
	case categoryWord(v) != "":
		r.global[fieldCategory] = categoryWord(v)
	case IsSurety(Guarantor(v)):
		r.global[fieldGuarantor] = v
	case hasSuffix(v, "知事", "市長", "町長", "村長", "理事長", "局長", "事務所長", "所長"):
		r.global[fieldOrderer] = v
	case hasSuffix(v, "工事", "業務", "委託", ")"):
		r.global[fieldProject] = v
	}
}

func hasSuffix(s string, sufs ...string) bool {
	for _, suf := range sufs {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}

// unquoted normalises the lines and blanks what someone else wrote: > lines, and everything
// below a reply header (Outlook's -----Original Message----- and 差出人:/From: blocks;
// "… wrote:", 「…のメール:」 and Gmail's 「… <addr>:」 lines that are not followed by > lines,
// as when an HTML quote lost its marks). A forwarded message's text is read: its sender
// forwards it to be read; only its header block is skipped.
func unquoted(raw []string) []string {
	lines := make([]string, len(raw))
	for i, l := range raw {
		if !stable(l) {
			l = Normalize(l)
		}
		lines[i] = l
	}
	forward := false
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(t, ">") || strings.HasPrefix(t, "|"):
			lines[i] = ""
		case forwardMarker(t):
			lines[i], forward = "", true
		case headerBlock(lines, i):
			if forward {
				// The forwarded message's From:/Date:/Subject: lines, up to the blank line.
				for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
					lines[i] = ""
				}
				forward = false
				continue
			}
			clear(lines[i:])
			return lines
		case replyMarker(t):
			if j := nextText(lines, i+1); j < 0 || !strings.HasPrefix(strings.TrimSpace(lines[j]), ">") {
				clear(lines[i:])
				return lines
			}
			lines[i] = ""
		}
	}
	return lines
}

func nextText(lines []string, i int) int {
	for end := i + 50; i < len(lines) && i < end; i++ {
		if strings.TrimSpace(lines[i]) != "" {
			return i
		}
	}
	return -1
}

func forwardMarker(t string) bool {
	return len(t) < 120 && (strings.Contains(t, "Forwarded message") || strings.Contains(t, "Forwarded Message") ||
		strings.Contains(t, "転送メッセージ") || strings.Contains(t, "転送されたメッセージ") ||
		strings.HasPrefix(t, "Begin forwarded message"))
}

// replyMarker: the line a mail client writes above the text it quotes.
func replyMarker(t string) bool {
	if len(t) > 300 {
		return false
	}
	if strings.Contains(t, "Original Message") || strings.Contains(t, "元のメッセージ") || strings.Contains(t, "Reply message") {
		return strings.HasPrefix(t, "--") || strings.HasPrefix(t, "==") || strings.HasPrefix(t, "_")
	}
	return hasSuffix(t, "wrote:", "書きました:", "のメール:", "のメッセージ:", "からのメール:") ||
		(strings.HasSuffix(t, ">:") && strings.Contains(t, "@"))
}

// headerBlock: a From:/差出人: line with Sent:/Date:/To:/Subject: (送信日時:/宛先:/件名:) lines
// under it, as Outlook writes above the message it quotes or forwards.
func headerBlock(lines []string, i int) bool {
	if !hasPrefix(strings.TrimSpace(lines[i]), "From:", "差出人:", "送信者:", "From :") {
		return false
	}
	for j := i + 1; j < len(lines) && j <= i+4; j++ {
		if hasPrefix(strings.TrimSpace(lines[j]), "Sent:", "Date:", "To:", "Subject:", "Cc:", "送信日時:", "送信日:", "日時:", "宛先:", "件名:", "Sent :") {
			return true
		}
	}
	return false
}

func hasPrefix(s string, ps ...string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// stable reports text that Normalize leaves as it is and that a table lookup tells faster
// than NFKC: ASCII, hiragana, full-width katakana, unified ideographs and 、。「」【】, most
// of a Japanese mail. A 10 MiB body is read in a third less time.
func stable(s string) bool {
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf, r >= 0x3041 && r <= 0x3096, r >= 0x30A1 && r <= 0x30FA, r == 0x30FC,
			r >= 0x4E00 && r <= 0x9FFF, r == '、', r == '。', r == '「', r == '」', r == '【', r == '】':
		default:
			return false
		}
	}
	return true
}
