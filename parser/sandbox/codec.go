package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"hosho-intake/parser"
)

// The answer to a PDF request is binary (protocol 2): a worker spent more on encoding a
// Document as JSON than on writing it, and the parent more again on decoding it through
// reflection. An archive's answer stays JSON (response, with the ArchiveFunc's own JSON).
//
//	answer    = 0x00 document panic
//	document  = list(notice) list(problem) string(kind) int(pages) list(image)
//	notice    = string×9 (category, contract number, key, project, orderer, guarantor,
//	            source, attachment, remark) int(page) marks
//	marks     = 0 (none) | 1 uvarint(n) (string float64)×n uvarint(m) string×m, n+m > 0
//	problem   = string×6 (code, attachment, detail, contract number, key, missing)
//	image     = int(page) bytes(png)
//	list(x)   = uvarint(0) for nil | uvarint(n+1) x×n
//	string    = uvarint(len) bytes; bytes = uvarint(0) for nil | uvarint(len+1) bytes
//	int       = varint; float64 = 8 bytes, little-endian IEEE 754
//
// What the parent decodes is what JSON gave it before: strings with each invalid UTF-8 byte
// as U+FFFD; an empty confidence map, unsure list or image list as none, and marks with
// neither as no marks; a confidence that is not a finite number refused (the worker then
// answers that the reader's result could not be sent).
const answerTag = 0x00

var errNotFinite = errors.New("a confidence is not a finite number")

// appendAnswer appends the binary answer for doc and panicText to b.
func appendAnswer(b []byte, doc parser.Document, panicText string) ([]byte, error) {
	b = append(b, answerTag)
	b = appendLen(b, len(doc.Notices), doc.Notices == nil)
	for _, n := range doc.Notices {
		for _, s := range [...]string{n.Category, n.ContractNumber, n.AuthKey, n.ProjectName, n.Orderer, n.Guarantor, n.Source, n.Attachment, n.Remark} {
			b = appendString(b, s)
		}
		b = binary.AppendVarint(b, int64(n.Page))
		if n.OCR == nil || len(n.OCR.Confidence) == 0 && len(n.OCR.Unsure) == 0 {
			b = append(b, 0) // JSON writes neither key, and reads no marks back
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(n.OCR.Confidence)))
		for k, v := range n.OCR.Confidence {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errNotFinite
			}
			b = appendString(b, k)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		b = binary.AppendUvarint(b, uint64(len(n.OCR.Unsure)))
		for _, s := range n.OCR.Unsure {
			b = appendString(b, s)
		}
	}
	b = appendLen(b, len(doc.Problems), doc.Problems == nil)
	for _, p := range doc.Problems {
		for _, s := range [...]string{p.Code, p.Attachment, p.Detail, p.ContractNumber, p.AuthKey, p.Missing} {
			b = appendString(b, s)
		}
	}
	b = appendString(b, doc.Kind)
	b = binary.AppendVarint(b, int64(doc.Pages))
	b = appendLen(b, len(doc.Images), len(doc.Images) == 0)
	for _, im := range doc.Images {
		b = binary.AppendVarint(b, int64(im.Page))
		b = appendLen(b, len(im.PNG), im.PNG == nil)
		b = append(b, im.PNG...)
	}
	return appendString(b, panicText), nil
}

// appendLen appends a list's or a byte string's length, 0 for none.
func appendLen(b []byte, n int, none bool) []byte {
	if none {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

// appendString appends s as JSON would carry it: each byte that is not UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	if utf8.ValidString(s) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
	fixed := validUTF8(make([]byte, 0, len(s)+8), s)
	b = binary.AppendUvarint(b, uint64(len(fixed)))
	return append(b, fixed...)
}

// validUTF8 appends s to b with each byte that is not UTF-8 as U+FFFD, as encoding/json
// writes a string.
func validUTF8(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r) // RuneError for an invalid byte, n == 1
		i += n
	}
	return b
}

// DecodeAnswer reads the answer frame a worker sent for a PDF, for a tool that speaks to a
// worker itself (the OCR benchmark); a Pool decodes its own.
func DecodeAnswer(payload []byte) (parser.Document, error) {
	resp, err := decodeAnswer(payload)
	return resp.Doc, err
}

// decodeAnswer reads a binary answer. It trusts nothing: every length is checked against
// the bytes left, so a broken or hostile worker costs at most its frame's size.
func decodeAnswer(b []byte) (resp response, err error) {
	d := decoder{b: b}
	if d.byte() != answerTag {
		return response{}, fmt.Errorf("%w: not a binary answer", errProtocol)
	}
	doc := &resp.Doc
	if n, ok := d.list(9 + 1 + 1); ok { // nine strings, the page and the marks, a byte each at least
		doc.Notices = make([]parser.Notice, n)
		for i := range doc.Notices {
			nt := &doc.Notices[i]
			for _, s := range [...]*string{&nt.Category, &nt.ContractNumber, &nt.AuthKey, &nt.ProjectName, &nt.Orderer, &nt.Guarantor, &nt.Source, &nt.Attachment, &nt.Remark} {
				*s = d.string()
			}
			nt.Page = d.int()
			switch d.byte() {
			case 0:
			case 1:
				m := &parser.OCRMarks{}
				if c := d.count(1 + 8); c > 0 {
					m.Confidence = make(map[string]float64, c)
					for range c {
						k := d.string()
						m.Confidence[k] = math.Float64frombits(d.uint64())
					}
				}
				if c := d.count(1); c > 0 {
					m.Unsure = make([]string, c)
					for j := range m.Unsure {
						m.Unsure[j] = d.string()
					}
				}
				if m.Confidence != nil || m.Unsure != nil {
					nt.OCR = m // as JSON: marks with neither are none
				}
			default:
				d.fail()
			}
		}
	}
	if n, ok := d.list(6); ok {
		doc.Problems = make([]parser.Problem, n)
		for i := range doc.Problems {
			p := &doc.Problems[i]
			for _, s := range [...]*string{&p.Code, &p.Attachment, &p.Detail, &p.ContractNumber, &p.AuthKey, &p.Missing} {
				*s = d.string()
			}
		}
	}
	doc.Kind = d.string()
	doc.Pages = d.int()
	if n, ok := d.list(2); ok && n > 0 { // as JSON: an empty list is none
		doc.Images = make([]parser.PageImage, n)
		for i := range doc.Images {
			doc.Images[i].Page = d.int()
			if l, ok := d.list(0); ok {
				doc.Images[i].PNG = d.bytes(l)
			}
		}
	}
	resp.Panic = d.string()
	if d.err == nil && len(d.b) > 0 {
		d.fail()
	}
	if d.err != nil {
		return response{}, d.err
	}
	return resp, nil
}

// decoder reads an answer; after the first error every read yields zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("%w: a malformed binary answer", errProtocol)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int {
	v, n := binary.Varint(d.b)
	if n <= 0 || v < math.MinInt32 || v > math.MaxInt32 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// count reads a number of items of at least min bytes each, no more than the bytes left.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)) || min > 0 && n > uint64(len(d.b)/min) {
		d.fail()
		return 0
	}
	return int(n)
}

// list reads a list's length (or a byte string's, min 0) for items of at least min bytes
// each; ok is false for none.
func (d *decoder) list(min int) (int, bool) {
	v := d.uvarint()
	if v == 0 {
		return 0, false
	}
	n := v - 1
	if n > uint64(len(d.b)) || min > 0 && n > uint64(len(d.b)/min) {
		d.fail()
		return 0, false
	}
	return int(n), true
}

func (d *decoder) bytes(n int) []byte {
	if n > len(d.b) {
		d.fail()
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b)
	d.b = d.b[n:]
	return out
}

// string reads a string, valid UTF-8 as JSON's are whatever the worker sent.
func (d *decoder) string() string {
	n := d.count(0)
	s := string(d.b[:n])
	d.b = d.b[n:]
	if !utf8.ValidString(s) {
		s = string(validUTF8(nil, s))
	}
	return s
}
