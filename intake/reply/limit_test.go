package reply

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/ledger"
	"hosho-intake/verifier/store"
)

func openDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func allow(t *testing.T, db *bolt.DB, l *Limiter, sender string, now time.Time) bool {
	t.Helper()
	var ok bool
	err := db.Update(func(tx *bolt.Tx) error {
		why, err := l.Allow(tx, sender, now)
		ok = why == ""
		return err
	})
	if err != nil {
		t.Fatalf("Allow(%q, %v): %v", sender, now, err)
	}
	return ok
}

func TestLimiter(t *testing.T) {
	db := openDB(t)
	l, err := OpenLimiter(db, 5, 1000)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 10, 1, 9, 0, 0, 0, time.UTC)
	const a = "yamada@kensetsu.example"
	for i := range 5 {
		if !allow(t, db, l, a, t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("reply %d refused, want allowed", i+1)
		}
	}
	steps := []struct {
		sender string
		at     time.Duration
		want   bool
	}{
		{a, 10 * time.Minute, false},                      // the 6th within the hour
		{strings.ToUpper(a), 11 * time.Minute, false},     // the same sender in capitals
		{"sato@kensetsu.example", 12 * time.Minute, true}, // another sender has its own count
		{a, 59 * time.Minute, false},                      // still within the hour of the first
		{a, 60*time.Minute + time.Second, true},           // the first reply has left the window
		{a, 60*time.Minute + 2*time.Second, false},        // and only that one
		{a, 2 * time.Hour, true},                          // the next hour
	}
	for _, s := range steps {
		if got := allow(t, db, l, s.sender, t0.Add(s.at)); got != s.want {
			t.Errorf("Allow(%q, t0+%v) = %v, want %v", s.sender, s.at, got, s.want)
		}
	}

	// A refused reply is not counted, and a rolled-back transaction counts nothing.
	errRollback := errors.New("rollback")
	const b = "kato@kensetsu.example"
	for range 10 {
		err := db.Update(func(tx *bolt.Tx) error {
			if _, err := l.Allow(tx, b, t0); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
	}
	if !allow(t, db, l, b, t0) {
		t.Error("Allow after rolled-back transactions = false, want true")
	}

	// Sweep drops senders with nothing in the last hour.
	var n int
	if err := db.Update(func(tx *bolt.Tx) error { n, err = l.Sweep(tx, t0.Add(5*time.Hour)); return err }); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("Sweep removed %d senders, want 3", n)
	}
}

func TestLimiterReadOnly(t *testing.T) {
	db := openDB(t)
	l, err := OpenLimiter(db, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error { _, err := l.Allow(tx, "a@b.example", time.Now()); return err })
	if err == nil {
		t.Error("Allow in a read-only transaction: no error")
	}
}

func TestOpenLimiter(t *testing.T) {
	db := openDB(t)
	if _, err := OpenLimiter(db, 0, 1000); err == nil {
		t.Error("OpenLimiter(0): no error")
	}
	// A file written by a newer binary is refused.
	err := db.Update(func(tx *bolt.Tx) error {
		s := Schema()
		s.Steps = append(s.Steps, func(*bolt.Tx) error { return nil })
		return store.Apply(tx, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLimiter(db, 5, 1000); !errors.Is(err, ledger.ErrNewerSchema) {
		t.Errorf("OpenLimiter on a newer schema: %v, want ErrNewerSchema", err)
	}
}

// TestLimiterGlobal: a stranger who forges a new From for every mail gets the agency to send
// at most the global cap in an hour, however many addresses they rotate through.
func TestLimiterGlobal(t *testing.T) {
	db := openDB(t)
	l, err := OpenLimiter(db, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 10, 1, 9, 0, 0, 0, time.UTC)
	sent := 0
	for i := range 10 {
		var why string
		err := db.Update(func(tx *bolt.Tx) error {
			var err error
			why, err = l.Allow(tx, fmt.Sprintf("forged%d@victim.example", i), t0.Add(time.Duration(i)*time.Minute))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		switch why {
		case "":
			sent++
		case WhyGlobalLimit:
		default:
			t.Errorf("reply %d refused with %q, want %q", i, why, WhyGlobalLimit)
		}
	}
	if sent != 3 {
		t.Errorf("%d replies admitted to 10 rotating senders, want the global cap 3", sent)
	}
	if !allow(t, db, l, "later@kensetsu.example", t0.Add(61*time.Minute)) {
		t.Error("a reply an hour later is refused: the global window does not slide")
	}
}
