package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCells(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"R-000001", 8}, {"中間前払金保証", 14}, {"確認待ち", 8}, {"ＡＢ12", 6}, {"ｱｲ", 2}, {"", 0},
	}
	for _, tt := range tests {
		if got := cells(tt.s); got != tt.want {
			t.Errorf("cells(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

// TestWriteTableAligns: each column starts at the same display column on every line,
// whatever mix of Japanese and ASCII the cells before it hold (the 中間前払金保証 case).
func TestWriteTableAligns(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, [][]string{
		{"受付番号", "区分", "保証契約番号"},
		{"R-000001", "中間前払金保証", "2070004426"},
		{"R-000002", "契約保証", "2070004427"},
	})
	var at []int
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		i := strings.Index(line, "2070")
		if i < 0 {
			i = strings.Index(line, "保証契約番号")
		}
		at = append(at, cells(line[:i]))
	}
	if len(at) != 3 || at[0] != at[1] || at[1] != at[2] {
		t.Errorf("third column starts at display columns %v, want one column:\n%s", at, b.String())
	}
}

func TestLeadingFlags(t *testing.T) {
	names := []string{"socket", "instance", "config"}
	tests := []struct{ in, want []string }{
		{[]string{"list"}, []string{"list"}},
		{[]string{"--config", "X", "list"}, []string{"--config", "X", "list"}},
		{[]string{"list", "--config", "X", "--all"}, []string{"--config", "X", "list", "--all"}},
		{[]string{"list", "--socket=/s", "--show-keys"}, []string{"--socket=/s", "list", "--show-keys"}},
		{[]string{"reject", "R-1", "--reason", "金額相違", "-instance", "keiyaku"}, []string{"-instance", "keiyaku", "reject", "R-1", "--reason", "金額相違"}},
		{[]string{"list", "--", "--config", "X"}, []string{"list", "--", "--config", "X"}},
	}
	for _, tt := range tests {
		if got := leadingFlags(tt.in, names...); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("leadingFlags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestStatusWithoutDaemon: the error says what to do next, not only what failed.
func TestStatusWithoutDaemon(t *testing.T) {
	var out, errOut bytes.Buffer
	sock := t.TempDir() + "/control.sock"
	if code := runCode(t.Context(), env{args: []string{"status", "--socket", sock}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 1 {
		t.Fatalf("status without a daemon: exit %d", code)
	}
	if msg := errOut.String(); !strings.Contains(msg, "no daemon answers on "+sock) || !strings.Contains(msg, "systemctl start hosho-intake") {
		t.Errorf("status without a daemon says %q", msg)
	}
}

// TestHelp: every command has its help with an example and, where it takes flags, the
// flags its own FlagSet defines; an unknown one is a usage error.
func TestHelp(t *testing.T) {
	for name, c := range commands() {
		if c.hidden {
			continue
		}
		var out, errOut bytes.Buffer
		if code := runCode(t.Context(), env{args: []string{"help", name}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
			t.Errorf("help %s: exit %d: %s", name, code, errOut.String())
			continue
		}
		if !strings.Contains(out.String(), "example:\n  ") || c.example == "" {
			t.Errorf("help %s has no example:\n%s", name, out.String())
		}
		if !c.noFlags && !strings.Contains(out.String(), "flags:\n  -") {
			t.Errorf("help %s lists no flags:\n%s", name, out.String())
		}
	}
	var out bytes.Buffer
	if code := runCode(t.Context(), env{args: []string{"help", "frobnicate"}, getenv: noEnv, stdout: &out, stderr: &out}); code != 2 {
		t.Errorf("help of an unknown command: exit %d, want 2", code)
	}
}
