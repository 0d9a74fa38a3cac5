package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hosho-intake/intake"
	"hosho-intake/intake/dovecottest"
	"hosho-intake/intake/ledger"
)

// TestBackupUnderLoad takes backups through the running daemon while it takes in 200
// messages, stops the daemon, restores one backup into a new state directory, and runs
// `once` against the same mailbox on it: every message is then recorded once either in the
// restored state (what the backup held, plus what was still in INBOX) or, for those the
// daemon took in after the backup, only in the old one; nothing is taken twice, nothing is
// lost, and every raw message the restored ledger points to reads back.
func TestBackupUnderLoad(t *testing.T) {
	srv := dovecottest.Start(t)
	const n = 200
	srv.Append(t, "INBOX", scenarioRaws(t, n)...)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfig(t, srv, "implicit", state)
	backups := t.TempDir()

	daemon, out := startSelf(t, "run", "--config", cfg)
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	sock := filepath.Join(state, "control.sock")
	waitFor(t, "the control socket", func() bool { _, err := os.Stat(sock); return err == nil })
	// Back up while the poll at start runs, until one backup holds some but not all.
	var chosen, last string
	var held int
	for i := 0; i < 50 && chosen == ""; i++ {
		var bout, berr bytes.Buffer
		if code := runCode(context.Background(), env{args: []string{"backup", "--config", cfg, "--to", backups}, getenv: noEnv, stdout: &bout, stderr: &berr}); code != 0 {
			t.Fatalf("backup under load: exit %d: %s", code, berr.String())
		}
		path := strings.TrimSpace(strings.TrimPrefix(bout.String(), "backup written: "))
		last = path
		if k := entriesIn(t, path); k > 0 && k < n {
			chosen, held = path, k
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(daemon.Process.Pid, syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("daemon: %v\n%s", err, out.String())
	}
	if chosen == "" {
		// No backup fell inside the poll (the machine was too fast or too slow): the last
		// one still has to restore and go on without taking anything twice.
		chosen, held = last, entriesIn(t, last)
		t.Logf("no backup fell inside the poll; using the last, which holds %d", held)
	}
	old := entryIDs(t, state)

	// Restore elsewhere, with the same mailbox, and take in what is left.
	restored := filepath.Join(t.TempDir(), "restored")
	cfg2 := writeConfig(t, srv, "implicit", restored)
	var rout, rerr bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"restore", "--config", cfg2, "--from", chosen}, getenv: noEnv, stdout: &rout, stderr: &rerr}); code != 0 {
		t.Fatalf("restore: exit %d: %s", code, rerr.String())
	}
	if code := runCode(context.Background(), env{args: []string{"restore", "--config", cfg2, "--from", chosen}, getenv: noEnv, stdout: &rout, stderr: &rerr}); code == 0 ||
		!strings.Contains(rerr.String(), "not empty") {
		t.Errorf("a second restore into the same state: exit %d, %q; want a refusal", code, rerr.String())
	}
	// What is left in INBOX: those the old daemon never took, and those it recorded (maybe
	// in the backup) but had not moved yet when SIGTERM came.
	left := srv.MessageIDs(t, "INBOX")
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg2}, getenv: noEnv, stdout: &rout, stderr: &rerr}); code != 0 {
		t.Fatalf("once on the restored state: %s", rerr.String())
	}
	now := entryIDs(t, restored)
	want := restoredIDs(t, chosen)
	for _, id := range left {
		want[strings.Trim(id, "<>")] = true // the ledger keeps a Message-ID without its brackets
	}
	if len(now) != len(want) {
		t.Errorf("restored state holds %d messages, want the backup's %d and the %d left in INBOX, %d in all", len(now), held, len(left), len(want))
	}
	for id := range want {
		if !now[id] {
			t.Errorf("message %s (in the backup or left in INBOX) is not in the restored state", id)
		}
	}
	for id := range now {
		if old[id] && !inBackup(t, chosen, id) {
			t.Errorf("message %s taken in twice: by the old daemon after the backup, and again", id)
		}
	}
	all := map[string]bool{}
	for id := range old {
		all[id] = true
	}
	for id := range now {
		all[id] = true
	}
	if len(all) != n || srv.Messages(t, "INBOX") != 0 {
		t.Errorf("%d of %d messages recorded somewhere, %d left in INBOX", len(all), n, srv.Messages(t, "INBOX"))
	}
	t.Logf("backup held %d of %d; %d left in INBOX were taken in (or moved) after the restore", held, n, len(left))
}

// entriesIn restores a backup into a scratch directory and counts its messages.
func entriesIn(t *testing.T, backup string) int {
	t.Helper()
	return len(restoredIDs(t, backup))
}

func inBackup(t *testing.T, backup, id string) bool {
	t.Helper()
	return restoredIDs(t, backup)[id]
}

func restoredIDs(t *testing.T, backup string) map[string]bool {
	t.Helper()
	f, err := os.Open(backup)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := filepath.Join(t.TempDir(), "scratch")
	if _, _, err := ledger.Restore(dir, f, intake.Schemas()...); err != nil {
		t.Fatalf("restoring %s: %v", backup, err)
	}
	return entryIDs(t, dir)
}

// entryIDs lists the Message-IDs a state records, reading back each raw message.
func entryIDs(t *testing.T, state string) map[string]bool {
	t.Helper()
	l, err := ledger.Open(state, ledger.Options{Schemas: intake.Schemas()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entries, err := l.List(ledger.Filter{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range entries {
		if ids[e.MessageID] {
			t.Errorf("%s: message %s recorded twice", state, e.MessageID)
		}
		ids[e.MessageID] = true
		if e.Raw != "" {
			if _, err := l.Raw(e.ID); err != nil {
				t.Errorf("%s: entry %d's raw message does not read back: %v", state, e.ID, err)
			}
		}
	}
	return ids
}

// TestBackupWithoutSecrets: backup and restore need the state, not the servers: a config
// whose secrets are systemd credentials works from a timer unit or a shell that has none.
func TestBackupWithoutSecrets(t *testing.T) {
	srv := dovecottest.Start(t)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfig(t, srv, "implicit", state)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(replaceLine(string(b), "password_file = ", `password_file = "cred:imap-password"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(state, ledger.Options{Schemas: intake.Schemas()})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	to := filepath.Join(t.TempDir(), "b.tar")
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"backup", "--config", cfg, "--to", to}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("backup with credentials the shell has not: exit %d: %s", code, errOut.String())
	}
	cfg2 := filepath.Join(filepath.Dir(cfg), "restored.toml")
	c2 := replaceLine(string(b), "password_file = ", `password_file = "cred:imap-password"`)
	c2 = strings.Replace(c2, state, filepath.Join(t.TempDir(), "restored"), 1)
	if err := os.WriteFile(cfg2, []byte(c2), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := runCode(context.Background(), env{args: []string{"restore", "--config", cfg2, "--from", to}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("restore with credentials the shell has not: exit %d: %s", code, errOut.String())
	}
}
