package verifier

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hosho-intake/config"
	"hosho-intake/parser"
)

var sureties = []string{parser.WestJapan, parser.EastJapan, parser.Hokkaido}

// TestPresets checks the embedded rule files against DESIGN.md's table of presets.
func TestPresets(t *testing.T) {
	if got, want := PresetNames(), []string{"mlit", "shimane", "tottori-ctc"}; !slices.Equal(got, want) {
		t.Fatalf("PresetNames() = %v, want %v", got, want)
	}
	all := []string{CategoryContract, CategoryAdvance, CategoryIntermediateAdvance}
	want := map[string]Policy{
		"shimane": {Name: "shimane", Version: "1", Orderers: []string{"島根県知事"}, Guarantors: sureties,
			Works: all, Services: []string{CategoryAdvance}, StartDate: date(2023, 6, 1),
			DateBasis: BasisOriginalContract, ExcludeChangeContracts: true},
		"tottori-ctc": {Name: "tottori-ctc", Version: "1", Orderers: []string{"*鳥取県建設技術センター理事長"}, Guarantors: sureties,
			Works: all, Services: all, StartDate: date(2025, 10, 1), DateBasis: BasisTenderNotice},
		"mlit": {Name: "mlit", Version: "1", Orderers: []string{"*国土交通省*", "*地方整備局*", "*北海道開発局*"}, Guarantors: sureties,
			Works: all, Services: all, StartDate: date(2022, 5, 1), DateBasis: BasisContract},
	}
	for name, w := range want {
		p, err := Preset(name)
		if err != nil {
			t.Fatalf("Preset(%q): %v", name, err)
		}
		if !equalPolicy(p, w) {
			t.Errorf("Preset(%q) = %+v, want %+v", name, p, w)
		}
	}
	if _, err := Preset("tottori"); !errors.Is(err, ErrUnknownPreset) {
		t.Errorf("Preset(tottori) = %v, want ErrUnknownPreset", err)
	}
}

func equalPolicy(a, b Policy) bool {
	return a.Name == b.Name && a.Version == b.Version && slices.Equal(a.Orderers, b.Orderers) &&
		slices.Equal(a.Guarantors, b.Guarantors) && slices.Equal(a.Works, b.Works) && slices.Equal(a.Services, b.Services) &&
		a.StartDate == b.StartDate && a.DateBasis == b.DateBasis && a.ExcludeChangeContracts == b.ExcludeChangeContracts
}

const customRules = `
name = "hiroshima-ken"
version = "2025-04"
orderers = ["広島県知事"]
guarantors = ["西日本建設業保証株式会社", "東日本建設業信用保証"] # the misspelling is read through the aliases
works_categories = ["契約保証", "前払金保証", "中間前払金保証"]
services_categories = ["前払金保証"]
start_date = 2024-04-01
date_basis = "入札公告日"
`

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy([]byte(customRules))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "hiroshima-ken" || p.Version != "2025-04" || !slices.Equal(p.Guarantors, []string{parser.WestJapan, parser.EastJapan}) ||
		p.StartDate != date(2024, 4, 1) || p.DateBasis != BasisTenderNotice || p.ExcludeChangeContracts {
		t.Errorf("ParsePolicy = %+v", p)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct{ edit, want string }{
		{`guarantors = ["株式会社山陰合同銀行"]`, `"株式会社山陰合同銀行" is not one of`},
		{`works_categories = ["契約保証予約"]`, `unknown category "契約保証予約"`},
		{`date_basis = "落札日"`, `date_basis: "落札日"`},
		{`start_date = "June"`, `start_date`},
		{`orderers = ["*"]`, `matches every orderer`},
		{`orderer = ["広島県知事"]`, `unknown keys orderer`},
		{`version = ""`, `version: required`},
	}
	for _, tt := range tests {
		key, _, _ := strings.Cut(tt.edit, " = ")
		var lines []string
		for _, l := range strings.Split(customRules, "\n") {
			if !strings.HasPrefix(l, key+" =") {
				lines = append(lines, l)
			}
		}
		lines = append(lines, tt.edit)
		_, err := ParsePolicy([]byte(strings.Join(lines, "\n")))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePolicy with %s = %v, want an error containing %q", tt.edit, err, tt.want)
		}
	}
	// Every problem at once.
	_, err := ParsePolicy([]byte(`name = "x"`))
	for _, k := range []string{"version", "orderers", "guarantors", "works_categories", "start_date", "date_basis"} {
		if err == nil || !strings.Contains(err.Error(), k+":") {
			t.Errorf("ParsePolicy(name only) = %v, want it to name %s", err, k)
		}
	}
}

func TestFromConfig(t *testing.T) {
	inline := config.Policy{
		Name: "custom", Version: "1", Orderers: []string{"広島県知事"}, Guarantors: sureties,
		WorksCategories: []string{CategoryAdvance}, StartDate: date(2024, 4, 1), DateBasis: BasisContract,
	}
	p, err := FromConfig(inline)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "custom" || !slices.Equal(p.Works, []string{CategoryAdvance}) || len(p.Services) != 0 {
		t.Errorf("FromConfig(inline) = %+v", p)
	}

	file := filepath.Join(t.TempDir(), "hiroshima.toml")
	if err := os.WriteFile(file, []byte(customRules), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err = FromConfig(config.Policy{File: file})
	if err != nil || p.Name != "hiroshima-ken" {
		t.Errorf("FromConfig(file) = %+v, %v", p, err)
	}
	if _, err := FromConfig(config.Policy{File: file + ".missing"}); err == nil {
		t.Error("FromConfig(missing file) = nil error")
	}
	inline.DateBasis = ""
	if _, err := FromConfig(inline); err == nil || !strings.Contains(err.Error(), "policy: date_basis") {
		t.Errorf("FromConfig(no basis) = %v, want a date_basis error", err)
	}
}

// TestPresetFilesParseAsConfig: the presets are written with config.Policy's keys, so an
// admin can copy one into a file for [policy] file.
func TestPresetFilesParseAsConfig(t *testing.T) {
	for _, name := range PresetNames() {
		p, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		q, err := FromConfig(config.Policy{
			Name: p.Name, Version: p.Version, Orderers: p.Orderers, Guarantors: p.Guarantors,
			WorksCategories: p.Works, ServicesCategories: p.Services, StartDate: p.StartDate,
			DateBasis: p.DateBasis, ExcludeChangeContracts: p.ExcludeChangeContracts,
		})
		if err != nil || !equalPolicy(p, q) {
			t.Errorf("%s through config.Policy = %+v, %v; want %+v", name, q, err, p)
		}
	}
}
