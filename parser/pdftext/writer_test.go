package pdftext

import (
	"bytes"
	"fmt"
	"strings"
)

// A minimal PDF writer for the tests: objects are numbered from 1 in the order given, object 1
// is the catalog, and the cross-reference table has the right offsets.
func buildPDF(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

func stream(dict, data string) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// onePage builds catalog, pages, page (objects 1-3), content (4) and the fonts given (5...),
// named /F1, /F2, ... on the page.
func onePage(pageExtra, content string, fonts ...string) []byte {
	var fres []string
	for i := range fonts {
		fres = append(fres, fmt.Sprintf("/F%d %d 0 R", i+1, 5+i))
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << %s >> >> /Contents 4 0 R %s >>",
			strings.Join(fres, " "), pageExtra),
		stream("", content),
	}
	return buildPDF(append(objs, fonts...)...)
}

func hexOf(b []byte) string { return fmt.Sprintf("<%X>", b) }

// cidFont is a non-embedded Type 0 font with a predefined CMap, as reportlab writes them.
func cidFont(encoding, base string) string {
	return fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /%s /DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> /DW 1000 /W [1 [278] 17 26 500] /FontDescriptor << /Type /FontDescriptor /FontName /%s /Flags 4 /FontBBox [0 -141 1000 859] /ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 709 /StemV 93 >> >>] >>",
		base, encoding, base, base)
}

const helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
