package ledger

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func countFiles(t *testing.T, dir string, suffix string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, suffix) {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStoreRaw(t *testing.T) {
	dir := stateDir(t)
	l := openT(t, dir)
	raw := bytes.Repeat([]byte("Subject: 電子証書閲覧用「認証キー」等のお知らせ\r\n"), 200)

	ref, err := l.StoreRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	d := Digest(raw)
	if want := "raw/" + d[:2] + "/" + d + ".eml.gz"; ref != want {
		t.Errorf("StoreRaw ref = %q, want %q", ref, want)
	}
	again, err := l.StoreRaw(bytes.Clone(raw))
	if err != nil || again != ref {
		t.Errorf("StoreRaw again = %q, %v, want %q", again, err, ref)
	}
	other, err := l.StoreRaw(append(bytes.Clone(raw), '!'))
	if err != nil || other == ref {
		t.Errorf("StoreRaw(other bytes) = %q, %v, want a different ref", other, err)
	}
	if n := countFiles(t, filepath.Join(dir, rawDir), ".eml.gz"); n != 2 {
		t.Errorf("%d raw files, want 2", n)
	}
	if n := countFiles(t, filepath.Join(dir, rawDir), ".part"); n != 0 {
		t.Errorf("%d temporary files left, want 0", n)
	}
	if fi, err := os.Stat(l.rawPath(ref)); err != nil || fi.Size() >= int64(len(raw))/4 {
		t.Errorf("stored size %v (%v), want compressed well below %d", fi.Size(), err, len(raw))
	}

	got, err := l.Raw(ref)
	if err != nil || !bytes.Equal(got, raw) {
		t.Errorf("Raw(%q) = %d bytes, %v, want the %d stored", ref, len(got), err, len(raw))
	}

	// A stored file is checked against its name.
	if err := os.WriteFile(l.rawPath(other), mustGzip(t, []byte("tampered")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Raw(other); err == nil {
		t.Error("Raw of a tampered file succeeded")
	}
	for _, bad := range []string{"../hosho-intake.db", "raw/../../x", "raw/zz/" + d + ".eml.gz", "raw/" + d[:2] + "/" + d, ""} {
		if _, err := l.Raw(bad); err == nil {
			t.Errorf("Raw(%q) succeeded, want invalid reference", bad)
		}
	}
	missing := rawRef(Digest([]byte("never stored")))
	if _, err := l.Raw(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("Raw(missing) = %v, want ErrNotFound", err)
	}
}

func mustGzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeGzipTo(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCrashLeftovers: what a crash leaves in the raw store (a temporary file before the
// rename, a stored message whose Record never committed) is swept once old, never while a
// poll may still use it, and a referenced message always stays.
func TestCrashLeftovers(t *testing.T) {
	dir := stateDir(t)
	l := openT(t, dir)

	kept := message("<kept@x>", 1)
	keptRef, err := l.StoreRaw(kept)
	if err != nil {
		t.Fatal(err)
	}
	e := entryFor("INBOX", 1, 1, "<kept@x>", kept)
	e.Raw = keptRef
	record(t, l, e)

	// Crash between StoreRaw and Record.
	orphanRef, err := l.StoreRaw(message("<orphan@x>", 2))
	if err != nil {
		t.Fatal(err)
	}
	// Crash while writing: the temporary file never got renamed.
	part := filepath.Join(dir, rawDir, "tmp-123456.part")
	if err := os.WriteFile(part, []byte("half a gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Not ours: left alone.
	foreign := filepath.Join(dir, rawDir, keptRef[4:6], "README")
	if err := os.WriteFile(foreign, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	// The restart.
	l.Close()
	l = openT(t, dir)
	now := time.Now()
	if n, err := l.Sweep(now, 0); err != nil || n != 0 {
		t.Errorf("Sweep of fresh leftovers = %d, %v, want 0 removed", n, err)
	}
	if n, err := l.Sweep(now.Add(2*time.Hour), 0); err != nil || n != 2 {
		t.Errorf("Sweep an hour later = %d, %v, want 2 removed", n, err)
	}
	for _, path := range []string{part, l.rawPath(orphanRef)} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the sweep: %v", path, err)
		}
	}
	for _, path := range []string{foreign, l.rawPath(keptRef)} {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s swept: %v", path, err)
		}
	}
	if got, err := l.Raw(keptRef); err != nil || !bytes.Equal(got, kept) {
		t.Errorf("Raw(kept) = %v, want the message", err)
	}

	// A poll that stores an old orphan's bytes again revives it: the touch protects it.
	revived := message("<revived@x>", 3)
	ref, err := l.StoreRaw(revived)
	if err != nil {
		t.Fatal(err)
	}
	old := now.Add(-3 * time.Hour)
	if err := os.Chtimes(l.rawPath(ref), old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := l.StoreRaw(revived); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Sweep(now.Add(30*time.Minute), 0); n != 0 {
		t.Errorf("Sweep removed %d files just stored again, want 0", n)
	}
}

func TestSweep(t *testing.T) {
	const day = 24 * time.Hour
	dir := stateDir(t)
	l := openT(t, dir)
	// now is two hours ahead of the clock, so that every file written here is past the
	// orphan grace period; TakenAt sets each entry's age.
	now := time.Now().Add(2 * time.Hour)

	store := func(uid uint32, raw []byte, age time.Duration) *Entry {
		t.Helper()
		ref, err := l.StoreRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		e := entryFor("INBOX", 1, uid, "", raw)
		e.Raw, e.TakenAt = ref, now.Add(-age)
		return record(t, l, e)
	}
	oldE := store(1, message("<old@x>", 1), 40*day)
	newE := store(2, message("<new@x>", 2), 10*day)
	// The same bytes taken in twice (a copy in another mailbox, say): the file stays while
	// the younger entry needs it.
	shared := message("<shared@x>", 3)
	sharedOld := store(3, shared, 40*day)
	sharedNew := store(4, shared, time.Hour)

	if n, err := l.Sweep(now, 0); err != nil || n != 0 {
		t.Fatalf("Sweep with retention 0 = %d, %v, want 0 removed", n, err)
	}
	if e, _ := l.Get(oldE.ID); e.Raw == "" {
		t.Error("retention 0 forgot a raw message")
	}

	n, err := l.Sweep(now, 30*day)
	if err != nil || n != 1 {
		t.Fatalf("Sweep(30 days) = %d, %v, want 1 removed", n, err)
	}
	for _, tc := range []struct {
		e       *Entry
		wantRaw bool
	}{{oldE, false}, {newE, true}, {sharedOld, false}, {sharedNew, true}} {
		got, err := l.Get(tc.e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if (got.Raw != "") != tc.wantRaw {
			t.Errorf("entry %d: Raw = %q, want kept %v", tc.e.ID, got.Raw, tc.wantRaw)
		}
		_, err = l.Raw(tc.e.Raw)
		if tc.wantRaw || tc.e == sharedOld {
			if err != nil {
				t.Errorf("entry %d: file gone: %v", tc.e.ID, err)
			}
		} else if !errors.Is(err, ErrNotFound) {
			t.Errorf("entry %d: Raw = %v, want ErrNotFound", tc.e.ID, err)
		}
	}
	// The entry outlives its raw message, so the message is still recognised.
	if got, ok, _ := l.Seen("", oldE.Digest); !ok || got.ID != oldE.ID {
		t.Errorf("Seen(swept message) = %v, %v, want entry %d", got, ok, oldE.ID)
	}
	if s, _ := l.Stats(); s.Raw != 2 || s.Messages != 4 {
		t.Errorf("Stats = %+v, want 4 messages, 2 raw", s)
	}
	if n, err := l.Sweep(now, 30*day); err != nil || n != 0 {
		t.Errorf("second Sweep = %d, %v, want 0", n, err)
	}
}
