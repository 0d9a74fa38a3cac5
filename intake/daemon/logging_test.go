package daemon

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"hosho-intake/config"
)

func TestJournalLogger(t *testing.T) {
	cfg := config.Default()
	var b bytes.Buffer
	log := Logger(&b, &cfg, func(k string) string {
		if k == "JOURNAL_STREAM" {
			return "8:1234"
		}
		return ""
	})
	log.Info("poll done", "new", 3)
	log.Warn("decision mail refused")
	log.Error("poll failed", "err", errors.New("connection refused"))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{"<6>level=INFO msg=\"poll done\" new=3", "<4>level=WARN", "<3>level=ERROR msg=\"poll failed\""}
	if len(lines) != 3 {
		t.Fatalf("got %q", b.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q (priority, no time: the journal stamps it)", i, lines[i], w)
		}
	}
	b.Reset()
	Logger(&b, &cfg, func(string) string { return "" }).Info("x")
	if !strings.HasPrefix(b.String(), "time=") {
		t.Errorf("outside systemd: %q, want a timestamped text line", b.String())
	}
}
