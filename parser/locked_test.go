package parser_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ledongthuc/pdf"

	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/parser/testkit"
)

// TestReadLockedPDF: a PDF that needs a user password (AES-256, by pdfcpu and by qpdf) is
// encrypted without its password, and read with the user or owner password among the candidates.
func TestReadLockedPDF(t *testing.T) {
	_, files := lockedNotice(t, "ユーザー1", "owner9", map[string][]string{"qpdf": {"256"}})
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

// lockedNotice is a one-notice PDF and its copies locked with user and owner: "pdfcpu"
// (noticepdf.Encrypt, AES-256 R 6) and one by qpdf for each entry of qpdfArgs (what follows
// --encrypt USER OWNER). qpdf is required under CI.
func lockedNotice(t *testing.T, user, owner string, qpdfArgs map[string][]string) (plain []byte, locked map[string][]byte) {
	t.Helper()
	var pdf bytes.Buffer
	if err := noticepdf.Write(&pdf, noticepdf.Samples()[:1], noticepdf.Options{Encoding: noticepdf.UCS2}); err != nil {
		t.Fatal(err)
	}
	byPdfcpu, err := noticepdf.Encrypt(pdf.Bytes(), user, owner)
	if err != nil {
		t.Fatal(err)
	}
	locked = map[string][]byte{"pdfcpu": byPdfcpu}
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("qpdf not installed (CI installs qpdf)")
		}
		return pdf.Bytes(), locked
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, pdf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range qpdfArgs {
		cmd := append(append([]string{"--allow-weak-crypto", "--encrypt", user, owner}, args...), "--", in, out)
		if b, err := exec.Command(qpdf, cmd...).CombinedOutput(); err != nil {
			t.Fatalf("qpdf %v: %v\n%s", cmd, err, b)
		}
		if locked[name], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	}
	return pdf.Bytes(), locked
}

// TestAES256Native: ledongthuc (patched) opens AES-256 files itself, revisions 5 and 6, by
// the user or the owner password, and refuses a wrong one, so that no such file needs the
// pdfcpu pre-pass (a full parse and re-write): the corpus's owner-password-only and
// user-password files, pdfcpu's, and qpdf's R 6, R 5 (--force-R5) and AES-128 (R 4).
func TestAES256Native(t *testing.T) {
	plain, files := lockedNotice(t, "user7", "owner9", map[string][]string{
		"qpdf R6":     {"256"},
		"qpdf R5":     {"256", "--force-R5"},
		"qpdf AES128": {"128", "--use-aes=y"},
	})
	open := func(data []byte, pws ...string) error {
		_, err := pdf.NewReaderEncrypted(bytes.NewReader(data), int64(len(data)), func() string {
			if len(pws) == 0 {
				return ""
			}
			pw := pws[0]
			pws = pws[1:]
			return pw
		})
		return err
	}
	want := parser.ReadPDF(plain).Notices
	for name, data := range files {
		for _, c := range []struct {
			pws  []string
			open bool
		}{
			{nil, false},
			{[]string{"user8"}, false},
			{[]string{"user8", "user7"}, true},
			{[]string{"owner9"}, true},
		} {
			err := open(data, c.pws...)
			if (err == nil) != c.open || (err != nil && !errors.Is(err, pdf.ErrInvalidPassword)) {
				t.Errorf("%s with %q: %v, want opened %v", name, c.pws, err, c.open)
			}
		}
		if got := parser.ReadLockedPDF(data, []string{"user7"}).Notices; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read %+v, want %+v", name, got, want)
		}
	}

	dir := testkit.Samples(t, "pdf")
	owner, _ := os.ReadFile(filepath.Join(dir, "sp10-east-rsvg-owner-password-only.pdf"))
	locked, _ := os.ReadFile(filepath.Join(dir, "sp11-west-user-password.pdf"))
	if err := open(owner); err != nil {
		t.Errorf("sp10 (owner password only): %v, want opened with the empty password", err)
	}
	if err := open(locked); !errors.Is(err, pdf.ErrInvalidPassword) {
		t.Errorf("sp11 without its password: %v, want ErrInvalidPassword", err)
	}
	if err := open(locked, "0603"); err != nil {
		t.Errorf("sp11 with its password: %v", err)
	}
}
