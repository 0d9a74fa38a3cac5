package noticepdf

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"hosho-intake/parser"
)

// needTool skips a test when a poppler or qpdf program is missing, except in CI, where a
// missing tool means the machine was set up wrong and the test must fail.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (CI=true): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
}

func writeTemp(t *testing.T, pdf []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "notice.pdf")
	if err := os.WriteFile(f, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// pdftotext runs `pdftotext -layout [args] FILE -`, the reference reader.
func pdftotext(t *testing.T, pdf []byte, args ...string) (string, error) {
	t.Helper()
	needTool(t, "pdftotext")
	args = append(append([]string{"-layout"}, args...), writeTemp(t, pdf), "-")
	var stderr bytes.Buffer
	cmd := exec.Command("pdftotext", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", errors.New(err.Error() + ": " + stderr.String())
	}
	return string(out), nil
}

func mustText(t *testing.T, pdf []byte, args ...string) string {
	t.Helper()
	s, err := pdftotext(t, pdf, args...)
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return s
}

// qpdfCheck fails the test unless `qpdf --check` finds the file structurally sound.
func qpdfCheck(t *testing.T, pdf []byte, args ...string) {
	t.Helper()
	needTool(t, "qpdf")
	args = append(append([]string{"--check"}, args...), writeTemp(t, pdf))
	out, err := exec.Command("qpdf", args...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("No syntax or stream encoding errors")) || bytes.Contains(out, []byte("WARNING")) {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}

// squash makes extracted text comparable: NFKC (full-width forms), no white space, and no
// hyphens of any kind (poppler maps RKSJ's hyphen to U+2011; numbers may be printed 2070-004426).
func squash(s string) string {
	s = norm.NFKC.String(s)
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r), r == '-', r == '\u2010', r == '\u2011', r == '\u2212':
			return -1
		}
		return r
	}, s)
}

// allLabels are every label a page may print; Centered pages interleave a wrapped value's
// lines with its label, so the label is removed before looking for the value.
var allLabels = []string{"保証契約番号", "認証キー", "保証の種類", "保証区分", "区分", "工事名", "業務名", "発注者", "保証機関", "保証会社", "保証人", "項目", "内容"}

// checkValues fails unless the six values of n appear in text.
func checkValues(t *testing.T, text string, n parser.Notice, what string) {
	t.Helper()
	got := squash(text)
	for _, l := range allLabels {
		got = strings.ReplaceAll(got, l, "")
	}
	for _, v := range []string{n.Category, n.ContractNumber, n.AuthKey, n.ProjectName, n.Orderer, n.Guarantor} {
		if !strings.Contains(got, squash(v)) {
			t.Errorf("%s: pdftotext output lacks %q:\n%s", what, v, text)
		}
	}
}

// pages runs pdftotext once and splits its output at the form feeds it ends pages with.
func pages(t *testing.T, pdf []byte) []string {
	t.Helper()
	return strings.Split(mustText(t, pdf), "\f")
}

func write(t *testing.T, ns []parser.Notice, o Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, ns, o); err != nil {
		t.Fatalf("Write(%+v): %v", o, err)
	}
	return b.Bytes()
}

// TestEncodingsAndLayouts checks every text encoding under every layout: qpdf finds the file
// sound and pdftotext reads all six values of every page.
func TestEncodingsAndLayouts(t *testing.T) {
	ns := Samples()
	for _, e := range Encodings() {
		if e == Outlines {
			continue
		}
		for _, l := range []Layout{Table, Centered, Inline} {
			t.Run(e.String()+"/"+l.String(), func(t *testing.T) {
				pdf := write(t, ns, Options{Encoding: e, Layout: l})
				qpdfCheck(t, pdf)
				ps := pages(t, pdf)
				if len(ps) != len(ns)+1 { // a form feed after every page
					t.Fatalf("%d pages, want %d", len(ps)-1, len(ns))
				}
				for i, n := range ns {
					checkValues(t, ps[i], n, fmt.Sprintf("page %d", i+1))
				}
			})
		}
	}
}

// TestVariants checks every named variant (each option alone and in combination) the same way.
func TestVariants(t *testing.T) {
	ns := Samples()[1:3] // a wrapping name and a 16-character key
	for _, v := range Variants() {
		t.Run(v.Name, func(t *testing.T) {
			pdf := write(t, ns, v.Options)
			qpdfCheck(t, pdf)
			ps := pages(t, pdf)
			if v.Options.CoverPage {
				ps = ps[1:]
			}
			if len(ps) != len(ns)+1 {
				t.Fatalf("%d notice pages, want %d", len(ps)-1, len(ns))
			}
			for i, n := range ns {
				text := ps[i]
				checkValues(t, text, n, fmt.Sprintf("%s page %d", v.Name, i+1))
				for canon, l := range v.Options.Labels {
					if !strings.Contains(squash(text), l) {
						t.Errorf("%s: label %s printed as %q is missing:\n%s", v.Name, canon, l, text)
					}
				}
				if v.Options.Title != "" && !strings.Contains(squash(text), squash(v.Options.Title)) {
					t.Errorf("%s: title %q missing", v.Name, v.Options.Title)
				}
			}
		})
	}
}

func TestCoverPage(t *testing.T) {
	n := Samples()[0]
	pdf := write(t, []parser.Notice{n}, Options{CoverPage: true, Labels: map[string]string{LabelProject: "業務名"}})
	ps := pages(t, pdf)
	cover := squash(ps[0])
	if !strings.Contains(cover, squash("業務名："+n.ProjectName)) || !strings.Contains(cover, "提出書類") {
		t.Errorf("cover page lacks 業務名 or 提出書類: %s", cover)
	}
	if strings.Contains(cover, n.AuthKey) || strings.Contains(cover, n.ContractNumber) {
		t.Errorf("cover page shows the number or key: %s", cover)
	}
	checkValues(t, ps[1], n, "page 2")
}

// TestFormatting checks the printed forms of the number and key, not just their content.
func TestFormatting(t *testing.T) {
	n := Samples()[0]
	for _, c := range []struct {
		o            Options
		number, key  string
		wantInOutput []string
	}{
		{Options{HyphenNumber: true, Encoding: UCS2}, "2094-591510", "HR0E4FWKFQ", nil},
		{Options{FullWidthNumber: true, Encoding: RKSJ}, "２０９４５９１５１０", "ＨＲ０Ｅ４ＦＷＫＦＱ", nil},
		{Options{FullWidthNumber: true, HyphenNumber: true, Encoding: IdentityToUnicode}, "２０９４－５９１５１０", "ＨＲ０Ｅ４ＦＷＫＦＱ", nil},
	} {
		text := mustText(t, write(t, []parser.Notice{n}, c.o))
		flat := strings.Join(strings.Fields(text), "")
		if !strings.Contains(flat, c.number) || !strings.Contains(flat, c.key) {
			t.Errorf("%+v: want %q and %q printed, got:\n%s", c.o, c.number, c.key, text)
		}
	}
}

// TestNoText: outlines and scans show the notice but carry no text at all.
func TestNoText(t *testing.T) {
	n := Samples()[0]
	var img bytes.Buffer
	if err := ImageOnly(&img, n); err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(image.Rect(0, 0, 165, 234))
	for i := range g.Pix {
		g.Pix[i] = uint8(200 + i%50)
	}
	var jpg, scan bytes.Buffer
	if err := jpeg.Encode(&jpg, g, nil); err != nil {
		t.Fatal(err)
	}
	if err := ScanPDF(&scan, jpg.Bytes(), 20); err != nil {
		t.Fatal(err)
	}
	if doc := parser.ReadPDF(scan.Bytes()); len(doc.Problems) != 1 || doc.Problems[0].Code != parser.CodeNoText {
		t.Errorf("ScanPDF: %+v, want no_text", doc.Problems)
	}
	for name, pdf := range map[string][]byte{
		"scan":              scan.Bytes(),
		"outlines":          write(t, []parser.Notice{n}, Options{Encoding: Outlines}),
		"outlines-centered": write(t, []parser.Notice{n}, Options{Encoding: Outlines, Layout: Centered, FormXObject: true}),
		"image":             img.Bytes(),
	} {
		qpdfCheck(t, pdf)
		if text := mustText(t, pdf); strings.TrimSpace(text) != "" {
			t.Errorf("%s: pdftotext found text: %q", name, text)
		}
		if bytes.Contains(pdf, []byte("/Font")) && (name == "image" || name == "scan") {
			t.Errorf("%s: has a font", name)
		}
	}
	if !bytes.Contains(img.Bytes(), []byte("/Subtype /Image")) {
		t.Error("ImageOnly: no image XObject")
	}
}

// TestCertificate: the wrong document has the number but no key, under several encodings.
func TestCertificate(t *testing.T) {
	for _, n := range Samples()[:4] {
		for _, e := range []Encoding{UCS2, RKSJ, IdentityToUnicode, Type3ToUnicode} {
			var b bytes.Buffer
			if err := Certificate(&b, n, Options{Encoding: e}); err != nil {
				t.Fatal(err)
			}
			qpdfCheck(t, b.Bytes())
			text := squash(mustText(t, b.Bytes()))
			for _, want := range []string{"保証契約番号" + n.ContractNumber, "保証金額", "保証期間", "証書", n.ProjectName} {
				if !strings.Contains(text, squash(want)) {
					t.Errorf("Certificate(%s, %v) lacks %q:\n%s", n.ContractNumber, e, want, text)
				}
			}
			if strings.Contains(text, "認証キー") || strings.Contains(text, n.AuthKey) {
				t.Errorf("Certificate(%s, %v) shows 認証キー:\n%s", n.ContractNumber, e, text)
			}
		}
	}
}

func TestEncrypt(t *testing.T) {
	n := Samples()[2]
	plain := write(t, []parser.Notice{n}, Options{Encoding: RKSJ, Layout: Centered})

	locked, err := Encrypt(plain, "s3cret", "owner-pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pdftotext(t, locked); err == nil {
		t.Error("pdftotext read a user-password PDF without the password")
	}
	checkValues(t, mustText(t, locked, "-upw", "s3cret"), n, "with -upw")
	checkValues(t, mustText(t, locked, "-opw", "owner-pw"), n, "with -opw")
	qpdfCheck(t, locked, "--password=s3cret")
	if bytes.Contains(locked, []byte(n.AuthKey)) {
		t.Error("the key is in clear in the encrypted file")
	}

	ownerOnly, err := Encrypt(plain, "", "owner-pw")
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, mustText(t, ownerOnly), n, "owner password only")
	qpdfCheck(t, ownerOnly)
	needTool(t, "qpdf")
	out, err := exec.Command("qpdf", "--show-encryption", writeTemp(t, ownerOnly)).CombinedOutput()
	// pdfcpu writes AES-256 as revision 5 (qpdf writes 6); the reader must take both.
	if err != nil || !bytes.Contains(out, []byte("AESv3")) {
		t.Errorf("qpdf --show-encryption: %v\n%s", err, out)
	}

	// Every variant's output, streams in any filter, can be encrypted.
	for _, v := range Variants() {
		enc, err := Encrypt(write(t, Samples()[:1], v.Options), "", "o")
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		checkValues(t, mustText(t, enc), Samples()[0], v.Name+" encrypted")
	}
	if _, err := Encrypt([]byte("%PDF-1.4\nnot ours"), "a", "b"); err == nil {
		t.Error("Encrypt accepted a file it did not write")
	}
}

// TestManyGlyphs: more characters than one Type 3 font holds make a second font, as Chromium
// does, and the text still reads.
func TestManyGlyphs(t *testing.T) {
	var ns []parser.Notice
	// Each sample's name gets distinct kanji from the JIS level 1 range.
	r := rune(0x4e9c)
	for i := 0; i < 12; i++ {
		n := Samples()[i%4]
		var name []rune
		for len(name) < 24 {
			name = append(name, r)
			r++
		}
		n.ProjectName = string(name)
		ns = append(ns, n)
	}
	pdf := write(t, ns, Options{Encoding: Type3ToUnicode})
	if c := bytes.Count(pdf, []byte("/Subtype /Type3")); c < 2 {
		t.Errorf("%d Type 3 fonts, want at least 2", c)
	}
	qpdfCheck(t, pdf)
	ps := pages(t, pdf)
	for i, n := range ns {
		checkValues(t, ps[i], n, fmt.Sprintf("page %d", i+1))
	}
}

func TestErrors(t *testing.T) {
	n := Samples()[0]
	bad := n
	bad.ProjectName = "髙島①号線工事" // 髙 and ① are outside JIS X 0208
	if err := Write(&bytes.Buffer{}, []parser.Notice{bad}, Options{Encoding: EUC}); !errors.Is(err, ErrUnencodable) {
		t.Errorf("EUC with 髙①: err = %v, want ErrUnencodable", err)
	}
	if err := Write(&bytes.Buffer{}, []parser.Notice{bad}, Options{Encoding: RKSJ}); err != nil {
		t.Errorf("RKSJ (CP932) with 髙①: %v", err)
	}
	bad.ProjectName = "𠮷野家前道路工事" // outside the BMP
	if err := Write(&bytes.Buffer{}, []parser.Notice{bad}, Options{Encoding: UCS2}); !errors.Is(err, ErrUnencodable) {
		t.Errorf("UCS2 with 𠮷: err = %v, want ErrUnencodable", err)
	}
	for _, o := range []Options{
		{Rotate: 45},
		{Labels: map[string]string{"工事": "業務名"}},
		{Encoding: Outlines + 1},
		{Layout: Inline + 1},
	} {
		if err := Write(&bytes.Buffer{}, []parser.Notice{n}, o); err == nil {
			t.Errorf("Write(%+v) = nil, want an error", o)
		}
	}
	if err := Write(&bytes.Buffer{}, nil, Options{}); err == nil {
		t.Error("Write(no notices) = nil, want an error")
	}
}

// TestEUCBoilerplate: the EUC template prints (1) where the others print ①.
func TestEUCBoilerplate(t *testing.T) {
	text := mustText(t, write(t, Samples()[:1], Options{Encoding: EUC}))
	if !strings.Contains(text, "(1)電子契約システム") {
		t.Errorf("EUC page lacks the substituted (1):\n%s", text)
	}
}

func TestDeterministic(t *testing.T) {
	for _, v := range Variants() {
		a, b := write(t, Samples(), v.Options), write(t, Samples(), v.Options)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two writes differ", v.Name)
		}
	}
}

func TestProducer(t *testing.T) {
	pdf := write(t, Samples()[:1], Options{Producer: "Microsoft® Word for Microsoft 365"})
	needTool(t, "pdfinfo")
	out, err := exec.Command("pdfinfo", writeTemp(t, pdf)).Output()
	if err != nil || !strings.Contains(string(out), "Microsoft® Word for Microsoft 365") || !strings.Contains(string(out), DefaultTitle) {
		t.Errorf("pdfinfo: %v\n%s", err, out)
	}
}

func BenchmarkWrite(b *testing.B) {
	ns := Samples()[:1]
	for _, e := range Encodings() {
		b.Run(e.String(), func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := Write(&buf, ns, Options{Encoding: e}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
