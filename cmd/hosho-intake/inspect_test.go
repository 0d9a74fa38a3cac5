package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"hosho-intake/parser/testkit"
)

// TestInspectCorpus: for every sample mail, inspect says whether it would be answered
// exactly as the truth's should_reply does, and judges every notice it read.
func TestInspectCorpus(t *testing.T) {
	dir := testkit.Samples(t)
	truths, _ := filepath.Glob(filepath.Join(dir, "eml", "*.truth.json"))
	if len(truths) == 0 {
		t.Fatal("no sample mails")
	}
	for _, tp := range truths {
		var tr struct {
			File        string            `json:"file"`
			ShouldReply bool              `json:"should_reply"`
			Notices     []json.RawMessage `json:"notices"`
		}
		b, _ := os.ReadFile(tp)
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		t.Run(tr.File, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runCode(context.Background(), env{args: []string{"inspect", "--json", "--preset", "shimane", filepath.Join(dir, "eml", tr.File)},
				getenv: noEnv, stdout: &out, stderr: &errOut})
			if code != 0 {
				t.Fatalf("inspect exit %d: %s", code, errOut.String())
			}
			var got struct {
				Notices []struct {
					Decision string   `json:"decision"`
					Reasons  []string `json:"reasons"`
				} `json:"notices"`
				Reply struct {
					Send bool   `json:"send"`
					Why  string `json:"why"`
					Body string `json:"body"`
				} `json:"reply"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("bad JSON %s: %v", out.String(), err)
			}
			if got.Reply.Send != tr.ShouldReply {
				t.Errorf("reply.send = %v (%s), want %v", got.Reply.Send, got.Reply.Why, tr.ShouldReply)
			}
			if got.Reply.Send && got.Reply.Body == "" {
				t.Error("a reply with no body")
			}
			if len(got.Notices) != len(tr.Notices) {
				t.Fatalf("%d notices judged, want %d", len(got.Notices), len(tr.Notices))
			}
			for i, n := range got.Notices {
				if n.Decision != "queued" && n.Decision != "rejected" && n.Decision != "needs_review" {
					t.Errorf("notice %d: decision %q", i, n.Decision)
				}
			}
		})
	}
}
