package intake

import (
	"log/slog"
	"testing"
	"time"

	"hosho-intake/intake/ledger"
	"hosho-intake/intake/mailbox"
)

// TestCommitInOrderOutOfOrderArrival: workers finish in any order; every job is committed,
// in UID order, in runs of at most CommitBatch, none left behind.
func TestCommitInOrderOutOfOrderArrival(t *testing.T) {
	l, err := ledger.Open(t.TempDir(), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := &Poller{Mailbox: "INBOX", Ledger: l, Log: slog.New(slog.DiscardHandler), CommitBatch: 3}
	const n = 10
	done := make(chan *job, n)
	for i := n - 1; i >= 0; i-- { // the last message finishes first
		uid := uint32(i + 1)
		done <- &job{seq: i, validity: 7, info: mailbox.Info{UID: uid},
			entry: &ledger.Entry{Mailbox: "INBOX", UIDValidity: 7, UID: uid, TakenAt: time.Now(), Outcome: OutcomeProblems}}
	}
	close(done)
	committed := make(chan recorded, n)
	var res Result
	if err := p.commitInOrder(done, committed, &res, func() {}); err != nil {
		t.Fatal(err)
	}
	if res.Recorded != n || len(committed) != n {
		t.Fatalf("recorded %d, committed %d; want %d", res.Recorded, len(committed), n)
	}
	var last uint64
	for range n {
		r := <-committed
		id := r.id
		e, _ := l.Get(id)
		if id <= last || e.UID != uint32(id) {
			t.Errorf("entry %d has uid %d: not committed in UID order", id, e.UID)
		}
		if r.uid != e.UID {
			t.Errorf("entry %d handed on to be moved as uid %d, recorded as uid %d", id, r.uid, e.UID)
		}
		last = id
	}
	if c, _ := l.Cursor("INBOX"); c.LastUID != n {
		t.Errorf("cursor at %d, want %d", c.LastUID, n)
	}
}
