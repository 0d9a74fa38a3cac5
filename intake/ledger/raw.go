package ledger

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweepBatch bounds the entries one Sweep transaction changes, to keep the writer lock short.
const sweepBatch = 500

// Digest is the hex SHA-256 of a raw message: Entry.Digest.
func Digest(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// Compressor gzips raw messages for Record, reusing its compressor (about 1 MB to set up,
// more than compressing a typical message costs). Each goroutine keeps its own: callers
// compress in parallel, so the single bbolt writer only writes.
type Compressor struct {
	zw *gzip.Writer
}

// Compress returns raw, gzipped. Huffman coding only: a contractor's mail is mostly base64
// of an already deflated PDF, where the 6 bits a character carry are what can be won back
// and string matching finds next to nothing, at a third of the cost of BestSpeed.
func (c *Compressor) Compress(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(raw)*4/5 + 64)
	if c.zw == nil {
		zw, err := gzip.NewWriterLevel(&b, gzip.HuffmanOnly)
		if err != nil {
			return nil, err
		}
		c.zw = zw
	} else {
		c.zw.Reset(&b)
	}
	if _, err := c.zw.Write(raw); err != nil {
		return nil, err
	}
	if err := c.zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Compress gzips one raw message; see Compressor.
func Compress(raw []byte) ([]byte, error) {
	var c Compressor
	return c.Compress(raw)
}

// Raw returns the raw message of entry id, checked against its digest; ErrNotFound when it
// was never kept or is past retention.
func (l *Ledger) Raw(id uint64) ([]byte, error) {
	var gz []byte
	var digest string
	err := l.db.View(func(tx *bolt.Tx) error {
		e, err := getEntry(tx, id)
		if err != nil {
			return err
		}
		digest = e.Digest
		v := tx.Bucket([]byte(rawBucket)).Get(be64(id))
		if v == nil {
			return fmt.Errorf("raw message of entry %d: %w", id, ErrNotFound)
		}
		gz = bytes.Clone(v) // v is only valid inside the transaction
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading raw message: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("reading raw message of entry %d: %w", id, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("reading raw message of entry %d: %w", id, err)
	}
	if digest != "" && Digest(raw) != digest {
		return nil, fmt.Errorf("reading raw message of entry %d: content does not match its digest", id)
	}
	return raw, nil
}

// Sweep applies the retention period: it drops the raw message of every entry taken in
// before now-retention. The entry stays, with Raw false, so that Seen and ByUID still
// recognise the message. Retention 0 keeps raw messages forever. It returns how many raw
// messages it dropped. bbolt reuses the freed pages for new messages.
func (l *Ledger) Sweep(now time.Time, retention time.Duration) (removed int, err error) {
	if retention <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-retention)
	var ids []uint64
	err = l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(messagesBucket)).ForEach(func(k, v []byte) error {
			var e struct {
				Raw     bool      `json:"raw"`
				TakenAt time.Time `json:"taken_at"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decoding entry %d: %w", u64(k), err)
			}
			if e.Raw && e.TakenAt.Before(cutoff) {
				ids = append(ids, u64(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("sweeping: %w", err)
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
				if !e.Raw { // a concurrent Sweep got there first
					continue
				}
				e.Raw = false
				if err := putEntry(tx, e); err != nil {
					return err
				}
				if err := tx.Bucket([]byte(rawBucket)).Delete(be64(id)); err != nil {
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
	return removed, nil
}
