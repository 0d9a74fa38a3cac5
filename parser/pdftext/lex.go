package pdftext

import (
	"bytes"
	"strconv"
)

// The content-stream lexer. ledongthuc's Interpret would do, but it hands strings back only
// through Value, panics on malformed operands, knows nothing of inline images (BI ... ID
// <binary> EI, whose bytes would be lexed as operators) and bounds nothing; content streams
// are the one place where a hostile file can make us do unbounded work, so we lex them here.

type objKind uint8

const (
	kNull objKind = iota
	kNum
	kStr
	kName
	kArray
	kDict
	kOp
	kBool
)

// obj is one operand or operator. Strings are raw bytes, never decoded.
type obj struct {
	kind objKind
	num  float64
	str  []byte // string bytes, name (without '/'), operator
	arr  []obj  // array elements; dict keys and values alternate
}

// Size limits on single objects: a notice never needs more, and they keep a crafted stream
// from building huge arrays out of a few bytes.
const (
	maxArrayLen = 1 << 16
	maxNesting  = 32
)

type lexer struct {
	b   []byte
	pos int
	// malformed counts what no producer writes: a non-hex byte in a hex string, a stray
	// closing bracket, an operator with bytes outside printable ASCII, a string the data
	// ends in. In an uncompressed stream that is how one damaged byte shows.
	malformed int
}

func isWhite(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (l *lexer) skipWhite() {
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		if isWhite(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for l.pos < len(l.b) && l.b[l.pos] != '\n' && l.b[l.pos] != '\r' {
				l.pos++
			}
			continue
		}
		return
	}
}

// next returns the next object; ok is false at the end of the input.
func (l *lexer) next() (o obj, ok bool) {
	return l.object(0)
}

func (l *lexer) object(depth int) (obj, bool) {
	l.skipWhite()
	if l.pos >= len(l.b) {
		return obj{}, false
	}
	c := l.b[l.pos]
	switch {
	case c == '(':
		l.pos++
		return obj{kind: kStr, str: l.literal()}, true
	case c == '<' && l.pos+1 < len(l.b) && l.b[l.pos+1] == '<':
		l.pos += 2
		return l.collect(kDict, ">>", depth), true
	case c == '<':
		l.pos++
		return obj{kind: kStr, str: l.hex()}, true
	case c == '[':
		l.pos++
		return l.collect(kArray, "]", depth), true
	case c == '/':
		l.pos++
		start := l.pos
		for l.pos < len(l.b) && !isWhite(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
			l.pos++
		}
		return obj{kind: kName, str: unescapeName(l.b[start:l.pos])}, true
	case c == ']' || c == ')' || c == '>' || c == '{' || c == '}':
		// Stray delimiters: report as an operator the interpreter ignores.
		l.malformed++
		l.pos++
		if c == '>' && l.pos < len(l.b) && l.b[l.pos] == '>' {
			l.pos++
			return obj{kind: kOp, str: []byte(">>")}, true
		}
		return obj{kind: kOp, str: l.b[l.pos-1 : l.pos]}, true
	}
	start := l.pos
	for l.pos < len(l.b) && !isWhite(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
		l.pos++
	}
	tok := l.b[start:l.pos]
	if len(tok) > 0 && (tok[0] >= '0' && tok[0] <= '9' || tok[0] == '-' || tok[0] == '+' || tok[0] == '.') {
		if f, ok := parseNum(tok); ok {
			return obj{kind: kNum, num: f}, true
		}
	}
	for _, c := range tok {
		if c < 0x21 || c > 0x7E {
			l.malformed++
			break
		}
	}
	switch string(tok) {
	case "true", "false":
		return obj{kind: kBool, num: b2f(tok[0] == 't')}, true
	case "null":
		return obj{kind: kNull}, true
	}
	return obj{kind: kOp, str: tok}, true
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// parseNum reads PDF numbers, including the malformed ones producers write ("--5", "1.2.3"
// are read as far as they make sense, as Acrobat does).
func parseNum(tok []byte) (float64, bool) {
	if f, err := strconv.ParseFloat(string(tok), 64); err == nil {
		return f, true
	}
	neg := false
	i := 0
	for i < len(tok) && (tok[i] == '-' || tok[i] == '+') {
		neg = neg != (tok[i] == '-')
		i++
	}
	j := i
	dot := false
	for j < len(tok) && (tok[j] >= '0' && tok[j] <= '9' || tok[j] == '.' && !dot) {
		dot = dot || tok[j] == '.'
		j++
	}
	if j == i {
		return 0, i > 0
	}
	f, err := strconv.ParseFloat(string(tok[i:j]), 64)
	if err != nil {
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

func (l *lexer) collect(k objKind, end string, depth int) obj {
	o := obj{kind: k}
	for {
		l.skipWhite()
		if l.pos >= len(l.b) {
			return o
		}
		if bytes.HasPrefix(l.b[l.pos:], []byte(end)) {
			l.pos += len(end)
			return o
		}
		if depth >= maxNesting {
			// Too deep: skip a byte at a time until the closing bracket, keeping nothing.
			l.pos++
			continue
		}
		e, ok := l.object(depth + 1)
		if !ok {
			return o
		}
		if e.kind == kOp && (string(e.str) == "]" || string(e.str) == ">>") {
			return o // mismatched closing bracket
		}
		if len(o.arr) < maxArrayLen {
			o.arr = append(o.arr, e)
		}
	}
}

func (l *lexer) literal() []byte {
	var out []byte
	depth := 1
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '\\':
			if l.pos >= len(l.b) {
				return out
			}
			c = l.b[l.pos]
			l.pos++
			switch c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.b) && l.b[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if c >= '0' && c <= '7' {
					v := int(c - '0')
					for k := 0; k < 2 && l.pos < len(l.b) && l.b[l.pos] >= '0' && l.b[l.pos] <= '7'; k++ {
						v = v*8 + int(l.b[l.pos]-'0')
						l.pos++
					}
					c = byte(v)
				}
			}
		}
		out = append(out, c)
	}
	l.malformed++ // the data ended inside the string
	return out
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (l *lexer) hex() []byte {
	out := make([]byte, 0, 16)
	hi := -1
	closed := false
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		if c == '>' {
			closed = true
			break
		}
		v := unhex(c)
		if v < 0 {
			if !isWhite(c) || c == 0 {
				l.malformed++
			}
			continue
		}
		if hi < 0 {
			hi = v
		} else {
			out = append(out, byte(hi<<4|v))
			hi = -1
		}
	}
	if hi >= 0 {
		// Odd digit count: a trailing 0 is implied (PDF 32000-1 7.3.4.3), but no producer
		// relies on it; a lost digit does.
		out = append(out, byte(hi<<4))
		l.malformed++
	}
	if !closed {
		l.malformed++
	}
	return out
}

func unescapeName(b []byte) []byte {
	if bytes.IndexByte(b, '#') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) && unhex(b[i+1]) >= 0 && unhex(b[i+2]) >= 0 {
			out = append(out, byte(unhex(b[i+1])<<4|unhex(b[i+2])))
			i += 2
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// skipInlineImage moves past the binary data of an inline image, which starts after "ID" and
// one white-space byte and ends at an "EI" surrounded by white space.
func (l *lexer) skipInlineImage() {
	if l.pos < len(l.b) && isWhite(l.b[l.pos]) {
		l.pos++
	}
	for {
		i := bytes.Index(l.b[l.pos:], []byte("EI"))
		if i < 0 {
			l.pos = len(l.b)
			return
		}
		at := l.pos + i
		l.pos = at + 2
		if (at == 0 || isWhite(l.b[at-1])) && (l.pos >= len(l.b) || isWhite(l.b[l.pos]) || isDelim(l.b[l.pos])) {
			return
		}
	}
}
