package verifier

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestRecordReveal: a reveal is kept in the item's history without the key, changes no
// state, and is neither a decision nor news to the digest.
func TestRecordReveal(t *testing.T) {
	db, q := newQueue(t)
	const key1, key2 = "43H5ZEOH3X", "KEY0000002"
	submit(t, db, q, queueNotice("2070000001", key1), decision(OutcomeQueued), meta(1, qt0))
	submit(t, db, q, queueNotice("2070000002", key2), decision(OutcomeQueued), meta(2, qt0))
	update(t, db, func(tx *bolt.Tx) error {
		if _, err := q.Decide(tx, 2, ActionVerify, "command:tanaka", HowCommand, "", qt0.Add(time.Hour)); err != nil {
			return err
		}
		return q.MarkDigestSent(tx, qt0.Add(2*time.Hour))
	})
	in := DigestInput{Now: qt0.Add(4 * time.Hour), AgencyName: "島根県 土木部", AgencyAddress: agency}
	digest := func() (Digest, map[string]int) {
		var d Digest
		var counts map[string]int
		view(t, db, func(tx *bolt.Tx) error {
			var err error
			if d, err = q.Digest(tx, in); err != nil {
				return err
			}
			counts, err = q.Counts(tx)
			return err
		})
		return d, counts
	}
	beforeDigest, beforeCounts := digest()

	shown := qt0.Add(3 * time.Hour)
	for _, id := range []uint64{1, 2} {
		update(t, db, func(tx *bolt.Tx) error {
			_, err := q.RecordReveal(tx, id, "command:suzuki", shown)
			return err
		})
	}

	for _, tc := range []struct {
		id          uint64
		state       string
		decided     bool
		decidedHow  string
		key         string
		historySize int
	}{
		{1, StateQueued, false, "", key1, 2},
		{2, StateVerified, true, HowCommand, key2, 3},
	} {
		s := get(t, db, q, tc.id)
		if s.State != tc.state || len(s.History) != tc.historySize {
			t.Errorf("%s after a reveal: state %s, %d changes; want %s, %d", s.TrackingNumber(), s.State, len(s.History), tc.state, tc.historySize)
			continue
		}
		want := Change{At: shown, From: tc.state, To: tc.state, By: "command:suzuki", How: HowKeyShown}
		if got := s.History[len(s.History)-1]; !got.At.Equal(want.At) || got.From != want.From || got.To != want.To || got.By != want.By || got.How != want.How || got.Why != "" {
			t.Errorf("%s: last change %+v, want %+v", s.TrackingNumber(), got, want)
		}
		if c, ok := s.Decided(); ok != tc.decided || c.How != tc.decidedHow {
			t.Errorf("%s: Decided() = %+v, %v; want how %q, %v", s.TrackingNumber(), c, ok, tc.decidedHow, tc.decided)
		}
		hist, _ := json.Marshal(s.History)
		if strings.Contains(string(hist), tc.key) {
			t.Errorf("%s: the key is in the history: %s", s.TrackingNumber(), hist)
		}
	}

	afterDigest, afterCounts := digest()
	if afterDigest.Text != beforeDigest.Text || afterDigest.HTML != beforeDigest.HTML || afterDigest.Subject != beforeDigest.Subject {
		t.Errorf("a reveal changed the digest:\n%s\n---- was ----\n%s", afterDigest.Text, beforeDigest.Text)
	}
	if !maps.Equal(afterCounts, beforeCounts) {
		t.Errorf("counts after a reveal %v, before %v", afterCounts, beforeCounts)
	}
}

func TestRecordRevealRefused(t *testing.T) {
	db, q := newQueue(t)
	submit(t, db, q, queueNotice("2070000001", "KEY0000001"), decision(OutcomeQueued), meta(1, qt0))
	for _, tc := range []struct {
		name    string
		id      uint64
		by      string
		wantErr error
	}{
		{"no such item", 9, "command:suzuki", ErrNotFound},
		{"nobody named", 1, " ", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.Update(func(tx *bolt.Tx) error {
				_, err := q.RecordReveal(tx, tc.id, tc.by, qt0)
				return err
			})
			if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("RecordReveal(%d, %q) = %v, want %v", tc.id, tc.by, err, tc.wantErr)
			}
		})
	}
	if s := get(t, db, q, 1); len(s.History) != 1 {
		t.Errorf("a refused reveal was recorded: %+v", s.History)
	}
}
