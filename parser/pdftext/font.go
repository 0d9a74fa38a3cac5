package pdftext

import (
	"io"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/ledongthuc/pdf"

	"hosho-intake/parser/cmap"
)

// font is what the text walk needs of a font resource: how to split a string into codes, each
// code's text, and its advance width.
type font struct {
	kind    fontKind
	toUni   *embeddedCMap // /ToUnicode: trusted first, for every kind of font
	pre     *cmap.CMap    // Type 0: predefined encoding CMap
	enc     *embeddedCMap // Type 0: embedded encoding CMap stream
	japan1  bool          // Type 0: CIDs are Adobe-Japan1 CIDs
	simple  [256]rune     // simple fonts: base encoding with /Differences applied; 0 = unknown
	widths  []float64     // simple fonts: /Widths from firstChar
	first   int
	missing float64    // simple: /MissingWidth or a guess; Type 0: /DW
	cidW    []cidWidth // Type 0: /W, sorted by lo
	scale   float64    // glyph space -> text space: 1/1000, or FontMatrix[0] for Type 3
	vert    bool
	// damaged: a CMap stream of the font (ToUnicode, encoding) did not decode cleanly, so
	// none of its text can be trusted.
	damaged bool
	// builtin: an embedded simple font with neither /Encoding nor a usable ToUnicode: its
	// codes mean what the font program's own encoding says, which we read as
	// StandardEncoding, a guess.
	builtin bool
	// decoded keeps what decode made of each code drawn with this Type 0 font, by its
	// length and bytes (codeKey), which alone decide it: a page draws a few dozen codes
	// hundreds of times, and decoding one goes through the CMaps, a CID table and /W (a
	// binary search each) and makes a string. A simple font's codes decode by a few array
	// lookups, cheaper than the map. A font is one resource of one page (resources.fonts),
	// so no other font's codes are here.
	decoded map[uint64]glyph
}

// maxDecoded bounds a font's decoded codes: a notice's font draws some hundreds, a hostile
// one may draw a new code with every glyph.
const maxDecoded = 4096

type fontKind int

const (
	fontSimple fontKind = iota
	fontType0
	fontType3
)

type cidWidth struct {
	lo, hi int
	w      float64
}

// glyph is one decoded code.
type glyph struct {
	text string
	ok   bool // text came from a mapping we trust
	// doubt: the text is a guess or comes from a damaged map: a ToUnicode map that lacks
	// the code, an unknown built-in encoding, a CMap stream that did not decode. A value
	// read from such glyphs may be wrong though every character looks plausible.
	doubt bool
	w     float64 // advance in text space units per unit of font size (already scaled)
	space bool    // single-byte code 32: word spacing applies
}

// knownJapan1Fonts are CID-keyed (CFF) Japanese font families whose CIDs are Adobe-Japan1 even
// when a producer labels them Identity: Adobe's, Morisawa's and the Heisei fonts built into
// readers. TrueType fonts (IPA, MS, Noto TTF) are not listed: their CIDs are glyph ids.
var knownJapan1Fonts = []string{
	"KozMin", "KozGo", "Ryumin", "GothicBBB", "HeiseiMin", "HeiseiKakuGo", "HeiseiMaruGo",
	"MidashiMin", "MidashiGo", "FutoMinA101", "FutoGoB101", "Jun101", "ShinGo", "A-OTF", "A-OTF-",
	"HiraMin", "HiraKaku", "HiraMaru", "Hiragino",
}

func stripSubset(name string) string {
	if len(name) > 7 && name[6] == '+' {
		return name[7:]
	}
	return name
}

// readStream reads a stream fully, at most limit bytes, appended to buf; ledongthuc panics
// on filters it does not know, which the caller turns into the pdfcpu pre-pass. clean is
// false when decoding ended in an error (bad Flate data, a wrong Adler-32 checksum, data
// cut short): what was decoded is returned, but a damaged byte may have changed any of it.
func readStream(buf []byte, v pdf.Value, limit int64) (data []byte, clean bool) {
	if v.Kind() != pdf.Stream {
		return buf, true
	}
	rc := v.Reader()
	defer rc.Close()
	r := io.LimitedReader{R: rc, N: limit}
	for {
		// io.ReadAll, into buf: a stream buffer from the pool has room for most streams,
		// where ReadAll grew a new one from 512 bytes for each.
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, err == io.EOF
		}
	}
}

// streamBufs are buffers for decoded streams (content streams, CMaps), which are read and
// dropped: nothing parsed from them keeps their bytes.
var streamBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledStream bounds a buffer kept for the next stream.
const maxPooledStream = 1 << 20

func getStreamBuf() *[]byte { return streamBufs.Get().(*[]byte) }

// putStreamBuf returns data's storage to the pool; data must not be used after.
func putStreamBuf(p *[]byte, data []byte) {
	if cap(data) > maxPooledStream {
		return
	}
	*p = data[:0]
	streamBufs.Put(p)
}

// loadCMap reads and parses a CMap stream, marking the font damaged when it does not decode.
func (f *font) loadCMap(v pdf.Value, lim Limits) *embeddedCMap {
	m, clean := parsedCMaps.load(v, lim.MaxStreamBytes)
	f.damaged = f.damaged || !clean || m.damaged
	return m
}

func loadFont(v pdf.Value, lim Limits) *font {
	f := &font{scale: 0.001, missing: 0}
	sub := v.Key("Subtype").Name()
	if tu := v.Key("ToUnicode"); tu.Kind() == pdf.Stream {
		f.toUni = f.loadCMap(tu, lim)
	}
	switch sub {
	case "Type1", "MMType1", "TrueType", "Type3", "Type0":
	default:
		// A font dictionary without a known /Subtype is a damaged one: read as a simple
		// font, a Type 0 font's two-byte codes would come out as plausible ASCII.
		f.damaged = true
	}
	switch sub {
	case "Type0":
		f.kind = fontType0
		f.loadType0(v, lim)
		return f
	case "Type3":
		f.kind = fontType3
		if fm := v.Key("FontMatrix"); fm.Kind() == pdf.Array && fm.Len() >= 1 {
			if s := num(fm.Index(0)); s != 0 && s < 10 && s > -10 {
				f.scale = s
			}
		}
	}
	f.loadSimple(v)
	return f
}

func num(v pdf.Value) float64 {
	switch v.Kind() {
	case pdf.Integer:
		return float64(v.Int64())
	case pdf.Real:
		return v.Float64()
	}
	return 0
}

func (f *font) loadSimple(v pdf.Value) {
	base := stripSubset(v.Key("BaseFont").Name())
	desc := v.Key("FontDescriptor")
	enc := v.Key("Encoding")
	be := encNone
	var diffs pdf.Value
	switch enc.Kind() {
	case pdf.Name:
		be = baseEncodingByName(enc.Name())
	case pdf.Dict:
		be = baseEncodingByName(enc.Key("BaseEncoding").Name())
		diffs = enc.Key("Differences")
	}
	if be == encNone {
		// No base encoding: a non-symbolic font uses StandardEncoding; a symbolic or
		// embedded font its built-in one, which for printable ASCII codes is often ASCII
		// too. Codes below 0x20 (glyph-id subsets) stay unknown.
		if f.kind != fontType3 {
			be = encStandard
		}
		// A subset's built-in encoding numbers glyphs in the order they were first used
		// (LibreOffice's Type 1 subsets do), so reading it as ASCII is a guess that is only
		// safe when a ToUnicode map overrides it. One damaged byte that breaks the map made
		// 43H5ZEOH3X read as 43H5efgH3h this way (issue 17).
		f.builtin = enc.Kind() == pdf.Null && embedded(desc)
	}
	for c := 0; c < 256; c++ {
		if r, ok := decodeBase(be, byte(c)); ok {
			f.simple[c] = r
		}
	}
	if diffs.Kind() == pdf.Array {
		code := 0
		n := min(diffs.Len(), 4096)
		for i := 0; i < n; i++ {
			d := diffs.Index(i)
			switch d.Kind() {
			case pdf.Integer:
				code = int(d.Int64())
			case pdf.Name:
				if code >= 0 && code < 256 {
					r, ok := glyphRune(d.Name())
					if ok {
						f.simple[code] = r
					} else {
						f.simple[code] = 0
					}
				}
				code++
			}
		}
	}
	f.first = int(v.Key("FirstChar").Int64())
	if w := v.Key("Widths"); w.Kind() == pdf.Array {
		n := min(w.Len(), 256)
		f.widths = make([]float64, n)
		for i := range n {
			f.widths[i] = num(w.Index(i))
		}
	}
	f.missing = num(desc.Key("MissingWidth"))
	if f.missing == 0 {
		// The standard 14 fonts come without /Widths; an average advance keeps gaps sane.
		switch {
		case strings.Contains(base, "Courier"):
			f.missing = 600
		case strings.Contains(base, "Times"):
			f.missing = 500
		default:
			f.missing = 556
		}
		if f.kind == fontType3 {
			f.missing = 0
		}
	}
}

// embedded reports a font descriptor that carries the font program.
func embedded(desc pdf.Value) bool {
	for _, k := range []string{"FontFile", "FontFile2", "FontFile3"} {
		if desc.Key(k).Kind() == pdf.Stream {
			return true
		}
	}
	return false
}

func (f *font) loadType0(v pdf.Value, lim Limits) {
	desc := v.Key("DescendantFonts").Index(0)
	enc := v.Key("Encoding")
	switch enc.Kind() {
	case pdf.Name:
		f.pre, _ = cmap.Predefined(enc.Name())
	case pdf.Stream:
		f.enc = f.loadCMap(enc, lim)
		if f.enc.usecmap != "" {
			f.pre, _ = cmap.Predefined(f.enc.usecmap)
		}
		f.vert = f.enc.vertical
	}
	if f.pre != nil {
		f.vert = f.vert || f.pre.Vertical()
	}
	csi := desc.Key("CIDSystemInfo")
	reg, ord := csi.Key("Registry").RawString(), csi.Key("Ordering").RawString()
	base := stripSubset(desc.Key("BaseFont").Name())
	if base == "" {
		base = stripSubset(v.Key("BaseFont").Name())
	}
	switch {
	case reg == "Adobe" && ord == "Japan1":
		f.japan1 = true
	case desc.Key("Subtype").Name() == "CIDFontType0" && ord != "GB1" && ord != "CNS1" && ord != "Korea1":
		for _, k := range knownJapan1Fonts {
			if strings.HasPrefix(base, k) {
				f.japan1 = true
				break
			}
		}
	}
	f.missing = 1000
	if dw := desc.Key("DW"); !dw.IsNull() {
		f.missing = num(dw)
	}
	w := desc.Key("W")
	n := min(w.Len(), maxArrayLen)
	for i := 0; i < n; {
		a := w.Index(i)
		if i+1 >= n {
			break
		}
		b := w.Index(i + 1)
		if b.Kind() == pdf.Array {
			lo := int(a.Int64())
			m := min(b.Len(), maxArrayLen)
			for j := range m {
				f.cidW = append(f.cidW, cidWidth{lo + j, lo + j, num(b.Index(j))})
			}
			i += 2
			continue
		}
		if i+2 >= n {
			break
		}
		f.cidW = append(f.cidW, cidWidth{int(a.Int64()), int(b.Int64()), num(w.Index(i + 2))})
		i += 3
	}
	sort.SliceStable(f.cidW, func(i, j int) bool { return f.cidW[i].lo < f.cidW[j].lo })
}

func (f *font) cidWidth(cid int) float64 {
	i := sort.Search(len(f.cidW), func(i int) bool { return f.cidW[i].lo > cid }) - 1
	if i >= 0 && cid <= f.cidW[i].hi {
		return f.cidW[i].w
	}
	return f.missing
}

// next decodes the code at the start of s; n >= 1 whenever s is not empty. It is decode,
// kept per code for a Type 0 font.
func (f *font) next(s []byte) (n int, g glyph) {
	if f.kind != fontType0 {
		return f.decode(s)
	}
	n = f.codeLen(s)
	if n > 4 {
		return f.decode(s) // not a codeKey; no CMap we read has such codes
	}
	code, _ := bytesToCode(s[:n])
	key := codeKey(n, code)
	if g, ok := f.decoded[key]; ok {
		return n, g
	}
	n2, g := f.decode(s)
	if n2 == n && len(f.decoded) < maxDecoded {
		if f.decoded == nil {
			f.decoded = make(map[uint64]glyph, 64)
		}
		f.decoded[key] = g
	}
	return n2, g
}

// codeLen is the length of the code at the start of s (not empty) as decode reads it for a
// Type 0 font, found without decoding it.
func (f *font) codeLen(s []byte) int {
	var n int
	switch {
	case f.enc != nil && len(f.enc.codespace) > 0:
		n = f.enc.codeLen(s)
	case f.pre != nil:
		n = f.pre.Len(s)
	default:
		n = f.unknownCodeLen(s)
	}
	return max(n, 1)
}

// unknownCodeLen is the length of a code of a Type 0 font whose encoding is unknown: the
// ToUnicode codespace says how long codes are, else 2 bytes.
func (f *font) unknownCodeLen(s []byte) int {
	n := 2
	if f.toUni != nil {
		if l := f.toUni.codeLen(s); l > 0 {
			n = l
		}
	}
	return min(n, len(s))
}

// decode decodes the code at the start of s; n >= 1 whenever s is not empty. What it makes
// of a code depends on the font and the code's own bytes, s[:n], alone (next relies on it).
func (f *font) decode(s []byte) (n int, g glyph) {
	switch f.kind {
	case fontType0:
		return f.nextCID(s)
	}
	c := s[0]
	g.space = c == ' '
	if f.toUni != nil {
		if t, ok := f.toUni.lookup(uint32(c), 1); ok && validText(t) {
			g.text, g.ok = t, true
			g.doubt = f.toUni.ambiguous[codeKey(1, uint32(c))]
		}
	}
	if !g.ok && f.simple[c] != 0 {
		g.text, g.ok = string(f.simple[c]), true
		// With a ToUnicode map the producer meant to map every code: one it lacks is a
		// damaged map, and the encoding behind it may not be what the glyph shows.
		g.doubt = f.builtin || f.toUni != nil
	}
	g.doubt = g.doubt || f.damaged
	w := f.missing
	if i := int(c) - f.first; i >= 0 && i < len(f.widths) {
		w = f.widths[i]
	}
	g.w = w * f.scale
	g.doubt = g.doubt || f.noAdvance(g)
	return 1, g
}

// noAdvance reports a letter or digit that the font says takes no room or moves back: a
// /Widths or /W array that lost an entry or a sign gives glyphs a zero or negative width,
// which moves the next glyph onto or before it and can swap two characters of a key.
func (f *font) noAdvance(g glyph) bool {
	if !g.ok || g.w > 0 || f.vert || f.kind == fontType3 {
		return false
	}
	for _, r := range g.text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

func (f *font) nextCID(s []byte) (n int, g glyph) {
	var cid int
	var r rune
	switch {
	case f.enc != nil && len(f.enc.codespace) > 0:
		n = f.enc.codeLen(s)
		code, _ := bytesToCode(s[:n])
		var ok bool
		if cid, ok = f.enc.cid(code, n); !ok && f.pre != nil {
			_, cid, r = f.pre.Next(s[:n])
		}
	case f.pre != nil:
		n, cid, r = f.pre.Next(s)
	default:
		// Unknown encoding: codes are taken for CIDs.
		n = f.unknownCodeLen(s)
		code, _ := bytesToCode(s[:n])
		cid = int(code)
	}
	n = max(n, 1)
	if f.toUni != nil {
		code, nb := bytesToCode(s[:n])
		if t, ok := f.toUni.lookup(code, nb); ok && validText(t) {
			g.text, g.ok = t, true
			g.doubt = f.toUni.ambiguous[codeKey(nb, code)]
		}
	}
	if !g.ok {
		switch {
		case f.pre != nil && f.pre.Unicode():
			// UniJIS-*: the code is the character itself.
		case f.japan1 && cid > 0:
			r, _ = cmap.Japan1ToUnicode(cid)
		default:
			r = 0
		}
		if r > 0 && r != 0xFFFD {
			g.text, g.ok = string(r), true
			// The fallback is a guess when a ToUnicode map lacks the code (a damaged map) or
			// the font names an encoding we do not know (codes taken for CIDs).
			unicodeCodes := f.pre != nil && f.pre.Unicode()
			g.doubt = !unicodeCodes && (f.toUni != nil || f.pre == nil && f.enc == nil)
		}
	}
	g.doubt = g.doubt || f.damaged
	g.space = n == 1 && s[0] == ' '
	g.w = f.cidWidth(cid) * f.scale
	g.doubt = g.doubt || f.noAdvance(g)
	if f.vert {
		g.w = 1 // vertical advance: the default DW2 height of one em
	}
	return n, g
}

// validText rejects ToUnicode targets that carry no text (empty, NUL, U+FFFD).
func validText(t string) bool {
	if t == "" {
		return false
	}
	for _, r := range t {
		if r == 0 || r == 0xFFFD {
			return false
		}
	}
	return true
}
