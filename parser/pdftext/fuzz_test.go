package pdftext

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hosho-intake/parser/testkit"
)

// FuzzRead must never panic or hang, whatever the bytes.
func FuzzRead(f *testing.F) {
	font := cidFont("UniJIS-UCS2-H", "HeiseiKakuGo-W5")
	f.Add(onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf(ucs2("保証契約番号"))+" Tj ET", font))
	f.Add(onePage("/Rotate 90", "BT /F1 12 Tf 50 700 Td "+hexOf(sjis("認証キー"))+" Tj ET", cidFont("90ms-RKSJ-H", "HeiseiMin-W3")))
	f.Add(onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf(eucjp("島根県"))+" Tj [(a) -300 (b)] TJ ET", cidFont("EUC-H", "HeiseiMin-W3")))
	f.Add(onePage("", "q 1 0 0 1 5 5 cm BT /F1 9 Tf 2 Tz 1 Tc 3 Tw 12 TL T* (x) ' 1 2 (y) \" ET Q BI /W 1 /H 1 ID \x00\x01 EI",
		"<< /Type /Font /Subtype /Type3 /FontMatrix [0.001 0 0 0.001 0 0] /Encoding << /Differences [1 /A] >> /Widths [500] /FirstChar 1 /ToUnicode 6 0 R >>",
		stream("", "1 begincodespacerange <00> <FF> endcodespacerange 1 beginbfrange <00> <FF> [<8a8d> <d840dc0b>] endbfrange")))
	f.Add(buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Resources << /XObject << /X1 5 0 R >> >> /Contents 4 0 R >>",
		stream("", "/X1 Do"),
		stream("/Subtype /Form /Resources << /XObject << /X1 5 0 R >> >>", "/X1 Do"),
	))
	f.Add(buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [2 0 R 2 0 R] /Count 2 >>",
	))
	f.Add(buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 3 0 R /Contents 4 0 R >>",
		stream("/Filter /ASCIIHexDecode", fmt.Sprintf("%X>", "BT (a) Tj ET")),
	))
	if files, _ := filepath.Glob(filepath.Join(testkit.SamplesPath("pdf"), "sp1[0-3]*.pdf")); len(files) > 0 {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Go's fuzzer has no per-input timeout; an input that hangs must fail to be kept. The
		// bound tells a hang from a slow machine (inputs are read in milliseconds): it is not
		// a speed check, which would fail on a loaded CI machine.
		done := make(chan struct{})
		go func() {
			defer close(done)
			pages, err := Read(data, Limits{MaxPages: 5, MaxStreamBytes: 1 << 20, MaxFormDepth: 4})
			if err == nil && len(pages) == 0 {
				t.Errorf("Read = no pages and no error")
			}
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("Read hung: no answer in 30s")
		}
	})
}
