package intake

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/inbound"
	"hosho-intake/intake/ledger"
	"hosho-intake/verifier/store"
)

// floodPPAP is a PPAP over a fresh state file, with n password ZIP mails of zipSize bytes
// already waiting, the i-th from from(i), and n password mails, the i-th from the address
// from(i) gives with "p" before it.
func floodPPAP(t *testing.T, n, zipSize int, from func(i int) string) (*PPAP, time.Time) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), nil, PPAPSchema())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.NoSync = true // a test's state: a commit need not reach the disk
	p := &PPAP{DB: db, Wait: 24 * time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	now := time.Date(2026, 6, 11, 9, 0, 0, 0, time.UTC)
	for i := range n {
		if kept := recordZip(t, p, uint64(i+1), from(i), zipSize, now.Add(time.Duration(i)*time.Second)); !kept {
			t.Fatalf("flood mail %d from %s not kept waiting", i, from(i))
		}
		recordPassword(t, p, uint64(n+i+1), "p"+from(i), now.Add(time.Duration(i)*time.Second))
	}
	return p, now.Add(time.Duration(n) * time.Second)
}

// recordZip records one password ZIP mail of zipSize bytes and reports whether PPAP kept it
// waiting.
func recordZip(t *testing.T, p *PPAP, id uint64, from string, zipSize int, at time.Time) bool {
	t.Helper()
	var kept bool
	err := p.DB.Update(func(tx *bolt.Tx) error {
		c := &Contents{Received: at, Message: &inbound.Message{From: from, Subject: fmt.Sprintf("見積書 %d", id),
			MessageID: fmt.Sprintf("<z%d@x>", id), Locked: []inbound.Locked{{Path: "a.zip", Data: make([]byte, zipSize)}}}}
		var err error
		kept, err = p.record(tx, &ledger.Entry{ID: id}, c, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return kept
}

// recordPassword records one password mail and reports whether it was paired with a ZIP.
func recordPassword(t *testing.T, p *PPAP, id uint64, from string, at time.Time) (paired bool) {
	t.Helper()
	err := p.DB.Update(func(tx *bolt.Tx) error {
		c := &Contents{Received: at, Message: &inbound.Message{From: from, Subject: "パスワード", Texts: []string{"パスワード：Kensetsu0611"}}}
		if _, err := p.record(tx, &ledger.Entry{ID: id}, c, true); err != nil {
			return err
		}
		k, _ := tx.Bucket([]byte(pairBucket)).Cursor().First()
		paired = k != nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paired
}

// allocated is the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPPAPFloodFromManyDomains: a stranger's flood of waiting password ZIPs, from as many
// domains as it likes (each its own, under the per-domain bound), must not make the next
// sender's ZIP mail or password mail cost in proportion to the flood: pairing looks only at
// the sender's own domain, and the ZIPs' bytes are not read to pair. The measure is the bytes
// one more mail allocates (the least of three, as bbolt's page splits come and go) with a
// backlog of 40 and of 400 waiting 64 KiB ZIPs and as many password mails (no clock).
func TestPPAPFloodFromManyDomains(t *testing.T) {
	const zipSize = 64 << 10
	cost := func(n int) (zipMail, passwordMail uint64) {
		p, now := floodPPAP(t, n, zipSize, func(i int) string { return fmt.Sprintf("x@flood%d.example", i) })
		zipMail, passwordMail = math.MaxUint64, math.MaxUint64
		for i := range uint64(3) {
			id := uint64(2*n) + 2*i + 1
			zipMail = min(zipMail, allocated(func() { recordZip(t, p, id, "fujiwara@hirose-kensetsu.example", zipSize, now) }))
			passwordMail = min(passwordMail, allocated(func() {
				if !recordPassword(t, p, id+1, "fujiwara@hirose-kensetsu.example", now.Add(time.Minute)) {
					t.Errorf("backlog %d: the password mail was not paired with its ZIP", n)
				}
			}))
		}
		return zipMail, passwordMail
	}
	z40, k40 := cost(40)
	z400, k400 := cost(400)
	t.Logf("bytes allocated by one more mail: ZIP mail %d (backlog 40) → %d (backlog 400); password mail %d → %d", z40, z400, k40, k400)
	// The backlog grew tenfold; what one mail costs may not grow with it. Twice, plus the
	// ZIP's own bytes, leaves room for bbolt's page splits and the allocator.
	if z400 > 2*z40+zipSize {
		t.Errorf("a ZIP mail allocates %d bytes with 400 waiting, %d with 40: it reads the others", z400, z40)
	}
	if k400 > 2*k40+zipSize {
		t.Errorf("a password mail allocates %d bytes with 400 waiting, %d with 40: it reads the others' ZIPs", k400, k40)
	}
}

// TestPPAPFloodFromOneDomain: past ppapWaitPerDomain waiting mails from one domain, the next
// password ZIP from it is not kept waiting (it takes the usual path: answered password_zip), nor
// the next password mail, while another domain's ZIP still waits and is paired.
func TestPPAPFloodFromOneDomain(t *testing.T) {
	p, now := floodPPAP(t, ppapWaitPerDomain, 1<<10, func(i int) string { return fmt.Sprintf("x%d@flood.example", i) })
	if recordZip(t, p, 1000, "x@flood.example", 1<<10, now) {
		t.Errorf("ZIP mail %d from one domain kept waiting; the bound is %d", ppapWaitPerDomain+1, ppapWaitPerDomain)
	}
	recordPassword(t, p, 999, "y@flood.example", now)
	err := p.DB.View(func(tx *bolt.Tx) error {
		if n := len(sameDomain(tx, keysBucket, "y@flood.example")); n != ppapWaitPerDomain {
			t.Errorf("%d password mails wait from one domain, want the bound %d", n, ppapWaitPerDomain)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !recordZip(t, p, 1001, "fujiwara@hirose-kensetsu.example", 1<<10, now) {
		t.Error("another domain's ZIP mail was not kept waiting")
	}
	if !recordPassword(t, p, 1002, "fujiwara@hirose-kensetsu.example", now.Add(time.Minute)) {
		t.Error("another domain's password mail was not paired")
	}
}

// TestPPAPStateV1: a state written before the files moved out of the waiting records (schema
// intake.ppap version 1: a ZIP mail's record held its files and text) opens, is migrated in
// place, and its waiting ZIP is paired with a later password mail, read with its files, and
// removed whole. The version 1 records are the JSON that version wrote, byte for byte.
func TestPPAPStateV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	v1, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	zipData := []byte("PK\x03\x04 locked")
	err = v1.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if err := meta.Put([]byte(ppapOwner), store.BE32(1)); err != nil {
			return err
		}
		for name, records := range map[string]map[uint64]string{
			zipsBucket: {7: `{"Entry":7,"From":"Fujiwara@Hirose-Kensetsu.example","FromName":"藤原","Subject":"認証キー送付","MessageID":"<z7@x>",` +
				`"InReplyTo":"","References":null,"Date":"2026-06-11T09:00:00Z","Received":"2026-06-11T09:00:00Z","Deadline":"2026-06-12T09:00:00Z",` +
				`"Texts":["着工日は令和8年6月15日です。"],"Zips":[{"Path":"ninsho.zip","Data":"UEsDBCBsb2NrZWQ="}]}`},
			keysBucket: {8: `{"Entry":8,"From":"x@other.example","FromName":"","Subject":"PW","MessageID":"","InReplyTo":"","References":null,` +
				`"Date":"0001-01-01T00:00:00Z","Received":"2026-06-11T09:01:00Z","Deadline":"2026-06-12T09:01:00Z","Passwords":["abc"]}`},
			pairBucket: {},
		} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			for id, v := range records {
				if err := b.Put(store.BE64(id), []byte(v)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	v1.Close()
	if err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(path, nil, PPAPSchema())
	if err != nil {
		t.Fatalf("opening a version 1 state: %v", err)
	}
	defer db.Close()
	p := &PPAP{DB: db, Wait: 24 * time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	at := time.Date(2026, 6, 11, 10, 0, 0, 0, time.UTC)
	err = db.View(func(tx *bolt.Tx) error {
		if v, err := store.Version(tx, ppapOwner); err != nil || v != 2 {
			t.Errorf("schema version %d (%v), want 2", v, err)
		}
		if raw := tx.Bucket([]byte(zipsBucket)).Get(store.BE64(7)); bytes.Contains(raw, []byte("UEsDBC")) || bytes.Contains(raw, []byte("着工日")) {
			t.Errorf("the waiting record still holds the files or text: %s", raw)
		}
		if got := sameDomain(tx, keysBucket, "y@OTHER.example"); !slices.Equal(got, []uint64{8}) {
			t.Errorf("password mails indexed under other.example: %v, want [8]", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !recordPassword(t, p, 9, "fujiwara@hirose-kensetsu.example", at) {
		t.Fatal("the migrated ZIP mail was not paired with its sender's password mail")
	}
	err = db.Update(func(tx *bolt.Tx) error {
		var m ppapMail
		if _, err := store.GetJSON(tx.Bucket([]byte(zipsBucket)), 7, &m); err != nil {
			return err
		}
		m, zips, err := withFiles(tx, m)
		if err != nil {
			return err
		}
		if len(zips) != 1 || !bytes.Equal(zips[0].Data, zipData) || zips[0].Path != "ninsho.zip" || !slices.Equal(m.Texts, []string{"着工日は令和8年6月15日です。"}) {
			t.Errorf("migrated files %+v, text %q", zips, m.Texts)
		}
		if err := deleteMail(tx, zipsBucket, 7); err != nil {
			return err
		}
		for _, name := range []string{zipsBucket, filesBucket, domainIndex[zipsBucket]} {
			if k, _ := tx.Bucket([]byte(name)).Cursor().First(); k != nil {
				t.Errorf("%s keeps %q after the ZIP mail was removed", name, k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
