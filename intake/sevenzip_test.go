package intake_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"hosho-intake/intake"
	"hosho-intake/intake/inbound"
	"hosho-intake/intake/ppapzip"
	"hosho-intake/intake/samplemail"
	"hosho-intake/parser"
)

// TestSevenZipHostileHeader: 7z archives whose few dozen header bytes declare 2^32-1 files (in
// process: "fatal error: runtime: out of memory", the daemon gone) or 2^32-1 CRCs (4 GiB written)
// are opened in a sandbox worker, which runs out of its memory there: the archive is too_large,
// the notice PDF beside it in the same message is read, the next message (an honest 7z) is read
// through the same pool, and the daemon's own memory does not grow by what the header declared.
func TestSevenZipHostileHeader(t *testing.T) {
	pool := newTestPool(t, 10*time.Second)
	ctx := context.Background()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, c := range []struct {
		kind  string
		count uint32
	}{
		{ppapzip.HostileFiles, 1<<32 - 1},
		{ppapzip.HostileCRCs, 1<<32 - 1},
	} {
		raw := mailWith(t, "hostile "+c.kind,
			samplemail.Attachment{Name: "ninsho.7z", ContentType: "application/x-7z-compressed", Data: ppapzip.HostileSevenZip(c.kind, c.count)},
			samplemail.Attachment{Name: "a.pdf", Data: noticePDF(t, 1)})
		start := time.Now()
		got, err := intake.ReadWithin(ctx, bytes.NewReader(raw), inbound.Limits{}, pool, intake.DefaultBudget())
		if err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		var tooLarge bool
		for _, p := range got.Problems {
			tooLarge = tooLarge || p.Code == parser.CodeTooLarge && p.Attachment == "ninsho.7z"
		}
		if !tooLarge || len(got.Notices) != 1 {
			t.Errorf("%s: problems %v, %d notices; want too_large on ninsho.7z and the PDF's notice", c.kind, got.Problems, len(got.Notices))
		}
		t.Logf("%s 2^32-1: %v, %v", c.kind, time.Since(start).Round(time.Millisecond), got.Problems)
	}
	honest := sevenZipOf(t, noticePDF(t, 2))
	got, err := intake.ReadWithin(ctx, bytes.NewReader(mailWith(t, "honest 7z",
		samplemail.Attachment{Name: "ninsho.7z", ContentType: "application/x-7z-compressed", Data: honest})), inbound.Limits{}, pool, intake.DefaultBudget())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Notices) != 1 {
		t.Errorf("honest 7z after the hostile ones: %d notices, problems %v", len(got.Notices), got.Problems)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	// The header declared gigabytes; the daemon's own heap holds a few messages at most.
	if grew := int64(after.HeapSys) - int64(before.HeapSys); grew > 64<<20 {
		t.Errorf("the daemon's heap grew by %d MiB", grew>>20)
	}
	if st := pool.Stats(); st.OutOfMemory < 2 {
		t.Errorf("pool stats %+v: want the two hostile headers out of the worker's memory", st)
	}
}

// sevenZipOf writes pdf into a 7z archive (no password) with the real 7z tool
// (ppapzip.SevenZip). Under CI=true a missing 7z fails the test.
func sevenZipOf(t *testing.T, pdf []byte) []byte {
	t.Helper()
	z, err := ppapzip.SevenZip(t.TempDir(), map[string][]byte{"n.pdf": pdf})
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("CI") != "true" {
		t.Skip("7z not installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestSevenZipWithinBudget: a 7z archive's reader time comes out of its message's reading
// budget like a PDF's: an archive whose reader hangs is cut off at the budget (too_slow, not
// the pool's 10s timeout), and the message's next archive is not opened once it is spent.
func TestSevenZipWithinBudget(t *testing.T) {
	pool := newTestPool(t, 10*time.Second)
	raw := mailWith(t, "hanging 7z",
		samplemail.Attachment{Name: "a.7z", ContentType: "application/x-7z-compressed", Data: []byte("HANG")},
		samplemail.Attachment{Name: "b.7z", ContentType: "application/x-7z-compressed", Data: sevenZipOf(t, noticePDF(t, 4))})
	got, err := intake.ReadWithin(context.Background(), bytes.NewReader(raw), inbound.Limits{}, pool,
		intake.Budget{Time: 300 * time.Millisecond, MaxPDFs: 20, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	slow := map[string]bool{}
	for _, p := range got.Problems {
		if p.Code == parser.CodeTooSlow {
			slow[p.Attachment] = true
		}
	}
	if !slow["a.7z"] || !slow["b.7z"] || len(got.Notices) != 0 {
		t.Errorf("problems %v, %d notices; want both archives too_slow", got.Problems, len(got.Notices))
	}
}
