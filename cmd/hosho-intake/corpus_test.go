package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
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
	// Unread are the notices of an image-only item: what OCR must read exactly or flag.
	Unread []truthNotice `json:"unread_notices"`
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
		var marks struct {
			Notices []struct {
				Source string   `json:"source"`
				Unsure []string `json:"unsure"`
			} `json:"notices"`
		}
		json.Unmarshal([]byte(l), &marks)
		if tr, ok := truths[got.File]; ok && len(tr.Unread) > 0 && len(marks.Notices) > 0 && marks.Notices[0].Source == "ocr" {
			// An image-only item read by OCR (issue 12): its notices are the truth's unread
			// ones, every field exact or flagged unsure, never a wrong value shown as certain.
			name := filepath.Base(got.File)
			if len(got.Notices) != len(tr.Unread) {
				t.Errorf("%s: OCR read %d notices, want %d", name, len(got.Notices), len(tr.Unread))
				continue
			}
			ok := true
			for i, n := range got.Notices {
				// Per field as shown: unsure, exact, or wrong (shown as certain), for the figures.
				var tally []string
				for _, f := range []string{"category", "contract_number", "auth_key", "project_name", "orderer", "guarantor"} {
					gv, wv := ocrFields(n)[f], ocrFields(tr.Unread[i])[f]
					switch {
					case slices.Contains(marks.Notices[i].Unsure, f):
						tally = append(tally, f+" unsure")
					case gv == wv:
						tally = append(tally, f+" exact")
					default:
						tally = append(tally, f+" WRONG")
						t.Errorf("%s: OCR %s = %q shown as certain, want %q", name, f, gv, wv)
						ok = false
					}
				}
				t.Logf("%s notice %d by OCR: %s", name, i+1, strings.Join(tally, ", "))
			}
			if ok {
				passed++
			}
			continue
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

// ocrFields names a notice's values by their JSON keys; 区分, number, key and guarantor
// after NFKC as show compares them.
func ocrFields(n truthNotice) map[string]string {
	v := func(s *string, nfkc bool) string {
		if s == nil {
			return ""
		}
		if nfkc {
			return norm.NFKC.String(*s)
		}
		return *s
	}
	return map[string]string{"category": v(n.Category, true), "contract_number": v(n.ContractNumber, true),
		"auth_key": v(n.AuthKey, true), "project_name": v(n.ProjectName, false), "orderer": v(n.Orderer, false),
		"guarantor": v(n.Guarantor, true)}
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

// TestParseRemarks: a notice whose 発注者 and 工事名 labels are damaged (issue 11) is read
// through the isolated readers, from a bare PDF and from a mail's attachment, and `parse
// --json` says how, in "remarks" beside the notices; the notice objects keep their keys.
func TestParseRemarks(t *testing.T) {
	n := parser.Notice{Category: "前払金保証", ContractNumber: "2094591510", AuthKey: "HR0E4FWKFQ",
		ProjectName: "県道松江木次線道路改良工事（その①）", Orderer: "島根県知事", Guarantor: parser.WestJapan}
	var pdf bytes.Buffer
	opts := noticepdf.Options{Encoding: noticepdf.IdentityToUnicode,
		Labels: map[string]string{noticepdf.LabelOrderer: "~注者", noticepdf.LabelProject: "工事?"}}
	if err := noticepdf.Write(&pdf, []parser.Notice{n}, opts); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bare := filepath.Join(dir, "notice.pdf")
	mail := filepath.Join(dir, "mail.eml")
	b64 := base64.StdEncoding.EncodeToString(pdf.Bytes())
	eml := "From: a@b.example\r\nTo: c@d.example\r\nSubject: notice\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nお世話になります。\r\n" +
		"--X\r\nContent-Type: application/pdf; name=notice.pdf\r\nContent-Disposition: attachment; filename=notice.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n--X--\r\n"
	for f, data := range map[string][]byte{bare: pdf.Bytes(), mail: []byte(eml)} {
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"parse", "--json", bare, mail}, getenv: os.Getenv,
		stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("parse exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("parse printed %d lines, want 2:\n%s", len(lines), out.String())
	}
	for i, attachment := range []string{"", "notice.pdf"} {
		var got struct {
			Notices []map[string]any `json:"notices"`
			Remarks []parseRemark    `json:"remarks"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("bad JSON line %s: %v", lines[i], err)
		}
		if len(got.Notices) != 1 || got.Notices[0]["orderer"] != n.Orderer || got.Notices[0]["project_name"] != n.ProjectName {
			t.Errorf("line %d: notices %v, want 発注者 %s and 工事名 %s read", i, got.Notices, n.Orderer, n.ProjectName)
		} else if _, ok := got.Notices[0]["remark"]; ok {
			t.Errorf("line %d: notice %v has a remark key; remarks go beside the notices", i, got.Notices[0])
		}
		if len(got.Remarks) != 1 || got.Remarks[0].Attachment != attachment || got.Remarks[0].ContractNumber != n.ContractNumber ||
			!strings.Contains(got.Remarks[0].Detail, "「~注者」") || !strings.Contains(got.Remarks[0].Detail, "「工事?」") {
			t.Errorf("line %d: remarks %+v, want one for %s naming 「~注者」 and 「工事?」, attachment %q", i, got.Remarks, n.ContractNumber, attachment)
		}
	}
}

// TestParseReusesBuffersSafely runs `parse --json` over the corpus's PDFs and mails in one
// order and then reversed, in one run on two readers: each reader reads a PDF into the
// buffer of the file it read before (a larger one, a smaller one, a mail), so a file's line
// must not depend on what came before it, and lines come in the order given.
func TestParseReusesBuffersSafely(t *testing.T) {
	dir := testkit.Samples(t)
	var files []string
	for _, pattern := range []string{"pdf/*.pdf", "eml/*.eml"} {
		names, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, names...)
	}
	if len(files) < 30 {
		t.Fatalf("found only %d samples in %s", len(files), dir)
	}
	// PDFs and mails interleaved, then the same reversed.
	var order []string
	for i := range len(files) {
		if i%2 == 0 {
			order = append(order, files[i/2])
		} else {
			order = append(order, files[len(files)-1-i/2])
		}
	}
	reversed := slices.Clone(order)
	slices.Reverse(reversed)
	order = append(order, reversed...)

	var out, errOut bytes.Buffer
	code := runCode(context.Background(), env{args: append([]string{"parse", "--json", "--workers", "2", "--ocr", "false"}, order...),
		getenv: os.Getenv, stdout: &out, stderr: &errOut})
	if code != 0 {
		t.Fatalf("parse exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(order) {
		t.Fatalf("got %d result lines for %d files", len(lines), len(order))
	}
	first := map[string]string{}
	for i, l := range lines {
		var got struct {
			File string `json:"file"`
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("bad JSON line %s: %v", l, err)
		}
		if got.File != order[i] {
			t.Fatalf("line %d is %s, want %s: lines out of the order given", i, got.File, order[i])
		}
		if before, ok := first[got.File]; !ok {
			first[got.File] = l
		} else if before != l {
			t.Errorf("%s read differently after other files:\n%s\n%s", filepath.Base(got.File), before, l)
		}
	}
}
