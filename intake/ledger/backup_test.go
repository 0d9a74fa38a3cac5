package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBackupRestore: a backup of a ledger with raw messages restores into an empty
// directory with every entry and raw message, refuses a non-empty one, and refuses an
// archive that is not a backup or names a file outside the state.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := recordSome(t, l, 5)
	var b bytes.Buffer
	if err := l.Backup(&b, map[string][]byte{"config.toml": []byte("[agency]\n")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	l.Close()

	to := filepath.Join(t.TempDir(), "restored")
	m, extra, err := Restore(to, bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if string(extra["config.toml"]) != "[agency]\n" || m.Schemas["ledger"] == 0 || len(m.Segments) == 0 {
		t.Errorf("manifest %+v, extra %q", m, extra)
	}
	r, err := Open(to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := r.Raw(id); err != nil {
			t.Errorf("entry %d: raw message after restore: %v", id, err)
		}
	}
	r.Close()
	if _, _, err := Restore(to, bytes.NewReader(b.Bytes())); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("restore into a non-empty directory: %v, want ErrNotEmpty", err)
	}
	for name, archive := range map[string][]byte{
		"not a tar":   []byte("hello"),
		"cut in half": b.Bytes()[:b.Len()/2],
	} {
		dst := filepath.Join(t.TempDir(), "x")
		if _, _, err := Restore(dst, bytes.NewReader(archive)); err == nil {
			t.Errorf("%s: restored", name)
		}
		if des, _ := os.ReadDir(dst); len(des) != 0 {
			t.Errorf("%s: a failed restore left %d files", name, len(des))
		}
	}
}

func recordSome(t *testing.T, l *Ledger, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for i := range n {
		id := fmt.Sprintf("<b%d@kensetsu.example>", i)
		raw := message(id, i)
		e := entryFor("INBOX", 1, uint32(i+1), id, raw)
		if err := l.Record(e, raw, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}
