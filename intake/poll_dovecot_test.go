package intake_test

import (
	"context"
	"testing"
	"time"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/mailbox"
	"hosho-intake/parser/testkit"
)

func dovecotPoller(t *testing.T, srv *dovecottest.Server, addr string, l *ledger.Ledger) *intakePoller {
	t.Helper()
	p, _ := newPollerWith(t, l)
	p.Dial = func(ctx context.Context) (*mailbox.Session, error) {
		return mailbox.Dial(ctx, mailbox.Options{Addr: addr, TLS: mailbox.TLSNone, Username: srv.User, Auth: mailbox.AuthPlain,
			Secret: func(context.Context) (string, error) { return srv.Password, nil }, Timeout: 5 * time.Second})
	}
	return p
}

func TestPollServerDropsMidFetch(t *testing.T) {
	if raceDetector {
		// go-imap v2 beta.8's reader goroutine stops waiting for the consumer of a literal
		// when the connection drops, and both then touch the same bufio.Reader: a race in
		// the library's error path, on a connection that is dead either way. The test runs
		// in the normal (non-race) test run.
		t.Skip("go-imap races in its own error path when a connection drops mid-literal")
	}
	srv := dovecottest.Start(t)
	var total int
	for _, raw := range rawMails(t, 30) {
		srv.Append(t, "INBOX", raw)
		total += len(raw)
	}
	l := openLedger(t, t.TempDir())
	proxy := testkit.StartProxy(t, srv.Plain)
	proxy.CutAfter(int64(total / 2))
	p := dovecotPoller(t, srv, proxy.Addr, l)
	res, err := p.Poll(context.Background())
	if err == nil {
		t.Fatal("poll through a connection cut half-way succeeded")
	}
	if !mailbox.Temporary(err) {
		t.Errorf("a dropped connection is not temporary: %v", err)
	}
	if res.Recorded == 0 || res.Recorded >= 30 {
		t.Fatalf("first poll recorded %d of 30, want part of them", res.Recorded)
	}
	first := res.Recorded
	p = dovecotPoller(t, srv, srv.Plain, l)
	res, err = p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, _ := l.Stats()
	if st.Messages != 30 || res.Recorded != 30-first {
		t.Errorf("after the second poll: %d recorded in all (%d now), want 30, each once", st.Messages, res.Recorded)
	}
	if got := srv.Messages(t, "処理済み"); got != 30 {
		t.Errorf("処理済み holds %d, want 30", got)
	}
}

func TestPollDovecotUIDValidityReset(t *testing.T) {
	srv := dovecottest.Start(t)
	raws := rawMails(t, 6)
	srv.Append(t, "INBOX", raws[:5]...)
	l := openLedger(t, t.TempDir())
	p := dovecotPoller(t, srv, srv.Plain, l)
	p.Processed = "" // flagged, so they stay in INBOX across the reset
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.ResetUIDValidity(t, "INBOX")
	srv.Append(t, "INBOX", raws[5])
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicates != 5 || res.Recorded != 1 {
		t.Errorf("poll after the reset = %+v, want 5 duplicates and 1 recorded", res)
	}
}

// TestPollLargeMailbox takes in a mailbox of 5,000 messages and then polls it again: the
// second poll, with nothing new, is one SELECT.
func TestPollLargeMailbox(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 messages")
	}
	srv := dovecottest.Start(t)
	srv.Append(t, "INBOX", rawMails(t, 5000)...)
	l := openLedger(t, t.TempDir())
	p := dovecotPoller(t, srv, srv.Plain, l)
	p.MoveBatch = 100 // as the daemon does
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Recorded != 5000 || res.Moved != 5000 {
		t.Fatalf("poll = %+v, want 5,000 recorded and moved", res)
	}
	full := res.Duration
	res, err = p.Poll(context.Background())
	if err != nil || res.New != 0 {
		t.Fatalf("idle poll = %+v, %v", res, err)
	}
	t.Logf("5,000 messages in %v; idle poll %v", full, res.Duration)
}

// TestPollDovecotKeptSessionRestart: Dovecot restarts between two polls of the daemon's
// poller, dropping the session it kept; the next poll connects again and takes in what came
// meanwhile, each message once.
func TestPollDovecotKeptSessionRestart(t *testing.T) {
	srv := dovecottest.Start(t)
	raws := rawMails(t, 5)
	srv.Append(t, "INBOX", raws[:3]...)
	l := openLedger(t, t.TempDir())
	p := dovecotPoller(t, srv, srv.Plain, l)
	dial := p.Dial
	dials := 0
	p.Dial = func(ctx context.Context) (*mailbox.Session, error) { dials++; return dial(ctx) }
	p.Keep = true
	t.Cleanup(func() { p.Close() })
	for i, want := range []int{3, 0} {
		res, err := p.Poll(context.Background())
		if err != nil || res.Recorded != want {
			t.Fatalf("poll %d: recorded %d, %v; want %d", i+1, res.Recorded, err, want)
		}
	}
	if dials != 1 {
		t.Fatalf("two polls dialled %d times, want once", dials)
	}
	srv.Restart(t)
	srv.Append(t, "INBOX", raws[3:]...)
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatalf("poll after the restart: %v", err)
	}
	st, _ := l.Stats()
	if res.Recorded != 2 || st.Messages != 5 || dials != 2 {
		t.Errorf("after the restart: recorded %d (%d in all) with %d dials, want 2 (5) with 2", res.Recorded, st.Messages, dials)
	}
	if got := srv.Messages(t, "処理済み"); got != 5 {
		t.Errorf("処理済み holds %d, want 5", got)
	}
}
