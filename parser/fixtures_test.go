package parser_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/parser/testkit"
)

// TestReadPDFFixtures reads every page shape and font path that noticepdf writes (the ones
// real producers use) through ReadPDF and checks all six fields of every notice.
func TestReadPDFFixtures(t *testing.T) {
	samples := noticepdf.Samples()
	for _, v := range noticepdf.Variants() {
		t.Run(v.Name, func(t *testing.T) {
			var b bytes.Buffer
			err := noticepdf.Write(&b, samples, v.Options)
			if err != nil {
				t.Fatal(err)
			}
			doc := parser.ReadPDF(b.Bytes())
			if v.Options.Encoding == noticepdf.Outlines {
				if len(doc.Notices) != 0 || len(doc.Problems) != 1 || doc.Problems[0].Code != parser.CodeNoText {
					t.Fatalf("outlined glyphs: %+v, want only no_text", doc)
				}
				return
			}
			if len(doc.Problems) != 0 || len(doc.Notices) != len(samples) {
				t.Fatalf("ReadPDF = %d notices %+v, problems %+v; want %d notices", len(doc.Notices), doc.Notices, doc.Problems, len(samples))
			}
			for i, want := range samples {
				want.Source, want.Page = "pdf", i+1
				if v.Options.CoverPage {
					want.Page++
				}
				if got := doc.Notices[i]; got != want {
					t.Errorf("notice %d:\n got %+v\nwant %+v", i, got, want)
				}
			}
		})
	}
}

func TestReadPDFProblems(t *testing.T) {
	n := noticepdf.Samples()[0]
	var plain, cert, scan bytes.Buffer
	if err := noticepdf.Write(&plain, []parser.Notice{n}, noticepdf.Options{Encoding: noticepdf.IdentityToUnicode}); err != nil {
		t.Fatal(err)
	}
	if err := noticepdf.Certificate(&cert, n, noticepdf.Options{Encoding: noticepdf.UCS2}); err != nil {
		t.Fatal(err)
	}
	if err := noticepdf.ImageOnly(&scan, n); err != nil {
		t.Fatal(err)
	}
	locked, err := noticepdf.Encrypt(plain.Bytes(), "s3cret", "owner")
	if err != nil {
		t.Fatal(err)
	}
	ownerOnly, err := noticepdf.Encrypt(plain.Bytes(), "", "owner")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		code    string
		notices int
	}{
		{"certificate", cert.Bytes(), parser.CodeWrongDocument, 0},
		{"scan", scan.Bytes(), parser.CodeNoText, 0},
		{"user password", locked, parser.CodeEncrypted, 0},
		{"owner password only", ownerOnly, "", 1},
		{"truncated", plain.Bytes()[:plain.Len()/2], parser.CodeCorrupt, 0},
		{"html", []byte("<!DOCTYPE html><html><body>セッションがタイムアウトしました</body></html>"), parser.CodeNotPDF, 0},
		{"empty", nil, parser.CodeNotPDF, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := parser.ReadPDF(tc.data)
			code := ""
			if len(doc.Problems) > 0 {
				code = doc.Problems[0].Code
			}
			if code != tc.code || len(doc.Notices) != tc.notices || len(doc.Problems) > 1 {
				t.Errorf("ReadPDF(%s) = %d notices, problems %+v; want %d notices, code %q", tc.name, len(doc.Notices), doc.Problems, tc.notices, tc.code)
			}
		})
	}
}

// BenchmarkReadPDF is one notice end to end in-process: PDF bytes to a checked Notice.
func BenchmarkReadPDF(b *testing.B) {
	for _, enc := range []noticepdf.Encoding{noticepdf.UCS2, noticepdf.IdentityToUnicode, noticepdf.IdentityJapan1, noticepdf.Type3ToUnicode} {
		var buf bytes.Buffer
		if err := noticepdf.Write(&buf, noticepdf.Samples()[:1], noticepdf.Options{Encoding: enc}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(enc), func(b *testing.B) {
			b.SetBytes(int64(buf.Len()))
			for b.Loop() {
				if doc := parser.ReadPDF(buf.Bytes()); len(doc.Notices) != 1 {
					b.Fatalf("read %+v", doc)
				}
			}
		})
	}
}

// BenchmarkReadPDFSamples is every real producer's PDF of the shared corpus (read in place),
// one op per file in turn, in-process: the parse cost a user's notices have.
func BenchmarkReadPDFSamples(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(testkit.Samples(b, "pdf"), "*.pdf"))
	var data [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		parser.ReadPDF(data[i%len(data)])
		i++
	}
}
