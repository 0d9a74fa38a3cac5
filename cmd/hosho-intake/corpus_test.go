package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"hosho-intake/parser/testkit"
)

// TestMain lets the test binary serve as its own PDF worker, as the real binary does, and
// as the real binary in end-to-end tests that start it as a process (HOSHO_TEST_MAIN=1).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "pdf-worker" || os.Getenv("HOSHO_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

type truthNotice struct {
	Category       *string `json:"category"`
	ContractNumber *string `json:"contract_number"`
	AuthKey        *string `json:"auth_key"`
	ProjectName    *string `json:"project_name"`
	Orderer        *string `json:"orderer"`
	Guarantor      *string `json:"guarantor"`
}

type truth struct {
	File     string        `json:"file"`
	Notices  []truthNotice `json:"notices"`
	Problems []string      `json:"problems"`
}

// TestCorpus runs `parse --json` over every sample through the real isolated path and
// compares each file's notices and problem codes with its .truth.json.
func TestCorpus(t *testing.T) {
	dir := testkit.Samples(t)
	var files []string
	truths := map[string]truth{}
	for _, sub := range []string{"pdf", "eml"} {
		names, err := filepath.Glob(filepath.Join(dir, sub, "*.truth.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range names {
			tr := readTruth(t, tn)
			f := filepath.Join(dir, sub, tr.File)
			files = append(files, f)
			truths[f] = tr
		}
	}
	if len(files) < 40 {
		t.Fatalf("found only %d samples in %s", len(files), dir)
	}
	var out, errOut bytes.Buffer
	code := runCode(context.Background(), env{args: append([]string{"parse", "--json"}, files...), getenv: os.Getenv,
		stdout: &out, stderr: &errOut})
	if code != 0 {
		t.Fatalf("parse exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(files) {
		t.Fatalf("got %d result lines for %d files", len(lines), len(files))
	}
	passed := 0
	for _, l := range lines {
		var got struct {
			File     string        `json:"file"`
			Notices  []truthNotice `json:"notices"`
			Problems []struct {
				Code string `json:"code"`
			} `json:"problems"`
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("bad JSON line %s: %v", l, err)
		}
		tr, ok := truths[got.File]
		if !ok {
			t.Errorf("result for unknown file %s", got.File)
			continue
		}
		name := filepath.Base(got.File)
		ok = true
		var codes []string
		for _, p := range got.Problems {
			codes = append(codes, p.Code)
		}
		if a, b := codeSet(codes), codeSet(tr.Problems); a != b {
			t.Errorf("%s: problems %s, want %s", name, a, b)
			ok = false
		}
		if len(got.Notices) != len(tr.Notices) {
			t.Errorf("%s: %d notices %s, want %d %s", name, len(got.Notices), show(got.Notices), len(tr.Notices), show(tr.Notices))
			continue
		}
		for i := range tr.Notices {
			if g, w := show([]truthNotice{got.Notices[i]}), show([]truthNotice{tr.Notices[i]}); g != w {
				t.Errorf("%s: notice %d\n got %s\nwant %s", name, i, g, w)
				ok = false
			}
		}
		if ok {
			passed++
		}
	}
	t.Logf("%d of %d samples read exactly as their truth", passed, len(files))
}

func codeSet(codes []string) string {
	sort.Strings(codes)
	return "[" + strings.Join(codes, ",") + "]"
}

// show renders notices for comparison. 工事名 and 発注者 are compared exactly: they are
// displayed as written (DESIGN.md's parse contract), so a full-width 「（第2工区）」 must stay
// full-width. The other values are compared after NFKC, as the truth's README allows.
func show(ns []truthNotice) string {
	var b strings.Builder
	for _, n := range ns {
		for i, v := range []*string{n.Category, n.ContractNumber, n.AuthKey, n.ProjectName, n.Orderer, n.Guarantor} {
			switch exact := i == 3 || i == 4; {
			case v == nil:
				b.WriteString("<null> ")
			case exact:
				b.WriteString(*v + " ")
			default:
				b.WriteString(norm.NFKC.String(*v) + " ")
			}
		}
		b.WriteString("; ")
	}
	return b.String()
}
