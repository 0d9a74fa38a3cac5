package parser_test

import (
	"os"
	"testing"

	"hosho-intake/parser"
)

func BenchmarkOne(b *testing.B) {
	d, _ := os.ReadFile(os.Getenv("ONE"))
	b.ReportAllocs()
	for b.Loop() {
		parser.ReadPDF(d)
	}
}
