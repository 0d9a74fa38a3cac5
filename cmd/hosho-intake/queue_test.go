package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"hosho-intake/intake/control"
	"hosho-intake/intake/dovecottest"
	"hosho-intake/verifier"
)

// startQueueDaemon records three scenario mails with `once` and starts the real daemon on
// that state (two items wait, one is rejected); it returns the control socket.
func startQueueDaemon(t *testing.T) string {
	t.Helper()
	srv := dovecottest.Start(t)
	srv.Append(t, "INBOX", scenarioRaws(t, 3)...)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfig(t, srv, "implicit", state)
	var errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &bytes.Buffer{}, stderr: &errOut}); code != 0 {
		t.Fatalf("once: %s", errOut.String())
	}
	daemon, out := startSelf(t, "run", "--config", cfg)
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	t.Cleanup(func() {
		daemon.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-daemon.Process.Pid, syscall.SIGKILL)
			t.Errorf("daemon did not stop within 10 s of SIGTERM:\n%s", out.String())
		}
	})
	sock := filepath.Join(state, "control.sock")
	waitFor(t, "the control socket", func() bool {
		return control.Call(context.Background(), sock, "status", nil, nil) == nil
	})
	return sock
}

// TestQueueCaller: through the real daemon, the decider and the one shown the keys are the
// OS user at the other end of the socket; a decider named by the client is refused; keys
// cross the socket masked unless asked for, and each reveal is in the item's history.
func TestQueueCaller(t *testing.T) {
	sock := startQueueDaemon(t)
	ctx := context.Background()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	want := verifier.HowCommand + ":" + me.Username
	// The environment names someone else: it must not matter.
	mallory := func(k string) string {
		return map[string]string{"USER": "mallory", "SUDO_USER": "mallory", "LOGNAME": "mallory"}[k]
	}
	all := []string{verifier.StateQueued, verifier.StateNeedsReview, verifier.StateVerified, verifier.StateRejected}
	list := func(showKeys bool) ([]verifier.Submission, string) {
		t.Helper()
		var raw json.RawMessage
		if err := control.Call(ctx, sock, "queue.list", map[string]any{"States": all, "ShowKeys": showKeys}, &raw); err != nil {
			t.Fatalf("queue.list: %v", err)
		}
		var items []verifier.Submission
		if err := json.Unmarshal(raw, &items); err != nil {
			t.Fatal(err)
		}
		if len(items) != 3 {
			t.Fatalf("queue.list gave %d items, want 3", len(items))
		}
		return items, string(raw)
	}
	cli := func(args ...string) (int, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := runCode(ctx, env{args: append([]string{"queue", "--socket", sock}, args...), getenv: mallory, stdout: &out, stderr: &errOut})
		return code, out.String() + errOut.String()
	}

	// Masked by default: the full key never crosses the socket.
	masked, maskedRaw := list(false)
	code, maskedOut := cli("list", "--all")
	if code != 0 {
		t.Fatalf("queue list --all = %d:\n%s", code, maskedOut)
	}
	shown, _ := list(true)
	maskForm := regexp.MustCompile(`^.{2}\*\*\*.{2}$`)
	for i, s := range shown {
		key := s.Notice.AuthKey
		if got := masked[i].Notice.AuthKey; !maskForm.MatchString(got) || got != verifier.MaskKey(key) {
			t.Errorf("%s: masked key %q, want %q", s.TrackingNumber(), got, verifier.MaskKey(key))
		}
		if strings.Contains(maskedRaw, key) || strings.Contains(maskedOut, key) {
			t.Errorf("%s: the full key %s crossed the socket unasked", s.TrackingNumber(), key)
		}
		if !strings.Contains(maskedOut, verifier.MaskKey(key)) {
			t.Errorf("queue list lacks the masked key of %s:\n%s", s.TrackingNumber(), maskedOut)
		}
	}

	// Shown on request, and every reveal recorded: who and when, not the key.
	code, shownOut := cli("list", "--all", "--show-keys")
	if code != 0 {
		t.Fatalf("queue list --show-keys = %d:\n%s", code, shownOut)
	}
	after, afterRaw := list(false)
	for i, s := range after {
		key := shown[i].Notice.AuthKey
		if !strings.Contains(shownOut, key) {
			t.Errorf("queue list --show-keys lacks %s's key:\n%s", s.TrackingNumber(), shownOut)
		}
		if strings.Contains(afterRaw, key) {
			t.Errorf("%s: the key is in the history or list after a reveal", s.TrackingNumber())
		}
		var reveals int
		for _, c := range s.History {
			if c.How == verifier.HowKeyShown {
				reveals++
				if c.By != want || c.From != s.State || c.To != s.State || c.At.IsZero() {
					t.Errorf("%s: reveal recorded as %+v, want by %s in state %s", s.TrackingNumber(), c, want, s.State)
				}
			}
		}
		if reveals != 2 { // list(true) and the command's --show-keys
			t.Errorf("%s: %d reveals in the history, want 2: %+v", s.TrackingNumber(), reveals, s.History)
		}
		if s.State != masked[i].State {
			t.Errorf("%s: a reveal changed the state %s to %s", s.TrackingNumber(), masked[i].State, s.State)
		}
	}

	// A decider named by the client is refused and nothing is recorded.
	err = control.Call(ctx, sock, "queue.decide", map[string]any{"ID": 2, "Action": verifier.ActionVerify, "By": "command:tanaka"}, nil)
	if err == nil || !strings.Contains(err.Error(), "the decider is the socket's caller") {
		t.Errorf("queue.decide with a client-chosen By = %v, want it refused", err)
	}
	// The command's decision is recorded as the socket's caller.
	code, out := cli("verify", "R-000001")
	if code != 0 || !strings.Contains(out, "verified by "+want) {
		t.Errorf("queue verify R-000001 = %d: %s; want verified by %s", code, out, want)
	}
	decided, _ := list(false)
	for _, tc := range []struct {
		id      uint64
		state   string
		decider string
	}{
		{1, verifier.StateVerified, want},
		{2, after[1].State, ""},
	} {
		s := decided[tc.id-1]
		c, _ := s.Decided()
		if s.ID != tc.id || s.State != tc.state || c.By != tc.decider {
			t.Errorf("%s: %s decided by %q, want %s by %q", s.TrackingNumber(), s.State, c.By, tc.state, tc.decider)
		}
	}
}
