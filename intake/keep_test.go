package intake_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"hosho-intake/intake/mailbox"
	"hosho-intake/parser/testkit"
)

// countingDial dials addr() each time, as newPoller does, and counts the dials.
func countingDial(addr func() string, dials *atomic.Int32) func(context.Context) (*mailbox.Session, error) {
	return func(ctx context.Context) (*mailbox.Session, error) {
		dials.Add(1)
		return mailbox.Dial(ctx, mailbox.Options{Addr: addr(), TLS: mailbox.TLSNone, Username: "agency", Auth: mailbox.AuthLogin,
			Secret: func(context.Context) (string, error) { return "pw", nil }, Timeout: 10 * time.Second})
	}
}

// TestPollKeepsSession: the daemon's poller keeps its session between polls, and when the
// server has dropped it meanwhile, the next poll connects again and takes in everything.
func TestPollKeepsSession(t *testing.T) {
	m := startMemMailbox(t)
	raws := rawMails(t, 5)
	for _, raw := range raws[:3] {
		m.append(t, raw)
	}
	proxy := testkit.StartProxy(t, m.addr)
	p, l := newPollerWith(t, openLedger(t, t.TempDir()))
	var dials atomic.Int32
	p.Dial = countingDial(func() string { return proxy.Addr }, &dials)
	p.Keep = true
	t.Cleanup(func() { p.Close() })

	steps := []struct {
		name      string
		before    func()
		recorded  int
		wantDials int32
	}{
		{"first poll dials", nil, 3, 1},
		{"nothing new: the kept session", nil, 0, 1},
		{"new mail: the kept session", func() { m.append(t, raws[3]) }, 1, 1},
		{"dropped by the server: dials again", func() { proxy.Drop(); m.append(t, raws[4]) }, 1, 2},
		{"the new session is kept", nil, 0, 2},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		res, err := p.Poll(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.Recorded != s.recorded || dials.Load() != s.wantDials {
			t.Errorf("%s: recorded %d with %d dials in all, want %d with %d", s.name, res.Recorded, dials.Load(), s.recorded, s.wantDials)
		}
	}
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 5 || m.count(t, "処理済み") != 5 || m.count(t, "INBOX") != 0 {
		t.Errorf("ledger holds %d, processed folder %d, INBOX %d; want 5, 5, 0", st.Messages, m.count(t, "処理済み"), m.count(t, "INBOX"))
	}
}

// TestPollKeptSessionStalled: a kept connection that a middlebox dropped without telling
// either end answers nothing; the poll gives it up and connects again instead of failing.
func TestPollKeptSessionStalled(t *testing.T) {
	m := startMemMailbox(t)
	raws := rawMails(t, 2)
	m.append(t, raws[0])
	proxy := testkit.StartProxy(t, m.addr)
	p, l := newPollerWith(t, openLedger(t, t.TempDir()))
	var dials atomic.Int32
	// The first session goes through the proxy, later ones straight to the server.
	p.Dial = countingDial(func() string {
		if dials.Load() == 1 {
			return proxy.Addr
		}
		return m.addr
	}, &dials)
	p.Keep = true
	t.Cleanup(func() { p.Close() })
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	proxy.StallAfter(0)
	m.append(t, raws[1])
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatalf("poll after the kept connection stalled: %v", err)
	}
	st, _ := l.Stats()
	if res.Recorded != 1 || st.Messages != 2 || dials.Load() != 2 {
		t.Errorf("recorded %d (%d in all) with %d dials, want 1 (2) with 2", res.Recorded, st.Messages, dials.Load())
	}
}

// TestPollWithoutKeep: without Keep (the default) every poll has a session of its own.
func TestPollWithoutKeep(t *testing.T) {
	m := startMemMailbox(t)
	m.append(t, rawMails(t, 1)[0])
	p, _ := newPollerWith(t, openLedger(t, t.TempDir()))
	var dials atomic.Int32
	p.Dial = countingDial(func() string { return m.addr }, &dials)
	for range 3 {
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if dials.Load() != 3 {
		t.Errorf("3 polls dialled %d times, want 3", dials.Load())
	}
}
