package main

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hosho-intake/intake/samplemail"
	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/parser/sandbox"
)

// TestDamagedPDFs runs randomly damaged copies of three notices through the real isolated
// path: every file must get an answer (notices or a problem code), and parse must finish.
func TestDamagedPDFs(t *testing.T) {
	copies := 300
	if testing.Short() {
		copies = 60
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(2, 6))
	var originals [][]byte
	for _, enc := range []noticepdf.Encoding{noticepdf.UCS2, noticepdf.IdentityToUnicode, noticepdf.Type3ToUnicode} {
		var b bytes.Buffer
		if err := noticepdf.Write(&b, noticepdf.Samples()[:2], noticepdf.Options{Encoding: enc, NoCompress: enc == noticepdf.UCS2}); err != nil {
			t.Fatal(err)
		}
		originals = append(originals, b.Bytes())
	}
	files := make([]string, 0, copies+2)
	for i := 0; i < copies; i++ {
		f := filepath.Join(dir, fmt.Sprintf("d%03d.pdf", i))
		if err := os.WriteFile(f, damage(rng, originals[i%len(originals)]), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// The two files that make stock ledongthuc loop forever: a Pages tree that contains itself
	// and a page that is its own parent.
	for name, body := range map[string]string{
		"cycle-pages.pdf":  "1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj 2 0 obj <</Type/Pages/Kids[2 0 R]/Count 1>> endobj",
		"cycle-parent.pdf": "1 0 obj <</Type/Catalog/Pages 3 0 R>> endobj 3 0 obj <</Type/Page/Parent 3 0 R/Kids[3 0 R]>> endobj",
	} {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, minimalPDF(body), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	var out, errOut bytes.Buffer
	code := runCode(context.Background(), env{args: append([]string{"parse", "--json"}, files...), getenv: os.Getenv, stdout: &out, stderr: &errOut})
	if code != 0 {
		t.Fatalf("parse exit %d: %s", code, errOut.String())
	}
	outcomes := map[string]int{}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d results for %d files", len(lines), len(files))
	}
	for _, l := range lines {
		var r struct {
			Notices  []parser.Notice  `json:"notices"`
			Problems []parser.Problem `json:"problems"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Notices) == 0 && len(r.Problems) == 0 {
			t.Errorf("no notice and no problem: %s", l)
		}
		for _, p := range r.Problems {
			outcomes[p.Code]++
		}
		outcomes["notices"] += len(r.Notices)
	}
	t.Logf("%d damaged files: %v", len(files), outcomes)
}

// damage flips bytes, cuts the file or repeats a piece of it, as broken transfers and
// careless tools do.
func damage(rng *rand.Rand, src []byte) []byte {
	b := bytes.Clone(src)
	switch rng.IntN(4) {
	case 0:
		for range 1 + rng.IntN(20) {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
	case 1:
		b = b[:rng.IntN(len(b))]
	case 2:
		i, j := rng.IntN(len(b)), rng.IntN(len(b))
		lo, hi := min(i, j), max(i, j)
		b = append(b[:hi:hi], b[lo:]...)
	default:
		for range 1 + rng.IntN(5) {
			i := rng.IntN(len(b))
			b = append(b[:i:i], append([]byte("0 0 R<<>>[]"), b[i:]...)...)
		}
	}
	return b
}

// minimalPDF wraps object text in a header, an xref that points at each object and a
// trailer, so that the reader gets as far as the page tree.
func minimalPDF(objects string) []byte { return minimalPDFTrailer(objects, false) }

// minimalPDFTrailer is minimalPDF; with prevSelf the trailer names its own xref section
// as the previous one, a loop.
func minimalPDFTrailer(objects string, prevSelf bool) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offsets []int
	for _, part := range strings.SplitAfter(objects, "endobj") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		offsets = append(offsets, b.Len())
		b.WriteString(strings.TrimSpace(part) + "\n")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	prev := ""
	if prevSelf {
		prev = fmt.Sprintf("/Prev %d", xref)
	}
	fmt.Fprintf(&b, "trailer <</Size %d/Root 1 0 R%s>>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, prev, xref)
	return b.Bytes()
}

// TestHostileCorpus generates hostile files (flate and ZIP bombs, reference cycles, an
// object stream that contains itself, deep nesting, slow PDFs in bulk, huge headers, lying
// encodings) and runs them through `parse` with the real isolated readers under a 1 s
// timeout: each must end with a problem code, slow mails with too_slow, and this process
// must stay far below the readers' memory limit.
func TestHostileCorpus(t *testing.T) {
	dir := t.TempDir()
	zeros := func(n int) []byte { return make([]byte, n) }
	flate := func(data []byte) []byte {
		var b bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
		zw.Write(data)
		zw.Close()
		return b.Bytes()
	}
	bomb := flate(bytes.Repeat([]byte("BT /F1 9 Tf (A) Tj ET\n"), 200<<20/22))
	mailOf := func(subject string, header map[string]string, body string, parts ...samplemail.Attachment) []byte {
		raw, err := samplemail.Mail{From: "x@attacker.example", To: "denshi-shosho@pref.shimane.example", Subject: subject,
			Header: header, Body: body, Attachments: parts}.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	zipOf := func(files ...samplemail.Attachment) []byte {
		z, err := samplemail.Zip(files)
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	var slow []samplemail.Attachment
	for i := range 60 {
		slow = append(slow, samplemail.Attachment{Name: fmt.Sprintf("s%02d.pdf", i), Data: slowPDF(5000 + i)})
	}
	manyFields := map[string]string{}
	for i := range 20000 {
		manyFields[fmt.Sprintf("X-Junk-%05d", i)] = strings.Repeat("j", 40)
	}
	cases := []struct {
		name string
		data []byte
		want string // a problem code the file must get; "" for any
	}{
		{"flate-bomb.pdf", minimalPDF("1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj 2 0 obj <</Type/Pages/Kids[3 0 R]/Count 1>> endobj " +
			"3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 600 800]/Contents 4 0 R>> endobj " +
			fmt.Sprintf("4 0 obj <</Length %d/Filter/FlateDecode>> stream\n", len(bomb)) + string(bomb) + "\nendstream endobj"), ""},
		{"pages-share-a-bomb.pdf", minimalPDF("1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj 2 0 obj <</Type/Pages/Kids[" +
			strings.Repeat("3 0 R ", 50) + "]/Count 50>> endobj 3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 600 800]/Contents 4 0 R>> endobj " +
			fmt.Sprintf("4 0 obj <</Length %d/Filter/FlateDecode>> stream\n", len(bomb)) + string(bomb) + "\nendstream endobj"), ""},
		{"xref-loop.pdf", slowPDF(1), parser.CodeCorrupt},
		{"objstm-contains-itself.pdf", minimalPDF("1 0 obj <</Type/Catalog/Pages 5 0 R>> endobj " +
			"2 0 obj <</Type/ObjStm/N 1/First 4/Extends 2 0 R/Length 9>> stream\n5 0 2 0 R\nendstream endobj"), ""},
		{"page-is-own-kid.pdf", minimalPDF("1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj 2 0 obj <</Type/Pages/Kids[2 0 R 2 0 R]/Count 99999>> endobj"), ""},
		{"deep-arrays.pdf", minimalPDF("1 0 obj <</Type/Catalog/Pages 2 0 R/X " + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) +
			">> endobj 2 0 obj <</Type/Pages/Kids[]/Count 0>> endobj"), ""},
		{"deep-dicts.pdf", minimalPDF("1 0 obj <</Type/Catalog/Pages 2 0 R/X " + strings.Repeat("<</A ", 100000) + strings.Repeat(">>", 100000) +
			">> endobj 2 0 obj <</Type/Pages/Kids[]/Count 0>> endobj"), ""},
		{"page-tree-dag.pdf", pageDAG(40), ""},
		{"over-the-reader-limit.pdf", nil, parser.CodeTooLarge}, // written sparse below
		{"slow-pdfs.eml", mailOf("認証キー", nil, "添付します。", slow...), parser.CodeTooSlow},
		{"slow-pdfs-in-zip.eml", mailOf("認証キー", nil, "添付します。", samplemail.Attachment{Name: "k.zip", ContentType: "application/zip", Data: zipOf(slow...)}), parser.CodeTooSlow},
		{"zip-bomb.eml", mailOf("zip", nil, "添付します。", samplemail.Attachment{Name: "k.zip", ContentType: "application/zip",
			Data: zipOf(samplemail.Attachment{Name: "a.pdf", Data: zeros(200 << 20)})}), parser.CodeTooLarge},
		{"zip-of-zips.eml", mailOf("zip", nil, "添付します。", samplemail.Attachment{Name: "k.zip", ContentType: "application/zip",
			Data: nestedZip(t, 30)}), ""},
		{"huge-header-line.eml", mailOf(strings.Repeat("認証キー", 500000), nil, "本文"), ""},
		{"many-header-fields.eml", mailOf("fields", manyFields, "本文"), ""},
		{"lying-charset.eml", []byte("From: x@attacker.example\r\nTo: a@pref.shimane.example\r\nSubject: =?x-nonsense?B?gqCCoA==?=\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
			"\xe4\xbf\x9d\xe8\xa8\xbc\x1b$B\xff\xfe\x1b(B\x80\x81 保証契約番号 207\r\n"), ""},
		{"lying-transfer-encoding.eml", []byte("From: x@attacker.example\r\nTo: a@pref.shimane.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf; name*=utf-8''%ZZ%E3.pdf\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64 at all!!!\r\n--b\r\nContent-Type: text/plain; charset=\"shift_jis\"\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n=E3=8=ZZ=\r\n--b--\r\n"), ""},
	}
	var files []string
	for _, c := range cases {
		f := filepath.Join(dir, c.name)
		if err := os.WriteFile(f, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if c.data == nil {
			if err := os.Truncate(f, sandbox.MaxFileSize+1); err != nil {
				t.Fatal(err)
			}
		}
		files = append(files, f)
	}
	var out, errOut bytes.Buffer
	code := runCode(context.Background(), env{args: append([]string{"parse", "--json", "--timeout", "1s", "--workers", "2"}, files...),
		getenv: os.Getenv, stdout: &out, stderr: &errOut})
	if code != 0 {
		t.Fatalf("parse exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d results for %d files", len(lines), len(cases))
	}
	for i, l := range lines {
		var r struct {
			Problems []parser.Problem `json:"problems"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, p := range r.Problems {
			codes = append(codes, p.Code)
		}
		if len(codes) == 0 || cases[i].want != "" && !slices.Contains(codes, cases[i].want) {
			t.Errorf("%s: problems %v, want %q", cases[i].name, codes, cmp.Or(cases[i].want, "any code"))
		}
		t.Logf("%s: %v", cases[i].name, codes)
	}
	// The readers are bounded by their own limit; this process holds at most one file
	// and the decoded parts of one message at a time per worker.
	if hwm := peakResident(t); hwm > 1<<30 {
		t.Errorf("this process peaked at %d MiB resident, want well under 1 GiB", hwm>>20)
	}
}

// pageDAG is a page tree of depth n in which each node names its child twice: 2^n leaves
// from n objects, a billion-laughs for page counting.
func pageDAG(n int) []byte {
	var b strings.Builder
	b.WriteString("1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj ")
	for i := range n {
		fmt.Fprintf(&b, "%d 0 obj <</Type/Pages/Kids[%d 0 R %d 0 R]/Count 1000000>> endobj ", i+2, i+3, i+3)
	}
	fmt.Fprintf(&b, "%d 0 obj <</Type/Page/MediaBox[0 0 6 8]>> endobj", n+2)
	return minimalPDF(b.String())
}

// nestedZip is a ZIP of a ZIP ... depth deep, with a PDF name at the bottom.
func nestedZip(t *testing.T, depth int) []byte {
	t.Helper()
	data := []byte("%PDF-1.4 not really")
	name := "n.pdf"
	for i := range depth {
		z, err := samplemail.Zip([]samplemail.Attachment{{Name: name, Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		data, name = z, fmt.Sprintf("z%d.zip", i)
	}
	return data
}

// peakResident is this process's peak resident set (VmHWM, proc(5)).
func peakResident(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
