package ocr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/unicode/norm"

	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/parser/testkit"
)

// needTools skips without tesseract, jpn data, or the rasterising tools; under CI=true it
// fails instead, as the Dovecot tests do.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	missing := ""
	if err := Check(context.Background(), Options{}); err != nil {
		missing = err.Error()
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil && missing == "" {
			missing = tool + " is not installed"
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI needs: tesseract-ocr tesseract-ocr-jpn poppler-utils imagemagick img2pdf ghostscript)", missing)
	}
	t.Skip(missing)
}

func sh(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// kinds turn a real producer's notice (notice.pdf, read in place from the corpus) into what
// reaches us: its glyphs as outlines (Ghostscript), or its page rasterised, which leaves no
// text layer. Each writes out.pdf or out.jpg; a JPEG goes to Read as an attached image.
// (The rasterising kinds render the producer's file itself, as a scanner or a sanitiser
// does: Ghostscript draws nothing for sp01's non-embedded Helvetica, so outlining first
// would have erased sp01's number and key from every kind.)
var kinds = []struct{ name, script string }{
	{"outlines-gs", "gs -q -dNOPAUSE -dBATCH -dSAFER -sDEVICE=pdfwrite -dNoOutputFonts -sOutputFile=out.pdf notice.pdf"},
	{"pdftoppm110-q70-img2pdf", "pdftoppm -r 110 -gray -png -singlefile notice.pdf p && convert p.png -quality 70 p.jpg && img2pdf -o out.pdf p.jpg"},
	{"pdftoppm200-q50-img2pdf", "pdftoppm -r 200 -gray -png -singlefile notice.pdf p && convert p.png -quality 50 p.jpg && img2pdf -o out.pdf p.jpg"},
	{"scan300-skew-noise-q40", "pdftoppm -r 300 -gray -png -singlefile notice.pdf p && convert p.png -background white -rotate 1.5 -attenuate 0.4 +noise Gaussian -quality 40 p.jpg && img2pdf -o out.pdf p.jpg"},
	{"photo-perspective-jpeg", "pdftoppm -r 200 -gray -png -singlefile notice.pdf p && convert p.png -background white -virtual-pixel white " +
		"-distort Perspective '0,0 30,20  1653,0 1610,0  0,2339 0,2339  1653,2339 1653,2300' -attenuate 0.2 +noise Gaussian -quality 60 out.jpg"},
}

// tally counts a field as shown: exact, unsure (unsureRight of them with the right value,
// flagged all the same), or wrong and shown as certain.
type tally struct{ exact, unsure, unsureRight, wrong int }

// TestRasterised reads notices in real fonts (text PDFs of the shared corpus, read in
// place) turned into outlines by Ghostscript and rasterised the ways the world does it
// (issue 12), and counts per kind and field: exact, unsure, wrong. A wrong 保証契約番号 or
// 認証キー shown as certain fails the test; the counts are logged for the closing note.
// (noticepdf's Outlines fixture draws bar codes of glyph ids, not glyph shapes: no OCR reads
// it, and TestFixtureOutlines only checks it stays no_text.)
func TestRasterised(t *testing.T) {
	needTools(t, "gs", "convert", "img2pdf", "pdftoppm")
	dir0 := testkit.Samples(t)
	type sample struct {
		file string
		n    parser.Notice
	}
	var samples []sample
	files := []string{"sp01-west-reportlab-cid", "sp03-east-libreoffice-fullwidth-number", "sp04-hokkaido-chromium-16char-hyphen"}
	if os.Getenv("HOSHO_OCR_FULL") == "" {
		// Every kind on one notice keeps the test inside CI's time (an OCR'd page takes 3-8 s
		// on these 2 cores); HOSHO_OCR_FULL=1 runs all three for the figures.
		files = files[1:2]
	}
	for _, name := range files {
		var tr struct {
			Notices []parser.Notice `json:"notices"`
		}
		b, err := os.ReadFile(filepath.Join(dir0, "pdf", name+".truth.json"))
		if err != nil || json.Unmarshal(b, &tr) != nil || len(tr.Notices) != 1 {
			t.Fatalf("truth of %s: %v", name, err)
		}
		samples = append(samples, sample{filepath.Join(dir0, "pdf", name+".pdf"), tr.Notices[0]})
	}
	fields := []string{"category", "contract_number", "auth_key", "project_name", "orderer", "guarantor"}
	counts := map[string]map[string]*tally{}
	var mu sync.Mutex
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, k := range kinds {
		counts[k.name] = map[string]*tally{}
		for _, f := range fields {
			counts[k.name][f] = &tally{}
		}
		for i, smp := range samples {
			n := smp.n
			dir := t.TempDir()
			sh(t, dir, "cp '"+smp.file+"' notice.pdf")
			sh(t, dir, k.script)
			if k.name != "outlines-gs" {
				// Nothing of the text layer may be left: OCR must be what reads it.
				if data, err := os.ReadFile(filepath.Join(dir, "out.pdf")); err == nil && len(parser.ReadPDF(data).Notices) > 0 {
					t.Fatalf("%s of %s kept a text layer", k.name, smp.file)
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				data, err := os.ReadFile(filepath.Join(dir, "out.pdf"))
				if err != nil {
					data, _ = os.ReadFile(filepath.Join(dir, "out.jpg"))
				}
				doc := Read(context.Background(), data, parser.ReadPDF(data), Options{})
				mu.Lock()
				defer mu.Unlock()
				if len(doc.Notices) != 1 {
					t.Logf("%s #%d: no notice read: %+v", k.name, i, doc.Problems)
					for _, f := range fields {
						counts[k.name][f].unsure++
					}
					return
				}
				got := doc.Notices[0]
				want := map[string]string{"category": n.Category, "contract_number": n.ContractNumber, "auth_key": n.AuthKey,
					"project_name": n.ProjectName, "orderer": n.Orderer, "guarantor": n.Guarantor}
				have := map[string]string{"category": got.Category, "contract_number": got.ContractNumber, "auth_key": got.AuthKey,
					"project_name": got.ProjectName, "orderer": got.Orderer, "guarantor": got.Guarantor}
				for _, f := range fields {
					c := counts[k.name][f]
					switch {
					case got.UnsureField(f):
						c.unsure++
						if norm.NFKC.String(have[f]) == norm.NFKC.String(want[f]) {
							c.unsureRight++
						}
					case norm.NFKC.String(have[f]) == norm.NFKC.String(want[f]):
						c.exact++
					default:
						c.wrong++
						// 工事名 is never certain from an image alone (the register settles it in intake).
						if f == "auth_key" || f == "contract_number" || f == "project_name" {
							t.Errorf("%s #%d: %s = %q shown as certain, want %q", k.name, i, f, have[f], want[f])
						} else {
							t.Logf("%s #%d: %s = %q shown as certain, want %q", k.name, i, f, have[f], want[f])
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var b strings.Builder
		for _, f := range fields {
			c := counts[k][f]
			fmt.Fprintf(&b, " %s %d/%d(%d)/%d", f, c.exact, c.unsure, c.unsureRight, c.wrong)
		}
		t.Logf("%-26s exact/unsure(of which right)/wrong:%s", k, b.String())
	}
}

// TestFixtureOutlines: the fixture's outlined glyphs are not letters; OCR must leave the file
// no_text, never invent a notice.
func TestFixtureOutlines(t *testing.T) {
	needTools(t)
	var buf bytes.Buffer
	if err := noticepdf.Write(&buf, noticepdf.Samples()[:1], noticepdf.Options{Encoding: noticepdf.Outlines}); err != nil {
		t.Fatal(err)
	}
	doc := Read(context.Background(), buf.Bytes(), parser.ReadPDF(buf.Bytes()), Options{})
	if len(doc.Notices) != 0 || len(doc.Problems) != 1 || doc.Problems[0].Code != parser.CodeNoText {
		t.Errorf("Read(outlines fixture) = %+v, want only no_text", doc)
	}
}
