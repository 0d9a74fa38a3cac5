package parser_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
)

// TestReadLockedPDF: a PDF that needs a user password (AES-256, by pdfcpu and by qpdf) is
// encrypted without its password, and read with the user or owner password among the candidates.
func TestReadLockedPDF(t *testing.T) {
	var pdf bytes.Buffer
	if err := noticepdf.Write(&pdf, noticepdf.Samples()[:1], noticepdf.Options{Encoding: noticepdf.UCS2}); err != nil {
		t.Fatal(err)
	}
	byPdfcpu, err := noticepdf.Encrypt(pdf.Bytes(), "ユーザー1", "owner9")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"pdfcpu": byPdfcpu}
	if bin, err := exec.LookPath("qpdf"); err == nil {
		dir := t.TempDir()
		in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
		if err := os.WriteFile(in, pdf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(bin, "--encrypt", "ユーザー1", "owner9", "256", "--", in, out).CombinedOutput(); err != nil {
			t.Fatalf("qpdf: %v\n%s", err, b)
		}
		if files["qpdf"], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("qpdf not installed (CI installs qpdf)")
	}
	for tool, data := range files {
		for _, c := range []struct {
			pws  []string
			want bool
		}{
			{nil, false},
			{[]string{"nope"}, false},
			{[]string{"nope", "ユーザー1"}, true},
			{[]string{"owner9"}, true},
		} {
			d := parser.ReadLockedPDF(data, c.pws)
			got := len(d.Notices) == 1
			if got != c.want {
				t.Errorf("%s: ReadLockedPDF(%q) = %d notices, problems %v; want read %v", tool, c.pws, len(d.Notices), d.Problems, c.want)
			}
			if !c.want && (len(d.Problems) != 1 || d.Problems[0].Code != parser.CodeEncrypted) {
				t.Errorf("%s: ReadLockedPDF(%q) problems %v, want encrypted", tool, c.pws, d.Problems)
			}
		}
	}
}
