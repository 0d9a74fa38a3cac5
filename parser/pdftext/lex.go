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
	// text and elems hold the decoded strings and the array elements of the operands read
	// since the last reset, so that an operator's operands allocate nothing once they have
	// grown; open is the elements of the arrays being read. Slices handed out are capped,
	// and after a reset the caller keeps none (see reset).
	text  []byte
	elems []obj
	open  []obj
}

// reset lets the lexer reuse the storage of the strings and arrays it has returned: the
// caller is done with every operand read so far (an operator has run on them).
func (l *lexer) reset() {
	l.text, l.elems = l.text[:0], l.elems[:0]
}

// operator reads the operands up to the next operator, keeping at most max of them in
// ops, and returns the operator; ok is false at the end of the input. Operands past max
// are dropped with their storage (release).
func (l *lexer) operator(ops []obj, max int) (op obj, kept []obj, ok bool) {
	for {
		m := l.mark()
		o, ok := l.next()
		if !ok {
			return obj{}, ops, false
		}
		if o.kind == kOp {
			return o, ops, true
		}
		if len(ops) < max {
			ops = append(ops, o)
		} else {
			l.release(m)
		}
	}
}

// lexMark is how much storage the lexer had handed out at a point (mark).
type lexMark struct{ text, elems int }

func (l *lexer) mark() lexMark { return lexMark{len(l.text), len(l.elems)} }

// release gives back the storage of the objects read since m, which the caller drops: a
// stream of operands without an operator (or an array past maxArrayLen) must not hold what
// it no longer keeps, which a fresh allocation per object left to the collector.
func (l *lexer) release(m lexMark) {
	l.text, l.elems = l.text[:m.text], l.elems[:m.elems]
}

// Byte classes, looked up for every byte of a content stream's tokens.
const (
	classWhite = 1 << iota
	classDelim
)

var byteClass = func() (t [256]uint8) {
	for _, c := range []byte(" \n\r\t\f\x00") {
		t[c] |= classWhite
	}
	for _, c := range []byte("()<>[]{}/%") {
		t[c] |= classDelim
	}
	return t
}()

func isWhite(c byte) bool { return byteClass[c]&classWhite != 0 }

func isDelim(c byte) bool { return byteClass[c]&classDelim != 0 }

// isRegular reports a byte that is neither white space nor a delimiter: one inside a token.
func isRegular(c byte) bool { return byteClass[c] == 0 }

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
		for l.pos < len(l.b) && isRegular(l.b[l.pos]) {
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
	for l.pos < len(l.b) && isRegular(l.b[l.pos]) {
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
	if f, ok := decimal(tok); ok {
		return f, true
	}
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

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// decimal reads the numbers content streams are made of, [+-]digits[.digits] with at most
// 15 digits, as strconv.ParseFloat does, to the bit: the digits as an integer below 2^53
// divided by an exact power of ten is one correctly rounded operation, strconv's own exact
// case. Anything else (longer, an exponent, a second dot) is left to ParseFloat.
func decimal(tok []byte) (float64, bool) {
	i, neg := 0, false
	if len(tok) > 0 && (tok[0] == '-' || tok[0] == '+') {
		neg, i = tok[0] == '-', 1
	}
	var mant uint64
	digits, frac := 0, -1
	for ; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

func (l *lexer) collect(k objKind, end string, depth int) (o obj) {
	o.kind = k
	start := len(l.open)
	defer func() {
		// The elements move to elems, where they stay until reset; open is for arrays
		// still being read (an array inside this one pushed and moved its own before).
		n := len(l.elems)
		l.elems = append(l.elems, l.open[start:]...)
		o.arr = l.elems[n:len(l.elems):len(l.elems)]
		if len(o.arr) == 0 {
			o.arr = nil
		}
		clear(l.open[start:])
		l.open = l.open[:start]
	}()
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
		m := l.mark()
		e, ok := l.object(depth + 1)
		if !ok {
			return o
		}
		if e.kind == kOp && (string(e.str) == "]" || string(e.str) == ">>") {
			return o // mismatched closing bracket
		}
		if len(l.open)-start < maxArrayLen {
			l.open = append(l.open, e)
		} else {
			l.release(m)
		}
	}
}

func (l *lexer) literal() []byte {
	start := len(l.text)
	out := l.text
	defer func() { l.text = out }()
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
				return out[start:len(out):len(out)]
			}
		case '\\':
			if l.pos >= len(l.b) {
				return out[start:len(out):len(out)]
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
	return out[start:len(out):len(out)]
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
	start := len(l.text)
	out := l.text
	defer func() { l.text = out }()
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
	return out[start:len(out):len(out)]
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
