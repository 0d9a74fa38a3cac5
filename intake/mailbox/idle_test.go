package mailbox

import (
	"context"
	"testing"
	"time"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/parser/testkit"
)

// idleing starts Idle in the background on a session whose EXISTS counts arrive on the
// returned channel.
func idleing(t *testing.T, o Options, mailbox string) (ctx context.Context, stop context.CancelFunc, exists <-chan uint32, done <-chan error) {
	t.Helper()
	ch := make(chan uint32, 16)
	o.OnExists = func(n uint32) { ch <- n }
	s := dial(t, o)
	if _, err := s.Select(context.Background(), mailbox); err != nil {
		t.Fatal(err)
	}
	ctx, stop = context.WithCancel(context.Background())
	d := make(chan error, 1)
	go func() { d <- s.Idle(ctx) }()
	return ctx, stop, ch, d
}

func waitExists(t *testing.T, exists <-chan uint32, want uint32) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case n := <-exists:
			if n >= want {
				return
			}
		case <-deadline:
			t.Fatalf("no EXISTS %d during IDLE", want)
		}
	}
}

// TestIdle: in IDLE, a message appended by someone else is reported through OnExists; ending
// the IDLE returns nil; a server (or network) that drops the connection during IDLE is an
// error, not a hang. Against go-imap's in-memory server and against Dovecot. (A server
// without IDLE cannot be had here: go-imap's server always advertises it.)
func TestIdle(t *testing.T) {
	t.Run("memory server", func(t *testing.T) {
		ms := startMem(t, memOptions{})
		ms.append(t, "INBOX", message("<m1@x>", "one"))
		_, stop, exists, done := idleing(t, loginOptions(ms.Addr), "INBOX")
		time.Sleep(100 * time.Millisecond) // let IDLE begin; an earlier append is seen by the next poll anyway
		ms.append(t, "INBOX", message("<m2@x>", "two"))
		waitExists(t, exists, 2)
		stop()
		if err := <-done; err != nil {
			t.Errorf("Idle after its context ended = %v, want nil", err)
		}
	})
	t.Run("dropped", func(t *testing.T) {
		ms := startMem(t, memOptions{})
		p := testkit.StartProxy(t, ms.Addr)
		_, stop, _, done := idleing(t, loginOptions(p.Addr), "INBOX")
		defer stop()
		time.Sleep(100 * time.Millisecond)
		p.CutAfter(0)
		ms.append(t, "INBOX", message("<m3@x>", "three")) // the server speaks; the proxy cuts
		select {
		case err := <-done:
			if err == nil {
				t.Error("Idle on a dropped connection returned nil")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Idle hangs on a dropped connection")
		}
	})
	t.Run("dovecot", func(t *testing.T) {
		srv := dovecottest.Start(t)
		_, stop, exists, done := idleing(t, dovecotOptions(srv, srv.Plain, TLSNone, AuthLogin), "INBOX")
		time.Sleep(200 * time.Millisecond)
		srv.Append(t, "INBOX", dovecotMessage(1))
		waitExists(t, exists, 1)
		stop()
		if err := <-done; err != nil {
			t.Errorf("Idle after its context ended = %v, want nil", err)
		}
	})
}
