package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hosho-intake/intake/dovecottest"
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
// It runs only when asked:
//
//	HOSHO_INTAKE_BENCH=2000 HOSHO_INTAKE_BENCH_RUNS=3 go test -run TestIntakeBenchmark -v -timeout 30m ./cmd/hosho-intake/
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
	real := realRaws(t, dir, n)
	generated := scenarioRaws(t, n)
	for r := range runs {
		t.Run(fmt.Sprintf("real/%d", r+1), func(t *testing.T) { benchIntake(t, real) })
		t.Run(fmt.Sprintf("generated/%d", r+1), func(t *testing.T) { benchIntake(t, generated) })
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
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		t.Fatalf("mbsync (Debian isync) is the peer of this benchmark: %v", err)
	}
	srv := dovecottest.Start(t)
	start := time.Now()
	srv.Append(t, "INBOX", raws...)
	// A first login makes Dovecot index the new mail, so that neither contender pays for it.
	if got := srv.Messages(t, "INBOX"); got != n {
		t.Fatalf("INBOX holds %d, want %d", got, n)
	}
	t.Logf("loaded %d messages in %v", n, time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
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
	start = time.Now()
	if out, err := exec.Command(mbsync, "-c", filepath.Join(dir, "mbsyncrc"), "-q", "pull").CombinedOutput(); err != nil {
		t.Fatalf("mbsync: %v\n%s", err, out)
	}
	peer := time.Since(start)
	files, _ := filepath.Glob(filepath.Join(dir, "maildir", "INBOX", "*", "*"))
	if len(files) != n {
		t.Fatalf("mbsync stored %d messages, want %d", len(files), n)
	}

	// The replies `once` queues go to a local SMTP server, as they would to the agency's relay.
	cfg := writeConfigSMTP(t, srv, "none", filepath.Join(dir, "state"), startSMTPPeer(t).addr)
	start = time.Now()
	cmd, out := startSelf(t, "once", "--config", cfg)
	peak := make(chan int, 1)
	go func() { peak <- peakTreeRSS(cmd.Process.Pid) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("once: %v\n%s", err, out)
	}
	ours := time.Since(start)
	peakKiB := <-peak
	if !strings.Contains(out.String(), fmt.Sprintf("recorded %d", n)) {
		t.Fatalf("once did not record all %d:\n%s", n, tail(out.String()))
	}
	t.Logf("once: %s", strings.TrimSpace(lastLine(out.String())))
	// An idle poll: nothing new.
	start = time.Now()
	var idle bytes.Buffer
	if code := runCode(t.Context(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &idle, stderr: &idle}); code != 0 {
		t.Fatalf("idle once: %s", idle.String())
	}
	t.Logf("mbsync (fsync each message): %v, %.0f messages/s", peer.Round(time.Millisecond), float64(n)/peer.Seconds())
	t.Logf("hosho-intake once:            %v, %.0f messages/s, peak RSS %.1f MiB (parent + PDF workers)",
		ours.Round(time.Millisecond), float64(n)/ours.Seconds(), float64(peakKiB)/1024)
	t.Logf("ratio: once takes %.2fx mbsync's time; idle once (process start included) %v", ours.Seconds()/peer.Seconds(), time.Since(start).Round(time.Millisecond))
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

// peakTreeRSS samples the summed resident memory of pid and all its descendants until pid
// ends. Children are listed per thread (/proc/PID/task/TID/children): a Go process starts
// its children from any of its threads, so every thread's list is read.
func peakTreeRSS(pid int) int {
	peak := 0
	for {
		total, alive := rssKiB(pid)
		if !alive {
			return peak
		}
		for _, d := range descendants(pid) {
			r, _ := rssKiB(d)
			total += r
		}
		peak = max(peak, total)
		time.Sleep(10 * time.Millisecond)
	}
}

// descendants are the processes below pid, found through every thread's children.
func descendants(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, task := range tasks {
		kids, _ := os.ReadFile(task)
		for _, k := range strings.Fields(string(kids)) {
			if kp, err := strconv.Atoi(k); err == nil {
				out = append(append(out, kp), descendants(kp)...)
			}
		}
	}
	return out
}

func rssKiB(pid int) (int, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	kib := 0
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "State:") && strings.Contains(l, "Z") {
			return 0, false
		}
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kib, _ = strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	return kib, true
}
