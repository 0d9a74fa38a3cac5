package ledger

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestRawKeptWithItsEntry(t *testing.T) {
	l := openT(t, stateDir(t))
	raw := benchMessage()(1) // base64 of a deflated PDF, as contractors send
	e := entryFor("INBOX", 1, 1, "<a@x>", raw)
	if err := l.Record(e, raw, nil); err != nil {
		t.Fatal(err)
	}
	got, err := l.Raw(e.ID)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Raw(%d) = %d bytes, %v; want the %d recorded", e.ID, len(got), err, len(raw))
	}
	// Header only (a message over the size limit): no digest, still kept.
	h := entryFor("INBOX", 1, 2, "<big@x>", nil)
	h.Digest = ""
	if err := l.Record(h, []byte("Subject: big\r\n\r\n"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Raw(h.ID); err != nil || string(got) != "Subject: big\r\n\r\n" {
		t.Errorf("Raw(header only) = %q, %v", got, err)
	}
	// An entry recorded without its raw message has none.
	n := entryFor("INBOX", 1, 3, "<n@x>", message("<n@x>", 3))
	if err := l.Record(n, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Raw(n.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Raw(no raw) = %v, want ErrNotFound", err)
	}
	// A damaged segment is refused, never returned as the message.
	name, off, _, err := parseRawRef(e.Raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(l.dir, rawDir, name), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("XXXXXXXXXXXXXXXX"), off+40)
	f.Close()
	if _, err := l.Raw(e.ID); err == nil {
		t.Error("Raw returned a damaged record")
	}
}

func TestRecordBatchAllOrNothing(t *testing.T) {
	l := openT(t, stateDir(t))
	var items []Item
	for i := 1; i <= 3; i++ {
		raw := message("<b@x>", i)
		items = append(items, Item{Entry: entryFor("INBOX", 1, uint32(i), "", raw), Raw: raw})
	}
	err := l.RecordBatch(items, func(tx *bolt.Tx, e *Entry) error {
		if e.UID == 3 {
			return errors.New("queue full")
		}
		return nil
	})
	if err == nil {
		t.Fatal("RecordBatch succeeded though more failed")
	}
	for _, it := range items {
		if it.Entry.ID != 0 {
			t.Errorf("entry uid %d kept ID %d after a failed batch", it.Entry.UID, it.Entry.ID)
		}
	}
	if s, _ := l.Stats(); s.Messages != 0 || s.Raw != 0 {
		t.Errorf("stats after a failed batch = %+v, want nothing", s)
	}
	if c, _ := l.Cursor("INBOX"); c.LastUID != 0 {
		t.Errorf("cursor moved to %d by a failed batch", c.LastUID)
	}
	if err := l.RecordBatch(items, nil); err != nil {
		t.Fatal(err)
	}
	if s, _ := l.Stats(); s.Messages != 3 || s.Raw != 3 {
		t.Errorf("stats = %+v, want 3 messages with raw", s)
	}
	if c, _ := l.Cursor("INBOX"); c.LastUID != 3 {
		t.Errorf("cursor at %d, want 3", c.LastUID)
	}
}

func TestSweep(t *testing.T) {
	l := openT(t, stateDir(t))
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	var ids []uint64
	for i, age := range []time.Duration{100 * 24 * time.Hour, 10 * 24 * time.Hour} {
		raw := message("<s@x>", i)
		e := entryFor("INBOX", 1, uint32(i+1), "", raw)
		e.TakenAt = now.Add(-age)
		if err := l.Record(e, raw, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if n, err := l.Sweep(now, 0); err != nil || n != 0 {
		t.Errorf("Sweep with retention 0 = %d, %v; want nothing dropped", n, err)
	}
	if n, err := l.Sweep(now, 90*24*time.Hour); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 dropped", n, err)
	}
	if _, err := l.Raw(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("raw of the old entry: %v, want ErrNotFound", err)
	}
	if _, err := l.Raw(ids[1]); err != nil {
		t.Errorf("raw of the recent entry: %v", err)
	}
	e, err := l.Get(ids[0])
	if err != nil || e.Raw != "" {
		t.Errorf("old entry after Sweep = %+v, %v; want kept, without raw", e, err)
	}
	if s, _ := l.Stats(); s.Raw != 1 || s.Messages != 2 {
		t.Errorf("stats = %+v, want 2 messages, 1 raw", s)
	}
}

// TestSegments: raw messages go to segment files that a restart does not append to, and
// Sweep removes a segment once no entry refers to it.
func TestSegments(t *testing.T) {
	dir := stateDir(t)
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	rec := func(l *Ledger, uid uint32, age time.Duration) *Entry {
		raw := message("<seg@x>", int(uid))
		e := entryFor("INBOX", 1, uid, "", raw)
		e.TakenAt = now.Add(-age)
		if err := l.Record(e, raw, nil); err != nil {
			t.Fatal(err)
		}
		return e
	}
	l := openT(t, dir)
	old := rec(l, 1, 100*24*time.Hour)
	l.Close()
	l = openT(t, dir)
	recent := rec(l, 2, time.Hour)
	names, _ := segments(filepath.Join(dir, rawDir))
	if len(names) != 2 {
		t.Fatalf("segments %v, want one per process", names)
	}
	if fi, err := os.Stat(filepath.Join(dir, rawDir, names[0])); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("segment mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if n, err := l.Sweep(now, 90*24*time.Hour); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v", n, err)
	}
	names, _ = segments(filepath.Join(dir, rawDir))
	if len(names) != 1 {
		t.Errorf("segments after Sweep %v, want only the one still referenced", names)
	}
	if _, err := l.Raw(old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("old raw: %v", err)
	}
	if _, err := l.Raw(recent.ID); err != nil {
		t.Errorf("recent raw: %v", err)
	}
	for _, bad := range []string{"../../etc/passwd:0:10", "seg-00000001.raw:-1:5", "seg-1.raw:0:5", "x"} {
		if _, _, _, err := parseRawRef(bad); err == nil {
			t.Errorf("parseRawRef(%q) accepted", bad)
		}
	}
}

// TestSweepChunks: the sweep's scan goes over the entries in chunks and misses none.
func TestSweepChunks(t *testing.T) {
	l := openT(t, stateDir(t))
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	const n = sweepBatch*4*2 + 100
	var items []Item
	for i := 1; i <= n; i++ {
		raw := message("<c@x>", i)
		e := entryFor("INBOX", 1, uint32(i), "", raw)
		if i%2 == 0 {
			e.TakenAt = now.Add(-100 * 24 * time.Hour)
		} else {
			e.TakenAt = now
		}
		items = append(items, Item{Entry: e, Raw: raw})
	}
	if err := l.RecordBatch(items, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Sweep(now, 90*24*time.Hour); err != nil || got != n/2 {
		t.Fatalf("Sweep = %d, %v; want %d", got, err, n/2)
	}
	if s, _ := l.Stats(); s.Raw != n-n/2 {
		t.Errorf("%d raw messages kept, want %d", s.Raw, n-n/2)
	}
}

// TestImagesKeptWithTheirEntry: the page images recorded with a message are read back by
// attachment and page, a damaged one is refused, and Sweep forgets them with the message.
func TestImagesKeptWithTheirEntry(t *testing.T) {
	l := openT(t, stateDir(t))
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	raw := message("<img@x>", 1)
	e := entryFor("INBOX", 1, 1, "<img@x>", raw)
	e.TakenAt = now.Add(-100 * 24 * time.Hour)
	page1, page2 := []byte("\x89PNG\r\n\x1a\nfirst"), []byte("\x89PNG\r\n\x1a\nsecond")
	items := []Item{{Entry: e, Raw: raw, Images: []Image{{Attachment: "scan.pdf", Page: 1, PNG: page1}, {Attachment: "scan.pdf", Page: 2, PNG: page2}}}}
	if err := l.RecordBatch(items, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		attachment string
		page       int
		want       []byte
	}{{"scan.pdf", 1, page1}, {"scan.pdf", 2, page2}, {"scan.pdf", 3, nil}, {"other.pdf", 1, nil}} {
		got, err := l.Image(e.ID, tt.attachment, tt.page)
		if tt.want == nil && !errors.Is(err, ErrNotFound) || tt.want != nil && (err != nil || !bytes.Equal(got, tt.want)) {
			t.Errorf("Image(%q, %d) = %q, %v; want %q", tt.attachment, tt.page, got, err, tt.want)
		}
	}
	if got, err := l.Raw(e.ID); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("Raw beside its images = %d bytes, %v", len(got), err)
	}
	got, _ := l.Get(e.ID)
	name, off, _, err := parseRawRef(got.Images[1].Ref)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(l.dir, rawDir, name), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("X"), off+9)
	f.Close()
	if _, err := l.Image(e.ID, "scan.pdf", 2); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("damaged image: %v, want a digest error", err)
	}
	if n, err := l.Sweep(now, 90*24*time.Hour); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if _, err := l.Image(e.ID, "scan.pdf", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("image past retention: %v, want ErrNotFound", err)
	}
}

// TestStoredGzip: a raw message is framed as gzip of stored blocks, of the length the record
// header states, read back whole by the standard gzip reader, its damage caught by the CRC.
func TestStoredGzip(t *testing.T) {
	for _, size := range []int{0, 1, storedBlockMax - 1, storedBlockMax, storedBlockMax + 1, 3*storedBlockMax + 7} {
		raw := make([]byte, size)
		for i := range raw {
			raw[i] = byte(i*7 + i/251)
		}
		var b bytes.Buffer
		if err := writeStored(&b, []byte("prefix"), raw); err != nil {
			t.Fatal(err)
		}
		rec, ok := bytes.CutPrefix(b.Bytes(), []byte("prefix"))
		if !ok || len(rec) != storedLen(raw) {
			t.Fatalf("%d bytes: wrote %d after the prefix (prefix kept: %v), storedLen says %d", size, len(rec), ok, storedLen(raw))
		}
		zr, err := gzip.NewReader(bytes.NewReader(rec))
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("%d bytes: read back %d, %v", size, len(got), err)
		}
		if size == 0 {
			continue
		}
		rec[len(rec)-gzipTrailerLen-1] ^= 1 // the message's last byte
		zr, err = gzip.NewReader(bytes.NewReader(rec))
		if err == nil {
			_, err = io.ReadAll(zr)
		}
		if err == nil {
			t.Errorf("%d bytes: a damaged record read without error", size)
		}
	}
}

// TestRawReadsHuffmanRecords: records written by earlier versions (Huffman-coded gzip) are
// read as before.
func TestRawReadsHuffmanRecords(t *testing.T) {
	l := openT(t, stateDir(t))
	raw := benchMessage()(1)
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.HuffmanOnly)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(raw)
	zw.Close()
	if b.Len() > len(raw)*4/5 {
		t.Fatalf("Huffman coding left %d of %d bytes: not the record earlier versions wrote", b.Len(), len(raw))
	}
	e := entryFor("INBOX", 1, 1, "<old@x>", raw)
	if err := l.Record(e, nil, nil); err != nil {
		t.Fatal(err)
	}
	l.segMu.Lock()
	e.Raw, err = l.appendRecord(b.Bytes(), false)
	l.segMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.db.Update(func(tx *bolt.Tx) error { return putEntry(tx, e) }); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Raw(e.ID); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Raw of a Huffman-coded record = %d bytes, %v; want the %d recorded", len(got), err, len(raw))
	}
}
