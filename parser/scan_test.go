package parser_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hosho-intake/parser"
)

// tool finds a program the test needs; it skips without it, except under CI=true, where a
// test that skips proves nothing.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (CI=true): %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// imageMagick finds ImageMagick's convert (or IM7's magick), not another program of that name.
func imageMagick(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"magick", "convert"} {
		if p, err := exec.LookPath(name); err == nil {
			if out, _ := exec.Command(p, "-version").Output(); bytes.Contains(out, []byte("ImageMagick")) {
				return p
			}
		}
	}
	return tool(t, "ImageMagick (magick or convert)")
}

// scanPNG writes a grey page with dark strokes: what a scanner gives of a printed notice.
func scanPNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 420, 300))
	for y := range 300 {
		for x := range 420 {
			c := uint8(245)
			if y%40 < 6 && x > 40 && x < 380 || x%60 < 3 && y > 30 && y < 270 {
				c = 20
			}
			img.SetGray(x, y, color.Gray{c})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestScansFromTools reads image-only PDFs as ImageMagick and img2pdf write them from a scan,
// one per image stream kind they produce (LZW, ASCII85, RunLength, Flate, DCT, CCITT). They
// open in poppler and must be no_text, never corrupt (issue 18: `convert scan.png scan.pdf`
// was "PDF is damaged ... invalid header"). JBIG2 and the rest are in pdftext's TestScans.
func TestScansFromTools(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "scan.png")
	scanPNG(t, src)
	im := imageMagick(t)
	img2pdf := tool(t, "img2pdf")
	pdfimages := tool(t, "pdfimages")
	// Debian's ImageMagick policy forbids the PDF coder (against Ghostscript reading
	// PostScript and PDF); writing a picture as a PDF does not use Ghostscript, and EPDF is
	// the same writer under another coder name, so the test falls back to it there.
	convert := func(out string, args ...string) {
		t.Helper()
		full := append(append([]string{src}, args...), out)
		if res, err := exec.Command(im, full...).CombinedOutput(); err != nil || !fileHasData(out) {
			if !bytes.Contains(res, []byte("security policy")) {
				t.Fatalf("%s %s: %v\n%s", im, strings.Join(full, " "), err, res)
			}
			full[len(full)-1] = "EPDF:" + out
			run(t, im, full...)
		}
	}
	tests := []struct {
		name, filter string
		make         func(out string)
	}{
		{"convert scan.png scan.pdf", "/Subtype /Image", func(out string) { convert(out) }},
		{"convert -compress lzw", "/LZWDecode", func(out string) { convert(out, "-compress", "lzw") }},
		{"convert -compress none", "/ASCII85Decode", func(out string) { convert(out, "-compress", "none") }},
		{"convert -compress rle", "/RunLengthDecode", func(out string) { convert(out, "-compress", "rle") }},
		{"convert -compress zip", "/FlateDecode", func(out string) { convert(out, "-compress", "zip") }},
		{"convert -compress jpeg", "/DCTDecode", func(out string) { convert(out, "-compress", "jpeg") }},
		{"convert -monochrome -compress group4", "/CCITTFaxDecode", func(out string) { convert(out, "-monochrome", "-compress", "group4") }},
		{"img2pdf scan.png", "/FlateDecode", func(out string) { run(t, img2pdf, src, "-o", out) }},
		{"img2pdf scan.jpg", "/DCTDecode", func(out string) {
			jpg := filepath.Join(dir, "scan.jpg")
			run(t, im, src, jpg)
			run(t, img2pdf, jpg, "-o", out)
		}},
		{"img2pdf G4 TIFF", "/CCITTFaxDecode", func(out string) {
			tif := filepath.Join(dir, "scan.tif")
			run(t, im, src, "-monochrome", "-compress", "group4", tif)
			run(t, img2pdf, tif, "-o", out)
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+string(rune('a'+i))+".pdf")
			tc.make(out)
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(tc.filter)) {
				t.Fatalf("%s wrote no %s stream: the case tests something else", tc.name, tc.filter)
			}
			// The premise: poppler opens the file and finds its image.
			if list, err := exec.Command(pdfimages, "-list", out).Output(); err != nil || bytes.Count(list, []byte("\n")) < 3 {
				t.Fatalf("pdfimages -list %s: %v\n%s", tc.name, err, list)
			}
			doc := parser.ReadPDF(data)
			if len(doc.Notices) != 0 || len(doc.Problems) != 1 || doc.Problems[0].Code != parser.CodeNoText {
				t.Fatalf("ReadPDF(%s) = %+v, want only no_text", tc.name, doc)
			}
			if !strings.Contains(doc.Problems[0].Detail, "image-only") {
				t.Errorf("ReadPDF(%s) detail %q, want it to say image-only", tc.name, doc.Problems[0].Detail)
			}
		})
	}
}

func fileHasData(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() > 0
}
