package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier/store"
)

var t0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

func openT(t testing.TB, dir string) *Ledger {
	t.Helper()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open(%q) = %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func stateDir(t testing.TB) string { return filepath.Join(t.TempDir(), "state") }

// message is a small raw message; n makes its bytes unique.
func message(messageID string, n int) []byte {
	return fmt.Appendf(nil, "Message-ID: %s\r\nSubject: notice %d\r\n\r\nbody %d\r\n", messageID, n, n)
}

// entryFor builds an entry at (mailbox, uidvalidity, uid) for raw, without storing it.
func entryFor(mailbox string, uidvalidity, uid uint32, messageID string, raw []byte) *Entry {
	return &Entry{
		Mailbox: mailbox, UIDValidity: uidvalidity, UID: uid,
		MessageID: messageID, Digest: Digest(raw), Size: int64(len(raw)),
		TakenAt: t0, Outcome: "notices", Notices: 1,
	}
}

func mustRecord(t testing.TB, l *Ledger, e *Entry) *Entry {
	t.Helper()
	if err := l.Record(e, nil, nil); err != nil {
		t.Fatalf("Record(%s uid %d) = %v", e.Mailbox, e.UID, err)
	}
	return e
}

func TestOpenLocked(t *testing.T) {
	dir := stateDir(t)
	l := openT(t, dir)

	start := time.Now()
	l2, err := Open(dir, Options{})
	if err == nil {
		l2.Close()
		t.Fatal("second Open succeeded, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second Open took %v, want about the 1s lock timeout", d)
	}
	want := fmt.Sprintf("state directory %s is in use by another hosho-intake (pid %d)", dir, os.Getpid())
	if err.Error() != want {
		t.Errorf("second Open = %q, want %q", err, want)
	}

	if err := l.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pidName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after Close: %v, want removed", err)
	}
	l3, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	l3.Close()
}

func TestFileModes(t *testing.T) {
	dir := stateDir(t)
	l := openT(t, dir)
	raw := message("<m@x>", 1)
	if err := l.Record(entryFor("INBOX", 1, 1, "<m@x>", raw), raw, nil); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{filepath.Join(dir, rawDir), 0o700 | os.ModeDir},
		{filepath.Join(dir, DBName), 0o600},
		{filepath.Join(dir, pidName), 0o600},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tc.want {
			t.Errorf("mode of %s = %v, want %v", tc.path, fi.Mode(), tc.want)
		}
	}

	// A database file made readable by hand is tightened on the next Open.
	l.Close()
	db := filepath.Join(dir, DBName)
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	openT(t, dir)
	if fi, _ := os.Stat(db); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of %s after reopen = %v, want 0600", db, fi.Mode())
	}
}

func TestOpenNewerSchema(t *testing.T) {
	dir := stateDir(t)
	l := openT(t, dir)
	err := l.DB().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte(ledgerOwner), store.BE32(uint32(len(schema().Steps)+1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if l2, err := Open(dir, Options{}); !errors.Is(err, ErrNewerSchema) {
		if err == nil {
			l2.Close()
		}
		t.Fatalf("Open of a newer file = %v, want ErrNewerSchema", err)
	}
	// The refusal released the lock and left no pid file behind.
	if _, err := os.Stat(filepath.Join(dir, pidName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after a refused Open: %v, want removed", err)
	}
	db, err := bolt.Open(filepath.Join(dir, DBName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("file still locked after a refused Open: %v", err)
	}
	db.Close()
}

func TestRecordRollback(t *testing.T) {
	l := openT(t, stateDir(t))
	raw := message("<a@x>", 1)
	errMore := errors.New("verifier refused")
	e := entryFor("INBOX", 7, 3, "<a@x>", raw)
	err := l.Record(e, nil, func(tx *bolt.Tx, e *Entry) error {
		if e.ID == 0 {
			t.Error("more called before the ID was assigned")
		}
		b, err := tx.CreateBucketIfNotExists([]byte("submissions"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("s1"), []byte("x")); err != nil {
			return err
		}
		return errMore
	})
	if !errors.Is(err, errMore) {
		t.Fatalf("Record with failing more = %v, want %v", err, errMore)
	}
	if e.ID != 0 {
		t.Errorf("ID after rollback = %d, want 0", e.ID)
	}
	if _, err := l.Get(1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(1) after rollback = %v, want ErrNotFound", err)
	}
	if _, ok, _ := l.ByUID("INBOX", 7, 3); ok {
		t.Error("ByUID finds a rolled-back entry")
	}
	if _, ok, _ := l.Seen(Digest(raw)); ok {
		t.Error("Seen finds a rolled-back entry")
	}
	if c, _ := l.Cursor("INBOX"); c != (Cursor{Mailbox: "INBOX"}) {
		t.Errorf("Cursor after rollback = %+v, want zero", c)
	}
	if s, _ := l.Stats(); s.Messages != 0 || s.Unmoved != 0 || len(s.Outcomes) != 0 {
		t.Errorf("Stats after rollback = %+v, want zero", s)
	}
	l.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("submissions")) != nil {
			t.Error("more's bucket committed")
		}
		return nil
	})

	// The same message then records, with more's writes, in one commit.
	e = entryFor("INBOX", 7, 3, "<a@x>", raw)
	err = l.Record(e, nil, func(tx *bolt.Tx, e *Entry) error {
		b, err := tx.CreateBucketIfNotExists([]byte("submissions"))
		if err != nil {
			return err
		}
		return b.Put(store.BE64(e.ID), []byte("x"))
	})
	if err != nil {
		t.Fatalf("Record = %v", err)
	}
	l.DB().View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("submissions")); b == nil || b.Get(store.BE64(e.ID)) == nil {
			t.Error("more's write missing after commit")
		}
		return nil
	})

	// The same location again is refused: the last guard against a second processing.
	err = l.Record(entryFor("INBOX", 7, 3, "<b@x>", message("<b@x>", 2)), nil, nil)
	if !errors.Is(err, ErrDuplicate) {
		t.Errorf("Record of a recorded location = %v, want ErrDuplicate", err)
	}
}

func TestRecordInvalid(t *testing.T) {
	l := openT(t, stateDir(t))
	raw := message("<a@x>", 1)
	for _, tc := range []struct {
		name string
		edit func(e *Entry)
	}{
		{"no mailbox", func(e *Entry) { e.Mailbox = "" }},
		{"NUL in mailbox", func(e *Entry) { e.Mailbox = "IN\x00BOX" }},
		{"uidvalidity 0", func(e *Entry) { e.UIDValidity = 0 }},
		{"uid 0", func(e *Entry) { e.UID = 0 }},
		{"no TakenAt", func(e *Entry) { e.TakenAt = time.Time{} }},
		{"no outcome", func(e *Entry) { e.Outcome = "" }},
		{"bad digest", func(e *Entry) { e.Digest = "abc" }},
	} {
		e := entryFor("INBOX", 1, 1, "<a@x>", raw)
		tc.edit(e)
		if err := l.Record(e, nil, nil); err == nil {
			t.Errorf("Record(%s) succeeded, want an error", tc.name)
		}
	}
	if s, _ := l.Stats(); s.Messages != 0 {
		t.Errorf("Stats.Messages = %d after invalid records, want 0", s.Messages)
	}
}

func TestCursor(t *testing.T) {
	l := openT(t, stateDir(t))
	n := 0
	rec := func(mailbox string, uv, uid uint32) error {
		n++
		id := fmt.Sprintf("<%d@x>", n)
		return l.Record(entryFor(mailbox, uv, uid, id, message(id, n)), nil, nil)
	}
	adv := func(mailbox string, uv, uid uint32) error { return l.Advance(mailbox, uv, uid) }
	for i, tc := range []struct {
		op      func(string, uint32, uint32) error
		mailbox string
		uv, uid uint32
		want    Cursor // of mailbox, after op
	}{
		{rec, "INBOX", 7, 3, Cursor{"INBOX", 7, 3}},
		{rec, "INBOX", 7, 5, Cursor{"INBOX", 7, 5}},
		{adv, "INBOX", 7, 4, Cursor{"INBOX", 7, 5}}, // never backwards
		{adv, "INBOX", 7, 9, Cursor{"INBOX", 7, 9}},
		{rec, "INBOX", 7, 6, Cursor{"INBOX", 7, 9}}, // a late UID below the cursor
		{rec, "受信箱", 2, 1, Cursor{"受信箱", 2, 1}},     // mailboxes are independent
		{adv, "INBOX", 8, 0, Cursor{"INBOX", 8, 0}}, // UIDVALIDITY changed: start again
		{rec, "INBOX", 8, 2, Cursor{"INBOX", 8, 2}},
	} {
		if err := tc.op(tc.mailbox, tc.uv, tc.uid); err != nil {
			t.Fatalf("step %d (%s %d %d) = %v", i, tc.mailbox, tc.uv, tc.uid, err)
		}
		if got, err := l.Cursor(tc.mailbox); err != nil || got != tc.want {
			t.Errorf("step %d: Cursor(%q) = %+v, %v, want %+v", i, tc.mailbox, got, err, tc.want)
		}
	}
	if got, _ := l.Cursor("受信箱"); got != (Cursor{"受信箱", 2, 1}) {
		t.Errorf("Cursor(受信箱) = %+v, want {受信箱 2 1}", got)
	}
	if got, _ := l.Cursor("never"); got != (Cursor{Mailbox: "never"}) {
		t.Errorf("Cursor(never) = %+v, want zero", got)
	}
}

func TestSeen(t *testing.T) {
	l := openT(t, stateDir(t))
	long := "<" + strings.Repeat("x", 2000) + "@x>"
	rawA, rawB, rawC, rawL := message("<a@x>", 1), message("<a@x>", 2), []byte("no id\r\n\r\nc\r\n"), message(long, 4)
	a := mustRecord(t, l, entryFor("INBOX", 1, 1, "<a@x>", rawA))
	// A broken sender tool stamps the same Message-ID on a different mail.
	b := mustRecord(t, l, entryFor("INBOX", 1, 2, "<a@x>", rawB))
	c := mustRecord(t, l, entryFor("INBOX", 1, 3, "", rawC))
	big := entryFor("INBOX", 1, 4, "<big@x>", nil)
	big.Digest, big.Outcome = "", "too_large"
	mustRecord(t, l, big)
	lg := mustRecord(t, l, entryFor("INBOX", 1, 5, long, rawL))

	for _, tc := range []struct {
		digest string
		want   *Entry
	}{
		{Digest(rawA), a},
		{Digest(rawB), b}, // the same Message-ID as a, another mail: kept apart
		{Digest([]byte("other")), nil},
		{Digest(rawC), c}, // no Message-ID
		{Digest(rawL), lg},
		{"", nil}, // never downloaded (big): never seen
	} {
		got, ok, err := l.Seen(tc.digest)
		if err != nil {
			t.Fatalf("Seen(%.8s) = %v", tc.digest, err)
		}
		if ok != (tc.want != nil) || (ok && got.ID != tc.want.ID) {
			t.Errorf("Seen(%.8s) = %v, %v, want %v", tc.digest, got, ok, tc.want)
		}
	}
}

// TestUIDValidityChange follows the poller through a UIDVALIDITY reset: the same message
// under the new validity is recognised, aliased, moved once, and never recorded again.
func TestUIDValidityChange(t *testing.T) {
	dir := stateDir(t)
	l := openT(t, dir)
	raw := message("<a@x>", 1)
	e := mustRecord(t, l, entryFor("INBOX", 100, 42, "<a@x>", raw))
	if err := l.MarkMoved([]uint64{e.ID}); err != nil {
		t.Fatal(err)
	}

	// The server renumbered: UIDVALIDITY 200, the message is UID 1 now.
	if c, _ := l.Cursor("INBOX"); c.UIDValidity == 200 {
		t.Fatal("cursor knows the new validity already")
	}
	got, ok, err := l.Seen(Digest(raw))
	if err != nil || !ok || got.ID != e.ID {
		t.Fatalf("Seen after reset = %v, %v, %v, want entry %d", got, ok, err, e.ID)
	}
	if err := l.Alias("INBOX", 200, 1, e.ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Alias = %v", err)
	}
	if c, _ := l.Cursor("INBOX"); c != (Cursor{"INBOX", 200, 1}) {
		t.Errorf("Cursor after Alias = %+v, want {INBOX 200 1}", c)
	}
	if got, ok, _ := l.ByUID("INBOX", 200, 1); !ok || got.ID != e.ID {
		t.Errorf("ByUID(new location) = %v, %v, want entry %d", got, ok, e.ID)
	}
	if got, ok, _ := l.ByUID("INBOX", 100, 42); !ok || got.ID != e.ID {
		t.Errorf("ByUID(old location) = %v, %v, want entry %d", got, ok, e.ID)
	}

	// A crash before the move: the alias is still to move after a restart.
	l.Close()
	l = openT(t, dir)
	un, err := l.Unmoved("INBOX")
	if err != nil || len(un) != 1 || un[0].ID != e.ID {
		t.Fatalf("Unmoved after alias = %v, %v, want entry %d", un, err, e.ID)
	}
	if a := un[0].Aliases; len(a) != 1 || a[0].UIDValidity != 200 || a[0].UID != 1 || a[0].Moved || !un[0].Moved {
		t.Errorf("unmoved entry = %+v, want moved with one unmoved alias 200/1", un[0])
	}
	if err := l.MarkMoved([]uint64{e.ID}); err != nil {
		t.Fatal(err)
	}
	if un, _ := l.Unmoved("INBOX"); len(un) != 0 {
		t.Errorf("Unmoved after MarkMoved = %v, want none", un)
	}

	// Aliasing again is a no-op; the location cannot become another entry.
	if err := l.Alias("INBOX", 200, 1, e.ID, t0); err != nil {
		t.Errorf("Alias again = %v, want nil", err)
	}
	other := mustRecord(t, l, entryFor("INBOX", 200, 2, "<b@x>", message("<b@x>", 2)))
	if err := l.Alias("INBOX", 200, 1, other.ID, t0); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Alias to another entry = %v, want ErrDuplicate", err)
	}
	if err := l.Record(entryFor("INBOX", 200, 1, "<a@x>", raw), nil, nil); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Record at an alias = %v, want ErrDuplicate", err)
	}
	if err := l.Alias("INBOX", 200, 9, 999, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Alias to an unknown entry = %v, want ErrNotFound", err)
	}
	if got, _ := l.Get(e.ID); len(got.Aliases) != 1 {
		t.Errorf("aliases = %+v, want one", got.Aliases)
	}
}

func TestUnmovedMarkMoved(t *testing.T) {
	dir := stateDir(t)
	l := openT(t, dir)
	var ids []uint64
	for i, loc := range []struct {
		mailbox string
		uid     uint32
	}{{"INBOX", 5}, {"INBOX", 3}, {"Other", 1}, {"INBOX", 9}} {
		id := fmt.Sprintf("<%d@x>", i)
		ids = append(ids, mustRecord(t, l, entryFor(loc.mailbox, 1, loc.uid, id, message(id, i))).ID)
	}
	uids := func(es []Entry) []uint32 {
		var out []uint32
		for _, e := range es {
			out = append(out, e.UID)
		}
		return out
	}
	if got, err := l.Unmoved("INBOX"); err != nil || !reflect.DeepEqual(uids(got), []uint32{3, 5, 9}) {
		t.Errorf("Unmoved(INBOX) = %v, %v, want UIDs 3 5 9", uids(got), err)
	}
	if err := l.MarkMoved([]uint64{ids[0], ids[3]}); err != nil {
		t.Fatal(err)
	}
	// The moves were recorded durably: a restart sees the same.
	l.Close()
	l = openT(t, dir)
	if got, _ := l.Unmoved("INBOX"); !reflect.DeepEqual(uids(got), []uint32{3}) {
		t.Errorf("Unmoved(INBOX) after MarkMoved = %v, want 3", uids(got))
	}
	if got, _ := l.Unmoved("Other"); !reflect.DeepEqual(uids(got), []uint32{1}) {
		t.Errorf("Unmoved(Other) = %v, want 1", uids(got))
	}
	if e, _ := l.Get(ids[0]); !e.Moved {
		t.Errorf("entry %d not Moved after MarkMoved", ids[0])
	}
	// An unknown ID fails the whole call: nothing is marked.
	if err := l.MarkMoved([]uint64{ids[1], 999}); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkMoved(unknown) = %v, want ErrNotFound", err)
	}
	if got, _ := l.Unmoved("INBOX"); len(got) != 1 {
		t.Errorf("Unmoved after a failed MarkMoved = %v, want 3 still", uids(got))
	}
	if s, _ := l.Stats(); s.Unmoved != 2 {
		t.Errorf("Stats.Unmoved = %d, want 2", s.Unmoved)
	}
}

func TestListGetReprocessed(t *testing.T) {
	l := openT(t, stateDir(t))
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("<%d@x>", i)
		e := entryFor("INBOX", 1, uint32(i), id, message(id, i))
		e.TakenAt = t0.Add(time.Duration(i) * time.Hour)
		if i%2 == 0 {
			e.Outcome = "problems"
			e.Problems = []string{"no_notice"}
		}
		mustRecord(t, l, e)
	}
	ids := func(es []Entry) []uint64 {
		var out []uint64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tc := range []struct {
		f     Filter
		limit int
		want  []uint64
	}{
		{Filter{}, 0, []uint64{5, 4, 3, 2, 1}},
		{Filter{}, 2, []uint64{5, 4}},
		{Filter{Before: 4}, 2, []uint64{3, 2}},
		{Filter{Before: 1}, 0, nil},
		{Filter{Before: 99}, 1, []uint64{5}},
		{Filter{Outcome: "problems"}, 0, []uint64{4, 2}},
		{Filter{Since: t0.Add(4 * time.Hour)}, 0, []uint64{5, 4}},
		{Filter{Mailbox: "Other"}, 0, nil},
	} {
		got, err := l.List(tc.f, tc.limit)
		if err != nil || !reflect.DeepEqual(ids(got), tc.want) {
			t.Errorf("List(%+v, %d) = %v, %v, want %v", tc.f, tc.limit, ids(got), err, tc.want)
		}
	}

	if err := l.Reprocessed(2, t0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := l.Reprocessed(2, t0.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	e, err := l.Get(2)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{t0.Add(48 * time.Hour), t0.Add(72 * time.Hour)}
	if len(e.Reprocessed) != 2 || !e.Reprocessed[0].Equal(want[0]) || !e.Reprocessed[1].Equal(want[1]) {
		t.Errorf("Reprocessed history = %v, want %v", e.Reprocessed, want)
	}
	if !reflect.DeepEqual(e.Problems, []string{"no_notice"}) {
		t.Errorf("Problems = %v, want [no_notice]", e.Problems)
	}
	if err := l.Reprocessed(99, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Reprocessed(99) = %v, want ErrNotFound", err)
	}
	if _, err := l.Get(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(99) = %v, want ErrNotFound", err)
	}

	s, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Messages != 5 || s.Outcomes["notices"] != 3 || s.Outcomes["problems"] != 2 || s.Unmoved != 5 ||
		!reflect.DeepEqual(s.Cursors, []Cursor{{"INBOX", 1, 5}}) {
		t.Errorf("Stats = %+v", s)
	}
}

// TestConcurrentReaders runs readers beside a writer: every reader sees whole commits (the
// cursor never runs ahead of its entry, counts match entries) and nobody blocks.
func TestConcurrentReaders(t *testing.T) {
	l := openT(t, stateDir(t))
	const n = 150
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reads := 0
			for {
				select {
				case <-done:
					if reads == 0 {
						errs <- errors.New("reader never read")
					}
					return
				default:
				}
				c, err := l.Cursor("INBOX")
				if err != nil {
					errs <- err
					return
				}
				if c.LastUID > 0 {
					e, ok, err := l.ByUID("INBOX", 1, c.LastUID)
					if err != nil || !ok {
						errs <- fmt.Errorf("cursor at %d but ByUID = %v, %v", c.LastUID, ok, err)
						return
					}
					if _, ok, err := l.Seen(e.Digest); err != nil || !ok {
						errs <- fmt.Errorf("entry %d not Seen: %v, %v", e.ID, ok, err)
						return
					}
				}
				s, err := l.Stats()
				if err != nil {
					errs <- err
					return
				}
				if s.Messages < int64(c.LastUID) {
					errs <- fmt.Errorf("stats read %d messages after a cursor at %d", s.Messages, c.LastUID)
					return
				}
				reads++
			}
		}()
	}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("<%d@x>", i)
		if err := l.Record(entryFor("INBOX", 1, uint32(i), id, message(id, i)), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, _ := l.List(Filter{}, 0); len(got) != n {
		t.Errorf("List = %d entries, want %d", len(got), n)
	}
}

// TestOpenSchemas: Open applies the other owners' schemas with the ledger's, and refuses the
// file when one of them is newer than the binary.
func TestOpenSchemas(t *testing.T) {
	dir := stateDir(t)
	other := store.Schema{Owner: "other", Steps: []func(*bolt.Tx) error{store.CreateBuckets("other-1")}}
	l, err := Open(dir, Options{Schemas: []store.Schema{other}})
	if err != nil {
		t.Fatalf("Open with a schema = %v", err)
	}
	err = l.DB().Update(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("other-1")) == nil {
			t.Error("bucket of the other schema missing")
		}
		return tx.Bucket([]byte("meta")).Put([]byte("other"), store.BE32(2))
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if l2, err := Open(dir, Options{Schemas: []store.Schema{other}}); !errors.Is(err, ErrNewerSchema) {
		if err == nil {
			l2.Close()
		}
		t.Fatalf("Open with a newer schema of another owner = %v, want ErrNewerSchema", err)
	}
}
