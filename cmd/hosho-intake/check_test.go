package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	example := filepath.Join("..", "..", "deploy", "config.example.toml")
	var out, errOut bytes.Buffer
	// From an admin's shell: the credentials systemd gives the service are only noted.
	if code := runCode(context.Background(), env{args: []string{"check", "--config", example}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("check of the example config: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "preset shimane") || !strings.Contains(out.String(), "not checked here") {
		t.Errorf("summary:\n%s", out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[agency]\npreset = \"shimane\"\nnmae = \"x\"\n\n[imap]\ntls = \"none\"\naddr = \"imap.example.jp:143\"\nschedule = \"every five minutes\"\n"), 0o600)
	out.Reset()
	errOut.Reset()
	if code := runCode(context.Background(), env{args: []string{"check", "--config", bad}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 1 {
		t.Fatalf("check of a bad config: exit %d, want 1", code)
	}
	for _, want := range []string{bad + ":3: agency.nmae", bad + ":6: imap.tls", bad + ":8: imap.schedule"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("errors lack %q:\n%s", want, errOut.String())
		}
	}
}
