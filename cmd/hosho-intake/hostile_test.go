package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
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
	code := run(context.Background(), env{args: append([]string{"parse", "--json"}, files...), getenv: os.Getenv, stdout: &out, stderr: &errOut})
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
