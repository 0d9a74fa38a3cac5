// Copyright 2014 The Go Authors.  All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Reading of PDF tokens and objects from a raw byte stream.

package pdf

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A token is a PDF token in the input stream, one of the following Go types:
//
//	bool, a PDF boolean
//	int64, a PDF integer
//	float64, a PDF real
//	string, a PDF string literal
//	keyword, a PDF keyword
//	name, a PDF name without the leading slash
type token interface{}

// A name is a PDF name, without the leading slash.
type name string

// A keyword is a PDF keyword.
// Delimiter tokens used in higher-level syntax,
// such as "<<", ">>", "[", "]", "{", "}", are also treated as keywords.
type keyword string

// maxObjectDepth is the maximum nesting depth for PDF objects (dicts, arrays,
// and indirect object definitions). Malicious files can nest millions of
// "N N obj" tokens to exhaust the Go call stack; this limit turns that into
// a recoverable panic instead of a fatal process crash.
const maxObjectDepth = 1000

// A buffer holds buffered input bytes from the PDF file.
type buffer struct {
	r           io.Reader // source of data
	buf         []byte    // buffered data
	pos         int       // read index in buf
	offset      int64     // offset at end of buf; aka offset of next read
	tmp         []byte    // scratch space for accumulating token
	unread      []token   // queue of read but then unread tokens
	allowEOF    bool
	allowObjptr bool
	allowStream bool
	eof         bool
	key         []byte
	useAES      bool
	objptr      objptr
	depth       int // current object nesting depth
	// hosho-intake: tokens read before from the same file, handed out again (nil: none)
	cache *tokenCache
}

// tokenCache holds the names and keywords a Reader has read, each boxed once as a token
// (hosho-intake): a file repeats a few dozen of them (Type, Font, Length, obj, R) thousands
// of times, and each read made a string and an interface of it, a quarter of what reading
// a notice allocated. Those every producer writes are boxed once for all files
// (commonNames, commonKeywords); the maps hold a file's others. Bounded, so a hostile
// file's distinct names cost what they did before.
type tokenCache struct {
	names    map[string]token
	keywords map[string]token
}

const maxCachedTokens = 2048

func newTokenCache() *tokenCache {
	return &tokenCache{names: map[string]token{}, keywords: map[string]token{}}
}

// token returns the token boxed for s in common or m, boxing and keeping it in m when it is
// new.
func (c *tokenCache) token(common, m map[string]token, s []byte, box func(string) token) token {
	if t, ok := common[string(s)]; ok {
		return t
	}
	if t, ok := m[string(s)]; ok {
		return t
	}
	str := string(s)
	t := box(str)
	if len(m) < maxCachedTokens {
		m[str] = t
	}
	return t
}

// commonNames and commonKeywords are the names and keywords of a PDF's structure, fonts and
// streams, boxed once; read-only after init, so Readers in several goroutines share them.
var commonNames, commonKeywords = func() (names, keywords map[string]token) {
	names, keywords = map[string]token{}, map[string]token{}
	for _, n := range strings.Fields(`Type Subtype Parent Kids Count Page Pages Catalog Root Info Size Prev ID
		XRef ObjStm N First Extends Index Encrypt Filter DecodeParms Length Length1 Length2 Length3
		FlateDecode ASCII85Decode ASCIIHexDecode LZWDecode RunLengthDecode DCTDecode JPXDecode
		CCITTFaxDecode JBIG2Decode Predictor Columns Colors BitsPerComponent MediaBox CropBox BleedBox
		TrimBox ArtBox Rotate Resources Contents Annots Group S Transparency CS I K Font XObject
		ExtGState ColorSpace Pattern Shading Properties ProcSet PDF Text ImageB ImageC ImageI
		DeviceRGB DeviceGray DeviceCMYK ICCBased Alternate Image Form Width Height BBox Matrix
		SMask Mask Decode Interpolate BaseFont Encoding WinAnsiEncoding MacRomanEncoding
		StandardEncoding Differences BaseEncoding FirstChar LastChar Widths FontDescriptor
		ToUnicode DescendantFonts CIDSystemInfo Registry Ordering Supplement DW W DW2 W2
		CIDToGIDMap Identity Identity-H Identity-V Type0 Type1 Type3 TrueType MMType1
		CIDFontType0 CIDFontType2 CIDFontType0C FontName FontFamily FontStretch FontWeight Flags
		FontBBox FontMatrix ItalicAngle Ascent Descent Leading CapHeight XHeight StemV StemH
		AvgWidth MaxWidth MissingWidth CharSet CIDSet FontFile FontFile2 FontFile3 Style Lang
		Producer Creator CreationDate ModDate Title Author Subject Keywords Trapped Metadata XML
		MarkInfo Marked StructTreeRoot StructParents Tabs ViewerPreferences PageMode PageLayout
		UseNone OpenAction Names Dests Outlines PageLabels AcroForm Fields CA ca BM Normal LW LC LJ
		ML D SA OP op OPM AIS TK Trans XYZ Fit V R O U P OE UE Perms StmF StrF CF CFM AESV2 AESV3
		Standard StdCF AuthEvent DocOpen EncryptMetadata Helvetica Times-Roman Courier Symbol
		ZapfDingbats UniJIS-UCS2-H UniJIS-UCS2-V UniJIS-UTF16-H 90ms-RKSJ-H 90msp-RKSJ-H EUC-H
		Adobe Japan1 Nums A Link Rect Border F1 F2 F3 F4 F5 F6 F7 F8 F9 GS0 GS1 GS2 Im0 Im1 X0 X1
		Fm0 Fm1 TT0 TT1 TT2 C0_0 C2_0 T1_0 T1_1 R7 R8 R9 R10`) {
		names[n] = name(n)
	}
	for _, k := range strings.Fields(`obj endobj R stream endstream null xref trailer startxref
		<< >> [ ] { }`) {
		keywords[k] = keyword(k)
	}
	return names, keywords
}()

// smallInts are the integers 0-1023 boxed once (hosho-intake): object numbers, lengths and
// glyph widths, which an interface would otherwise allocate for each (Go boxes 0-255 free).
var smallInts = func() (t [1024]token) {
	for i := range t {
		t[i] = int64(i)
	}
	return t
}()

// newBuffer returns a new buffer reading from r at the given offset.
func newBuffer(r io.Reader, offset int64) *buffer {
	return &buffer{
		r:           r,
		offset:      offset,
		buf:         make([]byte, 0, 4096),
		allowObjptr: true,
		allowStream: true,
	}
}

// newBufferBytes is a buffer over data from offset, lexed in place (hosho-intake). Tokens
// copy what they keep, so nothing aliases data.
func newBufferBytes(data []byte, offset int64) *buffer {
	offset = min(max(offset, 0), int64(len(data)))
	return &buffer{
		r:           eofReader{},
		buf:         data[offset:len(data):len(data)],
		offset:      int64(len(data)),
		allowObjptr: true,
		allowStream: true,
	}
}

func (b *buffer) readByte() byte {
	if b.pos >= len(b.buf) {
		b.reload()
		if b.pos >= len(b.buf) {
			return '\n'
		}
	}
	c := b.buf[b.pos]
	b.pos++
	return c
}

func (b *buffer) errorf(format string, args ...interface{}) {
	panic(fmt.Errorf(format, args...))
}

func (b *buffer) reload() bool {
	n := 0
	if cap(b.buf) > 0 { // hosho-intake: a buffer in place at the file's end has none
		n = cap(b.buf) - int(b.offset%int64(cap(b.buf)))
	}
	n, err := b.r.Read(b.buf[:n])
	if n == 0 && err != nil {
		b.buf = b.buf[:0]
		b.pos = 0
		if b.allowEOF && err == io.EOF {
			b.eof = true
			return false
		}
		b.errorf("malformed PDF: reading at offset %d: %v", b.offset, err)
		return false
	}
	b.offset += int64(n)
	b.buf = b.buf[:n]
	b.pos = 0
	return true
}

func (b *buffer) seekForward(offset int64) {
	for b.offset < offset {
		if !b.reload() {
			return
		}
	}
	b.pos = len(b.buf) - int(b.offset-offset)
}

func (b *buffer) readOffset() int64 {
	return b.offset - int64(len(b.buf)) + int64(b.pos)
}

func (b *buffer) unreadByte() {
	if b.pos > 0 {
		b.pos--
	}
}

func (b *buffer) unreadToken(t token) {
	b.unread = append(b.unread, t)
}

func (b *buffer) readToken() token {
	if n := len(b.unread); n > 0 {
		t := b.unread[n-1]
		b.unread = b.unread[:n-1]
		return t
	}

	// Find first non-space, non-comment byte.
	c := b.readByte()
	for {
		if isSpace(c) {
			if b.eof {
				return io.EOF
			}
			c = b.readByte()
		} else if c == '%' {
			for c != '\r' && c != '\n' {
				c = b.readByte()
			}
		} else {
			break
		}
	}

	switch c {
	case '<':
		if b.readByte() == '<' {
			return keyword("<<")
		}
		b.unreadByte()
		return b.readHexString()

	case '(':
		return b.readLiteralString()

	// hosho-intake: constants, boxed once by the compiler (keyword(string(c)) boxed a new
	// string for every bracket).
	case '[':
		return keyword("[")
	case ']':
		return keyword("]")
	case '{':
		return keyword("{")
	case '}':
		return keyword("}")

	case '/':
		return b.readName()

	case '>':
		if b.readByte() == '>' {
			return keyword(">>")
		}
		b.unreadByte()
		fallthrough

	default:
		if isDelim(c) {
			b.errorf("unexpected delimiter %#q", rune(c))
			return nil
		}
		b.unreadByte()
		return b.readKeyword()
	}
}

func (b *buffer) readHexString() token {
	tmp := b.tmp[:0]
	for {
	Loop:
		c := b.readByte()
		if c == '>' || b.eof {
			// hosho-intake: b.eof too. Where the end of the data is allowed (an object
			// stream, a CMap), readByte answers a space there for ever, and a hex string
			// left open at the end looped for ever.
			break
		}
		if isSpace(c) {
			goto Loop
		}
	Loop2:
		c2 := b.readByte()
		if b.eof {
			break
		}
		if isSpace(c2) {
			goto Loop2
		}
		x := unhex(c)<<4 | unhex(c2)
		if x < 0 {
			b.errorf("malformed hex string %c %c %s", c, c2, b.buf[b.pos:])
			break
		}
		tmp = append(tmp, byte(x))
	}
	b.tmp = tmp
	return string(tmp)
}

func unhex(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b) - '0'
	case 'a' <= b && b <= 'f':
		return int(b) - 'a' + 10
	case 'A' <= b && b <= 'F':
		return int(b) - 'A' + 10
	}
	return -1
}

func (b *buffer) readLiteralString() token {
	tmp := b.tmp[:0]
	depth := 1
Loop:
	for !b.eof {
		c := b.readByte()
		switch c {
		default:
			tmp = append(tmp, c)
		case '(':
			depth++
			tmp = append(tmp, c)
		case ')':
			if depth--; depth == 0 {
				break Loop
			}
			tmp = append(tmp, c)
		case '\\':
			switch c = b.readByte(); c {
			default:
				b.errorf("invalid escape sequence \\%c", c)
				tmp = append(tmp, '\\', c)
			case 'n':
				tmp = append(tmp, '\n')
			case 'r':
				tmp = append(tmp, '\r')
			case 'b':
				tmp = append(tmp, '\b')
			case 't':
				tmp = append(tmp, '\t')
			case 'f':
				tmp = append(tmp, '\f')
			case '(', ')', '\\':
				tmp = append(tmp, c)
			case '\r':
				if b.readByte() != '\n' {
					b.unreadByte()
				}
				fallthrough
			case '\n':
				// no append
			case '0', '1', '2', '3', '4', '5', '6', '7':
				x := int(c - '0')
				for i := 0; i < 2; i++ {
					c = b.readByte()
					if c < '0' || c > '7' {
						b.unreadByte()
						break
					}
					x = x*8 + int(c-'0')
				}
				if x > 255 {
					b.errorf("invalid octal escape \\%03o", x)
				}
				tmp = append(tmp, byte(x))
			}
		}
	}
	b.tmp = tmp
	return string(tmp)
}

func (b *buffer) readName() token {
	// hosho-intake: a name without #-escapes that ends inside the buffer is read in place,
	// as readKeyword reads a keyword.
	i := b.pos
	for i < len(b.buf) && !isDelim(b.buf[i]) && !isSpace(b.buf[i]) && b.buf[i] != '#' {
		i++
	}
	if i < len(b.buf) && b.buf[i] != '#' {
		tmp := b.buf[b.pos:i:i]
		b.pos = i
		if b.cache != nil {
			return b.cache.token(commonNames, b.cache.names, tmp, func(s string) token { return name(s) })
		}
		return name(string(tmp))
	}
	tmp := b.tmp[:0]
	for {
		c := b.readByte()
		if isDelim(c) || isSpace(c) {
			b.unreadByte()
			break
		}
		if c == '#' {
			x := unhex(b.readByte())<<4 | unhex(b.readByte())
			if x < 0 {
				b.errorf("malformed name")
			}
			tmp = append(tmp, byte(x))
			continue
		}
		tmp = append(tmp, c)
	}
	b.tmp = tmp
	if b.cache != nil {
		return b.cache.token(commonNames, b.cache.names, tmp, func(s string) token { return name(s) })
	}
	return name(string(tmp))
}

func (b *buffer) readKeyword() token {
	// hosho-intake: a token that ends inside the buffer is read in place, not byte by byte
	// through readByte into tmp; one that runs to the buffer's end is read as upstream
	// does (a reload, or the end of the data). tmp then aliases the buffer: it is not
	// kept in b.tmp, which is appended to.
	var tmp []byte
	i := b.pos
	for i < len(b.buf) && !isDelim(b.buf[i]) && !isSpace(b.buf[i]) {
		i++
	}
	if i < len(b.buf) {
		tmp = b.buf[b.pos:i:i]
		b.pos = i
	} else {
		tmp = b.tmp[:0]
		for {
			c := b.readByte()
			if isDelim(c) || isSpace(c) {
				b.unreadByte()
				break
			}
			tmp = append(tmp, c)
		}
		b.tmp = tmp
	}
	// hosho-intake: tmp is converted where it is kept or reported only (it was copied to
	// a string for every token).
	switch {
	case string(tmp) == "true":
		return true
	case string(tmp) == "false":
		return false
	case isInteger(string(tmp)):
		x, ok := smallInteger(tmp)
		if !ok {
			var err error
			x, err = strconv.ParseInt(string(tmp), 10, 64)
			if err != nil {
				b.errorf("invalid integer %s", string(tmp))
			}
		}
		if x >= 0 && x < int64(len(smallInts)) {
			return smallInts[x]
		}
		return x
	case isReal(string(tmp)):
		x, ok := shortReal(tmp)
		if !ok {
			var err error
			x, err = strconv.ParseFloat(string(tmp), 64)
			if err != nil {
				b.errorf("invalid real %s", string(tmp))
			}
		}
		return x
	}
	if b.cache != nil {
		return b.cache.token(commonKeywords, b.cache.keywords, tmp, func(s string) token { return keyword(s) })
	}
	return keyword(string(tmp))
}

// smallInteger is strconv.ParseInt of an integer token (isInteger) of at most 18 digits,
// which cannot overflow (hosho-intake: /Widths and /W arrays are hundreds of them).
func smallInteger(tok []byte) (int64, bool) {
	neg := false
	if len(tok) > 0 && (tok[0] == '+' || tok[0] == '-') {
		neg, tok = tok[0] == '-', tok[1:]
	}
	if len(tok) == 0 || len(tok) > 18 {
		return 0, false
	}
	var x int64
	for _, c := range tok {
		x = x*10 + int64(c-'0')
	}
	if neg {
		x = -x
	}
	return x, true
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// shortReal is strconv.ParseFloat of a real token (isReal: digits and one dot) of at most
// 15 digits, to the bit (hosho-intake): the digits as an integer below 2^53 divided by an
// exact power of ten is one correctly rounded operation, strconv's own exact case. It is
// parser/pdftext's decimal, which this module cannot import.
func shortReal(tok []byte) (float64, bool) {
	neg := false
	if len(tok) > 0 && (tok[0] == '+' || tok[0] == '-') {
		neg, tok = tok[0] == '-', tok[1:]
	}
	var mant uint64
	digits, frac := 0, -1
	for _, c := range tok {
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

func isInteger(s string) bool {
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < '0' || '9' < c {
			return false
		}
	}
	return true
}

func isReal(s string) bool {
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if len(s) == 0 {
		return false
	}
	ndot := 0
	for _, c := range s {
		if c == '.' {
			ndot++
			continue
		}
		if c < '0' || '9' < c {
			return false
		}
	}
	return ndot == 1
}

// An object is a PDF syntax object, one of the following Go types:
//
//	bool, a PDF boolean
//	int64, a PDF integer
//	float64, a PDF real
//	string, a PDF string literal
//	name, a PDF name without the leading slash
//	dict, a PDF dictionary
//	array, a PDF array
//	stream, a PDF stream
//	objptr, a PDF object reference
//	objdef, a PDF object definition
//
// An object may also be nil, to represent the PDF null.
type object interface{}

type dict map[name]object

type array []object

type stream struct {
	hdr    dict
	ptr    objptr
	offset int64
}

type objptr struct {
	id  uint32
	gen uint16
}

type objdef struct {
	ptr objptr
	obj object
}

func (b *buffer) readObject() object {
	b.depth++
	defer func() { b.depth-- }()
	if b.depth > maxObjectDepth {
		b.errorf("object nesting exceeds maximum depth %d", maxObjectDepth)
		return nil
	}

	tok := b.readToken()
	if kw, ok := tok.(keyword); ok {
		switch kw {
		case "null":
			return nil
		case "<<":
			return b.readDict()
		case "[":
			return b.readArray()
		case ">>", "]":
			// stop the object - these mark the end of dict/array
			return nil
		}
		b.errorf("unexpected keyword %q parsing object", kw)
		return nil
	}

	if str, ok := tok.(string); ok && b.key != nil && b.objptr.id != 0 {
		tok = decryptString(b.key, b.useAES, b.objptr, str)
	}

	if !b.allowObjptr {
		return tok
	}

	if t1, ok := tok.(int64); ok && int64(uint32(t1)) == t1 {
		tok2 := b.readToken()
		if t2, ok := tok2.(int64); ok && int64(uint16(t2)) == t2 {
			tok3 := b.readToken()
			switch tok3 {
			case keyword("R"):
				return objptr{uint32(t1), uint16(t2)}
			case keyword("obj"):
				old := b.objptr
				b.objptr = objptr{uint32(t1), uint16(t2)}
				obj := b.readObject()
				if _, ok := obj.(stream); !ok {
					tok4 := b.readToken()
					if tok4 != keyword("endobj") {
						b.errorf("missing endobj after indirect object definition")
						b.unreadToken(tok4)
					}
				}
				b.objptr = old
				return objdef{objptr{uint32(t1), uint16(t2)}, obj}
			}
			b.unreadToken(tok3)
		}
		b.unreadToken(tok2)
	}
	return tok
}

func (b *buffer) readArray() object {
	var x array
	for {
		tok := b.readToken()
		// Break on io.EOF as well (readToken returns io.EOF as a token value
		// once the input is exhausted, and readDict already guards for it):
		// otherwise an array that is never closed, e.g. in a truncated
		// content stream, loops forever appending io.EOF objects and
		// allocates memory without bound.
		if tok == nil || tok == io.EOF || tok == keyword("]") {
			break
		}
		b.unreadToken(tok)
		x = append(x, b.readObject())
	}
	return x
}

func (b *buffer) readDict() object {
	x := make(dict)
	for {
		tok := b.readToken()
		if tok == nil || tok == keyword(">>") {
			break
		}
		if tok == io.EOF {
			break
		}
		n, ok := tok.(name)
		if !ok {
			if DebugOn {
				fmt.Printf("DEBUG: %T(%v)\n. Skip dict", tok, tok)
			}
			b.errorf("unexpected non-name key %T(%v) parsing dictionary", tok, tok)
			continue
		}
		x[n] = b.readObject()
	}

	if !b.allowStream {
		return x
	}

	tok := b.readToken()
	if tok != keyword("stream") {
		b.unreadToken(tok)
		return x
	}

	switch b.readByte() {
	case '\r':
		if b.readByte() != '\n' {
			b.unreadByte()
		}
	case '\n':
		// ok
	default:
		b.errorf("stream keyword not followed by newline")
	}

	return stream{x, b.objptr, b.readOffset()}
}

func isSpace(b byte) bool {
	switch b {
	case '\x00', '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

func isDelim(b byte) bool {
	switch b {
	case '<', '>', '(', ')', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}
