package noticepdf

import (
	"bytes"
	"compress/zlib"
	"crypto/md5"
	"encoding/hex"
	"math"
	"strconv"
	"unicode/utf16"
)

// objWriter assembles a PDF file in memory: objects in any order (numbers are reserved first
// so that objects can point forward), then a classic xref table and the trailer (ISO 32000-1
// §7.5). Building in memory lets the xref carry exact offsets and costs a few kilobytes.
type objWriter struct {
	buf      []byte
	offsets  []int // offsets[n] is where object n starts; index 0 is the free-list head
	compress bool
	z        *zlib.Writer // allocated on first use (about 1 MB), reset for every stream of the file
	zbuf     bytes.Buffer
}

func newObjWriter(compress bool) *objWriter {
	w := &objWriter{compress: compress, offsets: []int{0}, buf: make([]byte, 0, 16<<10)}
	// The second line's high bytes tell transfer agents the file is binary (§7.5.2).
	w.buf = append(w.buf, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"...)
	return w
}

// reserve returns a new object number; the object is written later with object or stream.
func (w *objWriter) reserve() int {
	w.offsets = append(w.offsets, -1)
	return len(w.offsets) - 1
}

func (w *objWriter) begin(n int) {
	w.offsets[n] = len(w.buf)
	w.buf = strconv.AppendInt(w.buf, int64(n), 10)
	w.buf = append(w.buf, " 0 obj\n"...)
}

// object writes object n with the given body (a dictionary, array or number).
func (w *objWriter) object(n int, body []byte) {
	w.begin(n)
	w.buf = append(w.buf, body...)
	w.buf = append(w.buf, "\nendobj\n"...)
}

// stream writes object n as a stream. dict holds the entries other than /Length and /Filter.
// asciiHex adds an /ASCIIHexDecode filter in front, as some producers do for content streams.
func (w *objWriter) stream(n int, dict []byte, data []byte, asciiHex bool) {
	var filters string
	if w.compress {
		data = w.deflate(data)
		filters = "/FlateDecode"
	}
	if asciiHex {
		h := make([]byte, 0, 2*len(data)+len(data)/32+2)
		for i, c := range data {
			if i > 0 && i%32 == 0 {
				h = append(h, '\n') // white space is ignored by the filter; short lines as real producers write
			}
			h = append(h, hexDigits[c>>4], hexDigits[c&15])
		}
		data = append(h, '>') // EOD marker (§7.4.2)
		if filters == "" {
			filters = "/ASCIIHexDecode"
		} else {
			filters = "[/ASCIIHexDecode " + filters + "]" // decoded left to right: hex first, then inflate
		}
	}
	w.begin(n)
	w.buf = append(w.buf, "<<"...)
	w.buf = append(w.buf, dict...)
	w.buf = append(w.buf, " /Length "...)
	w.buf = strconv.AppendInt(w.buf, int64(len(data)), 10)
	if filters != "" {
		w.buf = append(w.buf, " /Filter "...)
		w.buf = append(w.buf, filters...)
	}
	w.buf = append(w.buf, ">>\nstream\n"...)
	w.buf = append(w.buf, data...)
	w.buf = append(w.buf, "\nendstream\nendobj\n"...)
}

func (w *objWriter) deflate(data []byte) []byte {
	w.zbuf.Reset()
	if w.z == nil {
		w.z, _ = zlib.NewWriterLevel(&w.zbuf, zlib.BestSpeed) // the level is valid, so no error
	} else {
		w.z.Reset(&w.zbuf)
	}
	w.z.Write(data) // writes to a bytes.Buffer cannot fail
	w.z.Close()
	return w.zbuf.Bytes()
}

// finish writes the xref table and trailer and returns the file. The /ID is derived from the
// content so that output stays deterministic.
func (w *objWriter) finish(root, info int) []byte {
	sum := md5.Sum(w.buf)
	xref := len(w.buf)
	w.buf = append(w.buf, "xref\n0 "...)
	w.buf = strconv.AppendInt(w.buf, int64(len(w.offsets)), 10)
	w.buf = append(w.buf, "\n0000000000 65535 f \n"...)
	for _, off := range w.offsets[1:] {
		if off < 0 {
			panic("noticepdf: object reserved but never written") // a bug in this package, not bad input
		}
		s := strconv.Itoa(off)
		for i := len(s); i < 10; i++ {
			w.buf = append(w.buf, '0')
		}
		w.buf = append(w.buf, s...)
		w.buf = append(w.buf, " 00000 n \n"...) // each entry exactly 20 bytes (§7.5.4)
	}
	w.buf = append(w.buf, "trailer\n<< /Size "...)
	w.buf = strconv.AppendInt(w.buf, int64(len(w.offsets)), 10)
	w.buf = append(w.buf, " /Root "...)
	w.buf = appendRef(w.buf, root)
	w.buf = append(w.buf, " /Info "...)
	w.buf = appendRef(w.buf, info)
	id := hex.EncodeToString(sum[:])
	w.buf = append(w.buf, " /ID [<"+id+"> <"+id+">] >>\nstartxref\n"...)
	w.buf = strconv.AppendInt(w.buf, int64(xref), 10)
	w.buf = append(w.buf, "\n%%EOF\n"...)
	return w.buf
}

const hexDigits = "0123456789abcdef"

func appendRef(b []byte, n int) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, " 0 R"...)
}

// appendNum writes a coordinate with at most three decimals, as producers do: shorter
// streams, and no exponent notation, which PDF does not allow (§7.3.3). Fixed-point by hand
// because strconv's shortest-float formatting was a third of an outlined page's cost.
func appendNum(b []byte, f float64) []byte {
	v := int64(math.Round(f * 1000))
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/1000, 10)
	frac := v % 1000
	if frac == 0 {
		return b
	}
	b = append(b, '.', byte('0'+frac/100))
	if frac%100 != 0 {
		b = append(b, byte('0'+frac/10%10))
		if frac%10 != 0 {
			b = append(b, byte('0'+frac%10))
		}
	}
	return b
}

// appendTextString writes a text string (§7.9.2.2): PDFDocEncoding-compatible ASCII as a
// literal, anything else as UTF-16BE with a byte order mark.
func appendTextString(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		return appendLiteral(b, []byte(s))
	}
	b = append(b, "<feff"...)
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, hexDigits[u>>12], hexDigits[u>>8&15], hexDigits[u>>4&15], hexDigits[u&15])
	}
	return append(b, '>')
}

// appendLiteral writes a literal string, escaping what §7.3.4.2 requires: the parentheses and
// the backslash (a Shift_JIS trail byte can be 0x5C), and CR/LF, which a reader would otherwise
// normalise.
func appendLiteral(b []byte, s []byte) []byte {
	b = append(b, '(')
	for _, c := range s {
		switch c {
		case '(', ')', '\\':
			b = append(b, '\\', c)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return append(b, ')')
}

func appendHexString(b []byte, s []byte) []byte {
	b = append(b, '<')
	for _, c := range s {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return append(b, '>')
}
