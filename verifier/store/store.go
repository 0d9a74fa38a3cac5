// Package store is the mechanism of hosho-intake's one state file: a bbolt file in which
// several packages (the ledger, the outbox, the reply limiter, the verification queue) each
// keep their own buckets. It lives under verifier because verifier is the lowest room that
// keeps state: every owner of buckets imports it without importing intake.
//
// # Contract
//
// Each owner declares a Schema: its name in the meta bucket and its ordered steps, where
// step i brings its buckets from version i to i+1. Steps are append-only: a released step is
// never edited or reordered, since files in the field ran it already. Open applies every
// declared schema in one transaction, so the file is upgraded entirely or not at all; an
// owner's stored version above its number of steps means a newer binary wrote the file, and
// Open refuses it with ErrNewerSchema, because an older binary would misread or corrupt
// buckets it does not know (the idea of soju's database upgrade()). An owner that is handed
// an open file (OpenQueue, outbox.Open, OpenLimiter) applies its own schema again with
// Ensure. Open and Ensure write only when a schema is behind: on a current file they read
// the meta bucket and commit nothing, so that starting `once` costs no fsync.
//
// # On-disk layout
//
//	meta    owner name -> schema version (uint32); one key per owner: "ledger",
//	        "outbox", "reply", "verifier"
//
// Every other bucket belongs to one owner, whose package comment describes it. Integers in
// keys and values are big-endian (BE64, BE32), so that keys sort as numbers; times in keys
// are Unix nanoseconds with those before 1970 as 0 (TimeKey); records are JSON under their
// uint64 ID (GetJSON, PutJSON), so that a field added later reads as its zero value in older
// records without a migration; counters are int64 under a name (Add).
package store

import (
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// ErrNewerSchema: the file was written by a newer hosho-intake; a downgraded binary must
// not touch it.
var ErrNewerSchema = errors.New("state written by a newer hosho-intake")

// metaBucket holds each owner's schema version.
const metaBucket = "meta"

// Schema is one owner's part of the state file.
type Schema struct {
	// Owner is the owner's key in the meta bucket; it never changes.
	Owner string
	// Steps are the ordered migrations: Steps[i] brings the owner's buckets from version i
	// to i+1. Append only.
	Steps []func(*bolt.Tx) error
}

// CreateBuckets is a step that creates the named buckets (the usual first step).
func CreateBuckets(names ...string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		for _, name := range names {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("creating bucket %s: %w", name, err)
			}
		}
		return nil
	}
}

// Open opens the state file at path, creating it with mode 0600, and applies schemas in one
// transaction. opts are bbolt's (Timeout bounds the wait for another process's lock; the
// error then wraps bbolt's ErrTimeout).
func Open(path string, opts *bolt.Options, schemas ...Schema) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := setUp(db, path, schemas); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func setUp(db *bolt.DB, path string, schemas []Schema) error {
	// bbolt applies the mode only when it creates the file; the file holds contractors'
	// authentication keys (in the verifier's buckets), so tighten one made by hand.
	if fi, err := os.Stat(path); err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	} else if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("restricting %s: %w", path, err)
		}
	}
	return Ensure(db, schemas...)
}

// Ensure brings schemas to their latest version as Apply does, in a write transaction only
// when one is behind: a bbolt commit syncs the file even when it changed nothing. A stored
// version above the schema's steps fails with ErrNewerSchema either way.
func Ensure(db *bolt.DB, schemas ...Schema) error {
	current := true
	err := db.View(func(tx *bolt.Tx) error {
		current = tx.Bucket([]byte(metaBucket)) != nil // a new file: Apply creates it
		for _, s := range schemas {
			v, err := Version(tx, s.Owner)
			if err != nil {
				return err
			}
			if v > len(s.Steps) {
				return fmt.Errorf("%s schema version %d, this binary knows up to %d: %w", s.Owner, v, len(s.Steps), ErrNewerSchema)
			}
			current = current && v == len(s.Steps)
		}
		return nil
	})
	if err != nil || current {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error { return Apply(tx, schemas...) })
}

// Apply brings each schema's buckets to its latest version inside tx, which must be
// writable. The stored version says which steps already ran, and each new step's version is
// stored with it, in tx, so a failing step leaves nothing behind. A stored version above
// len(Steps) fails with ErrNewerSchema.
func Apply(tx *bolt.Tx, schemas ...Schema) error {
	for _, s := range schemas {
		if err := migrate(tx, s.Owner, s.Steps); err != nil {
			return err
		}
	}
	return nil
}

func migrate(tx *bolt.Tx, owner string, steps []func(*bolt.Tx) error) error {
	if owner == "" {
		return errors.New("migrating: empty owner")
	}
	if !tx.Writable() {
		return fmt.Errorf("migrating %s: read-only transaction", owner)
	}
	meta, err := tx.CreateBucketIfNotExists([]byte(metaBucket))
	if err != nil {
		return fmt.Errorf("migrating %s: %w", owner, err)
	}
	v, err := version(meta, owner)
	if err != nil {
		return err
	}
	if v > len(steps) {
		return fmt.Errorf("%s schema version %d, this binary knows up to %d: %w", owner, v, len(steps), ErrNewerSchema)
	}
	for i := v; i < len(steps); i++ {
		if err := steps[i](tx); err != nil {
			return fmt.Errorf("migrating %s schema to version %d: %w", owner, i+1, err)
		}
		// The step may have used the cursor of meta; fetch the bucket again to be safe.
		if err := tx.Bucket([]byte(metaBucket)).Put([]byte(owner), BE32(uint32(i+1))); err != nil {
			return fmt.Errorf("migrating %s schema to version %d: %w", owner, i+1, err)
		}
	}
	return nil
}

// Version is owner's stored schema version, 0 when it has none.
func Version(tx *bolt.Tx, owner string) (int, error) {
	meta := tx.Bucket([]byte(metaBucket))
	if meta == nil {
		return 0, nil
	}
	return version(meta, owner)
}

func version(meta *bolt.Bucket, owner string) (int, error) {
	b := meta.Get([]byte(owner))
	if b == nil {
		return 0, nil
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("%s schema version: stored value of %d bytes", owner, len(b))
	}
	return int(U32(b)), nil
}

// Versions lists every owner's stored schema version (a backup's manifest shows them).
func Versions(tx *bolt.Tx) (map[string]int, error) {
	out := map[string]int{}
	meta := tx.Bucket([]byte(metaBucket))
	if meta == nil {
		return out, nil
	}
	err := meta.ForEach(func(k, _ []byte) error {
		v, err := version(meta, string(k))
		out[string(k)] = v
		return err
	})
	return out, err
}
