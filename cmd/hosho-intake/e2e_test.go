package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/samplemail"
	"hosho-intake/parser/testkit"
)

// writeConfig writes a config for the Dovecot server in srv, with the password in a 0600
// file, and returns its path.
func writeConfig(t *testing.T, srv *dovecottest.Server, tlsMode, stateDir string) string {
	t.Helper()
	return writeConfigSMTP(t, srv, tlsMode, stateDir, "127.0.0.1:2525")
}

// writeConfigSMTP is writeConfig with the SMTP relay at smtpAddr.
func writeConfigSMTP(t *testing.T, srv *dovecottest.Server, tlsMode, stateDir, smtpAddr string) string {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "imap-password")
	if err := os.WriteFile(pw, []byte(srv.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := map[string]string{"implicit": srv.IMAPS, "starttls": srv.STARTTLS, "none": srv.Plain}[tlsMode]
	cfg := fmt.Sprintf(`[agency]
preset = "shimane"
name = "島根県 土木部 技術管理課"
address = "denshi-shosho@pref.shimane.example"

[imap]
addr = %q
tls = %q
ca_file = %q
username = %q
password_file = %q
mailbox = "INBOX"
processed_mailbox = "処理済み"
schedule = "* * * * *"
timeout = "20s"

[smtp]
addr = %q
tls = "none"
from = "denshi-shosho@pref.shimane.example"
timeout = "5s"

[digest]
to = ["keiyaku@pref.shimane.example"]

[state]
dir = %q

[sandbox]
workers = 2
`, addr, tlsMode, filepath.Join(srv.Dir, "cert.pem"), srv.User, pw, smtpAddr, stateDir)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// scenarioRaws returns n distinct realistic messages.
func scenarioRaws(t *testing.T, n int) [][]byte {
	t.Helper()
	raws, err := samplemail.Messages(n)
	if err != nil {
		t.Fatal(err)
	}
	return raws
}

func TestOnceAgainstDovecot(t *testing.T) {
	for _, mode := range []string{"implicit", "starttls", "none"} {
		t.Run(mode, func(t *testing.T) {
			srv := dovecottest.Start(t)
			msgs := scenarioRaws(t, 12)
			srv.Append(t, "INBOX", msgs...)
			cfg := writeConfig(t, srv, mode, filepath.Join(t.TempDir(), "state"))
			var out, errOut bytes.Buffer
			if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
				t.Fatalf("once exit %d: %s", code, errOut.String())
			}
			if !strings.Contains(out.String(), "new 12, recorded 12") {
				t.Errorf("once printed %q", out.String())
			}
			if got := srv.Messages(t, "INBOX"); got != 0 {
				t.Errorf("INBOX holds %d after once", got)
			}
			if got := srv.Messages(t, "処理済み"); got != len(msgs) {
				t.Errorf("処理済み holds %d, want %d", got, len(msgs))
			}
			out.Reset()
			if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
				t.Fatalf("second once exit %d: %s", code, errOut.String())
			}
			if !strings.HasPrefix(out.String(), "new 0,") {
				t.Errorf("second once printed %q, want nothing new", out.String())
			}
			if strings.Contains(errOut.String(), srv.Password) {
				t.Error("the log shows the IMAP password")
			}
		})
	}
}

func noEnv(string) string { return "" }

// runCode runs a command as main does and returns its exit status.
func runCode(ctx context.Context, e env) int { return exitStatus(run(ctx, e)) }

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// startSelf starts this test binary as the real hosho-intake with args.
func startSelf(t *testing.T, args ...string) (*exec.Cmd, *testkit.SyncBuffer) {
	t.Helper()
	return startSelfEnv(t, nil, args...)
}

// startSelfEnv is startSelf with more environment.
func startSelfEnv(t *testing.T, extraEnv []string, args ...string) (*exec.Cmd, *testkit.SyncBuffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), "HOSHO_TEST_MAIN=1"), extraEnv...)
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// TestKilledRepeatedly kills `once` with SIGKILL at random points of a 200-message poll and
// starts it again, until a run completes: every message must then be recorded exactly once
// and sit in the processed folder.
func TestKilledRepeatedly(t *testing.T) {
	srv := dovecottest.Start(t)
	const n = 200
	srv.Append(t, "INBOX", scenarioRaws(t, n)...)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfig(t, srv, "implicit", state)
	rng := rand.New(rand.NewPCG(1, 2))
	kills := killLoop(t, srv, cfg, func(n int) time.Duration { return killAfter(rng, n) }, nil)
	l, err := ledger.Open(state, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entries, err := l.List(ledger.Filter{}, 10*n)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Digest] {
			t.Errorf("message %s recorded twice", e.MessageID)
		}
		seen[e.Digest] = true
		if !e.Moved {
			t.Errorf("entry %d not marked moved", e.ID)
		}
	}
	if len(entries) != n {
		t.Errorf("%d entries, want %d", len(entries), n)
	}
	if got := srv.Messages(t, "処理済み"); got != n {
		t.Errorf("処理済み holds %d, want %d", got, n)
	}
	t.Logf("killed %d times; every one of %d messages recorded once and moved", kills, n)
}

// killLoop runs `once` on cfg, SIGKILLing it (its whole process group, the PDF workers too)
// killAt(attempt) after each start (killAfter: random points of the first 40 runs), until a
// run ends by itself with the INBOX empty; it returns how many runs it killed. afterKill, when
// not nil, runs after each kill (to look at the state the kill left).
func killLoop(t *testing.T, srv *dovecottest.Server, cfg string, killAt func(attempt int) time.Duration, afterKill func()) int {
	t.Helper()
	kills := 0
	for attempt := 0; ; attempt++ {
		if attempt > 100 {
			t.Fatalf("no run completed in %d attempts", attempt)
		}
		cmd, out := startSelf(t, "once", "--config", cfg)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("once failed: %v\n%s", err, out.String())
			}
		case <-time.After(killAt(attempt)):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			kills++
			if afterKill != nil {
				afterKill()
			}
			continue
		}
		if srv.Messages(t, "INBOX") == 0 {
			return kills
		}
	}
}

// killAfter is when to kill attempt n: at random points of the first 40 runs (a run takes
// 100 ms to a few seconds, depending on the machine's load), then never, so that one
// finishes.
func killAfter(rng *rand.Rand, n int) time.Duration {
	if n >= 40 {
		return time.Hour
	}
	return time.Duration(30+rng.IntN(150+10*n)) * time.Millisecond
}

// TestDaemon runs the daemon as a process: a second one on the same state is refused at
// once, status answers over the socket, and SIGTERM stops it within 10 s.
func TestDaemon(t *testing.T) {
	srv := dovecottest.Start(t)
	srv.Append(t, "INBOX", scenarioRaws(t, 3)...)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfig(t, srv, "implicit", state)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	good, _ := os.ReadFile(cfg)
	good = append(good, []byte(fmt.Sprintf("\n[metrics]\naddr = %q\n", metricsAddr))...)
	// A register naming no contract of the mails: status says which register is in effect.
	register := filepath.Join(t.TempDir(), "register.csv")
	os.WriteFile(register, []byte("工事名,契約日\n宍道湖護岸工事,2025/04/01\n"), 0o600)
	good = append(good, []byte(fmt.Sprintf("\n[register]\ncsv = %q\n", register))...)
	os.WriteFile(cfg, good, 0o600)
	var errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &bytes.Buffer{}, stderr: &errOut}); code != 0 {
		t.Fatalf("once: %s", errOut.String())
	}
	// A notify socket and a watchdog, as systemd gives a Type=notify service.
	notifyPath := filepath.Join(t.TempDir(), "notify.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	var notes testkit.SyncBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := notify.Read(buf)
			if err != nil {
				return
			}
			notes.Write(append(buf[:n:n], '\n'))
		}
	}()
	// TZ=UTC: what people read is Asia/Tokyo whatever the server's zone.
	daemon, out := startSelfEnv(t, []string{"NOTIFY_SOCKET=" + notifyPath, "WATCHDOG_USEC=400000", "TZ=UTC"}, "run", "--config", cfg)
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	waitFor(t, "READY=1 and a watchdog ping with a STATUS", func() bool {
		n := notes.String()
		return strings.Contains(n, "READY=1") && strings.Contains(n, "WATCHDOG=1") && strings.Contains(n, "STATUS=last poll")
	})
	sock := filepath.Join(state, "control.sock")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no control socket after 20 s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &bytes.Buffer{}, stderr: &errOut}); code == 0 {
		t.Error("a second hosho-intake on the same state ran")
	}
	if took := time.Since(start); took > 5*time.Second || !strings.Contains(errOut.String(), "in use") {
		t.Errorf("second instance: %v, %q; want a clear refusal at once", took, errOut.String())
	}
	var st bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"status", "--socket", sock}, getenv: noEnv, stdout: &st, stderr: &errOut}); code != 0 {
		t.Fatalf("status exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(st.String(), "running since") || !strings.Contains(st.String(), "next poll") || !strings.Contains(st.String(), "queue: 2 queued, 0 needs review, 0 verified, 1 rejected") ||
		!strings.Contains(st.String(), "trust: WARNING: nothing authenticates senders") || !strings.Contains(st.String(), "only by the clerk's own link") ||
		!strings.Contains(st.String(), "register: 1 contract from "+register) {
		t.Errorf("status printed %q", st.String())
	}
	for _, line := range strings.Split(st.String(), "\n") {
		if strings.Contains(line, "running since") || strings.HasPrefix(line, "next poll") || strings.HasPrefix(line, "last poll") && !strings.HasSuffix(line, "none yet") {
			if !strings.Contains(line, "JST") {
				t.Errorf("status shows a time not in Asia/Tokyo: %q", line)
			}
		}
	}
	checkStatusJSON(t, sock)
	// The clerk's decisions from the command line, through the daemon. (Of the three
	// notices, shimane rejects the 契約保証 of a 業務委託: two wait.) Flags go before or
	// after the subcommand.
	var list bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"queue", "list", "--socket", sock}, getenv: noEnv, stdout: &list, stderr: &errOut}); code != 0 || strings.Count(list.String(), "R-0000") != 2 ||
		strings.Count(list.String(), "確認待ち") != 2 || strings.Contains(list.String(), "queued") {
		t.Fatalf("queue list = %d:\n%s%s", code, list.String(), errOut.String())
	}
	// Re-run the first stored message through the current rules.
	var rep bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"reprocess", "--socket", sock, "1"}, getenv: noEnv, stdout: &rep, stderr: &errOut}); code != 0 ||
		!strings.Contains(rep.String(), `"contract_number"`) || !strings.Contains(rep.String(), `"decision"`) {
		t.Errorf("reprocess = %d:\n%s%s", code, rep.String(), errOut.String())
	}
	// Any member of the socket's group may reprocess: the keys it prints are masked.
	for _, k := range regexp.MustCompile(`"auth_key":\s*"([^"]*)"`).FindAllStringSubmatch(rep.String(), -1) {
		if !strings.Contains(k[1], "*") {
			t.Errorf("reprocess printed the full 認証キー %q", k[1])
		}
	}
	var dec bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"queue", "--socket", sock, "verify", "R-000001"}, getenv: noEnv, stdout: &dec, stderr: &errOut}); code != 0 || !strings.Contains(dec.String(), "verified") {
		t.Errorf("queue verify = %d: %s%s", code, dec.String(), errOut.String())
	}
	if code := runCode(context.Background(), env{args: []string{"queue", "--socket", sock, "reject", "R-000002"}, getenv: noEnv, stdout: &dec, stderr: &bytes.Buffer{}}); code != 2 {
		t.Errorf("reject without a reason: exit %d, want 2", code)
	}
	if code := runCode(context.Background(), env{args: []string{"queue", "--socket", sock, "verify", "R-000001"}, getenv: noEnv, stdout: &dec, stderr: &errOut}); code == 0 {
		t.Error("deciding an item twice succeeded")
	}
	// Metrics and health, on the configured loopback address.
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + metricsAddr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, metrics := get("/metrics")
	for _, want := range []string{`hosho_intake_messages_total{outcome="notices"} 3`, `hosho_intake_notices_total{category="前払金保証"} 1`,
		`hosho_intake_decisions_total{reason="category_not_eligible",state="rejected"} 1`, "hosho_intake_queue_oldest_waiting_seconds",
		"hosho_intake_seconds_since_last_successful_poll", "hosho_intake_outbox_pending"} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}

	// SIGHUP with a broken config: refused, the daemon goes on as it was.
	os.WriteFile(cfg, append(append([]byte{}, good...), []byte("\n[imap]\nbogus = 1\n")...), 0o600)
	daemon.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the refused reload in the log", func() bool { return strings.Contains(out.String(), "reload refused") })
	st.Reset()
	if code := runCode(context.Background(), env{args: []string{"status", "--socket", sock}, getenv: noEnv, stdout: &st, stderr: &errOut}); code != 0 {
		t.Fatalf("status after a refused reload: %s", errOut.String())
	}
	// SIGHUP with a good one: polls once a year from now on.
	os.WriteFile(cfg, bytes.Replace(good, []byte(`schedule = "* * * * *"`), []byte(`schedule = "0 0 1 1 *"`), 1), 0o600)
	daemon.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload in the log", func() bool { return strings.Contains(out.String(), "configuration reloaded") })
	if !strings.Contains(notes.String(), "RELOADING=1") {
		t.Error("no RELOADING=1 told to systemd on a reload")
	}
	waitFor(t, "the new schedule in status", func() bool {
		st.Reset()
		runCode(context.Background(), env{args: []string{"status", "--socket", sock}, getenv: noEnv, stdout: &st, stderr: &bytes.Buffer{}})
		return strings.Contains(st.String(), "next poll: 2027-01-01 00:00:00")
	})

	daemon.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("daemon exit: %v\n%s", err, out.String())
		}
		if !strings.Contains(notes.String(), "STOPPING=1") {
			t.Error("no STOPPING=1 told to systemd on SIGTERM")
		}
	case <-time.After(10 * time.Second):
		syscall.Kill(-daemon.Process.Pid, syscall.SIGKILL)
		t.Fatalf("daemon did not stop within 10 s of SIGTERM:\n%s", out.String())
	}
}

// checkStatusJSON: `status --json` follows the README's schema: snake_case names at every
// level, times at +09:00, durations in seconds.
func checkStatusJSON(t *testing.T, sock string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"status", "--json", "--socket", sock}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("status --json exit %d: %s", code, errOut.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out.String())
	}
	for _, k := range []string{"version", "running_since", "next_poll", "last_poll", "last_ok", "failures", "healthy", "queue", "outbox", "messages", "trust", "register"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status --json lacks %q:\n%s", k, out.String())
		}
	}
	var walk func(string, any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k != strings.ToLower(k) || strings.Contains(k, " ") {
					if path != "messages.outcomes" {
						t.Errorf("status --json key %s.%s is not snake_case", path, k)
					}
				}
				walk(strings.TrimPrefix(path+"."+k, "."), x)
			}
		case string:
			if strings.HasSuffix(path, "running_since") || strings.HasSuffix(path, "next_poll") || strings.HasSuffix(path, "start") {
				if !strings.HasSuffix(v, "+09:00") {
					t.Errorf("status --json %s = %q, want a time at +09:00", path, v)
				}
			}
		}
	}
	walk("", m)
}
