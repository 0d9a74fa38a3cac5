package pdftext

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"
	"testing"
)

// toUnicode is a ToUnicode CMap stream with the given bfchar entries ("<01> <0041>" pairs).
func toUnicode(count int, entries string) string {
	return stream("", fmt.Sprintf("/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <00> <FF> endcodespacerange %d beginbfchar %s endbfchar endcmap end end", count, entries))
}

// subsetFont is an embedded Type 1 subset with no /Encoding, as LibreOffice writes them: its
// codes mean only what its ToUnicode map (object 6, when given) says.
func subsetFont(toUni bool) string {
	tu := ""
	if toUni {
		tu = "/ToUnicode 6 0 R"
	}
	return "<< /Type /Font /Subtype /Type1 /BaseFont /BAAAAA+Noto /FirstChar 0 /LastChar 3 /Widths [600 600 600 600] " +
		"/FontDescriptor << /Type /FontDescriptor /FontName /BAAAAA+Noto /Flags 4 /FontFile3 7 0 R >> " + tu + " >>"
}

func flated(s string, damage bool) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	data := b.Bytes()
	if damage {
		data[len(data)-1] ^= 0x55 // the Adler-32 checksum no longer matches
	}
	return fmt.Sprintf("<< /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream", len(data), data)
}

// TestDoubt checks each sign of a damaged or guessed font mapping that the parser relies on
// to refuse a notice: glyphs counted as Doubtful (per span too), or the page as Damaged.
func TestDoubt(t *testing.T) {
	fontFile := stream("/Subtype /Type1C", "x")
	show := "BT /F1 12 Tf 50 700 Td <00010203> Tj ET"
	tests := []struct {
		name              string
		pdf               []byte
		doubtful, damaged bool
	}{
		{"clean ToUnicode", onePage("", show, subsetFont(true),
			toUnicode(4, "<00> <0034> <01> <0033> <02> <0048> <03> <005A>"), fontFile), false, false},
		{"clean WinAnsi", onePage("", "BT /F1 12 Tf 50 700 Td (43H5ZEOH3X) Tj ET", helvetica), false, false},
		{"built-in encoding read as ASCII", onePage("", "BT /F1 12 Tf 50 700 Td (43H5) Tj ET", subsetFont(false), "null", fontFile), true, false},
		{"code missing from ToUnicode", onePage("", "BT /F1 12 Tf 50 700 Td (\x00e) Tj ET", subsetFont(true),
			toUnicode(1, "<00> <0034>"), fontFile), true, false},
		{"two codes give one letter", onePage("", show, subsetFont(true),
			toUnicode(4, "<00> <0034> <01> <0033> <02> <0048> <03> <0048>"), fontFile), true, false},
		{"bad hex digit in ToUnicode", onePage("", show, subsetFont(true),
			toUnicode(4, "<00> <0034> <01> <0033> <02> <00x8> <03> <005A>"), fontFile), true, true},
		{"ToUnicode block count", onePage("", show, subsetFont(true),
			toUnicode(5, "<00> <0034> <01> <0033> <02> <0048> <03> <005A>"), fontFile), true, true},
		{"bfrange array length", onePage("", show, subsetFont(true),
			stream("", "begincmap 1 begincodespacerange <00> <FF> endcodespacerange 1 beginbfrange <00> <03> [<0034> <0033> <0048>] endbfrange endcmap"), fontFile), true, true},
		{"ToUnicode checksum", onePage("", show, subsetFont(true),
			flated("begincmap 1 beginbfchar <00> <0034> endbfchar endcmap", true), fontFile), true, true},
		{"content checksum", buildPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
			flated("BT /F1 12 Tf 50 700 Td (43H5ZEOH3X) Tj ET", true), helvetica), false, true},
		{"malformed operator", onePage("", "BT /F1 12 Tf 50 700 Td (43H5) T\x8fj ET", helvetica), false, true},
		{"font not in resources", onePage("", "BT /F9 12 Tf 50 700 Td (43H5) Tj ET", helvetica), false, true},
		{"font without subtype", onePage("", "BT /F1 12 Tf 50 700 Td (43H5) Tj ET", strings.Replace(helvetica, "/Subtype /Type1", "", 1)), true, true},
		{"letter without width", onePage("", "BT /F1 12 Tf 50 700 Td (AB) Tj ET",
			"<< /Type /Font /Subtype /TrueType /BaseFont /Arial /Encoding /WinAnsiEncoding /FirstChar 65 /LastChar 66 /Widths [0 600] >>"), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustRead(t, tt.pdf)[0]
			spans := 0
			for _, l := range p.Lines {
				for _, s := range l.Spans {
					spans += s.Doubtful
				}
			}
			if (p.Doubtful > 0) != tt.doubtful || (spans > 0) != tt.doubtful || (p.Damaged > 0) != tt.damaged {
				t.Errorf("Doubtful %d (spans %d), Damaged %d; want doubtful %v, damaged %v (lines %q)",
					p.Doubtful, spans, p.Damaged, tt.doubtful, tt.damaged, lineTexts(p))
			}
		})
	}
}

// TestMissingPage: a page the tree counts but whose object is gone is a damaged page, so
// that a notice on it is not lost in silence.
func TestMissingPage(t *testing.T) {
	data := buildPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R 9 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		stream("", "BT /F1 12 Tf 50 700 Td (43H5ZEOH3X) Tj ET"), helvetica)
	pages := mustRead(t, data)
	if len(pages) != 2 || pages[0].Damaged != 0 || pages[1].Damaged == 0 {
		t.Errorf("pages = %+v, want 2, the second damaged", pages)
	}
}
