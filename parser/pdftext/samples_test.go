package pdftext

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"hosho-intake/parser/testkit"
)

type truth struct {
	Problems []string `json:"problems"`
	Notices  []struct {
		Category       string `json:"category"`
		ContractNumber string `json:"contract_number"`
		AuthKey        string `json:"auth_key"`
		ProjectName    string `json:"project_name"`
		Orderer        string `json:"orderer"`
		Guarantor      string `json:"guarantor"`
		Page           int    `json:"page"`
	} `json:"notices"`
}

// radicals folds the CJK Radicals Supplement code points wkhtmltopdf's ToUnicode maps emit
// and NFKC leaves alone (the Kangxi block U+2F00 NFKC folds itself). The lead's normaliser
// uses the full EquivalentUnifiedIdeograph table; this is the handful the samples carry.
var radicals = strings.NewReplacer("⻄", "西", "⻑", "長", "⻘", "青", "⻣", "骨", "⻤", "鬼", "⻝", "食", "⺠", "民", "⻟", "食")

func comparable(s string) string {
	s = radicals.Replace(norm.NFKC.String(s))
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return r
	}, s)
	return s
}

func pageText(p Page) string {
	var b strings.Builder
	for _, l := range p.Lines {
		for _, s := range l.Spans {
			b.WriteString(s.Text)
		}
	}
	return comparable(b.String())
}

// columnText reads the spans column by column (same left edge, top to bottom): a value
// wrapped inside a table cell, with its label vertically centred between the two lines,
// comes out whole this way.
func columnText(p Page) string {
	var cols []float64
	byCol := map[int][]string{}
	for _, l := range p.Lines {
		for _, s := range l.Spans {
			c := -1
			for i, x := range cols {
				if x-2 < s.X0 && s.X0 < x+2 {
					c = i
				}
			}
			if c < 0 {
				cols = append(cols, s.X0)
				c = len(cols) - 1
			}
			byCol[c] = append(byCol[c], s.Text)
		}
	}
	var b strings.Builder
	for i := range cols {
		b.WriteString(strings.Join(byCol[i], ""))
		b.WriteString("\n")
	}
	return comparable(b.String())
}

func TestSamples(t *testing.T) {
	samplesDir := testkit.Samples(t, "pdf")
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.pdf"))
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no samples in %s", samplesDir)
		}
		t.Skipf("no samples in %s", samplesDir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pdf")
		t.Run(name, func(t *testing.T) {
			var tr truth
			b, err := os.ReadFile(filepath.Join(samplesDir, name+".truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &tr); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pages, err := Read(data, DefaultLimits())
			problems := strings.Join(tr.Problems, ",")
			switch {
			case strings.Contains(problems, "not_pdf"):
				if !errors.Is(err, ErrNotPDF) {
					t.Errorf("Read = %v, want ErrNotPDF", err)
				}
				return
			case strings.Contains(problems, "encrypted"):
				if !errors.Is(err, ErrEncrypted) {
					t.Errorf("Read = %v, want ErrEncrypted", err)
				}
				return
			case strings.Contains(problems, "corrupt"):
				if err == nil {
					for _, p := range pages {
						if len(p.Lines) > 0 {
							t.Errorf("Read of a corrupt file = nil error and text on page %d", p.Number)
						}
					}
				} else if !errors.Is(err, ErrCorrupt) {
					t.Errorf("Read = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read = %v", err)
			}
			if strings.Contains(problems, "no_text") {
				for _, p := range pages {
					if p.Glyphs-p.Undecodable > 0 {
						t.Errorf("page %d of an image-only file has %d glyphs", p.Number, p.Glyphs)
					}
				}
			}
			for _, n := range tr.Notices {
				if n.Page < 1 || n.Page > len(pages) {
					t.Errorf("notice on page %d, file has %d pages", n.Page, len(pages))
					continue
				}
				text := pageText(pages[n.Page-1])
				cols := columnText(pages[n.Page-1])
				for field, v := range map[string]string{
					"category": n.Category, "contract_number": n.ContractNumber, "auth_key": n.AuthKey,
					"project_name": n.ProjectName, "orderer": n.Orderer, "guarantor": n.Guarantor,
				} {
					if v != "" && !strings.Contains(text, comparable(v)) && !strings.Contains(cols, comparable(v)) {
						t.Errorf("page %d: %s %q not in text %q", n.Page, field, v, text)
					}
				}
				if p := pages[n.Page-1]; p.Undecodable > 0 || p.Doubtful > 0 || p.Damaged > 0 {
					t.Errorf("page %d: %d undecodable, %d doubtful glyphs, %d damaged streams", n.Page, p.Undecodable, p.Doubtful, p.Damaged)
				}
			}
		})
	}
}
