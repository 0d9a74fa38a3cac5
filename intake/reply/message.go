package reply

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/unicode/norm"
)

const (
	maxSubject = 200 // runes of the original subject kept in a reply
	maxRefs    = 20  // message identifiers kept in References
	lineWidth  = 76  // display columns of a body line (a full-width character is two)
	foldAt     = 78  // RFC 5322 §2.1.1: lines SHOULD be no more than 78 characters
)

// envelope is everything of a reply but its text.
type envelope struct {
	agencyName string
	from       string // the agency address
	to, toName string
	domain     string // of the Message-ID
	now        time.Time
	subject    string
	inReplyTo  string
	references []string
	// attach, when set, is a whole message carried as message/rfc822 after the text.
	attach []byte
	// autoSubmitted is the Auto-Submitted value (RFC 3834 §5): "auto-replied" when empty.
	autoSubmitted string
}

func newEnvelope(agencyName, agencyAddress, domain string, now time.Time, to, toName string) (*envelope, error) {
	from, ok := asciiAddress(agencyAddress)
	if !ok {
		return nil, fmt.Errorf("agency address %q is not a usable address", agencyAddress)
	}
	rcpt, ok := asciiAddress(to)
	if !ok {
		// A non-ASCII address would need SMTPUTF8 (RFC 6531), which the outbox does not speak.
		return nil, ErrNoRecipient
	}
	env := &envelope{
		agencyName: cleanLine(agencyName, 100),
		from:       from,
		to:         rcpt,
		toName:     displayName(toName),
		domain:     strings.ToLower(strings.TrimSpace(domain)),
		now:        now,
	}
	if env.agencyName == "" {
		return nil, errors.New("no agency name")
	}
	if env.domain == "" {
		env.domain = strings.ToLower(from[strings.LastIndexByte(from, '@')+1:])
	}
	if !validDomain(env.domain) {
		return nil, fmt.Errorf("message-id domain %q is not a domain name", env.domain)
	}
	if env.now.IsZero() {
		env.now = time.Now()
	}
	return env, nil
}

// asciiAddress returns the addr-spec of a single ASCII mailbox, or false.
func asciiAddress(a string) (string, bool) {
	addr, ok := address(a)
	if !ok || !strings.Contains(addr, "@") || len(addr) > 254 {
		return "", false
	}
	for i := 0; i < len(addr); i++ {
		if c := addr[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == ',' {
			return "", false
		}
	}
	return addr, true
}

// validDomain: letters, digits, hyphens and dots (RFC 5322 §3.6.4 id-right as a dot-atom we can
// trust to carry no CR, LF or ">").
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// msgID returns id when it is a well-formed "<left@right>" (RFC 5322 §3.6.4) of printable ASCII
// and no longer than a line allows, else "": a hostile Message-ID must not bend our headers.
func msgID(id string) string {
	id = strings.TrimSpace(id)
	if len(id) < 3 || len(id) > 250 || id[0] != '<' || id[len(id)-1] != '>' {
		return ""
	}
	for i := 1; i < len(id)-1; i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return ""
		}
	}
	return id
}

// build writes the message: headers folded and encoded, the body in the configured charset.
func (env *envelope) build(charset, text string) (Reply, error) {
	id := "<" + env.now.UTC().Format("20060102150405") + "." + rand.Text() + "@" + env.domain + ">"
	var h bytes.Buffer
	field := func(name string, tokens ...string) {
		line := name + ":"
		h.WriteString(line)
		n := len(line)
		for i, t := range tokens {
			if i > 0 && n+1+len(t) > foldAt {
				// RFC 5322 §2.2.3: fold only at whitespace, by CRLF followed by whitespace.
				h.WriteString("\r\n")
				n = 0
			}
			h.WriteByte(' ')
			h.WriteString(t)
			n += 1 + len(t)
		}
		h.WriteString("\r\n")
	}
	field("Date", env.now.In(tokyo()).Format(time.RFC1123Z))
	field("From", addressTokens(env.agencyName, env.from, charset)...)
	field("To", addressTokens(env.toName, env.to, charset)...)
	field("Subject", textTokens(env.subject, charset)...)
	field("Message-ID", id)
	// RFC 5322 §3.6.4: In-Reply-To is the parent's id; References the parent's References and id.
	if parent := msgID(env.inReplyTo); parent != "" {
		field("In-Reply-To", parent)
	}
	var refs []string
	for _, r := range env.references {
		if r = msgID(r); r != "" && !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	if len(refs) > maxRefs {
		// Keep the thread's root and the newest: what clients thread by.
		refs = append(refs[:1], refs[len(refs)-maxRefs+1:]...)
	}
	if len(refs) > 0 {
		field("References", refs...)
	}
	// RFC 3834 §5.2: a reply from a responder is marked, so other responders leave it alone;
	// Exchange honours only its own header ([MS-OXCMAIL] 2.2.3.2.14).
	field("Auto-Submitted", cmp.Or(env.autoSubmitted, "auto-replied"))
	field("X-Auto-Response-Suppress", "OOF,", "AutoReply")
	field("MIME-Version", "1.0")
	boundary := ""
	if env.attach != nil {
		// RFC 2046 §5.1.1: the boundary must not occur in the parts; 26 random base32
		// characters do not, in practice.
		boundary = "=_" + rand.Text()
		field("Content-Type", "multipart/mixed;", `boundary="`+boundary+`"`)
		h.WriteString("\r\n--" + boundary + "\r\n")
	}
	var body []byte
	switch charset {
	case CharsetISO2022JP:
		// RFC 1468: 7bit, each line back in ASCII before its end.
		field("Content-Type", "text/plain;", "charset=ISO-2022-JP")
		field("Content-Transfer-Encoding", "7bit")
		var b bytes.Buffer
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			b.Write(jisBytes(line))
			b.WriteString("\r\n")
		}
		body = b.Bytes()
	default:
		// base64 rather than quoted-printable: Japanese text in QP is three times its size and
		// unreadable in the raw message anyway.
		field("Content-Type", "text/plain;", "charset=UTF-8")
		field("Content-Transfer-Encoding", "base64")
		body = base64Lines([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	}
	h.WriteString("\r\n")
	h.Write(body)
	if env.attach != nil {
		// RFC 2046 §5.2.1: message/rfc822 is never base64; 8bit where the original is.
		h.WriteString("\r\n--" + boundary + "\r\n")
		field("Content-Type", "message/rfc822")
		field("Content-Disposition", "attachment;", `filename="original.eml"`)
		cte := "7bit"
		if !isPlainASCII(strings.NewReplacer("\r", "", "\n", "", "\t", "").Replace(string(env.attach))) {
			cte = "8bit"
		}
		field("Content-Transfer-Encoding", cte)
		h.WriteString("\r\n")
		h.Write(crlf(env.attach))
		h.WriteString("\r\n--" + boundary + "--\r\n")
	}
	return Reply{
		From:      env.from,
		To:        env.to,
		Subject:   env.subject,
		Text:      text,
		MessageID: id,
		Raw:       h.Bytes(),
	}, nil
}

// base64Lines encodes b in lines of 76 characters (RFC 2045 §6.8).
func base64Lines(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(enc) > 76 {
		out.WriteString(enc[:76])
		out.WriteString("\r\n")
		enc = enc[76:]
	}
	out.WriteString(enc)
	out.WriteString("\r\n")
	return out.Bytes()
}

// addressTokens writes a mailbox (RFC 5322 §3.4): the display name as a quoted string when it is
// plain ASCII, else as encoded words (RFC 2047 §5(3)), then the address in angle brackets.
func addressTokens(name, addr, charset string) []string {
	if name == "" {
		return []string{addr}
	}
	var toks []string
	if isPlainASCII(name) {
		toks = []string{mailQuote(name)}
	} else {
		toks = encodeWords(name, charset)
	}
	return append(toks, "<"+addr+">")
}

// mailQuote writes s as an RFC 5322 §3.2.4 quoted string.
func mailQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// textTokens writes an unstructured field (RFC 5322 §3.2.5): plain ASCII words as they are,
// anything else as encoded words (RFC 2047 §5(1)). A leading "Re:" stays readable.
func textTokens(s, charset string) []string {
	if isPlainASCII(s) && !strings.Contains(s, "=?") {
		return strings.Fields(s)
	}
	if rest, ok := strings.CutPrefix(s, "Re: "); ok {
		return append([]string{"Re:"}, encodeWords(rest, charset)...)
	}
	return encodeWords(s, charset)
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// encodeWords encodes s as "B" encoded words of at most 75 characters each (RFC 2047 §2), never
// splitting a character between two words (§5: each word must be decodable on its own), which
// for ISO-2022-JP means each word starts and ends in ASCII (RFC 1468).
func encodeWords(s, charset string) []string {
	prefix, limit := "=?UTF-8?B?", 45 // 45 bytes are 60 base64 characters: 72 in all
	encode := func(s string) []byte { return []byte(s) }
	if charset == CharsetISO2022JP {
		prefix, limit = "=?ISO-2022-JP?B?", 42 // 56 characters: 74 in all
		s = jisSafe(s)
		encode = jisBytes
	}
	var words []string
	var chunk []rune
	var last []byte
	flush := func() {
		if len(chunk) > 0 {
			words = append(words, prefix+base64.StdEncoding.EncodeToString(last)+"?=")
			chunk = chunk[:0]
		}
	}
	for _, r := range s {
		next := encode(string(append(chunk, r)))
		if len(next) > limit && len(chunk) > 0 {
			flush()
			next = encode(string(r))
		}
		chunk = append(chunk, r)
		last = next
	}
	flush()
	return words
}

// jisBytes encodes s, which jisSafe has cleaned, as ISO-2022-JP.
func jisBytes(s string) []byte {
	out, err := japanese.ISO2022JP.NewEncoder().String(jisSafe(s))
	if err != nil {
		// jisSafe left only encodable characters; this is not expected, but never send 8-bit.
		out = strings.Map(func(r rune) rune {
			if r < 0x80 {
				return r
			}
			return '?'
		}, s)
	}
	return []byte(out)
}

// jisSafe replaces what ISO-2022-JP (RFC 1468: ASCII, JIS X 0201 Roman, JIS X 0208) cannot
// carry: half-width katakana become full-width (x/text would write JIS X 0201 katakana, which
// RFC 1468 lacks), CP932's variants become their JIS X 0208 forms (～ -> 〜), other characters
// their NFKC form (① -> 1, ㈱ -> (株)) when that fits, else "?".
func jisSafe(s string) string {
	if encodable(s) && !hasHalfwidthKana(s) {
		return s
	}
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if isHalfwidthKana(r) {
			j := i
			for j < len(rs) && isHalfwidthKana(rs[j]) {
				j++
			}
			b.WriteString(jisSafeRunes(norm.NFKC.String(string(rs[i:j]))))
			i = j - 1
			continue
		}
		b.WriteString(jisSafeRunes(string(r)))
	}
	return b.String()
}

func jisSafeRunes(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case encodable(string(r)):
			b.WriteRune(r)
		case encodable(string(cp932Variant(r))):
			b.WriteRune(cp932Variant(r))
		case encodable(norm.NFKC.String(string(r))) && norm.NFKC.String(string(r)) != "":
			b.WriteString(norm.NFKC.String(string(r)))
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

func encodable(s string) bool {
	_, err := japanese.ISO2022JP.NewEncoder().String(s)
	return err == nil
}

func hasHalfwidthKana(s string) bool { return strings.ContainsFunc(s, isHalfwidthKana) }

func isHalfwidthKana(r rune) bool { return r >= 0xff61 && r <= 0xff9f }

// cp932Variant maps the characters Microsoft's CP932 decodes differently from JIS X 0208.
func cp932Variant(r rune) rune {
	switch r {
	case '\uff5e':
		return '\u301c' // FULLWIDTH TILDE -> WAVE DASH
	case '\u2225':
		return '\u2016' // PARALLEL TO -> DOUBLE VERTICAL LINE
	case '\uff0d':
		return '\u2212' // FULLWIDTH HYPHEN-MINUS -> MINUS SIGN
	case '\uffe0':
		return '\u00a2'
	case '\uffe1':
		return '\u00a3'
	case '\uffe2':
		return '\u00ac'
	}
	return r
}

// cleanLine makes a value from a sender, a PDF or the configuration safe and tidy on one line:
// control characters (CR and LF above all, RFC 5322 §2.2), line and paragraph separators and
// bidirectional overrides become spaces, runs of spaces one, invalid UTF-8 U+FFFD; at most max
// runes.
func cleanLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		if r == '\ufeff' || r == '\u200b' {
			continue
		}
		if unicode.IsControl(r) || r == ' ' || r == '\u2028' || r == '\u2029' || r == '\u200e' || r == '\u200f' ||
			(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			space = true
			continue
		}
		if n >= max {
			b.WriteString("…")
			break
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// cleanText is cleanLine for text of several lines (a signature, a clerk's reason): each line
// cleaned, its indentation kept, at most maxLines lines.
func cleanText(s string, maxLines, maxRunes int) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if len(out) >= maxLines {
			break
		}
		rest := strings.TrimLeft(line, " \t\u3000")
		indent := strings.ReplaceAll(line[:len(line)-len(rest)], "\t", "    ")
		if c := cleanLine(rest, maxRunes); c != "" {
			out = append(out, indent+c)
		} else {
			out = append(out, "")
		}
	}
	return strings.Trim(strings.Join(out, "\n"), "\n")
}

// tidy drops trailing spaces and repeated blank lines (the templates may leave them), wraps
// long lines, and ends the text with one newline.
func tidy(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var out []string
	blank := true // drops leading blank lines too
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t\u3000")
		if line == "" {
			if !blank {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, wrap(line, lineWidth)...)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n") + "\n"
}

// wrap breaks a line at width display columns, between characters of Japanese text and at
// spaces of ASCII text, never inside an ASCII word (a 保証契約番号, an address), never before
// closing punctuation (kinsoku), indenting continuation lines under a label or a bullet.
func wrap(line string, width int) []string {
	if columns(line) <= width {
		return []string{line}
	}
	indent := continuation(line)
	var lines []string
	var cur strings.Builder
	col := 0
	for _, seg := range segments(line) {
		w := columns(seg)
		if col > 0 && col+w > width && !noBreakBefore(seg) && !noBreakAfter(cur.String()) &&
			strings.TrimSpace(cur.String()) != strings.TrimSpace(indent) {
			lines = append(lines, strings.TrimRight(cur.String(), " "))
			cur.Reset()
			cur.WriteString(indent)
			col = columns(indent)
			if seg == " " {
				continue
			}
		}
		cur.WriteString(seg)
		col += w
	}
	if s := strings.TrimRight(cur.String(), " "); strings.TrimSpace(s) != "" {
		lines = append(lines, s)
	}
	return lines
}

// segments splits a line into unbreakable pieces: a run of ASCII non-spaces, a space, or a
// Japanese phrase. A phrase ends after 、。」） and the like, before 「（, and where hiragana
// a particle meets a kanji or katakana: the start of a new 文節 in most written Japanese
// (送付いたします stays whole, お知らせを|送付). So a line never breaks inside 電子証書 or 契約, as a fixed-width
// cut did; a phrase longer than the line stays whole and the line runs long, which mail
// clients show better than a word cut in two. (No maintained Go port of a phrase model such
// as BudouX is served here; this rule needs no table.)
func segments(s string) []string {
	var segs []string
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == ' ':
		case r < 0x80:
			n = 0
			for n < len(s) && s[n] < 0x80 && s[n] != ' ' {
				n++
			}
		default:
			prev := r
			for n < len(s) {
				next, size := utf8.DecodeRuneInString(s[n:])
				if next == ' ' {
					// A space inside Japanese (島根県 土木部 技術管理課) belongs to the name.
					if after, _ := utf8.DecodeRuneInString(s[n+1:]); after >= 0x80 && !phraseEnds(prev, after) {
						prev, n = after, n+1
						continue
					}
				}
				if next < 0x80 || phraseEnds(prev, next) {
					break
				}
				prev = next
				n += size
			}
		}
		segs = append(segs, s[:n])
		s = s[n:]
	}
	return segs
}

// phraseEnds reports a break opportunity between two Japanese characters.
func phraseEnds(prev, next rune) bool {
	switch {
	case strings.ContainsRune("、。，．）」』】〕〉》！？・\u3000", prev) && !noBreakBefore(string(next)):
		return true
	case strings.ContainsRune("（「『【〔〈《", next):
		return true
	case strings.ContainsRune("をにはがでとのへもや", prev) && (unicode.Is(unicode.Han, next) || unicode.Is(unicode.Katakana, next) && next != 'ー'):
		// After a particle a new 文節 starts (お知らせを|送付, 次の|理由); after other kana it
		// need not (受け付ける, 申し込み).
		return true
	}
	return false
}

func noBreakBefore(seg string) bool {
	r, _ := utf8.DecodeRuneInString(seg)
	return strings.ContainsRune("、。，．,.）」』】〕〉》)]｝ー・：；？！ぁぃぅぇぉっゃゅょァィゥェォッャュョ", r)
}

func noBreakAfter(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return strings.ContainsRune("（「『【〔〈《([｛", r)
}

// continuation is the indentation of a wrapped line's following lines: under the value of a
// "label：value" line, after a bullet, or the line's own.
func continuation(line string) string {
	rest := strings.TrimLeft(line, " \u3000")
	lead := line[:len(line)-len(rest)]
	for _, bullet := range []string{"・", "■ ", "※ ", "→ "} {
		if strings.HasPrefix(rest, bullet) {
			return lead + "\u3000"
		}
	}
	rs := []rune(rest)
	for i := 0; i < len(rs) && i < 8; i++ {
		if rs[i] == '：' {
			return lead + strings.Repeat("\u3000", (columns(string(rs[:i+1]))+1)/2)
		}
	}
	return lead
}

// columns is the display width: two for East Asian wide and full-width characters.
func columns(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r < 0x1100, r >= 0xff61 && r <= 0xffdc, r >= 0xffe8 && r <= 0xffee:
			n++
		default:
			n += 2
		}
	}
	return n
}

// stripRe drops the reply prefixes a subject already has ("Re:", "RE: Re:", "Re[2]:", "Ｒｅ："), so
// that ours is the only one (RFC 5322 §3.6.5).
func stripRe(s string) string {
	for {
		t := strings.TrimLeft(s, " \t\u3000")
		n := reLen(t)
		if n == 0 {
			return t
		}
		s = t[n:]
	}
}

// reLen is the byte length of a leading "Re:" in any width and case, with an optional count.
func reLen(s string) int {
	i := 0
	next := func() rune {
		if i >= len(s) {
			return 0
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r >= 0xff01 && r <= 0xff5e {
			r -= 0xfee0 // full-width ASCII
		}
		return unicode.ToLower(r)
	}
	if next() != 'r' || next() != 'e' {
		return 0
	}
	r := next()
	if r == '[' || r == '(' {
		for r = next(); r >= '0' && r <= '9'; r = next() {
		}
		if r != ']' && r != ')' {
			return 0
		}
		r = next()
	}
	for r == ' ' {
		r = next()
	}
	if r != ':' {
		return 0
	}
	return i
}

// crlf gives every line of b a CRLF end (RFC 5322 §2.3), as a stored message may have bare LFs.
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}
