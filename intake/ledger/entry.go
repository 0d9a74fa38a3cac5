package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier/store"
)

// Entry is one message taken in from the mailbox. It is stored as JSON so that a field
// added later reads as its zero value in older entries without a migration.
type Entry struct {
	ID          uint64 `json:"id"`
	Mailbox     string `json:"mailbox"`
	UIDValidity uint32 `json:"uidvalidity"`
	UID         uint32 `json:"uid"`
	// MessageID is the Message-ID header as the poller read it; "" when absent.
	MessageID string `json:"message_id,omitempty"`
	// Digest is the hex SHA-256 of the raw message (see Digest); "" when the message was not
	// downloaded (over the size limit).
	Digest  string    `json:"digest,omitempty"`
	From    string    `json:"from,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Date    time.Time `json:"date,omitzero"`
	Size    int64     `json:"size"`
	TakenAt time.Time `json:"taken_at"`
	// Outcome sums up what the message held: "notices", "problems", "no_reply",
	// "too_large"; the poller owns the vocabulary, Stats counts by it.
	Outcome  string   `json:"outcome"`
	Notices  int      `json:"notices"`
	Problems []string `json:"problems,omitempty"`
	NoReply  bool     `json:"no_reply,omitempty"`
	// NoReplyWhy says why the sender was not answered ("" when answered or never to be):
	// loop protection, a robot's address, the rate limit.
	NoReplyWhy string `json:"no_reply_why,omitempty"`
	// Moved: the message was moved to the processed folder (or flagged) on the server.
	Moved bool `json:"moved"`
	// Raw is where the raw message is kept (segment:offset:length in raw/), "" when it was
	// not kept or Sweep dropped it past retention.
	Raw string `json:"raw,omitempty"`
	// Images are where the page images of its notices read by OCR are kept (beside Raw, in
	// raw/, and forgotten with it), for the clerks who check the reading.
	Images      []ImageRef  `json:"images,omitempty"`
	Reprocessed []time.Time `json:"reprocessed,omitempty"`
	// Aliases are other server locations where this same message was taken in again,
	// after a UIDVALIDITY change; see Alias.
	Aliases []Alias `json:"aliases,omitempty"`
}

// Alias is another server location of an entry's message.
type Alias struct {
	Mailbox     string    `json:"mailbox"`
	UIDValidity uint32    `json:"uidvalidity"`
	UID         uint32    `json:"uid"`
	At          time.Time `json:"at"`
	Moved       bool      `json:"moved"`
}

// Cursor is the highest UID taken in from a mailbox under one UIDVALIDITY. The poller
// fetches UIDs above LastUID when the server's UIDVALIDITY equals UIDValidity, and starts
// from 0 otherwise (RFC 9051 2.3.1.1: UIDs of another validity mean nothing).
type Cursor struct {
	Mailbox     string
	UIDValidity uint32
	LastUID     uint32
}

// Item is one message to record: its entry and its raw message (nil: not kept; kept as
// stored gzip, see writeStored), and the page images of the notices OCR read from it.
type Item struct {
	Entry  *Entry
	Raw    []byte
	Images []Image
}

// Image is the page of an attachment a notice was read from by OCR, as a PNG small enough
// to mail (parser.PageImage).
type Image struct {
	Attachment string
	Page       int
	PNG        []byte
}

// ImageRef is where an entry's Image is kept: Ref as Entry.Raw's, Digest the hex SHA-256 of
// the PNG.
type ImageRef struct {
	Attachment string `json:"attachment"`
	Page       int    `json:"page"`
	Ref        string `json:"ref"`
	Digest     string `json:"digest"`
}

// Record stores e as a new entry; see RecordBatch.
func (l *Ledger) Record(e *Entry, raw []byte, more func(tx *bolt.Tx, e *Entry) error) error {
	return l.RecordBatch([]Item{{Entry: e, Raw: raw}}, more)
}

// RecordBatch stores the items as new entries in ONE transaction: each entry with its
// indexes (its raw message appended to the raw store and synced just before), the cursor of (Mailbox, UIDValidity) advanced to its UID, and
// whatever more writes with the same tx (the verifier's submissions, the outbox's replies).
// If anything fails nothing is committed, every e.ID is reset to 0 and the error is
// returned. One commit for many messages is what makes intake fast: a bbolt commit costs
// an fsync.
//
// RecordBatch assigns e.ID, then calls more, then writes e: more may note on e what it did
// (why no reply was sent). A location already recorded fails with ErrDuplicate: that is
// the last guard against processing a message twice.
func (l *Ledger) RecordBatch(items []Item, more func(tx *bolt.Tx, e *Entry) error) error {
	for _, it := range items {
		it.Entry.Raw, it.Entry.Images = "", nil
		if err := checkEntry(it.Entry); err != nil {
			return fmt.Errorf("recording %s uid %d: %w", it.Entry.Mailbox, it.Entry.UID, err)
		}
	}
	// The raw messages are on disk before the transaction that refers to them.
	if err := l.appendRaw(items); err != nil {
		return err
	}
	var failed *Entry
	err := l.db.Update(func(tx *bolt.Tx) error {
		for _, it := range items {
			failed = it.Entry
			id, err := tx.Bucket([]byte(messagesBucket)).NextSequence()
			if err != nil {
				return err
			}
			it.Entry.ID = id
			if more != nil {
				if err := more(tx, it.Entry); err != nil {
					return err
				}
			}
			if err := record(tx, it.Entry); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, it := range items {
			it.Entry.ID, it.Entry.Raw, it.Entry.Images = 0, "", nil
		}
		return fmt.Errorf("recording %s uid %d: %w", failed.Mailbox, failed.UID, err)
	}
	return nil
}

func record(tx *bolt.Tx, e *Entry) error {
	loc := uidKey(e.Mailbox, e.UIDValidity, e.UID)
	if v := tx.Bucket([]byte(byUIDBucket)).Get(loc); v != nil {
		return fmt.Errorf("uidvalidity %d already recorded as entry %d: %w", e.UIDValidity, store.U64(v), ErrDuplicate)
	}
	id := e.ID
	if err := putEntry(tx, e); err != nil {
		return err
	}
	if err := tx.Bucket([]byte(byUIDBucket)).Put(loc, store.BE64(id)); err != nil {
		return err
	}
	if e.MessageID != "" {
		k := store.WithID(msgIDIndex(e.MessageID), id)
		if err := tx.Bucket([]byte(byMsgIDBucket)).Put(k, []byte(e.Digest)); err != nil {
			return err
		}
	}
	if e.Digest != "" {
		if err := tx.Bucket([]byte(byDigestBucket)).Put(store.WithID(e.Digest, id), nil); err != nil {
			return err
		}
	}
	if !e.Moved {
		if err := tx.Bucket([]byte(unmovedBucket)).Put(loc, store.BE64(id)); err != nil {
			return err
		}
	}
	if err := advance(tx, e.Mailbox, e.UIDValidity, e.UID); err != nil {
		return err
	}
	if err := count(tx, "messages", 1); err != nil {
		return err
	}
	if err := count(tx, "outcome:"+e.Outcome, 1); err != nil {
		return err
	}
	if e.Raw != "" {
		if err := count(tx, "raw", 1); err != nil {
			return err
		}
	}
	return nil
}

func checkEntry(e *Entry) error {
	e.MessageID = strings.TrimSpace(e.MessageID)
	switch {
	case e.Mailbox == "" || strings.IndexByte(e.Mailbox, 0) >= 0:
		return fmt.Errorf("invalid mailbox name %q", e.Mailbox)
	case e.UIDValidity == 0 || e.UID == 0:
		// RFC 9051 2.3.1.1: both are non-zero.
		return fmt.Errorf("invalid uidvalidity %d or uid %d", e.UIDValidity, e.UID)
	case e.TakenAt.IsZero():
		return errors.New("no TakenAt: retention counts from it")
	case e.Outcome == "":
		return errors.New("no outcome")
	case e.Digest != "" && !isDigest(e.Digest):
		return fmt.Errorf("invalid digest %q", e.Digest)
	}
	return nil
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

// Advance moves the cursor of mailbox to uid under uidvalidity without recording an entry:
// past a message that vanished between search and fetch, say. A uidvalidity other than the
// stored one replaces the cursor; Advance(mailbox, v, 0) records a new validity before its
// first message, so that polls of an empty mailbox stay cheap.
func (l *Ledger) Advance(mailbox string, uidvalidity, uid uint32) error {
	err := l.db.Update(func(tx *bolt.Tx) error { return advance(tx, mailbox, uidvalidity, uid) })
	if err != nil {
		return fmt.Errorf("advancing cursor of %s: %w", mailbox, err)
	}
	return nil
}

// advance moves the cursor forward only, and replaces it on a new UIDVALIDITY.
func advance(tx *bolt.Tx, mailbox string, uidvalidity, uid uint32) error {
	if mailbox == "" || uidvalidity == 0 {
		return fmt.Errorf("invalid cursor %q uidvalidity %d", mailbox, uidvalidity)
	}
	b := tx.Bucket([]byte(cursorsBucket))
	if v := b.Get([]byte(mailbox)); len(v) == 8 && store.U32(v[:4]) == uidvalidity && store.U32(v[4:]) >= uid {
		return nil
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint32(v, uidvalidity)
	binary.BigEndian.PutUint32(v[4:], uid)
	return b.Put([]byte(mailbox), v)
}

// Cursor is where the next poll of mailbox starts; the zero Cursor (UIDValidity 0) when
// the mailbox was never polled.
func (l *Ledger) Cursor(mailbox string) (Cursor, error) {
	c := Cursor{Mailbox: mailbox}
	err := l.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(cursorsBucket)).Get([]byte(mailbox)); len(v) == 8 {
			c.UIDValidity, c.LastUID = store.U32(v[:4]), store.U32(v[4:])
		}
		return nil
	})
	if err != nil {
		return Cursor{}, fmt.Errorf("reading cursor of %s: %w", mailbox, err)
	}
	return c, nil
}

// Alias records that the message at (mailbox, uidvalidity, uid) is entry id taken in
// again, typically after a UIDVALIDITY change (found by Seen), and advances the cursor past
// it. The location is then unmoved until MarkMoved(id), so a crash before the move is
// repaired like any other. Aliasing the same location to the same entry again is a no-op;
// to another entry it is ErrDuplicate.
func (l *Ledger) Alias(mailbox string, uidvalidity, uid uint32, id uint64, at time.Time) error {
	if mailbox == "" || strings.IndexByte(mailbox, 0) >= 0 || uidvalidity == 0 || uid == 0 {
		return fmt.Errorf("aliasing %q uidvalidity %d uid %d: invalid location", mailbox, uidvalidity, uid)
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		loc := uidKey(mailbox, uidvalidity, uid)
		if v := tx.Bucket([]byte(byUIDBucket)).Get(loc); v != nil {
			if store.U64(v) == id {
				return nil
			}
			return fmt.Errorf("location is entry %d: %w", store.U64(v), ErrDuplicate)
		}
		e, err := getEntry(tx, id)
		if err != nil {
			return err
		}
		e.Aliases = append(e.Aliases, Alias{Mailbox: mailbox, UIDValidity: uidvalidity, UID: uid, At: at})
		if err := putEntry(tx, e); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(byUIDBucket)).Put(loc, store.BE64(id)); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(unmovedBucket)).Put(loc, store.BE64(id)); err != nil {
			return err
		}
		return advance(tx, mailbox, uidvalidity, uid)
	})
	if err != nil {
		return fmt.Errorf("aliasing %s uid %d to entry %d: %w", mailbox, uid, id, err)
	}
	return nil
}

// ByUID is the entry taken in from (mailbox, uidvalidity, uid), directly or as an alias.
func (l *Ledger) ByUID(mailbox string, uidvalidity, uid uint32) (*Entry, bool, error) {
	var e *Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(byUIDBucket)).Get(uidKey(mailbox, uidvalidity, uid))
		if v == nil {
			return nil
		}
		var err error
		e, err = getEntry(tx, store.U64(v))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("looking up %s uid %d: %w", mailbox, uid, err)
	}
	return e, e != nil, nil
}

// Seen finds a message already recorded, under any mailbox or UIDVALIDITY: the earliest
// entry with the same digest. "" (a message never downloaded) is never seen.
//
// The digest alone: the same mail delivered again has the same bytes, and with them the
// same Message-ID, so a Message-ID never narrows it; and two different mails that share a
// Message-ID (some scanners and mail merges stamp one on everything) differ in digest, so
// both are kept. The listing therefore fetches no Message-IDs (issue 14). Known limit: a
// server that rewrites a message while renumbering (a migration adding headers) changes
// the digest, and Seen misses it; the verifier's duplicate check on contract number and
// key is the second line.
func (l *Ledger) Seen(digest string) (*Entry, bool, error) {
	if digest == "" {
		return nil, false, nil
	}
	var e *Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(digest + "\x00")
		c := tx.Bucket([]byte(byDigestBucket)).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+8 {
				continue
			}
			var err error
			e, err = getEntry(tx, store.U64(k[len(prefix):]))
			return err
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("looking up message %.12s: %w", digest, err)
	}
	return e, e != nil, nil
}

// MarkMoved records that the messages of these entries, at their own location and at
// every alias, were moved (or flagged) on the server. An unknown ID fails the whole call.
func (l *Ledger) MarkMoved(ids []uint64) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		unmoved := tx.Bucket([]byte(unmovedBucket))
		msgs := tx.Bucket([]byte(messagesBucket))
		for _, id := range ids {
			if v, loc, ok := movedInPlace(msgs.Get(store.BE64(id))); ok {
				if err := unmoved.Delete(loc); err != nil {
					return err
				}
				if err := msgs.Put(store.BE64(id), v); err != nil {
					return fmt.Errorf("storing entry %d: %w", id, err)
				}
				continue
			}
			e, err := getEntry(tx, id)
			if err != nil {
				return err
			}
			e.Moved = true
			if err := unmoved.Delete(uidKey(e.Mailbox, e.UIDValidity, e.UID)); err != nil {
				return err
			}
			for i := range e.Aliases {
				a := &e.Aliases[i]
				a.Moved = true
				if err := unmoved.Delete(uidKey(a.Mailbox, a.UIDValidity, a.UID)); err != nil {
					return err
				}
			}
			if err := putEntry(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("marking %d entries moved: %w", len(ids), err)
	}
	return nil
}

// movedInPlace is MarkMoved of an entry without aliases (nearly every one) done on its
// stored JSON: "moved":false made true, and the location to drop from the unmoved index
// read from "mailbox", "uidvalidity" and "uid", where decoding and encoding the whole entry
// took 1.7% of the daemon's CPU in a `once` (issue 14). Only an entry of plainly that shape
// qualifies: with no "aliases" (whose members have the same keys), a mailbox name without
// escapes, and one "moved":false. A key can be matched by its quoted name and colon alone
// because encoding/json escapes every quote inside a string, and what follows a string
// value is never a colon. ok is false for anything else, which MarkMoved decodes.
func movedInPlace(v []byte) (out, loc []byte, ok bool) {
	const moved = `"moved":false`
	if v == nil || bytes.Contains(v, []byte(`"aliases"`)) || bytes.Count(v, []byte(moved)) != 1 {
		return nil, nil, false
	}
	mailbox, ok := jsonValue(v, `"mailbox":"`, '"')
	if !ok || bytes.IndexByte(mailbox, '\\') >= 0 || len(mailbox) == 0 {
		return nil, nil, false
	}
	validity, ok1 := jsonUint32(v, `"uidvalidity":`)
	uid, ok2 := jsonUint32(v, `"uid":`)
	if !ok1 || !ok2 || validity == 0 || uid == 0 {
		return nil, nil, false
	}
	i := bytes.Index(v, []byte(moved))
	out = make([]byte, 0, len(v)-1)
	out = append(append(append(out, v[:i]...), `"moved":true`...), v[i+len(moved):]...)
	return out, uidKey(string(mailbox), validity, uid), true
}

// jsonValue is what follows the only occurrence of key in v, up to end; false when key is
// not there exactly once or end does not follow.
func jsonValue(v []byte, key string, end byte) ([]byte, bool) {
	if bytes.Count(v, []byte(key)) != 1 {
		return nil, false
	}
	rest := v[bytes.Index(v, []byte(key))+len(key):]
	j := bytes.IndexByte(rest, end)
	if j < 0 {
		return nil, false
	}
	return rest[:j], true
}

// jsonUint32 is the unsigned number after the only occurrence of key in v.
func jsonUint32(v []byte, key string) (uint32, bool) {
	if bytes.Count(v, []byte(key)) != 1 {
		return 0, false
	}
	rest := v[bytes.Index(v, []byte(key))+len(key):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n == len(rest) || (rest[n] != ',' && rest[n] != '}') {
		return 0, false
	}
	u, err := strconv.ParseUint(string(rest[:n]), 10, 32)
	return uint32(u), err == nil
}

// Unmoved lists the entries with a location in mailbox that is recorded but not yet moved
// on the server, in (UIDVALIDITY, UID) order: what a crash between Record and the move left
// behind. The location to move is the entry's own when !e.Moved, and each alias in mailbox
// with !a.Moved. Locations under a UIDVALIDITY the server no longer reports cannot be moved
// by UID; the poller finds those messages again through Seen and Alias.
func (l *Ledger) Unmoved(mailbox string) ([]Entry, error) {
	var out []Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(mailbox + "\x00")
		seen := map[uint64]bool{}
		c := tx.Bucket([]byte(unmovedBucket)).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) != len(prefix)+8 || seen[store.U64(v)] {
				continue
			}
			seen[store.U64(v)] = true
			e, err := getEntry(tx, store.U64(v))
			if err != nil {
				return err
			}
			out = append(out, *e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing unmoved messages of %s: %w", mailbox, err)
	}
	return out, nil
}

// Get is entry id; ErrNotFound when there is none.
func (l *Ledger) Get(id uint64) (*Entry, error) {
	var e *Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = getEntry(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading ledger: %w", err)
	}
	return e, nil
}

// Filter selects entries for List; zero fields select everything.
type Filter struct {
	Mailbox string
	Outcome string
	// Since keeps entries taken in at or after it.
	Since time.Time
	// Before keeps IDs below it: pass the last ID of one page to get the next.
	Before uint64
}

// List returns up to limit entries matching f, newest first; limit <= 0 means no limit.
func (l *Ledger) List(f Filter, limit int) ([]Entry, error) {
	var out []Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(messagesBucket)).Cursor()
		k, v := c.Last()
		if f.Before > 0 {
			// Seek lands on the first key at or above Before, and the one before it is the
			// newest below. When Seek finds nothing every key is below, so start at Last
			// again (Seek moved the cursor past it).
			if sk, _ := c.Seek(store.BE64(f.Before)); sk != nil {
				k, v = c.Prev()
			} else {
				k, v = c.Last()
			}
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("entry %d: %w", store.U64(k), err)
			}
			if (f.Mailbox != "" && e.Mailbox != f.Mailbox) || (f.Outcome != "" && e.Outcome != f.Outcome) ||
				(!f.Since.IsZero() && e.TakenAt.Before(f.Since)) {
				continue
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing ledger: %w", err)
	}
	return out, nil
}

// Reprocessed appends at to entry id's history of re-runs through the current rules.
func (l *Ledger) Reprocessed(id uint64, at time.Time) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		e, err := getEntry(tx, id)
		if err != nil {
			return err
		}
		e.Reprocessed = append(e.Reprocessed, at)
		return putEntry(tx, e)
	})
	if err != nil {
		return fmt.Errorf("recording reprocessing: %w", err)
	}
	return nil
}

// Stats are the ledger's counts, for metrics and status; kept as counters so that reading
// them costs no scan of the entries.
type Stats struct {
	Messages int64 // entries recorded
	Raw      int64 // entries whose raw message is still stored
	Unmoved  int   // server locations recorded but not yet moved
	Outcomes map[string]int64
	Cursors  []Cursor
}

// Stats reads the counts.
func (l *Ledger) Stats() (Stats, error) {
	s := Stats{Outcomes: map[string]int64{}}
	err := l.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket([]byte(countsBucket)).ForEach(func(k, v []byte) error {
			n := int64(store.U64(v))
			switch name := string(k); {
			case name == "messages":
				s.Messages = n
			case name == "raw":
				s.Raw = n
			case strings.HasPrefix(name, "outcome:"):
				s.Outcomes[strings.TrimPrefix(name, "outcome:")] = n
			}
			return nil
		})
		if err != nil {
			return err
		}
		// The unmoved bucket stays small: it empties after every poll.
		s.Unmoved = tx.Bucket([]byte(unmovedBucket)).Stats().KeyN
		return tx.Bucket([]byte(cursorsBucket)).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				s.Cursors = append(s.Cursors, Cursor{Mailbox: string(k), UIDValidity: store.U32(v[:4]), LastUID: store.U32(v[4:])})
			}
			return nil
		})
	})
	if err != nil {
		return Stats{}, fmt.Errorf("reading ledger stats: %w", err)
	}
	return s, nil
}

func count(tx *bolt.Tx, name string, delta int64) error {
	return store.Add(tx.Bucket([]byte(countsBucket)), name, delta)
}

// getEntry decodes entry id; decoding copies, so the result outlives the transaction.
func getEntry(tx *bolt.Tx, id uint64) (*Entry, error) {
	e := &Entry{}
	if ok, err := store.GetJSON(tx.Bucket([]byte(messagesBucket)), id, e); err != nil {
		return nil, fmt.Errorf("decoding entry %d: %w", id, err)
	} else if !ok {
		return nil, fmt.Errorf("entry %d: %w", id, ErrNotFound)
	}
	return e, nil
}

func putEntry(tx *bolt.Tx, e *Entry) error {
	if err := store.PutJSON(tx.Bucket([]byte(messagesBucket)), e.ID, e); err != nil {
		return fmt.Errorf("storing entry %d: %w", e.ID, err)
	}
	return nil
}

// uidKey is the key of a server location: mailbox 0x00 uidvalidity uid. IMAP mailbox names
// cannot hold NUL (RFC 9051 section 5.1), and the fixed-length tail keeps keys of one
// (mailbox, uidvalidity) contiguous and in UID order.
func uidKey(mailbox string, uidvalidity, uid uint32) []byte {
	k := make([]byte, 0, len(mailbox)+9)
	k = append(k, mailbox...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint32(k, uidvalidity)
	return binary.BigEndian.AppendUint32(k, uid)
}

// maxIndexedMessageID bounds index keys (bbolt keys must stay under 32 KiB, and a header
// from the internet can be anything); longer IDs are indexed by their SHA-256.
const maxIndexedMessageID = 512

func msgIDIndex(messageID string) string {
	if len(messageID) <= maxIndexedMessageID {
		return messageID
	}
	sum := sha256.Sum256([]byte(messageID))
	return "sha256:" + hex.EncodeToString(sum[:])
}
