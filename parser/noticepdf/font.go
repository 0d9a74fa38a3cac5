package noticepdf

import (
	"fmt"
	"strconv"
	"unicode/utf16"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"

	"hosho-intake/parser/cmap"
)

// glyph is how one character is shown: which of the document's fonts, and the code bytes.
type glyph struct {
	font int    // index of the PDF font (only Type 3 needs more than one)
	code uint32 // character code, big-endian in n bytes
	n    int
}

// fontSet is the document's font, shared by all its pages. Glyphs are assigned as the text is
// drawn; the font objects are written last, once every character is known (Identity CIDs and
// Type 3 codes are given out in order of first use, like a subsetting producer).
type fontSet struct {
	enc    Encoding
	coder  *encoding.Encoder // Shift_JIS or EUC-JP, for RKSJ and EUC
	glyphs map[rune]glyph
	order  []rune // Identity and Type 3: characters in order of first use
}

// type3Max is how many glyphs one Type 3 font holds: single-byte codes 1..255.
const type3Max = 255

// identityFirstCID is the first CID given out by IdentityToUnicode. Subset producers number
// glyphs from 1 (0 is .notdef); starting higher keeps a reader from assuming CID == order.
const identityFirstCID = 3

func newFontSet(enc Encoding) *fontSet {
	f := &fontSet{enc: enc, glyphs: make(map[rune]glyph, 256)}
	switch enc {
	case RKSJ:
		f.coder = japanese.ShiftJIS.NewEncoder() // x/text's Shift_JIS is the WHATWG one, i.e. CP932
	case EUC:
		f.coder = japanese.EUCJP.NewEncoder()
	}
	return f
}

// isHalf tells the characters that are half-width in a Japanese font: ASCII and the half-width
// katakana block. The predefined CMaps select half-width or proportional CIDs for both, and the
// fonts' /W declare those 500 units wide, so positions come out the same under every encoding.
func isHalf(r rune) bool {
	return r < 0x80 || (r >= 0xff61 && r <= 0xff9f)
}

// advance is the width of r in text space units (thousandths of an em).
func advance(r rune) float64 {
	if isHalf(r) {
		return 500
	}
	return 1000
}

// glyph returns how r is shown, or an error wrapping ErrUnencodable.
func (f *fontSet) glyph(r rune) (glyph, error) {
	if g, ok := f.glyphs[r]; ok {
		return g, nil
	}
	var g glyph
	switch f.enc {
	case UCS2:
		if r > 0xffff || (r >= 0xd800 && r < 0xe000) {
			return g, fmt.Errorf("%w: %q (U+%04X) under UniJIS-UCS2-H", ErrUnencodable, r, r)
		}
		g.code, g.n = uint32(r), 2
	case UTF16:
		if r > 0xffff {
			hi, lo := utf16.EncodeRune(r)
			g.code, g.n = uint32(hi)<<16|uint32(lo), 4
		} else {
			g.code, g.n = uint32(r), 2
		}
	case RKSJ, EUC:
		b, err := f.coder.Bytes([]byte(string(r)))
		if err != nil || len(b) == 0 || len(b) > 2 || (f.enc == EUC && !inEUCH(b)) {
			return g, fmt.Errorf("%w: %q (U+%04X) under %s", ErrUnencodable, r, r, f.cmapName())
		}
		for _, c := range b {
			g.code = g.code<<8 | uint32(c)
		}
		g.n = len(b)
	case IdentityToUnicode:
		g.code, g.n = uint32(identityFirstCID+len(f.order)), 2
		f.order = append(f.order, r)
	case IdentityJapan1:
		cid, ok := cmap.UnicodeToJapan1(r)
		if !ok || cid <= 0 || cid > 0xffff {
			return g, fmt.Errorf("%w: %q (U+%04X) has no Adobe-Japan1 CID", ErrUnencodable, r, r)
		}
		g.code, g.n = uint32(cid), 2
		f.order = append(f.order, r)
	case Type3ToUnicode:
		i := len(f.order)
		g.font, g.code, g.n = i/type3Max, uint32(i%type3Max+1), 1
		f.order = append(f.order, r)
	case Outlines:
		// Nothing is encoded: the glyph is drawn as a path.
	}
	f.glyphs[r] = g
	return g, nil
}

// inEUCH tells whether EUC-JP bytes fall in what the EUC-H CMap maps: ASCII, half-width
// katakana after SS2, and the JIS X 0208 rows. x/text also writes the NEC row 13 (①) and IBM
// rows, which EUC-H leaves undefined; a real EUC producer cannot print those either.
func inEUCH(b []byte) bool {
	switch {
	case len(b) == 1:
		return b[0] < 0x80
	case b[0] == 0x8e:
		return b[1] >= 0xa1 && b[1] <= 0xdf
	case b[0] >= 0xa9 && b[0] <= 0xaf: // rows 9-15: unassigned in JIS X 0208
		return false
	default:
		return b[0] >= 0xa1 && b[0] <= 0xf4 && b[1] >= 0xa1 && b[1] <= 0xfe
	}
}

func (f *fontSet) cmapName() string {
	switch f.enc {
	case UCS2:
		return "UniJIS-UCS2-H"
	case UTF16:
		return "UniJIS-UTF16-H"
	case RKSJ:
		return "90ms-RKSJ-H"
	case EUC:
		return "EUC-H"
	}
	return "Identity-H"
}

// literal reports whether strings are written as literals: the Shift_JIS and EUC producers do
// (business-form systems write raw bytes), the others write hex strings.
func (f *fontSet) literal() bool { return f.enc == RKSJ || f.enc == EUC }

// fontCount is the number of PDF fonts the text so far needs.
func (f *fontSet) fontCount() int {
	switch f.enc {
	case Outlines:
		return 0
	case Type3ToUnicode:
		return max(1, (len(f.order)+type3Max-1)/type3Max)
	}
	return 1
}

// resName is the resource name of font i, in the style of its producer.
func (f *fontSet) resName(i int) string {
	switch f.enc {
	case Type3ToUnicode:
		return "F" + strconv.Itoa(i+4) // Skia numbers its resources without meaning
	case UCS2:
		return "F2" // reportlab: F1 is Helvetica
	}
	return "F" + strconv.Itoa(i+1)
}

// writeFonts writes the font objects and returns the /Font resource dictionary's entries.
func (f *fontSet) writeFonts(w *objWriter) []byte {
	var res []byte
	switch f.enc {
	case Outlines:
		return nil
	case UCS2, UTF16, RKSJ, EUC:
		res = f.writePredefined(w)
	case IdentityToUnicode, IdentityJapan1:
		res = f.writeIdentity(w)
	case Type3ToUnicode:
		res = f.writeType3(w)
	}
	return res
}

// predefinedW is the /W of the predefined-CMap fonts: the CIDs those CMaps select for ASCII
// (1-97 proportional under UniJIS, 231-325 half-width under RKSJ and EUC, 631 for RKSJ's 0x7E)
// and half-width katakana (326-389) are 500 units, matching isHalf; the rest is /DW 1000.
const predefinedW = "[1 97 500 231 389 500 631 631 500]"

// A descriptor with the metrics reportlab gives its built-in Japanese fonts; no font file,
// because viewers substitute a resident font for these names.
const descriptorMetrics = "/Ascent 752 /CapHeight 737 /Descent -221 /Flags 4 /FontBBox [-92 -250 1010 922] /ItalicAngle 0 /StemV 114 /XHeight 553"

func (f *fontSet) writePredefined(w *objWriter) []byte {
	base, supplement := "HeiseiKakuGo-W5", 2
	switch f.enc {
	case UTF16:
		base, supplement = "KozMinPr6N-Regular", 6
	case RKSJ:
		base, supplement = "MS-Mincho", 2
	case EUC:
		base, supplement = "Ryumin-Light", 1
	}
	font, cid, desc := w.reserve(), w.reserve(), w.reserve()
	type0Name := base + "-" + f.cmapName() // Acrobat's convention; reportlab writes the bare name
	if f.enc == UCS2 {
		type0Name = base
	}
	w.object(font, fmt.Appendf(nil, "<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /%s /DescendantFonts [%d 0 R] >>",
		type0Name, f.cmapName(), cid))
	w.object(cid, fmt.Appendf(nil, "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement %d >> /FontDescriptor %d 0 R /DW 1000 /W %s >>",
		base, supplement, desc, predefinedW))
	w.object(desc, fmt.Appendf(nil, "<< /Type /FontDescriptor /FontName /%s %s >>", base, descriptorMetrics))
	return fmt.Appendf(nil, "/%s %d 0 R", f.resName(0), font)
}

func (f *fontSet) writeIdentity(w *objWriter) []byte {
	font, cidFont, desc := w.reserve(), w.reserve(), w.reserve()
	var sub, base, sysInfo, extra string
	if f.enc == IdentityToUnicode {
		// A subset tag, a TrueType-flavoured CIDFont and CIDToGIDMap /Identity, as LibreOffice
		// and reportlab write embedded subsets (minus the font file, which text does not need).
		base = "NPDFAA+IPAexGothic"
		sub = "CIDFontType2"
		sysInfo = "<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
		extra = " /CIDToGIDMap /Identity"
	} else {
		base = "KozMinPr6N-Regular"
		sub = "CIDFontType0"
		sysInfo = "<< /Registry (Adobe) /Ordering (Japan1) /Supplement 6 >>"
	}
	type0Name := base + "-Identity-H" // Acrobat's convention for a non-embedded font
	var tu int
	if f.enc == IdentityToUnicode {
		type0Name = base // subset producers repeat the descendant's name
		tu = w.reserve()
	}
	b := fmt.Appendf(nil, "<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%d 0 R]", type0Name, cidFont)
	if f.enc == IdentityToUnicode {
		b = fmt.Appendf(b, " /ToUnicode %d 0 R", tu)
	}
	w.object(font, append(b, " >>"...))
	w.object(cidFont, fmt.Appendf(nil, "<< /Type /Font /Subtype /%s /BaseFont /%s /CIDSystemInfo %s /FontDescriptor %d 0 R%s /DW 1000 /W %s >>",
		sub, base, sysInfo, desc, extra, f.identityW()))
	w.object(desc, fmt.Appendf(nil, "<< /Type /FontDescriptor /FontName /%s %s >>", base, descriptorMetrics))
	if f.enc == IdentityToUnicode {
		w.stream(tu, nil, f.toUnicode(0, 2), false)
	}
	return fmt.Appendf(nil, "/%s %d 0 R", f.resName(0), font)
}

// identityW lists the width of every CID used, in runs of consecutive CIDs (§9.7.4.3).
func (f *fontSet) identityW() []byte {
	type cw struct {
		cid uint32
		w   int
	}
	cws := make([]cw, 0, len(f.order))
	for _, r := range f.order {
		cws = append(cws, cw{f.glyphs[r].code, int(advance(r))})
	}
	// Adobe-Japan1 CIDs come in table order, not first-use order; sort them (insertion sort:
	// a page uses a couple of hundred characters).
	for i := 1; i < len(cws); i++ {
		for j := i; j > 0 && cws[j].cid < cws[j-1].cid; j-- {
			cws[j], cws[j-1] = cws[j-1], cws[j]
		}
	}
	b := []byte{'['}
	for i := 0; i < len(cws); {
		j := i + 1
		for j < len(cws) && cws[j].cid == cws[j-1].cid+1 {
			j++
		}
		b = strconv.AppendUint(b, uint64(cws[i].cid), 10)
		b = append(b, " ["...)
		for k := i; k < j; k++ {
			if k > i {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(cws[k].w), 10)
		}
		b = append(b, "] "...)
		i = j
	}
	if len(b) > 1 {
		b = b[:len(b)-1]
	}
	return append(b, ']')
}

// Type 3 glyph procedures: a box a little inside the advance, full or half width. d1 declares
// the glyph uncoloured so viewers may cache it (§9.6.5). Glyphs of one width share a stream.
const (
	type3Full = "1000 0 60 -80 940 800 d1\n60 -80 880 880 re f"
	type3Half = "500 0 40 -80 460 720 d1\n40 -80 420 800 re f"
)

func (f *fontSet) writeType3(w *objWriter) []byte {
	full, half := w.reserve(), w.reserve()
	w.stream(full, nil, []byte(type3Full), false)
	w.stream(half, nil, []byte(type3Half), false)
	var res []byte
	n := f.fontCount()
	for k := 0; k < n; k++ {
		lo, hi := k*type3Max, min(len(f.order), (k+1)*type3Max)
		font, tu := w.reserve(), w.reserve()
		// Skia names glyphs by glyph id; here the names are just as meaningless to a reader,
		// which must use the ToUnicode map.
		b := append([]byte(nil), "<< /Type /Font /Subtype /Type3 /FontMatrix [0.001 0 0 0.001 0 0] /FontBBox [0 -120 1000 880] /Resources << >> /CharProcs <<"...)
		for i := lo; i < hi; i++ {
			proc := full
			if isHalf(f.order[i]) {
				proc = half
			}
			b = fmt.Appendf(b, " /g%d %d 0 R", 17+i*3, proc)
		}
		b = append(b, " >> /Encoding << /Type /Encoding /Differences [1"...)
		for i := lo; i < hi; i++ {
			b = fmt.Appendf(b, " /g%d", 17+i*3)
		}
		b = fmt.Appendf(b, "] >> /FirstChar 1 /LastChar %d /Widths [", max(1, hi-lo))
		for i := lo; i < hi; i++ {
			if i > lo {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(advance(f.order[i])), 10)
		}
		if hi == lo {
			b = append(b, '0')
		}
		b = fmt.Appendf(b, "] /ToUnicode %d 0 R >>", tu)
		w.object(font, b)
		w.stream(tu, nil, f.toUnicode(k, 1), false)
		res = fmt.Appendf(res, "/%s %d 0 R ", f.resName(k), font)
	}
	return res
}

// toUnicode builds the ToUnicode CMap (§9.10.3) of font k with n-byte codes.
func (f *fontSet) toUnicode(k, n int) []byte {
	b := append([]byte(nil), "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n"...)
	if n == 1 {
		b = append(b, "<00> <ff>\n"...)
	} else {
		b = append(b, "<0000> <ffff>\n"...)
	}
	b = append(b, "endcodespacerange\n"...)
	var entries []rune
	for _, r := range f.order {
		if f.glyphs[r].font == k {
			entries = append(entries, r)
		}
	}
	// At most 100 entries per bfchar block (§9.10.3, from the CMap specification).
	for i := 0; i < len(entries); i += 100 {
		chunk := entries[i:min(i+100, len(entries))]
		b = strconv.AppendInt(b, int64(len(chunk)), 10)
		b = append(b, " beginbfchar\n"...)
		for _, r := range chunk {
			g := f.glyphs[r]
			b = appendCode(b, g.code, g.n)
			b = append(b, " <"...)
			for _, u := range utf16.Encode([]rune{r}) {
				b = append(b, hexDigits[u>>12], hexDigits[u>>8&15], hexDigits[u>>4&15], hexDigits[u&15])
			}
			b = append(b, ">\n"...)
		}
		b = append(b, "endbfchar\n"...)
	}
	return append(b, "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"...)
}

func appendCode(b []byte, code uint32, n int) []byte {
	b = append(b, '<')
	for i := n - 1; i >= 0; i-- {
		c := byte(code >> (8 * i))
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return append(b, '>')
}
