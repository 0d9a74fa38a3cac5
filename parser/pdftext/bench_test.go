package pdftext

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"

	"hosho-intake/parser/testkit"
)

// cleanSamples are the readable notices of the shared corpus (no pre-pass needed).
func cleanSamples(b *testing.B) [][]byte {
	files, _ := filepath.Glob(filepath.Join(testkit.SamplesPath("pdf"), "*.pdf"))
	var out [][]byte
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasPrefix(base, "sp09") || strings.HasPrefix(base, "sp10") || strings.HasPrefix(base, "sp11") || strings.HasPrefix(base, "sp12") || strings.HasPrefix(base, "sp13") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		b.Skip("no samples")
	}
	return out
}

// BenchmarkRead is one op per file over the clean sample notices.
func BenchmarkRead(b *testing.B) {
	files := cleanSamples(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Read(files[i%len(files)], DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStockContent is stock ledongthuc (NewReader, then Page(n).Content() on every page)
// over the same files, for comparison.
func BenchmarkStockContent(b *testing.B) {
	files := cleanSamples(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data := files[i%len(files)]
		r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		for n := 1; n <= r.NumPage(); n++ {
			func() {
				defer func() { recover() }()
				r.Page(n).Content()
			}()
		}
	}
}
