package verifier

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"hosho-intake/parser"
	"hosho-intake/parser/testkit"
)

// truthNotice is a notice of a sample's .truth.json (schema ninsho-key-corpus/1).
type truthNotice struct {
	Category          *string  `json:"category"`
	ContractNumber    *string  `json:"contract_number"`
	AuthKey           *string  `json:"auth_key"`
	ProjectName       *string  `json:"project_name"`
	Orderer           *string  `json:"orderer"`
	Guarantor         *string  `json:"guarantor"`
	Eligible          *bool    `json:"eligible"`
	IneligibleReasons []string `json:"ineligible_reasons"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestSamples judges every notice of the shared samples under every preset: the
// guarantor and category judgement must agree with the truth's eligible and
// ineligible_reasons, and the orderer judgement with the preset's 発注者.
func TestSamples(t *testing.T) {
	samplesDir := testkit.Samples(t)
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*", "*.truth.json"))
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no samples in %s", samplesDir)
		}
		t.Skipf("no samples in %s", samplesDir)
	}
	ours := map[string]string{
		"島根県知事": "shimane",
		"鳥取県建設技術センター理事長": "tottori-ctc",
		"国土交通省中国地方整備局長":  "mlit",
	}
	count := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var truth struct {
			Notices       []truthNotice `json:"notices"`
			UnreadNotices []truthNotice `json:"unread_notices"`
		}
		if err := json.Unmarshal(data, &truth); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for i, tn := range append(truth.Notices, truth.UnreadNotices...) {
			count++
			n := parser.Notice{
				Category: str(tn.Category), ContractNumber: str(tn.ContractNumber), AuthKey: str(tn.AuthKey),
				ProjectName: str(tn.ProjectName), Orderer: str(tn.Orderer), Guarantor: str(tn.Guarantor),
			}
			for _, name := range PresetNames() {
				p, err := Preset(name)
				if err != nil {
					t.Fatal(err)
				}
				d := p.Judge(n, Context{})
				where := fmt.Sprintf("%s notice %d under %s", filepath.Base(file), i+1, name)
				has := func(r string) bool { return slices.Contains(d.Reasons, r) }

				wantCategory := slices.Contains(tn.IneligibleReasons, "category")
				// shimane alone refuses anything but 前払金保証 for a 業務 (DESIGN.md).
				if name == "shimane" && d.Kind == KindServices && n.Category != "" && n.Category != CategoryAdvance {
					wantCategory = true
				}
				if has(ReasonCategoryNotEligible) != wantCategory {
					t.Errorf("%s: %+v: category_not_eligible = %v, want %v", where, d, has(ReasonCategoryNotEligible), wantCategory)
				}
				if want := slices.Contains(tn.IneligibleReasons, "guarantor"); has(ReasonGuarantorNotEligible) != want {
					t.Errorf("%s: %+v: guarantor_not_eligible = %v, want %v", where, d, has(ReasonGuarantorNotEligible), want)
				}
				if tn.Eligible == nil && d.Outcome == OutcomeQueued {
					t.Errorf("%s: eligible null (no 区分 or 保証機関) but %+v", where, d)
				}
				if n.Orderer == "" {
					if !slices.Contains(d.Missing, MissingOrderer) || has(ReasonOrdererMismatch) {
						t.Errorf("%s: no orderer: %+v, want it missing, not mismatched", where, d)
					}
				} else if want := ours[n.Orderer] != name; has(ReasonOrdererMismatch) != want {
					t.Errorf("%s: orderer %s: orderer_mismatch = %v, want %v", where, n.Orderer, has(ReasonOrdererMismatch), want)
				}
				// The samples state no contract dates: every one is unconfirmed or rejected.
				if d.Outcome == OutcomeQueued && !has(ReasonStartDateUnconfirmed) {
					t.Errorf("%s: queued with a confirmed start date: %+v", where, d)
				}
			}
		}
	}
	t.Logf("%d sample notices judged under %d presets", count, len(PresetNames()))
}
