// Package ledger is hosho-intake's memory of every message it took in from the mailbox, and
// the owner of the one bbolt file that holds all the daemon's state.
//
// # Contract
//
// A message is processed exactly once because of three rules the poller follows and this
// package enforces where it can:
//
//  1. The ledger entry, its raw message (gzip), its indexes, the cursor of (mailbox,
//     UIDVALIDITY), and whatever the verifier and the outbox derive from the message commit
//     in ONE bbolt transaction (RecordBatch and its more callback). Either all of it exists
//     or none of it does. Several messages may share one transaction: a commit costs an
//     fsync, and one per message would cap intake at a few hundred messages a second.
//  2. So the raw message is stored durably, to be re-run and audited, before anything
//     changes on the server.
//  3. Only after that commit is the message moved or flagged on the server; MarkMoved records
//     that. A crash between the commit and the move leaves the entry in Unmoved, and the
//     next poll moves it without processing it again. Record refuses a (mailbox,
//     UIDVALIDITY, UID) it already holds (ErrDuplicate).
//
// When the server reports a new UIDVALIDITY every UID is new to us, so the poller starts
// from 0 and asks Seen whether the message was already recorded under the old validity
// (same Message-ID and same bytes); if so it calls Alias instead of processing it again.
//
// Never do network I/O inside a transaction: the single writer lock of bbolt would stall
// every other package behind an IMAP or SMTP server.
//
// # On-disk layout
//
// Everything lives in the state directory (mode 0700, files 0600):
//
//	hosho-intake.db      the bbolt file, shared by all packages (each owns its buckets)
//	hosho-intake.pid     pid of the process holding the lock, only to name it in ErrLocked
//	raw/seg-NNNNNNNN.raw raw messages, appended: "HRW1", uint32 length, gzip of the message;
//	                     an entry's Raw is "seg-NNNNNNNN.raw:offset:length"
//
// Raw messages are appended to segment files rather than kept one file each (creating a
// file costs about as much as reading the message) or in bbolt (whose leaves are read back
// through its memory map on every write, so that the daemon's resident memory would grow
// with the mailbox). A batch is appended and synced with one fdatasync before the
// transaction that refers to it commits. Each process starts a new segment, and a new one
// starts every 64 MiB; Sweep removes a segment once no entry refers to it.
//
// Buckets of the ledger (keys and values; integers are big-endian):
//
//	meta            owner name -> schema version (uint32); shared, see Migrate
//	messages        ID (uint64, bucket sequence) -> Entry as JSON
//	by-uid          mailbox 0x00 uidvalidity (uint32) uid (uint32) -> ID; holds aliases too
//	by-message-id   Message-ID 0x00 ID -> digest (hex); several IDs may share a Message-ID
//	                (see Seen); an ID over 512 bytes is keyed as "sha256:"+hex of it
//	by-digest       digest (hex) 0x00 ID -> empty
//	cursors         mailbox -> uidvalidity (uint32) lastuid (uint32)
//	unmoved         mailbox 0x00 uidvalidity uid -> ID: locations not yet moved on the server
//	counts          "messages", "raw", "outcome:"+outcome -> int64, for Stats without a scan
package ledger

import (
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Sentinel errors, for what callers branch on.
var (
	// ErrLocked: another process holds the state directory.
	ErrLocked = errors.New("state directory in use")
	// ErrNewerSchema: the file was written by a newer hosho-intake; a downgraded binary
	// must not touch it.
	ErrNewerSchema = errors.New("state written by a newer hosho-intake")
	// ErrNotFound: no such entry or raw message.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: the server location (mailbox, UIDVALIDITY, UID) is already recorded.
	ErrDuplicate = errors.New("already recorded")
)

const (
	// DBName is the bbolt file in the state directory.
	DBName  = "hosho-intake.db"
	pidName = "hosho-intake.pid"
	rawDir  = "raw"

	// ledgerOwner is the ledger's name in the meta bucket.
	ledgerOwner = "ledger"

	defaultLockTimeout = time.Second
)

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for the file lock held by another process; 0 means 1s.
	// Short on purpose: a second daemon should fail at once, not queue behind the first.
	LockTimeout time.Duration
}

// Ledger is the message ledger over the state directory. It is safe for concurrent use;
// bbolt serialises writers and lets readers run beside them.
type Ledger struct {
	dir string
	db  *bolt.DB

	// segMu guards the raw segment being written: appends (the single writer) and Sweep.
	segMu   sync.Mutex
	seg     *os.File
	segName string
	segSize int64
}

// Open opens (creating if needed) the state in dir and brings the ledger's buckets to the
// current schema. It fails with ErrLocked, after at most opts.LockTimeout, when another
// process has the state open, and with ErrNewerSchema when a newer binary wrote it.
func Open(dir string, opts Options) (*Ledger, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	if err := os.MkdirAll(filepath.Join(dir, rawDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	path := filepath.Join(dir, DBName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, &lockedError{dir: dir, pid: readPID(filepath.Join(dir, pidName))}
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	l := &Ledger{dir: dir, db: db}
	if err := l.init(path); err != nil {
		l.Close() // also removes a pid file init wrote
		return nil, err
	}
	return l, nil
}

func (l *Ledger) init(path string) error {
	// bbolt applies the mode only when it creates the file; the file holds contractors'
	// authentication keys (in the verifier's buckets), so tighten one made by hand.
	if fi, err := os.Stat(path); err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	} else if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("restricting %s: %w", path, err)
		}
	}
	// The pid file only names the holder in ErrLocked: flock(2) cannot tell who holds it.
	// We hold the lock now, so nobody else writes it.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := os.WriteFile(filepath.Join(l.dir, pidName), pid, 0o600); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	err := l.db.Update(func(tx *bolt.Tx) error { return Migrate(tx, ledgerOwner, migrations()) })
	if err != nil {
		return fmt.Errorf("opening ledger: %w", err)
	}
	return nil
}

// Close closes the bbolt file and releases the lock.
func (l *Ledger) Close() error {
	// Remove the pid file while we still hold the lock, so we never remove a successor's.
	// Best effort: a stale one is harmless, it is read only when the lock is taken.
	os.Remove(filepath.Join(l.dir, pidName))
	l.segMu.Lock()
	if l.seg != nil {
		l.seg.Close()
		l.seg = nil
	}
	l.segMu.Unlock()
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("closing ledger: %w", err)
	}
	return nil
}

// DB is the shared bbolt file, for the packages that keep their own buckets in it (the
// verifier queue, the outbox). They create their buckets with Migrate.
func (l *Ledger) DB() *bolt.DB { return l.db }

// Dir is the state directory.
func (l *Ledger) Dir() string { return l.dir }

type lockedError struct {
	dir string
	pid int // 0 when unknown
}

func (e *lockedError) Error() string {
	pid := "pid unknown"
	if e.pid > 0 {
		pid = "pid " + strconv.Itoa(e.pid)
	}
	return fmt.Sprintf("state directory %s is in use by another hosho-intake (%s)", e.dir, pid)
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Migrate brings owner's buckets to version len(steps) inside tx, which must be writable.
// steps[i] brings the schema from version i to i+1; the stored version says which steps
// already ran, and each new step's version is stored with it, in the same transaction, so a
// failing step leaves nothing behind. A stored version above len(steps) means a newer binary
// wrote the file: Migrate refuses it with ErrNewerSchema, because an older binary would
// misread or corrupt buckets it does not know (the idea of soju's database upgrade()).
//
// Steps are append-only: never edit or reorder a released one.
func Migrate(tx *bolt.Tx, owner string, steps []func(*bolt.Tx) error) error {
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
		if err := tx.Bucket([]byte(metaBucket)).Put([]byte(owner), be32(uint32(i+1))); err != nil {
			return fmt.Errorf("migrating %s schema to version %d: %w", owner, i+1, err)
		}
	}
	return nil
}

// SchemaVersion is owner's stored schema version, 0 when it has none.
func SchemaVersion(tx *bolt.Tx, owner string) (int, error) {
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
	return int(u32(b)), nil
}

// Bucket names; see the package comment for their keys and values.
const (
	metaBucket     = "meta"
	messagesBucket = "messages"
	byUIDBucket    = "by-uid"
	byMsgIDBucket  = "by-message-id"
	byDigestBucket = "by-digest"
	cursorsBucket  = "cursors"
	unmovedBucket  = "unmoved"
	countsBucket   = "counts"
)

// migrations are the ledger's schema steps; see Migrate. Append only.
func migrations() []func(*bolt.Tx) error {
	return []func(*bolt.Tx) error{
		// 1: the initial layout described in the package comment.
		func(tx *bolt.Tx) error {
			for _, name := range []string{messagesBucket, byUIDBucket, byMsgIDBucket, byDigestBucket, cursorsBucket, unmovedBucket, countsBucket} {
				if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
					return fmt.Errorf("creating bucket %s: %w", name, err)
				}
			}
			return nil
		},
	}
}

// Trim drops the pages of the state file from the process's memory map. bbolt reads the
// file through that map, and every page it ever touched stays in the daemon's resident set
// although the kernel holds it in the page cache anyway: without this, resident memory
// grows with the state (about 2.5 KB a message) instead of staying flat. The pages fault
// back in from the page cache when next read. It runs inside a read transaction, which
// keeps bbolt from remapping the file meanwhile.
func (l *Ledger) Trim() error {
	fi, err := os.Stat(filepath.Join(l.dir, DBName))
	if err != nil {
		return err
	}
	return l.db.View(func(tx *bolt.Tx) error {
		info := l.db.Info()
		size := min(fi.Size(), int64(tx.Size()))
		if info.Data == 0 || size <= 0 {
			return nil
		}
		// The raw system call: the map's address comes from bbolt as a uintptr.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(size), unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("releasing mapped state pages: %w", errno)
		}
		return nil
	})
}
