package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"hosho-intake/intake/dovecottest"
)

// idleConfig is a config whose schedule never comes in a test (once a year), so whatever
// is answered was taken in by IDLE (or by the poll at start).
func idleConfig(t *testing.T, srv *dovecottest.Server, state, smtp string, idle bool) string {
	t.Helper()
	cfg := writeConfigSMTP(t, srv, "implicit", state, smtp)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`schedule = "* * * * *"`), []byte(fmt.Sprintf("schedule = \"0 0 1 1 *\"\nidle = %v", idle)), 1)
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestIdleAnswersInSeconds runs the daemon against Dovecot with IDLE on and a schedule that
// never comes: each contractor mail appended is answered at the SMTP peer without a poll on
// schedule. The time from APPEND to the reply is logged (median and worst), never asserted.
// With IDLE off, the same mail waits for the schedule (or `once`).
func TestIdleAnswersInSeconds(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	state := filepath.Join(t.TempDir(), "state")
	cfg := idleConfig(t, srv, state, peer.addr, true)
	daemon, out := startSelf(t, "run", "--config", cfg)
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	waitFor(t, "the control socket", func() bool { _, err := os.Stat(filepath.Join(state, "control.sock")); return err == nil })
	time.Sleep(300 * time.Millisecond) // the IDLE connection is set up after the socket
	const n = 20                       // the median of 20
	var took []time.Duration
	for i := range n {
		before := len(peer.envelopes())
		start := time.Now()
		// A sender each: one sender gets at most five replies an hour.
		srv.Append(t, "INBOX", trustMail(t, fmt.Sprintf("idle%d@kensetsu.example", i), fmt.Sprintf("山田 <yamada%d@kensetsu.example>", i),
			fmt.Sprintf("保証契約番号の送付 %d", i), fmt.Sprintf("保証契約番号：20700044%02d\n認証キー：AB12CD34E%d\n", i, i), nil))
		waitFor(t, fmt.Sprintf("the reply to mail %d", i), func() bool { return len(peer.envelopes()) > before })
		took = append(took, time.Since(start))
	}
	syscall.Kill(daemon.Process.Pid, syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("daemon: %v\n%s", err, out.String())
	}
	slices.Sort(took)
	t.Logf("IDLE: APPEND to reply at the SMTP peer, %d mails: median %v, worst %v", n, took[n/2].Round(time.Millisecond), took[n-1].Round(time.Millisecond))
	if strings.Contains(out.String(), "IDLE connection lost") {
		t.Errorf("the IDLE connection was lost during the test:\n%s", out.String())
	}
}

// TestIdleOff: with [imap] idle = false a mail that arrives after the poll at start waits for
// the schedule; `once` then takes it in.
func TestIdleOff(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	state := filepath.Join(t.TempDir(), "state")
	cfg := idleConfig(t, srv, state, peer.addr, false)
	daemon, out := startSelf(t, "run", "--config", cfg)
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	waitFor(t, "the control socket", func() bool { _, err := os.Stat(filepath.Join(state, "control.sock")); return err == nil })
	waitFor(t, "the poll at start", func() bool {
		return strings.Contains(out.String(), "poll done") || strings.Contains(out.String(), "new=0")
	})
	srv.Append(t, "INBOX", trustMail(t, "off1@kensetsu.example", "山田 <"+contractor+">", "送付", "保証契約番号：2070004499\n認証キー：AB12CD34EF\n", nil))
	time.Sleep(3 * time.Second) // IDLE would have answered in well under this
	if got := len(peer.envelopes()); got != 0 {
		t.Errorf("with IDLE off, %d mails were answered before any poll", got)
	}
	syscall.Kill(daemon.Process.Pid, syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("daemon: %v\n%s", err, out.String())
	}
	var o, e bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &o, stderr: &e}); code != 0 || len(peer.envelopes()) != 1 {
		t.Errorf("once after the daemon: exit %d, %d replies: %s", code, len(peer.envelopes()), e.String())
	}
}
