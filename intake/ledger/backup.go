package ledger

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier/store"
)

// A backup is a tar archive: backupManifest first, then DBName as one read transaction saw
// it, then raw/seg-*.raw, then the extra files the caller adds (the config). Nothing else is
// ever read back from one.
const (
	backupManifest = "MANIFEST.json"
	backupFormat   = "hosho-intake-backup/1"
	maxExtra       = 1 << 20 // an extra file (the config) is small
)

// Manifest describes a backup.
type Manifest struct {
	Format   string         `json:"format"`
	Created  time.Time      `json:"created"`
	Schemas  map[string]int `json:"schemas"` // owner -> schema version in the copied file
	Segments []string       `json:"segments"`
	Extra    []string       `json:"extra"`
}

// Backup writes a consistent copy of the state to w while the ledger is in use: the bbolt
// file as one read transaction sees it (bbolt's Tx.WriteTo), and every raw segment, each
// opened while that transaction is open and copied up to its size then. Raw bytes are synced
// before the commit that references them, so every record the copied file points to is in
// the copied segments; bytes appended later are copied only up to that size or not at all,
// and nothing refers to them. extra (name -> content, e.g. "config.toml") is added at the end.
func (l *Ledger) Backup(w io.Writer, extra map[string][]byte, now time.Time) error {
	tw := tar.NewWriter(w)
	err := l.db.View(func(tx *bolt.Tx) error {
		segs, err := l.openSegments()
		if err != nil {
			return err
		}
		defer func() {
			for _, s := range segs {
				s.f.Close()
			}
		}()
		m := Manifest{Format: backupFormat, Created: now}
		if m.Schemas, err = store.Versions(tx); err != nil {
			return err
		}
		for _, s := range segs {
			m.Segments = append(m.Segments, s.name)
		}
		for name := range extra {
			m.Extra = append(m.Extra, name)
		}
		mj, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		if err := writeEntry(tw, backupManifest, int64(len(mj)), now, strings.NewReader(string(mj))); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: DBName, Mode: 0o600, Size: tx.Size(), ModTime: now}); err != nil {
			return err
		}
		if _, err := tx.WriteTo(tw); err != nil {
			return fmt.Errorf("copying %s: %w", DBName, err)
		}
		for _, s := range segs {
			if err := writeEntry(tw, rawDir+"/"+s.name, s.size, now, io.LimitReader(s.f, s.size)); err != nil {
				return fmt.Errorf("copying raw segment %s: %w", s.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("backing up %s: %w", l.dir, err)
	}
	for name, b := range extra {
		if err := writeEntry(tw, "extra/"+name, int64(len(b)), now, strings.NewReader(string(b))); err != nil {
			return fmt.Errorf("backing up %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backing up %s: %w", l.dir, err)
	}
	return nil
}

type openSegment struct {
	name string
	f    *os.File
	size int64
}

// openSegments opens every raw segment under segMu, so Sweep cannot remove one between the
// listing and the open; an open file stays readable if it is removed later.
func (l *Ledger) openSegments() ([]openSegment, error) {
	l.segMu.Lock()
	defer l.segMu.Unlock()
	dir := filepath.Join(l.dir, rawDir)
	names, err := segments(dir)
	if err != nil {
		return nil, err
	}
	var out []openSegment
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			for _, s := range out {
				s.f.Close()
			}
			return nil, fmt.Errorf("opening raw segment: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		out = append(out, openSegment{name: n, f: f, size: fi.Size()})
	}
	return out, nil
}

func writeEntry(tw *tar.Writer, name string, size int64, now time.Time, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: now}); err != nil {
		return err
	}
	_, err := io.CopyN(tw, r, size)
	return err
}

// ErrNotEmpty: a restore into a state directory that already holds a state.
var ErrNotEmpty = errors.New("state directory is not empty")

// Restore unpacks a backup read from r into dir, which must be empty or absent, then opens
// it with schemas (all the file's owners) to refuse one written by a newer binary
// (ErrNewerSchema) before anything runs on it. Only the names a backup holds are unpacked;
// the extra files are returned, not written. On failure dir is left empty.
func Restore(dir string, r io.Reader, schemas ...store.Schema) (Manifest, map[string][]byte, error) {
	var m Manifest
	if des, err := os.ReadDir(dir); err == nil && len(des) > 0 {
		return m, nil, fmt.Errorf("restoring into %s: %w", dir, ErrNotEmpty)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return m, nil, fmt.Errorf("restoring into %s: %w", dir, err)
	}
	extra, err := unpack(dir, r, &m)
	if err == nil {
		var l *Ledger
		if l, err = Open(dir, Options{Schemas: schemas}); err == nil {
			err = l.Close()
		}
	}
	if err != nil {
		emptyDir(dir)
		return m, nil, fmt.Errorf("restoring into %s: %w", dir, err)
	}
	return m, extra, nil
}

func unpack(dir string, r io.Reader, m *Manifest) (map[string][]byte, error) {
	if err := os.MkdirAll(filepath.Join(dir, rawDir), 0o700); err != nil {
		return nil, err
	}
	tr := tar.NewReader(r)
	extra := map[string][]byte{}
	sawDB := false
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the backup: %w", err)
		}
		switch name := h.Name; {
		case i == 0 && name != backupManifest, i > 0 && name == backupManifest:
			return nil, fmt.Errorf("not a hosho-intake backup (%s first)", backupManifest)
		case name == backupManifest:
			if err := json.NewDecoder(io.LimitReader(tr, maxExtra)).Decode(m); err != nil || m.Format != backupFormat {
				return nil, fmt.Errorf("not a hosho-intake backup: manifest format %q (%v)", m.Format, err)
			}
		case name == DBName:
			sawDB = true
			if err := writeFile(filepath.Join(dir, DBName), tr); err != nil {
				return nil, err
			}
		case strings.HasPrefix(name, rawDir+"/") && segmentNumber(strings.TrimPrefix(name, rawDir+"/")) > 0 &&
			!strings.ContainsAny(strings.TrimPrefix(name, rawDir+"/"), `/\`):
			if err := writeFile(filepath.Join(dir, rawDir, strings.TrimPrefix(name, rawDir+"/")), tr); err != nil {
				return nil, err
			}
		case strings.HasPrefix(name, "extra/") && !strings.ContainsAny(strings.TrimPrefix(name, "extra/"), `/\`):
			b, err := io.ReadAll(io.LimitReader(tr, maxExtra+1))
			if err != nil || len(b) > maxExtra {
				return nil, fmt.Errorf("reading %s from the backup: too large or %v", name, err)
			}
			extra[strings.TrimPrefix(name, "extra/")] = b
		default:
			return nil, fmt.Errorf("the backup holds %q, which no backup holds", name)
		}
	}
	if !sawDB {
		return nil, fmt.Errorf("the backup holds no %s", DBName)
	}
	return extra, nil
}

func writeFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// emptyDir empties dir after a failed restore, leaving the directory itself.
func emptyDir(dir string) {
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		os.RemoveAll(filepath.Join(dir, de.Name()))
	}
}
