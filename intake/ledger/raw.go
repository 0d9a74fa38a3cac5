package ledger

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier/store"
)

// sweepBatch bounds the entries one Sweep transaction changes, to keep the writer lock short.
const sweepBatch = 500

// segmentLimit is the size at which a new raw segment is started.
const segmentLimit = 64 << 20

// segmentMagic opens every record in a segment: "HRW1", then the record's length.
var segmentMagic = [4]byte{'H', 'R', 'W', '1'}

// Digest is the hex SHA-256 of a raw message: Entry.Digest.
func Digest(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// A raw message is kept as a gzip stream (RFC 1952) of stored deflate blocks (RFC 1951
// section 3.2.4), framed here as it is written: the record stays what the gzip readers of
// every version take, with its CRC-32, at the cost of the checksum alone, and without a
// compressed copy of each message in memory. A contractor's mail is mostly base64 of an
// already deflated PDF, where Huffman coding (what earlier versions wrote, and Raw reads as
// well) won back a quarter of the bytes for 15% of the parent's CPU in a `once` over real
// mail, which is CPU-bound on two cores (issue 14): disk is the cheaper of the two.
const (
	gzipHeaderLen  = 10
	storedBlockMax = 65535 // LEN is 16 bits
	storedBlockHdr = 5     // BFINAL+BTYPE padded to a byte, LEN, NLEN
	gzipTrailerLen = 8     // CRC-32, ISIZE
)

// gzipHeader: magic, CM=deflate, no flags, no MTIME, XFL 0, OS unknown.
var gzipHeader = [gzipHeaderLen]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// storedLen is the length of raw framed as stored gzip: one block even when raw is empty.
func storedLen(raw []byte) int {
	blocks := max(1, (len(raw)+storedBlockMax-1)/storedBlockMax)
	return gzipHeaderLen + blocks*storedBlockHdr + len(raw) + gzipTrailerLen
}

// writeStored writes raw to w as a gzip stream of stored blocks, storedLen(raw) bytes, in
// pieces: the block headers and the trailer are small, the message is not copied. prefix
// goes out with the first piece (the segment record's header).
func writeStored(w io.Writer, prefix, raw []byte) error {
	buf := append(append(make([]byte, 0, len(prefix)+gzipHeaderLen+storedBlockHdr), prefix...), gzipHeader[:]...)
	rest := raw
	for {
		n := min(len(rest), storedBlockMax)
		final := byte(0)
		if n == len(rest) {
			final = 1
		}
		buf = append(buf, final)
		buf = binary.LittleEndian.AppendUint16(buf, uint16(n))
		buf = binary.LittleEndian.AppendUint16(buf, ^uint16(n))
		if _, err := w.Write(buf); err != nil {
			return err
		}
		if n > 0 {
			if _, err := w.Write(rest[:n]); err != nil {
				return err
			}
		}
		rest, buf = rest[n:], buf[:0]
		if final == 1 {
			break
		}
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.ChecksumIEEE(raw))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(raw)))
	_, err := w.Write(buf)
	return err
}

// appendRaw writes the raw messages of items (as stored gzip), and their page images, to the
// current segment and makes them durable with one fdatasync, setting each entry's Raw and
// Images references. It runs before the transaction that references them: a crash in
// between leaves records nobody references, which go with their segment.
func (l *Ledger) appendRaw(items []Item) error {
	l.segMu.Lock()
	defer l.segMu.Unlock()
	wrote := false
	for _, it := range items {
		if it.Raw == nil {
			continue
		}
		ref, err := l.appendRecord(it.Raw, true)
		if err != nil {
			return fmt.Errorf("writing raw message: %w", err)
		}
		it.Entry.Raw = ref
		for _, img := range it.Images {
			// Stored as it is: a PNG is deflated already, and its digest is checked on reading.
			ref, err := l.appendRecord(img.PNG, false)
			if err != nil {
				return fmt.Errorf("writing a page image: %w", err)
			}
			it.Entry.Images = append(it.Entry.Images, ImageRef{Attachment: img.Attachment, Page: img.Page, Ref: ref, Digest: Digest(img.PNG)})
		}
		wrote = true
	}
	if wrote {
		if err := l.seg.Sync(); err != nil {
			return fmt.Errorf("syncing raw messages: %w", err)
		}
	}
	return nil
}

// appendRecord appends one record to the current segment (under segMu) and returns its
// reference: data as it is, or framed as stored gzip (a raw message). After a failed write
// the segment is given up, so that no later record follows a half-written one.
func (l *Ledger) appendRecord(data []byte, gz bool) (string, error) {
	size := len(data)
	if gz {
		size = storedLen(data)
	}
	if l.seg == nil || l.segSize+int64(size) > segmentLimit {
		if err := l.nextSegment(); err != nil {
			return "", err
		}
	}
	var hdr [8]byte
	copy(hdr[:4], segmentMagic[:])
	binary.BigEndian.PutUint32(hdr[4:], uint32(size))
	off := l.segSize
	var err error
	if gz {
		err = writeStored(l.seg, hdr[:], data)
	} else {
		_, err = l.seg.Write(append(hdr[:], data...))
	}
	if err != nil {
		l.seg.Close()
		l.seg = nil
		return "", err
	}
	l.segSize += int64(len(hdr) + size)
	return fmt.Sprintf("%s:%d:%d", l.segName, off, size), nil
}

// nextSegment closes the current segment and starts the next one. Every process starts a
// new segment, so nothing is ever appended after a record a crash left half-written.
func (l *Ledger) nextSegment() error {
	if l.seg != nil {
		// The records of the batch in hand written to this segment are referenced by the
		// commit after appendRaw's sync, which syncs only the next segment.
		err := l.seg.Sync()
		l.seg.Close()
		l.seg = nil
		if err != nil {
			return fmt.Errorf("syncing raw segment: %w", err)
		}
	}
	dir := filepath.Join(l.dir, rawDir)
	names, err := segments(dir)
	if err != nil {
		return err
	}
	n := 1
	if len(names) > 0 {
		n = segmentNumber(names[len(names)-1]) + 1
	}
	name := fmt.Sprintf("seg-%08d.raw", n)
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("starting raw segment: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return err
	}
	l.seg, l.segName, l.segSize = f, name, 0
	return nil
}

// segments lists the segment files in dir, oldest first.
func segments(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing raw segments: %w", err)
	}
	var out []string
	for _, de := range des {
		if segmentNumber(de.Name()) > 0 {
			out = append(out, de.Name())
		}
	}
	return out, nil // ReadDir sorts by name, and the numbers are zero-padded
}

func segmentNumber(name string) int {
	s, ok := strings.CutPrefix(name, "seg-")
	if !ok {
		return 0
	}
	s, ok = strings.CutSuffix(s, ".raw")
	if !ok || len(s) != 8 {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// parseRawRef splits a reference "seg-NNNNNNNN.raw:offset:length", refusing anything that
// could name a file outside the raw store.
func parseRawRef(ref string) (name string, off, n int64, err error) {
	parts := strings.Split(ref, ":")
	if len(parts) == 3 && segmentNumber(parts[0]) > 0 {
		off, err1 := strconv.ParseInt(parts[1], 10, 64)
		n, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 == nil && err2 == nil && off >= 0 && n > 0 && n < 1<<31 {
			return parts[0], off, n, nil
		}
	}
	return "", 0, 0, fmt.Errorf("invalid raw message reference %q", ref)
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

// Raw returns the raw message of entry id, checked against its digest; ErrNotFound when it
// was never kept or is past retention.
func (l *Ledger) Raw(id uint64) ([]byte, error) {
	e, err := l.Get(id)
	if err != nil {
		return nil, err
	}
	if e.Raw == "" {
		return nil, fmt.Errorf("raw message of entry %d: %w", id, ErrNotFound)
	}
	rec, err := l.readRecord(e.Raw)
	if err != nil {
		return nil, fmt.Errorf("reading raw message of entry %d: %w", id, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(rec))
	if err != nil {
		return nil, fmt.Errorf("reading raw message of entry %d: %w", id, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("reading raw message of entry %d: %w", id, err)
	}
	if e.Digest != "" && Digest(raw) != e.Digest {
		return nil, fmt.Errorf("reading raw message of entry %d: content does not match its digest", id)
	}
	return raw, nil
}

// Image returns the page image (a PNG) of page of attachment kept with entry id, checked
// against its digest; ErrNotFound when none was kept or it is past retention.
func (l *Ledger) Image(id uint64, attachment string, page int) ([]byte, error) {
	e, err := l.Get(id)
	if err != nil {
		return nil, err
	}
	for _, im := range e.Images {
		if im.Attachment != attachment || im.Page != page {
			continue
		}
		png, err := l.readRecord(im.Ref)
		if err != nil {
			return nil, fmt.Errorf("reading a page image of entry %d: %w", id, err)
		}
		if Digest(png) != im.Digest {
			return nil, fmt.Errorf("reading a page image of entry %d: content does not match its digest", id)
		}
		return png, nil
	}
	return nil, fmt.Errorf("page image of entry %d: %w", id, ErrNotFound)
}

// readRecord reads the record ref names; ErrNotFound when its segment is gone.
func (l *Ledger) readRecord(ref string) ([]byte, error) {
	name, off, n, err := parseRawRef(ref)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(l.dir, rawDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	rec := make([]byte, 8+n)
	if _, err := f.ReadAt(rec, off); err != nil {
		return nil, err
	}
	if !bytes.Equal(rec[:4], segmentMagic[:]) || int64(binary.BigEndian.Uint32(rec[4:8])) != n {
		return nil, errors.New("damaged record")
	}
	return rec[8:], nil
}

// Sweep applies the retention period: it forgets the raw message of every entry taken in
// before now-retention (the entry stays, with Raw "", so that Seen and ByUID still
// recognise the message), then removes every segment no entry references any more, but the
// one being written. Retention 0 keeps raw messages forever. It returns how many raw
// messages it forgot.
func (l *Ledger) Sweep(now time.Time, retention time.Duration) (removed int, err error) {
	if retention <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-retention)
	var expired []uint64
	used := map[string]bool{}
	// The scan reads every entry: in chunks, releasing the mapped pages after each, so that
	// a sweep of a big state does not leave it all in the daemon's memory (see Trim).
	var from []byte
	for done := false; !done; {
		err = l.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket([]byte(messagesBucket)).Cursor()
			k, v := c.First()
			if from != nil {
				k, v = c.Seek(from)
			}
			for n := 0; ; n++ {
				if k == nil {
					done = true
					return nil
				}
				if n == sweepBatch*4 {
					from = bytes.Clone(k)
					return nil
				}
				var e struct {
					Raw     string     `json:"raw"`
					Images  []ImageRef `json:"images"`
					TakenAt time.Time  `json:"taken_at"`
				}
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("decoding entry %d: %w", store.U64(k), err)
				}
				switch {
				case e.Raw == "":
				case e.TakenAt.Before(cutoff):
					expired = append(expired, store.U64(k))
				default:
					if name, _, _, err := parseRawRef(e.Raw); err == nil {
						used[name] = true
					}
					for _, im := range e.Images {
						if name, _, _, err := parseRawRef(im.Ref); err == nil {
							used[name] = true
						}
					}
				}
				k, v = c.Next()
			}
		})
		if err != nil {
			return 0, fmt.Errorf("sweeping: %w", err)
		}
		if err := l.Trim(); err != nil {
			return 0, fmt.Errorf("sweeping: %w", err)
		}
	}
	for len(expired) > 0 {
		batch := expired[:min(sweepBatch, len(expired))]
		expired = expired[len(batch):]
		err := l.db.Update(func(tx *bolt.Tx) error {
			for _, id := range batch {
				e, err := getEntry(tx, id)
				if err != nil {
					return err
				}
				if e.Raw == "" { // a concurrent Sweep got there first
					continue
				}
				e.Raw, e.Images = "", nil // the page images go with the message they came from
				if err := putEntry(tx, e); err != nil {
					return err
				}
				if err := count(tx, "raw", -1); err != nil {
					return err
				}
				removed++
			}
			return nil
		})
		if err != nil {
			return removed, fmt.Errorf("sweeping: %w", err)
		}
	}
	// Entries are changed first and segments removed after: a crash in between leaves a
	// segment for the next Sweep, never an entry pointing at a missing one.
	l.segMu.Lock()
	defer l.segMu.Unlock()
	names, err := segments(filepath.Join(l.dir, rawDir))
	if err != nil {
		return removed, fmt.Errorf("sweeping: %w", err)
	}
	for _, name := range names {
		if used[name] || name == l.segName {
			continue
		}
		if err := os.Remove(filepath.Join(l.dir, rawDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("sweeping: %w", err)
		}
	}
	return removed, nil
}
