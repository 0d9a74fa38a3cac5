package pdftext

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"hosho-intake/parser/cmap"
)

// bfchars is a ToUnicode CMap of codes of nbytes bytes with the bfchar entries given.
func bfchars(nbytes int, entries ...string) *embeddedCMap {
	cs := "<00> <FF>"
	if nbytes == 2 {
		cs = "<0000> <FFFF>"
	}
	body := fmt.Sprintf("begincmap 1 begincodespacerange %s endcodespacerange %d beginbfchar", cs, len(entries)/2)
	for _, e := range entries {
		body += " " + e
	}
	return parseCMap([]byte(body + " endbfchar endcmap"))
}

// TestDecodedPerFont: two fonts that map the same code to different characters each keep
// their own reading of it, whatever was decoded with the other first, for simple and Type 0
// fonts; a Type 0 font's code read again comes from the font's own decoded codes (a simple
// font's are decoded each time).
func TestDecodedPerFont(t *testing.T) {
	identity, _ := cmap.Predefined("Identity-H")
	tests := []struct {
		name   string
		f1, f2 *font
		code   []byte
		t1, t2 string
	}{
		{"simple", &font{scale: 0.001, toUni: bfchars(1, "<01>", "<0041>")}, &font{scale: 0.001, toUni: bfchars(1, "<01>", "<0042>")},
			[]byte{1}, "A", "B"},
		{"type0", &font{kind: fontType0, scale: 0.001, pre: identity, missing: 1000, toUni: bfchars(2, "<0001>", "<4fdd>")},
			&font{kind: fontType0, scale: 0.001, pre: identity, missing: 500, toUni: bfchars(2, "<0001>", "<8a3c>")},
			[]byte{0, 1}, "保", "証"},
		{"type0 without ToUnicode", &font{kind: fontType0, scale: 0.001, pre: identity, japan1: true, missing: 1000},
			&font{kind: fontType0, scale: 0.001, pre: identity, missing: 1000}, []byte{0x05, 0x48}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r, ok := cmap.Japan1ToUnicode(0x0548); tc.name == "type0 without ToUnicode" && ok {
				tc.t1 = string(r) // Japan1 CIDs decode; the other font's are glyph ids
			}
			for round := range 2 {
				for _, c := range []struct {
					f    *font
					want string
				}{{tc.f1, tc.t1}, {tc.f2, tc.t2}} {
					n, g := c.f.next(tc.code)
					if n != len(tc.code) || g.text != c.want || g.ok != (c.want != "") {
						t.Errorf("round %d: next(% x) = %d %+v, want %q", round, tc.code, n, g, c.want)
					}
					if _, want := c.f.decode(tc.code); g != want {
						t.Errorf("round %d: next = %+v, decode = %+v", round, g, want)
					}
				}
			}
			for _, f := range []*font{tc.f1, tc.f2} {
				want := 0
				if f.kind == fontType0 {
					want = 1
				}
				if len(f.decoded) != want {
					t.Errorf("font holds %d decoded codes, want %d", len(f.decoded), want)
				}
			}
		})
	}
}

// TestDecodedPerFontPage: two fonts of a page map <0001> and <01> differently, and the page
// reads each with its own font.
func TestDecodedPerFontPage(t *testing.T) {
	type0 := func(toUni int) string {
		return fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /IPAGothic /Encoding /Identity-H /ToUnicode %d 0 R "+
			"/DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /IPAGothic /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>] >>", toUni)
	}
	simple := func(toUni int) string {
		return fmt.Sprintf("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 1 /LastChar 1 /Widths [600] /ToUnicode %d 0 R >>", toUni)
	}
	show := "BT /F1 12 Tf 50 700 Td <00010001> Tj /F2 12 Tf 0 -30 Td <00010001> Tj /F1 12 Tf 0 -30 Td <0001> Tj " +
		"/F3 12 Tf 0 -30 Td <0101> Tj /F4 12 Tf 0 -30 Td <0101> Tj /F3 12 Tf 0 -30 Td <01> Tj ET"
	data := onePage("", show, type0(9), type0(10), simple(11), simple(12),
		toUnicode2("<0001> <4fdd>"), toUnicode2("<0001> <8a3c>"),
		toUnicode(1, "<01> <0041>"), toUnicode(1, "<01> <0042>"))
	got := lineTexts(mustRead(t, data)[0])
	if want := []string{"保保", "証証", "保", "AA", "BB", "A"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
}

// toUnicode2 is a ToUnicode CMap stream of two-byte codes with one bfchar entry.
func toUnicode2(entry string) string {
	return stream("", "/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfchar "+entry+" endbfchar endcmap end end")
}

// FuzzDecoded: whatever a font's maps and the bytes drawn, next (decoded codes kept) reads
// what decode reads afresh, code by code, the first time and again.
func FuzzDecoded(f *testing.F) {
	f.Add("1 begincodespacerange <00> <80> <8140> <FFFF> endcodespacerange 2 beginbfchar <41> <0058> <8140> <3042> endbfchar", []byte("A\x81\x40\xff\x41"), uint8(0))
	f.Add("2 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfrange <0001> <0010> <4e00> endbfrange 1 begincidrange <0000> <00ff> 5 endcidrange", []byte("\x00\x01\x00\x02\x00"), uint8(3))
	f.Add("1 begincodespacerange <00> <FF> endcodespacerange 1 beginbfchar <20> <0020> endbfchar", []byte("  a\x00"), uint8(1))
	predefined := []string{"Identity-H", "UniJIS-UCS2-H", "UniJIS-UTF16-H", "UniJIS-UTF8-H", "90ms-RKSJ-H", "EUC-H"}
	f.Fuzz(func(t *testing.T, cmapText string, data []byte, sel uint8) {
		if len(cmapText) > 4096 || len(data) > 4096 {
			return
		}
		m := parseCMap([]byte(cmapText))
		fonts := func() *font {
			f := &font{scale: 0.001, missing: 1000, widths: []float64{250, 0, 500}, first: 0x40}
			f.simple['A'], f.simple[0x81] = 'A', 'ア'
			switch sel % 6 {
			case 0: // simple, ToUnicode
				f.toUni = m
			case 1: // simple, none
			case 2: // Type 0, predefined CMap and ToUnicode
				f.kind, f.toUni, f.japan1 = fontType0, m, true
				f.pre, _ = cmap.Predefined(predefined[int(sel/6)%len(predefined)])
			case 3: // Type 0, embedded encoding CMap
				f.kind, f.enc, f.japan1 = fontType0, m, true
				f.pre, _ = cmap.Predefined(predefined[int(sel/6)%len(predefined)])
			case 4: // Type 0, ToUnicode alone
				f.kind, f.toUni = fontType0, m
			case 5: // Type 0, nothing
				f.kind, f.vert = fontType0, sel >= 128
			}
			f.cidW = []cidWidth{{1, 5, 700}, {3, 3, 0}}
			return f
		}
		cached, fresh := fonts(), fonts()
		for round := range 2 {
			for s := data; len(s) > 0; {
				n, g := cached.next(s)
				n2, g2 := fresh.decode(s)
				if n != n2 || g != g2 {
					t.Fatalf("round %d at % x: next = %d %+v, decode = %d %+v", round, s, n, g, n2, g2)
				}
				if n < 1 || n > len(s) {
					t.Fatalf("next(% x) reads %d bytes", s, n)
				}
				s = s[n:]
			}
		}
		if len(cached.decoded) > maxDecoded {
			t.Fatalf("%d decoded codes kept, over %d", len(cached.decoded), maxDecoded)
		}
	})
}

// FuzzOrigin: origin is the translation of the text rendering matrix as the matrix products
// make it, to the bit, for any matrices (infinities, NaNs and signed zeros too).
func FuzzOrigin(f *testing.F) {
	f.Add(1.0, 0.0, 0.0, 1.0, 50.0, 700.0, 1.0, 0.0, 0.0, -1.0, 0.0, 842.0, 12.0, 1.0, 0.0)
	f.Add(0.0, 1.0, -1.0, 0.0, 3.5, -2.0, 0.0, -1.0, -1.0, 0.0, 595.0, 842.0, 9.0, 0.5, 2.0)
	f.Add(math.Inf(1), 0.0, math.Copysign(0, -1), 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0)
	f.Fuzz(func(t *testing.T, t0, t1, t2, t3, t4, t5, c0, c1, c2, c3, c4, c5, size, th, rise float64) {
		tm, ctm := matrix{t0, t1, t2, t3, t4, t5}, matrix{c0, c1, c2, c3, c4, c5}
		trm := matrix{size * th, 0, 0, size, 0, rise}.mul(tm).mul(ctm)
		x, y := origin(&tm, &ctm, rise)
		if math.Float64bits(x) != math.Float64bits(trm[4]) || math.Float64bits(y) != math.Float64bits(trm[5]) {
			t.Fatalf("origin = %v %v, products %v %v", x, y, trm[4], trm[5])
		}
	})
}

// FuzzLineOrder: glyphs in drawing order sorted by byBaseline (unstable, as buildLines
// sorts them) come in the order a stable sort by baseline gives, for any baselines (equal
// ones, NaN, signed zeros).
func FuzzLineOrder(f *testing.F) {
	f.Add([]byte{3, 1, 3, 0, 200, 1, 3, 7})
	f.Add([]byte{255, 255, 0, 0, 128, 128, 1, 254, 0})
	f.Fuzz(func(t *testing.T, ys []byte) {
		if len(ys) > 2000 {
			return
		}
		gs := make([]placed, len(ys))
		for i, y := range ys {
			gs[i] = placed{y: float64(y % 8), seq: i}
			switch y {
			case 255:
				gs[i].y = math.NaN()
			case 254:
				gs[i].y = math.Copysign(0, -1)
			}
		}
		stable := slices.Clone(gs)
		slices.SortStableFunc(stable, func(a, b placed) int { return cmp.Compare(a.y, b.y) })
		slices.SortFunc(gs, byBaseline)
		for i := range gs {
			if gs[i].seq != stable[i].seq {
				t.Fatalf("at %d: glyph %d, stable sort has %d", i, gs[i].seq, stable[i].seq)
			}
		}
	})
}

// TestMaxf: maxf is math.Max to the bit on every pair of special and plain numbers.
func TestMaxf(t *testing.T) {
	nums := []float64{math.Inf(1), math.Inf(-1), math.NaN(), 0, math.Copysign(0, -1), 1, -1, 12.5, math.MaxFloat64, math.SmallestNonzeroFloat64}
	for _, x := range nums {
		for _, y := range nums {
			if got, want := maxf(x, y), math.Max(x, y); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("maxf(%v, %v) = %v, math.Max %v", x, y, got, want)
			}
		}
	}
}

// FuzzHypot: hypot is math.Hypot to the bit.
func FuzzHypot(f *testing.F) {
	for _, p := range []float64{0, math.Copysign(0, -1), 12, -9.5, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(p, 0.0)
		f.Add(0.0, p)
		f.Add(p, 3.0)
	}
	f.Fuzz(func(t *testing.T, p, q float64) {
		if got, want := hypot(p, q), math.Hypot(p, q); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("hypot(%v, %v) = %v, math.Hypot %v", p, q, got, want)
		}
	})
}

// TestByteClass: the lexer's byte classes are PDF's white space (and NUL) and delimiters.
func TestByteClass(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		white := b == ' ' || b == '\n' || b == '\r' || b == '\t' || b == '\f' || b == 0
		delim := strings.IndexByte("()<>[]{}/%", b) >= 0
		if isWhite(b) != white || isDelim(b) != delim || isRegular(b) != (!white && !delim) {
			t.Errorf("byte %#x: white %v delim %v regular %v", b, isWhite(b), isDelim(b), isRegular(b))
		}
	}
}

// FuzzTranslate: translate is the product [1 0 0 1 tx ty] × m, to the bit.
func FuzzTranslate(f *testing.F) {
	f.Add(1.0, 0.0, 0.0, 1.0, 50.0, 700.0, 6.0, 0.0)
	f.Add(math.Inf(1), math.NaN(), math.Copysign(0, -1), 0.0, 1.0, 2.0, 0.0, math.Inf(-1))
	f.Fuzz(func(t *testing.T, m0, m1, m2, m3, m4, m5, tx, ty float64) {
		m := matrix{m0, m1, m2, m3, m4, m5}
		want := matrix{1, 0, 0, 1, tx, ty}.mul(m)
		m.translate(tx, ty)
		for i := range m {
			if math.Float64bits(m[i]) != math.Float64bits(want[i]) {
				t.Fatalf("translate = %v, product %v", m, want)
			}
		}
	})
}
