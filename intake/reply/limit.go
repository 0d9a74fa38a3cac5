package reply

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/ledger"
)

const (
	// schemaOwner is this package's name in the ledger's meta bucket.
	schemaOwner = "reply"
	rateBucket  = "reply-rate"
	// window is the period the limit counts over.
	window = time.Hour
	// maxKey bounds a sender key; longer addresses (hostile or broken) are hashed.
	maxKey = 256
)

// migrations are the reply package's schema steps for ledger.Migrate. Append only.
func migrations() []func(*bolt.Tx) error {
	return []func(*bolt.Tx) error{
		// 1: the per-sender reply times described in the package comment.
		func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists([]byte(rateBucket)); err != nil {
				return fmt.Errorf("creating bucket %s: %w", rateBucket, err)
			}
			return nil
		},
	}
}

// Limiter admits at most perHour replies to one sender in any hour. Should keeps out the robots
// that say they are robots; this stops a ping-pong with one that does not (an autoresponder
// without Auto-Submitted answering each of our replies).
type Limiter struct {
	perHour int
}

// OpenLimiter brings the limiter's bucket to the current schema in db (refusing one written by a
// newer binary, ledger.ErrNewerSchema) and returns a limiter of perHour replies per sender.
func OpenLimiter(db *bolt.DB, perHour int) (*Limiter, error) {
	if perHour < 1 {
		return nil, fmt.Errorf("reply rate limit %d: must be at least 1", perHour)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return ledger.Migrate(tx, schemaOwner, migrations()) }); err != nil {
		return nil, fmt.Errorf("opening reply limiter: %w", err)
	}
	return &Limiter{perHour: perHour}, nil
}

// Allow reports whether one more reply to sender may be sent at now, and if so counts it in tx,
// which must be writable: the count commits, or rolls back, with the reply it admits. Senders
// are compared case-insensitively.
func (l *Limiter) Allow(tx *bolt.Tx, sender string, now time.Time) (bool, error) {
	if !tx.Writable() {
		return false, errors.New("reply limiter: read-only transaction")
	}
	b := tx.Bucket([]byte(rateBucket))
	if b == nil {
		return false, errors.New("reply limiter: bucket missing; use OpenLimiter")
	}
	key := senderKey(sender)
	times := recent(b.Get(key), now)
	if len(times) >= l.perHour {
		return false, nil
	}
	times = append(times, now.Unix())
	if err := b.Put(key, encodeTimes(times)); err != nil {
		return false, fmt.Errorf("counting reply to %q: %w", sender, err)
	}
	return true, nil
}

// Sweep deletes the senders with no reply in the last hour, so that the bucket holds only the
// senders answered recently. It returns how many it deleted.
func (l *Limiter) Sweep(tx *bolt.Tx, now time.Time) (int, error) {
	b := tx.Bucket([]byte(rateBucket))
	if b == nil {
		return 0, errors.New("reply limiter: bucket missing; use OpenLimiter")
	}
	var stale [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(recent(v, now)) == 0 {
			stale = append(stale, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweeping reply limiter: %w", err)
	}
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("sweeping reply limiter: %w", err)
		}
	}
	return len(stale), nil
}

func senderKey(sender string) []byte {
	s := strings.ToLower(strings.TrimSpace(sender))
	if len(s) > maxKey || s == "" {
		sum := sha256.Sum256([]byte(s))
		return []byte("sha256:" + hex.EncodeToString(sum[:]))
	}
	return []byte(s)
}

// recent decodes the stored times and keeps those within the window before now. A time after
// now (a clock set back) is kept: it still counts against the sender.
func recent(v []byte, now time.Time) []int64 {
	cut := now.Add(-window).Unix()
	var out []int64
	for len(v) >= 8 {
		t := int64(binary.BigEndian.Uint64(v))
		v = v[8:]
		if t > cut {
			out = append(out, t)
		}
	}
	return out
}

func encodeTimes(times []int64) []byte {
	b := make([]byte, 0, 8*len(times))
	for _, t := range times {
		b = binary.BigEndian.AppendUint64(b, uint64(t))
	}
	return b
}
