package ledger

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// orphanGrace is how old an unreferenced raw file must be before Sweep removes it. The
// poller stores a message, reads it (bounded to minutes) and records it; a file younger
// than this may belong to a Record still to come.
const orphanGrace = time.Hour

// sweepBatch bounds the entries one Sweep transaction changes, to keep the writer lock short.
const sweepBatch = 500

// Digest is the hex SHA-256 of a raw message: Entry.Digest, and the name of its stored copy.
func Digest(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// rawRef is the path, relative to the state directory and with slashes, of the message
// with this digest. Two hex digits of fan-out keep directories small (256 of them).
func rawRef(digest string) string {
	return rawDir + "/" + digest[:2] + "/" + digest + ".eml.gz"
}

// parseRef checks that ref is one rawRef makes, so that a ref read from the database can
// never name a file outside the raw store, and returns its digest.
func parseRef(ref string) (string, error) {
	rest, ok := strings.CutPrefix(ref, rawDir+"/")
	if ok {
		var fan, name string
		fan, name, ok = strings.Cut(rest, "/")
		digest, isGz := strings.CutSuffix(name, ".eml.gz")
		if ok && isGz && isDigest(digest) && fan == digest[:2] {
			return digest, nil
		}
	}
	return "", fmt.Errorf("invalid raw message reference %q", ref)
}

func isDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (l *Ledger) rawPath(ref string) string { return filepath.Join(l.dir, filepath.FromSlash(ref)) }

// StoreRaw stores a raw message and returns its reference for Entry.Raw: gzip into a
// temporary file, rename to its content-addressed name. It does not flush: an fsync of a
// new file costs 2 to 5 ms on ext4, which would cap intake at a few hundred messages a
// second. Durability comes from SyncRaw, which the poller calls once per batch before it
// moves the batch on the server: until then the server still holds every message, and a
// power loss that took a raw file is repaired by fetching it again (see CheckRaw). Storing
// the same bytes again returns the same reference and writes nothing.
//
// Record the entry that references it within an hour (see orphanGrace), or call StoreRaw
// again: an unreferenced file is an orphan of a crash, and Sweep removes it.
func (l *Ledger) StoreRaw(raw []byte) (string, error) {
	ref := rawRef(Digest(raw))
	path := l.rawPath(ref)
	fan := filepath.Dir(path)

	l.rawMu.RLock()
	defer l.rawMu.RUnlock()
	if err := l.ensureFanDir(fan); err != nil {
		return "", fmt.Errorf("storing raw message: %w", err)
	}
	// Already stored and whole: touching it tells Sweep it is wanted again. A copy that a
	// power loss truncated before SyncRaw is written anew.
	now := time.Now()
	if err := os.Chtimes(path, now, now); err == nil {
		if _, err := l.Raw(ref); err == nil {
			return ref, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("storing raw message: %w", err)
	}

	if err := writeGzip(filepath.Join(l.dir, rawDir), path, raw); err != nil {
		return "", fmt.Errorf("storing raw message: %w", err)
	}
	return ref, nil
}

// SyncRaw makes every raw message stored so far durable, with one syncfs(2) of the file
// system that holds them: the price of one fsync for a whole batch.
func (l *Ledger) SyncRaw() error {
	d, err := os.Open(filepath.Join(l.dir, rawDir))
	if err != nil {
		return fmt.Errorf("syncing raw messages: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncing raw messages: %w", err)
	}
	return nil
}

// CheckRaw reports whether the raw message ref is stored whole (its content matches its
// digest): after a power loss between StoreRaw and SyncRaw it may not be.
func (l *Ledger) CheckRaw(ref string) bool {
	_, err := l.Raw(ref)
	return err == nil
}

// writeGzip writes raw compressed to a temporary file in tmpDir (same file system as path,
// so the rename is atomic) and renames it to path; SyncRaw flushes it.
func writeGzip(tmpDir, path string, raw []byte) (err error) {
	// CreateTemp makes the file 0600: a raw message holds the contractor's key.
	f, err := os.CreateTemp(tmpDir, "tmp-*.part")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := writeGzipTo(f, raw); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// writeGzipTo compresses raw to w. BestSpeed: mail (base64 PDFs, ISO-2022-JP text) gains
// little from higher levels, and the CPU is better spent parsing.
func writeGzipTo(w io.Writer, raw []byte) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	return zw.Close()
}

// ensureFanDir creates raw/ab and makes its entry in raw/ durable, once per process.
func (l *Ledger) ensureFanDir(fan string) error {
	l.dirsMu.Lock()
	defer l.dirsMu.Unlock()
	if l.syncedDirs[fan] {
		return nil
	}
	if err := os.Mkdir(fan, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	// Even when it existed: its creator may have crashed before this fsync.
	if err := syncDir(filepath.Dir(fan)); err != nil {
		return err
	}
	l.syncedDirs[fan] = true
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// Raw reads a stored raw message back, checking it against its digest. A swept or missing
// message is ErrNotFound.
func (l *Ledger) Raw(ref string) ([]byte, error) {
	digest, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(l.rawPath(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("raw message %s: %w", ref, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("reading raw message: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("reading raw message %s: %w", ref, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("reading raw message %s: %w", ref, err)
	}
	if Digest(raw) != digest {
		return nil, fmt.Errorf("reading raw message %s: content does not match its digest", ref)
	}
	return raw, nil
}

// Sweep applies the retention period and cleans the raw store: it forgets the raw message
// of every entry taken in before now-retention (the entry stays, with Raw "", so Seen and
// ByUID still recognise the message), then removes every raw file that no entry references
// and temporary files left by a crash, once they are older than an hour. Retention 0 keeps
// raw messages forever (orphans still go). It returns the number of files removed.
//
// Entries are changed first and files removed after: a crash in between leaves orphans for
// the next Sweep, never an entry pointing at a missing file.
func (l *Ledger) Sweep(now time.Time, retention time.Duration) (removed int, err error) {
	if retention > 0 {
		if err := l.expire(now.Add(-retention)); err != nil {
			return 0, fmt.Errorf("sweeping: %w", err)
		}
	}
	removed, err = l.sweepFiles(now.Add(-orphanGrace))
	if err != nil {
		return removed, fmt.Errorf("sweeping: %w", err)
	}
	return removed, nil
}

// expire clears Raw on entries taken in before cutoff, in short transactions.
func (l *Ledger) expire(cutoff time.Time) error {
	var ids []uint64
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(messagesBucket)).ForEach(func(k, v []byte) error {
			var e struct {
				Raw     string    `json:"raw"`
				TakenAt time.Time `json:"taken_at"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decoding entry %d: %w", u64(k), err)
			}
			if e.Raw != "" && e.TakenAt.Before(cutoff) {
				ids = append(ids, u64(k))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for len(ids) > 0 {
		batch := ids[:min(sweepBatch, len(ids))]
		ids = ids[len(batch):]
		err := l.db.Update(func(tx *bolt.Tx) error {
			for _, id := range batch {
				e, err := getEntry(tx, id)
				if err != nil {
					return err
				}
				if e.Raw == "" { // a concurrent Sweep got there first
					continue
				}
				e.Raw = ""
				if err := putEntry(tx, e); err != nil {
					return err
				}
				if err := count(tx, "raw", -1); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sweepFiles removes unreferenced raw files and temporary files modified before cutoff.
func (l *Ledger) sweepFiles(cutoff time.Time) (int, error) {
	root := filepath.Join(l.dir, rawDir)
	top, err := os.ReadDir(root)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, de := range top {
		name := de.Name()
		path := filepath.Join(root, name)
		if !de.IsDir() {
			// Temporary files belong to one StoreRaw; past the grace period its writer is
			// gone, so no lock is needed.
			if strings.HasPrefix(name, "tmp-") && strings.HasSuffix(name, ".part") {
				fi, err := os.Lstat(path)
				if err == nil && fi.ModTime().Before(cutoff) {
					if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return removed, err
					}
					removed++
				}
			}
			continue
		}
		files, err := os.ReadDir(path)
		if err != nil {
			return removed, err
		}
		for _, f := range files {
			ref := rawDir + "/" + name + "/" + f.Name()
			if _, err := parseRef(ref); err != nil {
				continue // not ours: leave it
			}
			ok, err := l.removeOrphan(ref, cutoff)
			if err != nil {
				return removed, err
			}
			if ok {
				removed++
			}
		}
	}
	return removed, nil
}

// removeOrphan removes the raw file ref when it was modified before cutoff and no entry
// references it.
func (l *Ledger) removeOrphan(ref string, cutoff time.Time) (bool, error) {
	path := l.rawPath(ref)
	if fi, err := os.Lstat(path); err != nil || !fi.ModTime().Before(cutoff) {
		return false, nil
	}
	if used, err := l.referenced(ref); err != nil || used {
		return false, err
	}
	// Exclusive against StoreRaw: if it touched the file since our first look, the file
	// is about to be referenced; look again under the lock.
	l.rawMu.Lock()
	defer l.rawMu.Unlock()
	if fi, err := os.Lstat(path); err != nil || !fi.ModTime().Before(cutoff) {
		return false, nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// referenced reports whether an entry's Raw is ref, through the digest index.
func (l *Ledger) referenced(ref string) (bool, error) {
	digest, err := parseRef(ref)
	if err != nil {
		return false, err
	}
	used := false
	err = l.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(digest + "\x00")
		c := tx.Bucket([]byte(byDigestBucket)).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			e, err := getEntry(tx, u64(k[len(prefix):]))
			if err != nil {
				return err
			}
			if e.Raw == ref {
				used = true
				return nil
			}
		}
		return nil
	})
	return used, err
}
