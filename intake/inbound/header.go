package inbound

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Field is one header field as received: the name as written, the value unfolded (RFC 5322 §2.2.3) and
// trimmed, not decoded (it may hold encoded words or raw 8-bit bytes).
type Field struct {
	Name  string
	Value string
}

// Header is a message's or a part's header fields in the order received.
type Header []Field

// Get returns the value of the first field called name (case-insensitive), or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether a field called name is present, even with an empty value.
func (h Header) Has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Values returns the values of every field called name, in order.
func (h Header) Values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Text returns the first field called name decoded for display: RFC 2047 encoded words and raw 8-bit text
// in any charset this package knows.
func (h Header) Text(name string) string {
	return decodeText(h.Get(name))
}

// maxHeaderFields bounds the fields kept per header block, so that a header of a million tiny lines costs
// no more than a message of that size already does.
const maxHeaderFields = 1000

// splitEntity separates a header block from the body at the first empty line (RFC 5322 §2.1). A message
// with no empty line is all header.
func splitEntity(b []byte) (hdr, body []byte) {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			if len(b[i:]) == 0 || (len(b[i:]) == 1 && b[i] == '\r') {
				return b[:i], nil
			}
			return b, nil
		}
		line := b[i : i+j]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return b[:i], b[i+j+1:]
		}
		i += j + 1
	}
	return b, nil
}

// parseHeader reads a header block tolerantly. A line that is neither "name: value" nor a continuation is
// skipped and counted as a defect rather than rejecting the message, as go-message's textproto does;
// whitespace before the colon (RFC 5322 §4.5.3, obsolete syntax) is accepted.
//
// go-message v0.18.2 cannot serve here: message.Read of
//
//	From: a@b.example
//	X-Mailer: Becky! ver. 2.81
//	ESC $ B % F % 9 % H ESC ( B        (a folded raw ISO-2022-JP value that lost its leading space)
//
// returns only the error "message: malformed MIME header line: $B%F%9%H(B", and no part of the message.
func parseHeader(b []byte) (h Header, bad int) {
	// A field costs one string: its name and its value are cut from one copy of its line
	// (its lines, unfolded, in folded), which is what the values outlive the message in.
	h = make(Header, 0, min(bytes.Count(b, []byte("\n"))+1, maxHeaderFields))
	var (
		line    []byte // the current field's first line, nil when there is none
		colon   int    // the colon's index in line
		nameLen int
		folded  []byte // line and its continuations, once there is one
		isFold  bool
	)
	flush := func() {
		if line == nil {
			return
		}
		src := line
		if isFold {
			src = folded
		}
		whole := string(src)
		h = append(h, Field{Name: whole[:nameLen], Value: strings.TrimSpace(whole[colon+1:])})
		line, isFold, folded = nil, false, folded[:0]
	}
	for len(b) > 0 {
		l := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		l = bytes.TrimSuffix(l, []byte("\r"))
		// A line that starts with an escape or an 8-bit byte cannot start a field: a mailer folded a raw
		// ISO-2022-JP or CP932 value without the leading whitespace, and it continues the field above.
		if len(l) > 0 && (l[0] == ' ' || l[0] == '\t' || (line != nil && (l[0] == 0x1b || l[0] >= 0x80))) {
			if line != nil {
				// Unfolding: the line break goes, the whitespace stays (RFC 5322 §2.2.3).
				if !isFold {
					folded = append(folded[:0], line...)
					isFold = true
				}
				folded = append(folded, l...)
			} else {
				bad++
			}
			continue
		}
		flush()
		c := bytes.IndexByte(l, ':')
		if c <= 0 {
			bad++
			continue
		}
		name := bytes.TrimRight(l[:c], " \t")
		if !validFieldName(name) {
			bad++
			continue
		}
		if len(h) >= maxHeaderFields {
			bad++
			continue
		}
		line, colon, nameLen = l, c, len(name)
	}
	flush()
	return h, bad
}

// validFieldName: printable US-ASCII except the colon (RFC 5322 §3.6.8).
func validFieldName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// mediaType is a parsed Content-Type or Content-Disposition value.
type mediaType struct {
	value  string            // "type/subtype" or the disposition type, lower-cased
	raw    string            // the same as sent
	params map[string]string // lower-cased names; RFC 2231 values assembled and decoded to UTF-8
}

// maxParams bounds the parameters read from one field, RFC 2231 sections included.
const maxParams = 64

type rawParam struct {
	name, value string
	quoted      bool
}

// parseMediaType reads "value; name=value; ..." with the tolerance real mail needs: missing semicolons,
// unquoted values with spaces, encoded words and raw 8-bit bytes inside quoted strings, and RFC 2231
// parameters in any charset this package knows (mime.ParseMediaType gives up on all of these, and
// go-message drops RFC 2231 names in Shift_JIS and ISO-2022-JP).
func parseMediaType(s string) mediaType {
	mt := mediaType{params: map[string]string{}}
	s = rawJIS(s)
	v, rest, _ := strings.Cut(s, ";")
	mt.raw = strings.TrimSpace(v)
	mt.value = strings.ToLower(mt.raw)
	// A quoted string in a Shift_JIS header can hold 0x5C as a trail byte, which is no escape.
	sjis := !utf8.ValidString(rest)
	var raws []rawParam
	for len(rest) > 0 && len(raws) < maxParams {
		rest = strings.TrimLeft(rest, " \t;")
		if rest == "" {
			break
		}
		eq := strings.IndexAny(rest, "=;")
		if eq < 0 || rest[eq] == ';' {
			// A token with no value: skip it.
			if eq < 0 {
				break
			}
			rest = rest[eq:]
			continue
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		quoted := false
		if strings.HasPrefix(rest, `"`) {
			val, rest = readQuoted(rest[1:], sjis)
			quoted = true
		} else {
			end := strings.IndexByte(rest, ';')
			if end < 0 {
				end = len(rest)
			}
			val, rest = strings.TrimSpace(rest[:end]), rest[end:]
		}
		if name != "" {
			raws = append(raws, rawParam{name, val, quoted})
		}
	}
	assembleParams(raws, mt.params)
	return mt
}

// readQuoted reads a quoted-string body up to the closing quote (RFC 5322 §3.2.4) and returns it with the
// rest after the quote. An unterminated string runs to the end.
func readQuoted(s string, sjis bool) (val, rest string) {
	var b strings.Builder
	trail := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if sjis {
			if trail {
				b.WriteByte(c)
				trail = false
				continue
			}
			if (c >= 0x81 && c <= 0x9f) || (c >= 0xe0 && c <= 0xfc) {
				b.WriteByte(c)
				trail = true
				continue
			}
		}
		switch c {
		case '"':
			return b.String(), s[i+1:]
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String(), ""
}

type section struct {
	n        int
	extended bool
	value    string
}

// assembleParams joins RFC 2231 sections ("name*0*=", "name*1*=") and decodes extended values
// ("charset'language'percent-encoded"). Plain values of name and filename are decoded as display text,
// because Outlook and others put encoded words inside them (against RFC 2047 §5) or send raw 8-bit bytes.
func assembleParams(raws []rawParam, out map[string]string) {
	sections := map[string][]section{}
	for _, p := range raws {
		name := p.name
		i := strings.IndexByte(name, '*')
		if i < 0 {
			if _, dup := out[name]; !dup {
				if name == "name" || name == "filename" {
					out[name] = decodeText(p.value)
				} else {
					out[name] = p.value
				}
			}
			continue
		}
		base, spec := name[:i], name[i+1:]
		s := section{value: p.value}
		if strings.HasSuffix(spec, "*") {
			s.extended = true
			spec = strings.TrimSuffix(spec, "*")
		} else if spec == "" {
			s.extended = true // "name*=": a single extended value
		}
		if spec == "" {
			s.n = 0
		} else {
			n, err := strconv.Atoi(spec)
			if err != nil || n < 0 || n >= maxParams {
				continue
			}
			s.n = n
		}
		sections[base] = append(sections[base], s)
	}
	for base, ss := range sections {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].n < ss[j].n })
		var buf []byte
		label := ""
		for k, s := range ss {
			if k > 0 && s.n == ss[k-1].n {
				continue // a repeated section: keep the first
			}
			v := s.value
			if s.extended {
				if k == 0 {
					// RFC 2231 §4: charset'language'value; tolerate a missing prefix.
					if cs, r, ok := strings.Cut(v, "'"); ok {
						if _, r2, ok := strings.Cut(r, "'"); ok {
							label, v = cs, r2
						}
					}
				}
				buf = append(buf, percentDecode(v)...)
			} else {
				buf = append(buf, v...)
			}
		}
		// An RFC 2231 value wins over a plain one of the same name (RFC 2231 §4 is the newer, exact form).
		out[base] = decodeCharset(label, buf)
	}
}

func percentDecode(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, h<<4|l)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return b
}

// decodeText decodes a header value for display: RFC 2047 encoded words, with the whitespace between two
// adjacent words dropped (§6.2), and adjacent words in the same charset joined before decoding so that a
// character split across two words (common, though §5 forbids it) survives; other text, when it is 8-bit or
// ISO-2022-JP escapes, through detection.
func decodeText(s string) string {
	if !strings.Contains(s, "=?") {
		return detect([]byte(s))
	}
	s = rawJIS(s)
	var out strings.Builder
	var pend []byte // decoded bytes of adjacent encoded words in pendLabel
	pendLabel := ""
	flush := func() {
		if pend != nil {
			out.WriteString(decodeCharset(pendLabel, pend))
			pend, pendLabel = nil, ""
		}
	}
	// tail: length of the suffix of s that starts at its last "?=".
	tail := len(s) - strings.LastIndex(s, "?=")
	for words := 0; words < maxWords; words++ {
		start := strings.Index(s, "=?")
		if start < 0 {
			break
		}
		if len(s)-start < tail {
			break // no word can end any more: stop looking, or a header of "=?" would cost quadratic time
		}
		label, enc, text, end, ok := parseWord(s[start:])
		if !ok {
			flush()
			out.WriteString(detect([]byte(s[:start+2])))
			s = s[start+2:]
			continue
		}
		between := s[:start]
		if pend != nil && strings.TrimSpace(between) == "" {
			between = "" // whitespace between two encoded words is not displayed (RFC 2047 §6.2)
		}
		if between != "" {
			flush()
			out.WriteString(detect([]byte(between)))
		}
		var raw []byte
		if enc == 'b' {
			raw, _ = decodeBase64([]byte(text))
		} else {
			raw = decodeQWord(text)
		}
		if pend != nil && !sameCharset(label, pendLabel) {
			flush()
		}
		if pend == nil {
			pend, pendLabel = []byte{}, label
		}
		pend = append(pend, raw...)
		s = s[start+end:]
	}
	flush()
	if s != "" {
		out.WriteString(detect([]byte(s)))
	}
	return out.String()
}

// maxWords bounds the encoded words decoded in one header value: RFC 2047 §2 limits a word to 75 characters
// and RFC 5322 §2.1.1 a line to 998, so a real Subject or name has a few dozen. Past it, the rest of the value
// is kept as it is, which bounds the cost of a hostile 10 MiB field of words in an unknown charset (about 3 µs
// each) without losing its text.
const maxWords = 4096

// parseWord reads "=?charset?enc?text?=" at the start of s.
func parseWord(s string) (label string, enc byte, text string, end int, ok bool) {
	q1 := strings.IndexByte(s[2:], '?')
	if q1 < 0 || q1 > 64 {
		return
	}
	label = s[2 : 2+q1]
	if label == "" || strings.ContainsAny(label, " \t\"()<>,") {
		return
	}
	r := s[2+q1+1:]
	if len(r) < 2 || r[1] != '?' {
		return
	}
	switch r[0] {
	case 'b', 'B':
		enc = 'b'
	case 'q', 'Q':
		enc = 'q'
	default:
		return
	}
	r = r[2:]
	e := strings.Index(r, "?=")
	if e < 0 {
		return
	}
	text = r[:e]
	if strings.ContainsAny(text, " \t") && enc == 'b' {
		text = strings.Map(func(c rune) rune {
			if c == ' ' || c == '\t' {
				return -1
			}
			return c
		}, text)
	}
	end = 2 + q1 + 1 + 2 + e + 2
	return label, enc, text, end, true
}

// decodeQWord decodes RFC 2047 §4.2 "Q" text: "_" is a space, "=XX" a byte.
func decodeQWord(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '_':
			b = append(b, ' ')
		case '=':
			if i+2 < len(s) {
				h, ok1 := unhex(s[i+1])
				l, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					b = append(b, h<<4|l)
					i += 2
					continue
				}
			}
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	return b
}

// parseAddress takes the first mailbox of an address field (RFC 5322 §3.4) with a tolerance net/mail lacks:
// raw 8-bit display names, a missing angle bracket, a trailing comment as the name
// ("MAILER-DAEMON@host (Mail Delivery System)").
func parseAddress(v string) (addr, name string) {
	v = strings.TrimSpace(rawJIS(v))
	if v == "" {
		return "", ""
	}
	// Find the first "<" outside a quoted string and a comment.
	inQuote, depth := false, 0
	lt := -1
	for i := 0; i < len(v) && lt < 0; i++ {
		switch c := v[i]; {
		case c == '\\' && (inQuote || depth > 0):
			i++
		case c == '"' && depth == 0:
			inQuote = !inQuote
		case c == '(' && !inQuote:
			depth++
		case c == ')' && !inQuote && depth > 0:
			depth--
		case c == '<' && !inQuote && depth == 0:
			lt = i
		}
	}
	if lt >= 0 {
		rest := v[lt+1:]
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			addr = rest[:gt]
		} else {
			addr = rest
		}
		addr = strings.TrimSpace(addr)
		// An obsolete route ("@a,@b:user@host", RFC 5322 §4.4) is dropped.
		if i := strings.LastIndexByte(addr, ':'); i >= 0 && strings.HasPrefix(addr, "@") {
			addr = addr[i+1:]
		}
		name = strings.TrimSpace(v[:lt])
		if strings.HasPrefix(name, `"`) {
			name, _ = readQuoted(name[1:], !utf8.ValidString(name))
		}
		return addr, strings.TrimSpace(decodeText(name))
	}
	// No angle brackets: the first word with an "@" is the address, a comment is the name.
	var comment string
	if i := strings.IndexByte(v, '('); i >= 0 {
		if j := strings.LastIndexByte(v, ')'); j > i {
			comment = v[i+1 : j]
			v = v[:i] + " " + v[j+1:]
		}
	}
	for _, w := range strings.FieldsFunc(v, func(c rune) bool { return c == ' ' || c == '\t' || c == ',' || c == ';' }) {
		if strings.Contains(w, "@") {
			addr = strings.Trim(w, `"`)
			break
		}
	}
	if addr == "" {
		if f := strings.Fields(v); len(f) > 0 {
			addr = f[0]
		}
	}
	return addr, strings.TrimSpace(decodeText(comment))
}

// msgIDs returns the "<...>" message identifiers in v (RFC 5322 §3.6.4), or the words of v when it has none
// (some clients omit the brackets).
func msgIDs(v string) []string {
	var ids []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := v[i : i+j+1]; len(id) > 2 {
			ids = append(ids, id)
		}
		v = v[i+j+1:]
	}
	if ids == nil {
		ids = strings.Fields(v)
	}
	return ids
}
