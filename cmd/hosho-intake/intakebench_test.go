package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"hosho-intake/intake/daemon"
	"hosho-intake/intake/dovecottest"
	"hosho-intake/intake/mailbox"
	"hosho-intake/parser/testkit"
)

// TestIntakeBenchmark is the intake benchmark program: it loads HOSHO_INTAKE_BENCH messages
// into a local Dovecot and times, in one run, mbsync (isync with its defaults, which fsync
// every message) downloading the mailbox against a full `hosho-intake once` (download, parse,
// judge, record, move, send the replies). Two mailboxes, HOSHO_INTAKE_BENCH_RUNS times each
// (default 1):
//
//   - real: the real producers' mails of HOSHO_INTAKE_BENCH_MAIL (default the shared corpus,
//     ../shared/samples/eml, read in place; *.eml, not the 12 MB .eml.gz), reused round-robin,
//     each copy with a Message-ID of its own so that it is a new message, as users have;
//   - generated: samplemail's messages (a one-page notice PDF each, plus question,
//     auto-reply and list mail as noise).
//
// OCR is off unless HOSHO_INTAKE_BENCH_OCR is set (see benchIntake). It runs only when asked
// (HOSHO_BENCH_BIN: the binary to time; see startBench):
//
//	go build -o /tmp/hosho-intake ./cmd/hosho-intake
//	HOSHO_BENCH_BIN=/tmp/hosho-intake HOSHO_INTAKE_BENCH=2000 HOSHO_INTAKE_BENCH_RUNS=3 go test -run TestIntakeBenchmark -v -timeout 30m ./cmd/hosho-intake/
func TestIntakeBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HOSHO_INTAKE_BENCH"))
	if n <= 0 {
		t.Skip("set HOSHO_INTAKE_BENCH=N to run the intake benchmark")
	}
	runs, _ := strconv.Atoi(os.Getenv("HOSHO_INTAKE_BENCH_RUNS"))
	runs = max(runs, 1)
	dir := os.Getenv("HOSHO_INTAKE_BENCH_MAIL")
	if dir == "" {
		dir = testkit.Samples(t, "eml")
	}
	// HOSHO_INTAKE_BENCH_SETS=real leaves the generated mailbox out (a 10,000-message run
	// takes long enough with one).
	sets := os.Getenv("HOSHO_INTAKE_BENCH_SETS")
	real := realRaws(t, dir, n)
	var generated [][]byte
	if sets != "real" {
		generated = scenarioRaws(t, n)
	}
	for r := range runs {
		t.Run(fmt.Sprintf("real/%d", r+1), func(t *testing.T) { benchIntake(t, real) })
		if generated != nil {
			t.Run(fmt.Sprintf("generated/%d", r+1), func(t *testing.T) { benchIntake(t, generated) })
		}
	}
}

// realRaws is the mails of dir reused round-robin up to n, each copy given a Message-ID of
// its own (the ledger would take a copy for the same message again, not a new one).
func realRaws(t *testing.T, dir string, n int) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) == 0 {
		t.Fatalf("no *.eml in %s", dir)
	}
	var mails [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mails = append(mails, b)
	}
	t.Logf("real mails: %d distinct in %s, reused round-robin to %d", len(mails), dir, n)
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = withMessageID(mails[i%len(mails)], fmt.Sprintf("<bench-%d-%d@hosho-intake.invalid>", i, i%len(mails)))
	}
	return raws
}

// withMessageID replaces the header's Message-ID (or adds one at the top).
func withMessageID(raw []byte, id string) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = bytes.Index(raw, []byte("\n\n"))
	}
	if end < 0 {
		end = len(raw)
	}
	lines := bytes.SplitAfter(raw[:end], []byte("\n"))
	for i, l := range lines {
		if len(l) > 11 && bytes.EqualFold(l[:11], []byte("message-id:")) {
			eol := "\n"
			if bytes.HasSuffix(l, []byte("\r\n")) {
				eol = "\r\n"
			}
			// A folded Message-ID continues on lines that start with white space.
			j := i + 1
			for j < len(lines) && len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t') {
				j++
			}
			out := bytes.Join(lines[:i], nil)
			out = append(out, "Message-ID: "+id+eol...)
			out = append(out, bytes.Join(lines[j:], nil)...)
			return append(out, raw[end:]...)
		}
	}
	return append([]byte("Message-ID: "+id+"\r\n"), raw...)
}

func benchIntake(t *testing.T, raws [][]byte) {
	n := len(raws)
	srv := dovecottest.Start(t)
	start := time.Now()
	srv.Append(t, "INBOX", raws...)
	// A first login makes Dovecot index the new mail, so that neither contender pays for it.
	if got := srv.Messages(t, "INBOX"); got != n {
		t.Fatalf("INBOX holds %d, want %d", got, n)
	}
	t.Logf("loaded %d messages in %v", n, time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	mbsyncPull := mbsyncPeer(t, srv, dir)
	start = time.Now()
	if err := mbsyncPull(); err != nil {
		t.Fatal(err)
	}
	peer := time.Since(start)
	files, _ := filepath.Glob(filepath.Join(dir, "maildir", "INBOX", "*", "*"))
	if len(files) != n {
		t.Fatalf("mbsync stored %d messages, want %d", len(files), n)
	}

	// The replies `once` queues go to a local SMTP server, as they would to the agency's relay.
	cfg := writeConfigSMTP(t, srv, "none", filepath.Join(dir, "state"), startSMTPPeer(t).addr)
	if os.Getenv("HOSHO_INTAKE_BENCH_OCR") == "" {
		// The corpus's scanned notice is read by tesseract when OCR is on: 6 to 12 s of it
		// each time the mail recurs, which would time tesseract, not the intake. Off, it is
		// answered as a PDF without text. HOSHO_INTAKE_BENCH_OCR=1 keeps the default (on
		// where tesseract is installed).
		appendFile(t, cfg, "ocr = false\n") // [sandbox] is the file's last section
	}
	start = time.Now()
	cmd, out := startBench(t, "once", "--config", cfg)
	peak := testkit.WatchMemory(cmd.Process.Pid, 10*time.Millisecond)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("once: %v\n%s", err, out)
	}
	ours := time.Since(start)
	mem := <-peak
	if !strings.Contains(out.String(), fmt.Sprintf("recorded %d", n)) {
		t.Fatalf("once did not record all %d:\n%s", n, tail(out.String()))
	}
	t.Logf("once: %s", strings.TrimSpace(lastLine(out.String())))
	t.Logf("mbsync (fsync each message): %v, %.0f messages/s", peer.Round(time.Millisecond), float64(n)/peer.Seconds())
	t.Logf("hosho-intake once:            %v, %.0f messages/s, CPU %v (workers included)", ours.Round(time.Millisecond),
		float64(n)/ours.Seconds(), (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Round(time.Millisecond))
	// Summed RSS counts the binary's pages once in each process that touched them; PSS
	// shares them out, so the tree's PSS is what the machine spends.
	t.Logf("peak memory (parent + PDF workers): %v", mem)
	t.Logf("ratio: once takes %.2fx mbsync's time", ours.Seconds()/peer.Seconds())
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// startBench starts `hosho-intake args...`: the binary HOSHO_BENCH_BIN names (built as
// users have it), or else this test binary acting as it, which starts slower (it carries
// the tests' packages too).
func startBench(t *testing.T, args ...string) (*exec.Cmd, *testkit.SyncBuffer) {
	t.Helper()
	bin := os.Getenv("HOSHO_BENCH_BIN")
	if bin == "" {
		return startSelf(t, args...)
	}
	cmd := exec.Command(bin, args...)
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// mbsyncPeer writes an mbsync (isync) configuration that pulls srv's INBOX into a maildir
// under dir, with isync's defaults (fsync per message), and returns what runs it once.
func mbsyncPeer(t *testing.T, srv *dovecottest.Server, dir string) func() error {
	t.Helper()
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		t.Fatalf("mbsync (Debian isync) is the peer of this benchmark: %v", err)
	}
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte(srv.Password), 0o600)
	host, port, _ := strings.Cut(srv.Plain, ":")
	rc := fmt.Sprintf(`IMAPAccount agency
Host %s
Port %s
User %s
PassCmd "cat %s"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account agency

MaildirStore local
Path %s/
Inbox %s/INBOX

Channel pull
Far :remote:
Near :local:
Patterns INBOX
Sync Pull
Create Near
SyncState *
`, host, port, srv.User, pw, dir+"/maildir", dir+"/maildir")
	os.WriteFile(filepath.Join(dir, "mbsyncrc"), []byte(rc), 0o600)
	os.MkdirAll(filepath.Join(dir, "maildir"), 0o700)
	return func() error {
		if out, err := exec.Command(mbsync, "-c", filepath.Join(dir, "mbsyncrc"), "-q", "pull").CombinedOutput(); err != nil {
			return fmt.Errorf("mbsync: %w\n%s", err, out)
		}
		return nil
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

// TestIdlePollBenchmark times a poll that finds nothing new, against a local Dovecot whose
// mail (the shared corpus's real mails) was taken in before, HOSHO_IDLE_BENCH times each
// (the median), each against a peer measured in the same run:
//
//   - the daemon's poll (Service.PollOnce in a service that stays up, as `run` polls)
//     against a bare session of go-imap doing the least a poll that dials each time does:
//     connect, LOGIN, SELECT, LOGOUT;
//   - `hosho-intake once` as a process (start, config, state, poll, outbox, exit) against
//     `mbsync` pulling the same INBOX (isync's defaults), also a process.
//
// It runs only when asked (HOSHO_BENCH_BIN as for TestIntakeBenchmark):
//
//	HOSHO_BENCH_BIN=/tmp/hosho-intake HOSHO_IDLE_BENCH=20 go test -run TestIdlePollBenchmark -v ./cmd/hosho-intake/
func TestIdlePollBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HOSHO_IDLE_BENCH"))
	if n <= 0 {
		t.Skip("set HOSHO_IDLE_BENCH=N to run the idle poll benchmark")
	}
	mail := os.Getenv("HOSHO_INTAKE_BENCH_MAIL")
	if mail == "" {
		mail = testkit.Samples(t, "eml")
	}
	srv := dovecottest.Start(t)
	srv.Append(t, "INBOX", realRaws(t, mail, 26)...)
	dir := t.TempDir()
	cfg := writeConfigSMTP(t, srv, "none", filepath.Join(dir, "state"), startSMTPPeer(t).addr)
	once := func() error {
		cmd, out := startBench(t, "once", "--config", cfg)
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("once: %w\n%s", err, out)
		}
		return nil
	}
	if err := once(); err != nil { // takes the mail in
		t.Fatal(err)
	}
	pull := mbsyncPeer(t, srv, dir)
	if err := pull(); err != nil { // its state, so that later runs find nothing new
		t.Fatal(err)
	}
	timed := func(into *[]time.Duration, f func() error) {
		t.Helper()
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		*into = append(*into, time.Since(start))
	}
	var onceT, mbsyncT, pollT, bareT []time.Duration
	for range n {
		timed(&onceT, once)
		timed(&mbsyncT, pull)
	}

	worker, err := pdfWorkerCommand()
	if err != nil {
		t.Fatal(err)
	}
	svc, _, _, err := daemon.Open(daemon.Options{ConfigPath: cfg, Getenv: noEnv, Logs: io.Discard, WorkerCommand: worker})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	poll := func() error {
		res, err := svc.PollOnce(t.Context())
		if err == nil && res.New != 0 {
			err = fmt.Errorf("a poll found %d new messages, want none", res.New)
		}
		return err
	}
	bare := func() error {
		s, err := mailbox.Dial(t.Context(), mailbox.Options{Addr: srv.Plain, TLS: mailbox.TLSNone, Username: srv.User,
			Auth: mailbox.AuthLogin, Secret: func(context.Context) (string, error) { return srv.Password, nil }})
		if err != nil {
			return err
		}
		if _, err := s.Select(t.Context(), "INBOX"); err != nil {
			s.Close()
			return err
		}
		return s.Close()
	}
	if err := poll(); err != nil { // the service's first poll dials, as at start
		t.Fatal(err)
	}
	for range n {
		timed(&pollT, poll)
		timed(&bareT, bare)
	}
	med := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	t.Logf("poll with nothing new, median of %d:", n)
	t.Logf("  daemon poll %v, bare go-imap connect+LOGIN+SELECT+LOGOUT %v: %.2fx", med(pollT).Round(10*time.Microsecond),
		med(bareT).Round(10*time.Microsecond), med(pollT).Seconds()/med(bareT).Seconds())
	t.Logf("  once (process) %v, mbsync (process) %v: %.2fx", med(onceT).Round(10*time.Microsecond),
		med(mbsyncT).Round(10*time.Microsecond), med(onceT).Seconds()/med(mbsyncT).Seconds())
}
