package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs the README's first command and checks its summary: every mail accounted
// for, the robots never answered, the digest sent, and only the folder it names left.
func TestDemo(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"demo"}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("demo exit %d: %s", code, errOut.String())
	}
	s := out.String()
	for _, want := range []struct {
		what string
		n    int
	}{{"reply sent:", 10}, {"never answered", 2}, {"→ queued", 4}, {"→ rejected", 2}, {"→ needs_review", 1},
		{"problem: wrong_document", 1}, {"problem: no_text", 1}, {"problem: zip_attachment", 1}} {
		if got := strings.Count(s, want.what); got != want.n {
			t.Errorf("%q appears %d times, want %d:\n%s", want.what, got, want.n, s)
		}
	}
	if !strings.Contains(s, "digest to the clerks") {
		t.Errorf("no digest in the summary:\n%s", s)
	}
	m := regexp.MustCompile(`Remove (\S+) when done`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("the demo does not name its folder:\n%s", s)
	}
	defer os.RemoveAll(m[1])
	sent, _ := os.ReadDir(m[1] + "/sent")
	if len(sent) != 11 { // ten replies and the digest
		t.Errorf("the SMTP server received %d messages, want 11", len(sent))
	}
}
