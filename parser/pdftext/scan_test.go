package pdftext

import (
	"bytes"
	"compress/lzw"
	"errors"
	"strings"
	"testing"
)

// imagePage is a one-page scan as scanner drivers write it: the page paints one image
// XObject (object 5) with the given dictionary entries and data, and no text.
func imagePage(content, imageDict, imageData string) []byte {
	return buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>",
		content,
		stream("/Type /XObject /Subtype /Image /Width 16 /Height 8 "+imageDict, imageData),
	)
}

const paintIm0 = "q 595 0 0 842 0 0 cm /Im0 Do Q"

// lzwOf encodes s as an LZWDecode stream (short data never reaches the code width where
// PDF's EarlyChange and Go's encoder differ).
func lzwOf(s string) string {
	var b bytes.Buffer
	w := lzw.NewWriter(&b, lzw.MSB, 8)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// withHeader replaces the 9-byte header line "%PDF-1.7\n" that buildPDF writes, keeping
// every offset.
func withHeader(data []byte, h string) []byte {
	if len(h) != 9 {
		panic("header must keep the offsets: 9 bytes")
	}
	out := bytes.Clone(data)
	copy(out, h)
	return out
}

// TestScans: image-only PDFs with the stream kinds the tools in TestScansFromTools
// (parser) do not write open as pages with images and no text (issue 18: "a PDF that opens
// is never corrupt"); image streams are never decoded, whatever their filter. A file cut
// off in transit stays corrupt.
func TestScans(t *testing.T) {
	jbig2 := imagePage(stream("", paintIm0), "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode", "\x00\x00\x00\x00\x30\x00\x01")
	scanner := imagePage(stream("", paintIm0), "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns 16 /Rows 8 >>", "\x26\xa0\x00\x10\x01")
	tests := []struct {
		name   string
		data   []byte
		images int
	}{
		{"JBIG2 image", jbig2, 1},
		{"CCITT G4 image", scanner, 1},
		{"DCT image", imagePage(stream("", paintIm0), "/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode", "\xff\xd8\xff\xe0\x00\x10JFIF\x00"), 1},
		{"ASCII85 over LZW image", imagePage(stream("", paintIm0), "/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter [/ASCII85Decode /LZWDecode]", "!!*'!~>"), 1},
		{"JBIG2 with globals", imagePage(stream("", paintIm0), "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode /DecodeParms << /JBIG2Globals 4 0 R >>", "\x00"), 1},
		{"LZW content stream", imagePage(stream("/Filter /LZWDecode", lzwOf(paintIm0)), "/ColorSpace /DeviceGray /BitsPerComponent 8", strings.Repeat("\xff", 128)), 1},
		{"inline image", imagePage(stream("", "q 595 0 0 842 0 0 cm BI /W 16 /H 8 /CS /G /BPC 1 /F /AHx ID ffffffffffffffffffffffffffffffff> EI Q"), "/ColorSpace /DeviceGray /BitsPerComponent 1", "\x00"), 1},
		{"ImageMagick header %PDF-1.3 and a space", withHeader(jbig2, "%PDF-1.3 "), 1},
		{"PDF 2.0 header", withHeader(scanner, "%PDF-2.0\n"), 1},
		{"binary comment on the header line", withHeader(scanner, "%PDF-1.7%"), 1},
		{"bytes after %%EOF", append(bytes.Clone(scanner), bytes.Repeat([]byte{0}, 600)...), 1},
		{"startxref off by two", bytes.Replace(scanner, []byte("startxref\n"), []byte("startxref\n2"), 1), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pages, err := Read(tc.data, DefaultLimits())
			if err != nil {
				t.Fatalf("Read = %v, want the page of a scan", err)
			}
			if len(pages) != 1 || pages[0].Images != tc.images || pages[0].Glyphs != 0 || pages[0].Damaged != 0 {
				t.Fatalf("Read = %+v, want one undamaged page with %d images and no glyphs", pages, tc.images)
			}
		})
	}
	t.Run("cut off in transit", func(t *testing.T) {
		cut := scanner[:bytes.Index(scanner, []byte("xref"))]
		if _, err := Read(cut, DefaultLimits()); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Read(truncated scan) = %v, want ErrCorrupt", err)
		}
	})
}

func TestOpenableHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"%PDF-1.4\n%...", "%PDF-1.4\n%..."},
		{"%PDF-1.3 \n1 0 obj", "%PDF-1.3\n\n1 0 obj"},
		{"%PDF-1.7\r\n1 0 obj", "%PDF-1.7\r\n1 0 obj"},
		{"%PDF-2.0\n1 0 obj", "%PDF-1.7\n1 0 obj"},
		{"%PDF-1.7%\xe2\xe3\xcf\xd3\n", "%PDF-1.7\n\xe2\xe3\xcf\xd3\n"},
		{"%PDF-1.10\n1 0 ob", "%PDF-1.10\n1 0 ob"}, // not a version we can mend
		{"%PDF-x", "%PDF-x"},
	}
	for _, tc := range tests {
		if got := string(openableHeader([]byte(tc.in))); got != tc.want {
			t.Errorf("openableHeader(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
