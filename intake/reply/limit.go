package reply

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier/store"
)

const (
	// schemaOwner is this package's name in the meta bucket of the state file.
	schemaOwner = "reply"
	rateBucket  = "reply-rate"
	// window is the period the limit counts over.
	window = time.Hour
	// maxKey bounds a sender key; longer addresses (hostile or broken) are hashed.
	maxKey = 256
)

// Schema is the reply package's part of the state file, for ledger.Options.Schemas. Its
// steps are append-only.
func Schema() store.Schema {
	return store.Schema{Owner: schemaOwner, Steps: []func(*bolt.Tx) error{
		// 1: the per-sender reply times described in the package comment.
		store.CreateBuckets(rateBucket),
	}}
}

// Reasons Allow gives for refusing a reply.
const (
	WhyRateLimited = "rate_limited"        // this sender had perHour replies in the last hour
	WhyGlobalLimit = "rate_limited_global" // everyone together had globalPerHour
)

// globalKey holds the times of all replies; no sender key starts with a NUL (senderKey).
var globalKey = []byte("\x00all")

// Limiter admits at most perHour replies to one sender, and globalPerHour to everyone, in any
// hour. Should keeps out the robots that say they are robots; the per-sender limit stops a
// ping-pong with one that does not (an autoresponder without Auto-Submitted answering each of
// our replies); the global one stops a stranger who forges a new From address for every mail
// from making the agency send mail without end.
type Limiter struct {
	perHour, globalPerHour int
}

// OpenLimiter brings the limiter's bucket to the current schema in db (refusing one written by a
// newer binary, store.ErrNewerSchema) and returns a limiter of perHour replies per sender and
// globalPerHour in all.
func OpenLimiter(db *bolt.DB, perHour, globalPerHour int) (*Limiter, error) {
	if perHour < 1 || globalPerHour < 1 {
		return nil, fmt.Errorf("reply rate limits %d and %d: must be at least 1", perHour, globalPerHour)
	}
	if err := store.Ensure(db, Schema()); err != nil {
		return nil, fmt.Errorf("opening reply limiter: %w", err)
	}
	return &Limiter{perHour: perHour, globalPerHour: globalPerHour}, nil
}

// Allow tells whether one more reply to sender may be sent at now: "" if so, and then it is
// counted in tx, which must be writable (the count commits, or rolls back, with the reply it
// admits); else WhyRateLimited or WhyGlobalLimit. Senders are compared case-insensitively.
func (l *Limiter) Allow(tx *bolt.Tx, sender string, now time.Time) (string, error) {
	if !tx.Writable() {
		return "", errors.New("reply limiter: read-only transaction")
	}
	b := tx.Bucket([]byte(rateBucket))
	if b == nil {
		return "", errors.New("reply limiter: bucket missing; use OpenLimiter")
	}
	key := senderKey(sender)
	times := recent(b.Get(key), now)
	if len(times) >= l.perHour {
		return WhyRateLimited, nil
	}
	all := recent(b.Get(globalKey), now)
	if len(all) >= l.globalPerHour {
		return WhyGlobalLimit, nil
	}
	if err := b.Put(key, encodeTimes(append(times, now.Unix()))); err != nil {
		return "", fmt.Errorf("counting reply to %q: %w", sender, err)
	}
	if err := b.Put(globalKey, encodeTimes(append(all, now.Unix()))); err != nil {
		return "", fmt.Errorf("counting reply to %q: %w", sender, err)
	}
	return "", nil
}

// Sweep deletes the senders with no reply in the last hour, so that the bucket holds only the
// senders answered recently. It returns how many senders it deleted.
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
	n := 0
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("sweeping reply limiter: %w", err)
		}
		if !bytes.Equal(k, globalKey) {
			n++
		}
	}
	return n, nil
}

func senderKey(sender string) []byte {
	s := strings.ToLower(strings.TrimSpace(sender))
	if len(s) > maxKey || s == "" || strings.ContainsRune(s, 0) {
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
