// Package ledger is hosho-intake's memory of every message it took in from the mailbox, and
// the holder of the state directory: it opens the one bbolt file that holds all the daemon's
// state, through verifier/store, with every owner's schema (Options.Schemas).
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
//	raw/seg-NNNNNNNN.raw raw messages, appended: "HRW1", uint32 length, gzip of the message
//	                     (stored blocks; Huffman-coded by earlier versions);
//	                     an entry's Raw is "seg-NNNNNNNN.raw:offset:length"; the page
//	                     images of its OCR'd notices follow it as records of their own
//	                     (the PNG as it is), referenced by Entry.Images
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
//	meta            owner name -> schema version (uint32); shared, see verifier/store
//	messages        ID (uint64, bucket sequence) -> Entry as JSON
//	by-uid          mailbox 0x00 uidvalidity (uint32) uid (uint32) -> ID; holds aliases too
//	by-message-id   Message-ID 0x00 ID -> digest (hex); several IDs may share a Message-ID;
//	                an ID over 512 bytes is keyed as "sha256:"+hex of it. Still written, for
//	                a binary of before issue 14's listing change, whose Seen reads it; this
//	                one's Seen reads by-digest alone
//	by-digest       digest (hex) 0x00 ID -> empty
//	cursors         mailbox -> uidvalidity (uint32) lastuid (uint32)
//	unmoved         mailbox 0x00 uidvalidity uid -> ID: locations not yet moved on the server
//	counts          "messages", "raw", "outcome:"+outcome -> int64, for Stats without a scan
package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/sys/unix"

	"hosho-intake/verifier/store"
)

// Sentinel errors, for what callers branch on.
var (
	// ErrLocked: another process holds the state directory.
	ErrLocked = errors.New("state directory in use")
	// ErrNewerSchema: the file was written by a newer hosho-intake; a downgraded binary
	// must not touch it. It is store.ErrNewerSchema, whichever owner's schema is newer.
	ErrNewerSchema = store.ErrNewerSchema
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
	// Schemas are the other owners of buckets in the file (the outbox, the reply limiter,
	// the verification queue): Open applies them with the ledger's in one transaction.
	Schemas []store.Schema
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

// Open opens (creating if needed) the state in dir and brings the ledger's buckets, and
// those of opts.Schemas, to their current schema in one transaction. It fails with
// ErrLocked, after at most opts.LockTimeout, when another process has the state open, and
// with ErrNewerSchema when a newer binary wrote it.
func Open(dir string, opts Options) (*Ledger, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	if err := os.MkdirAll(filepath.Join(dir, rawDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	schemas := append([]store.Schema{schema()}, opts.Schemas...)
	db, err := store.Open(filepath.Join(dir, DBName), &bolt.Options{Timeout: opts.LockTimeout}, schemas...)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, &lockedError{dir: dir, pid: readPID(filepath.Join(dir, pidName))}
	}
	if err != nil {
		return nil, fmt.Errorf("opening ledger: %w", err)
	}
	l := &Ledger{dir: dir, db: db}
	// The pid file only names the holder in ErrLocked: flock(2) cannot tell who holds it.
	// We hold the lock now, so nobody else writes it.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := os.WriteFile(filepath.Join(dir, pidName), pid, 0o600); err != nil {
		l.Close() // also removes a pid file written in part
		return nil, fmt.Errorf("writing pid file: %w", err)
	}
	return l, nil
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
// verifier queue, the outbox). Their schemas go in Options.Schemas.
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

// Bucket names; see the package comment for their keys and values.
const (
	messagesBucket = "messages"
	byUIDBucket    = "by-uid"
	byMsgIDBucket  = "by-message-id"
	byDigestBucket = "by-digest"
	cursorsBucket  = "cursors"
	unmovedBucket  = "unmoved"
	countsBucket   = "counts"
)

// schema is the ledger's part of the state file. Its steps are append-only.
func schema() store.Schema {
	return store.Schema{Owner: ledgerOwner, Steps: []func(*bolt.Tx) error{
		// 1: the initial layout described in the package comment.
		store.CreateBuckets(messagesBucket, byUIDBucket, byMsgIDBucket, byDigestBucket, cursorsBucket, unmovedBucket, countsBucket),
	}}
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
