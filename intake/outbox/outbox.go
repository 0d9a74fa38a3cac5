// Package outbox keeps the mail hosho-intake sends (replies to contractors, digests,
// confirmations) in the shared bbolt file and sends it through the agency's SMTP relay.
//
// # Contract
//
// A message is written to the outbox with Enqueue, in the caller's transaction, together with
// the decision that causes it: either both commit or neither does. After the commit the
// caller calls Kick (Enqueue also registers Kick with tx.OnCommit), and the sender loop, Run,
// sends it. SendDue is one pass of that loop, apart from it so tests need no sleeping.
//
// Each attempt is recorded BEFORE it is made: the attempt count and the next attempt time are
// committed first, then the message goes to the server, then the outcome is committed in its
// own short transaction. A crash anywhere leaves the message due again (at the latest at the
// recorded next attempt), so nothing is lost.
//
// A message is sent twice only if the process dies between the server's 250 reply to the end
// of DATA and the commit that records it (RFC 5321 section 6.1 makes the same trade: a
// server that has said 250 owns the message, and a client that cannot remember hearing it
// must send again). That window is one fsync long; the SIGKILL test measures it.
//
// Outcomes (RFC 5321 section 4.2.1): a 4xx reply, a dropped connection, a timeout, and any
// failure to connect, greet, start TLS or authenticate are temporary: the message is tried
// again with exponential backoff (Options.MinBackoff doubling to Options.MaxBackoff) until
// RetryFor after it was created, with a last attempt at that moment. A 5xx reply to MAIL,
// RCPT or the end of DATA is permanent for the message or the recipient. A message that is
// permanently refused for some recipient, or expires, is failed: it is kept for Failed (the
// digest) and never retried. Recipients are tracked one by one, so a message accepted for one
// recipient and deferred for another is sent again only to the second.
//
// A delivery status notification (RFC 3464) that comes back for a sent message is matched to
// it by MatchBounce, through the Message-ID in the returned headers (or the ENVID of RFC 3461
// that the outbox sets when the relay offers DSN), and the message is marked failed with the
// DSN's Diagnostic-Code or Status, so the digest lists it.
//
// Sent and failed messages are kept for Options.Keep (default 30 days) after they finished,
// for status and bounce matching, then pruned. Their raw bytes are dropped as soon as they
// finish: only the envelope, Message-ID and Subject are kept.
//
// # Connections
//
// One pass sends every due message over one SMTP connection. After a broken session the
// next message gets a new one; when connecting fails, every message of the pass is deferred
// with that error rather than dialling once per message. RSET is sent only after a
// transaction left half done (a refused MAIL or RCPT, RFC 5321 section 4.1.1.5): after the
// 250 to the end of DATA the server has already cleared its state (section 4.1.1.4), and
// go-smtp's Reset makes the next MAIL repeat EHLO, a round trip per message for nothing. Every read and write on it has a deadline of SMTP.Timeout, which also covers
// the greeting (go-smtp's own dialers wait for it without a deadline), and each phase has an
// overall bound (connecting: 3×Timeout; one message: 10×Timeout, RFC 5321 section 4.5.3.2
// suggests up to 10 minutes for the end of DATA), so a server that trickles bytes cannot hold
// the loop either. Cancelling the context closes the connection at once.
//
// # On-disk layout
//
// Buckets of the outbox (schema owner "outbox" in the meta bucket of verifier/store; integers
// are big-endian; times are Unix nanoseconds as uint64):
//
//	outbox             ID (uint64, bucket sequence) -> record as JSON (envelope, Message-ID,
//	                   Subject, state "pending"|"sent"|"failed", attempts, next attempt,
//	                   recipients delivered and refused, reason)
//	outbox-raw         ID -> the message's RFC 5322 bytes; deleted once it is sent or failed
//	outbox-due         next attempt time, ID -> empty: the pending messages in due order;
//	                   the first key is the sender loop's next wake-up
//	outbox-finished    finish time, ID -> empty: sent and failed messages, for Failed and
//	                   pruning; a bounce moves the key to the bounce's time
//	outbox-message-id  Message-ID (without <>) 0x00 ID -> empty, for MatchBounce; a
//	                   Message-ID over 512 bytes is keyed as "sha256:"+hex of it
//	outbox-counts      "pending", "sent", "failed", "bounced" -> int64, for Stats without a
//	                   scan
package outbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/encoding/htmlindex"

	"hosho-intake/config"
	"hosho-intake/verifier/store"
)

// Sentinel errors, for what callers branch on.
var (
	// ErrInvalid: Enqueue was given a message that cannot be sent (no sender, no
	// recipients, no bytes, no Message-ID).
	ErrInvalid = errors.New("invalid message")
	// ErrNotFound: no such message in the outbox.
	ErrNotFound = errors.New("not found")
)

// Message is one mail to send, already rendered, and what it is for.
type Message struct {
	// ID is assigned by Enqueue.
	ID uint64
	// Kind says what the message is: "reply", "digest", "confirmation", ...
	Kind string
	// From is the envelope sender (RFC 5321 MAIL FROM): the agency mailbox, so that bounces
	// come back to it and MatchBounce can see them.
	From string
	// To are the envelope recipients (RCPT TO).
	To []string
	// MessageID is the Message-ID of the message itself, with or without <>. Empty: Enqueue
	// takes it from Raw's header. It is what a bounce is matched by.
	MessageID string
	// Raw is the message, RFC 5322 with all headers and CRLF line ends. It goes to the
	// server byte for byte (dot-stuffed on the wire, RFC 5321 section 4.5.2).
	Raw []byte
	// Ref is what the message concerns: a ledger entry, a verification item. The outbox
	// only keeps it for the caller.
	Ref uint64
	// Created is when the message was decided; zero means Options.Now() at Enqueue.
	// RetryFor counts from it.
	Created time.Time
}

// States of a message.
const (
	StatePending = "pending"
	StateSent    = "sent"
	StateFailed  = "failed"
)

// Options configure Open.
type Options struct {
	// SMTP is the relay: address, TLS mode, roots, username, mechanism, timeout.
	SMTP config.SMTP
	// Secret gives the password or OAuth2 access token at each connection (tokens
	// expire; credential.Source.Secret fits). Nil: SMTP.Password.
	Secret func(ctx context.Context) (string, error)
	// Rejected, when set, is told that the relay refused the credential
	// (credential.Source.Rejected fits), so status can show it.
	Rejected func(err error)
	// RetryFor is how long a temporarily failing message is retried after it was
	// created; 0 means SMTP.RetryFor, and 24h if that is 0 too.
	RetryFor time.Duration
	// MinBackoff is the wait after the first failed attempt, doubled after each further
	// one up to MaxBackoff. Defaults 5s (a relay that was down a minute delays replies by
	// about a minute, not three) and 30m.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Keep is how long sent and failed messages are kept; default 30 days.
	Keep time.Duration
	// HelloName is the name given in EHLO (RFC 5321 section 4.1.1.1: the client's FQDN);
	// default the host name.
	HelloName string
	// Logger receives one line per outcome; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Outbox is the queue of outgoing mail in the state file. Enqueue, Kick, Failed, Pending,
// Stats and MatchBounce are safe for concurrent use; Run (or SendDue) must run in one
// goroutine at a time.
type Outbox struct {
	db       *bolt.DB
	opts     Options
	log      *slog.Logger
	retryFor time.Duration
	kick     chan struct{}
}

// Open checks opts and creates or upgrades the outbox's buckets in db.
func Open(db *bolt.DB, opts Options) (*Outbox, error) {
	if err := checkSMTP(opts.SMTP); err != nil {
		return nil, fmt.Errorf("opening outbox: %w", err)
	}
	if opts.RetryFor <= 0 {
		opts.RetryFor = opts.SMTP.RetryFor
	}
	if opts.RetryFor <= 0 {
		opts.RetryFor = 24 * time.Hour
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 5 * time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Minute, opts.MinBackoff)
	}
	if opts.Keep <= 0 {
		opts.Keep = 30 * 24 * time.Hour
	}
	if opts.SMTP.Timeout <= 0 {
		opts.SMTP.Timeout = time.Minute
	}
	if opts.HelloName == "" {
		opts.HelloName, _ = os.Hostname()
		if opts.HelloName == "" {
			opts.HelloName = "localhost"
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := store.Ensure(db, Schema()); err != nil {
		return nil, fmt.Errorf("opening outbox: %w", err)
	}
	return &Outbox{db: db, opts: opts, log: log, retryFor: opts.RetryFor, kick: make(chan struct{}, 1)}, nil
}

const owner = "outbox"

// Bucket names; see the package comment.
var (
	recordsBucket  = []byte("outbox")
	rawBucket      = []byte("outbox-raw")
	dueBucket      = []byte("outbox-due")
	finishedBucket = []byte("outbox-finished")
	msgIDBucket    = []byte("outbox-message-id")
	countsBucket   = []byte("outbox-counts")
)

// Schema is the outbox's part of the state file, for ledger.Options.Schemas. Its steps are
// append-only.
func Schema() store.Schema {
	return store.Schema{Owner: owner, Steps: []func(*bolt.Tx) error{
		store.CreateBuckets(string(recordsBucket), string(rawBucket), string(dueBucket), string(finishedBucket), string(msgIDBucket), string(countsBucket)),
	}}
}

// record is what is stored per message, as JSON so that a field added later reads as its
// zero value in older records.
type record struct {
	ID        uint64    `json:"id"`
	Kind      string    `json:"kind"`
	From      string    `json:"from"`
	To        []string  `json:"to"`
	MessageID string    `json:"message_id"`
	Subject   string    `json:"subject,omitempty"`
	Ref       uint64    `json:"ref,omitempty"`
	Created   time.Time `json:"created"`
	Size      int       `json:"size"`

	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Delivered are the recipients the server accepted with 250 to the end of DATA.
	Delivered []string `json:"delivered,omitempty"`
	// Refused are recipients refused for good, with why.
	Refused  []refusal `json:"refused,omitempty"`
	Finished time.Time `json:"finished,omitzero"`
	Reason   string    `json:"reason,omitempty"`
	Bounced  bool      `json:"bounced,omitempty"`
}

type refusal struct {
	Rcpt   string `json:"rcpt"`
	Reason string `json:"reason"`
}

// remaining are the recipients not yet delivered nor refused.
func (r *record) remaining() []string {
	var out []string
	for _, to := range r.To {
		if slices.Contains(r.Delivered, to) || slices.ContainsFunc(r.Refused, func(f refusal) bool { return f.Rcpt == to }) {
			continue
		}
		out = append(out, to)
	}
	return out
}

// uniq drops repeated recipients, keeping the first of each: one RCPT per address.
func uniq(to []string) []string {
	var out []string
	for _, s := range to {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (r *record) message(raw []byte) Message {
	return Message{ID: r.ID, Kind: r.Kind, From: r.From, To: slices.Clone(r.To), MessageID: r.MessageID,
		Raw: raw, Ref: r.Ref, Created: r.Created}
}

// Enqueue adds m to the outbox in the caller's transaction and returns its ID. The message
// is due at once; Kick runs when tx commits, and callers may call Kick themselves too.
func (o *Outbox) Enqueue(tx *bolt.Tx, m Message) (uint64, error) {
	hdr, err := readHeader(m.Raw)
	if err != nil {
		return 0, fmt.Errorf("enqueueing %s: %w: %v", m.Kind, ErrInvalid, err)
	}
	id := trimID(m.MessageID)
	inRaw := trimID(hdr.Get("Message-Id"))
	switch {
	case id == "":
		id = inRaw
	case inRaw != "" && inRaw != id:
		return 0, fmt.Errorf("enqueueing %s: %w: Message-ID %q, the header says %q", m.Kind, ErrInvalid, id, inRaw)
	}
	switch {
	case strings.TrimSpace(m.From) == "":
		err = errors.New("no envelope sender")
	case len(m.To) == 0:
		err = errors.New("no recipients")
	case id == "":
		err = errors.New("no Message-ID")
	case slices.ContainsFunc(m.To, func(s string) bool { return strings.TrimSpace(s) == "" || strings.ContainsAny(s, "\r\n<>") }):
		err = fmt.Errorf("bad recipient in %q", m.To)
	}
	if err != nil {
		return 0, fmt.Errorf("enqueueing %s: %w: %v", m.Kind, ErrInvalid, err)
	}
	created := m.Created
	if created.IsZero() {
		created = o.opts.Now()
	}
	recs := tx.Bucket(recordsBucket)
	seq, err := recs.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("enqueueing %s: %w", m.Kind, err)
	}
	r := &record{ID: seq, Kind: m.Kind, From: m.From, To: uniq(m.To), MessageID: id,
		Subject: decodeSubject(hdr.Get("Subject")), Ref: m.Ref, Created: created, Size: len(m.Raw),
		State: StatePending, NextAttempt: created}
	err = errors.Join(
		putRecord(tx, r),
		tx.Bucket(rawBucket).Put(store.BE64(seq), m.Raw),
		tx.Bucket(dueBucket).Put(store.TimeIDKey(r.NextAttempt, seq), nil),
		tx.Bucket(msgIDBucket).Put(msgIDKey(id, seq), nil),
		count(tx, StatePending, 1),
	)
	if err != nil {
		return 0, fmt.Errorf("enqueueing %s: %w", m.Kind, err)
	}
	tx.OnCommit(o.Kick)
	return seq, nil
}

// Kick wakes Run to look for due messages now. It never blocks.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Run is the sender loop: it sends what is due, then sleeps on one timer set to the earliest
// next attempt, or until Kick. It returns nil when ctx is done, and an error only when the
// state file fails.
func (o *Outbox) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-o.kick:
		}
		res, err := o.SendDue(ctx, o.opts.Now())
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		timer.Stop()
		if !res.Next.IsZero() {
			timer.Reset(max(0, res.Next.Sub(o.opts.Now())))
		}
	}
}

// Failure is a message that could not be delivered, for the digest.
type Failure struct {
	ID        uint64
	Kind      string
	Ref       uint64
	MessageID string
	// To are the recipients it failed for.
	To      []string
	Subject string
	// Reason is the server's reply, "expired after N attempts: ...", or the DSN's
	// Diagnostic-Code.
	Reason  string
	At      time.Time
	Bounced bool
}

// Failed lists the messages that failed (refused, expired or bounced) at or after since, in
// that order.
func (o *Outbox) Failed(tx *bolt.Tx, since time.Time) ([]Failure, error) {
	var out []Failure
	c := tx.Bucket(finishedBucket).Cursor()
	for k, _ := c.Seek(store.TimeIDKey(since, 0)); k != nil; k, _ = c.Next() {
		r, err := getRecord(tx, store.U64(k[8:]))
		if err != nil {
			return nil, fmt.Errorf("listing failures: %w", err)
		}
		if r.State != StateFailed {
			continue
		}
		f := Failure{ID: r.ID, Kind: r.Kind, Ref: r.Ref, MessageID: r.MessageID, Subject: r.Subject,
			Reason: r.Reason, At: r.Finished, Bounced: r.Bounced}
		for _, rf := range r.Refused {
			f.To = append(f.To, rf.Rcpt)
		}
		if len(f.To) == 0 {
			f.To = slices.Clone(r.To)
		}
		out = append(out, f)
	}
	return out, nil
}

// Pending is the number of messages not yet sent nor failed.
func (o *Outbox) Pending(tx *bolt.Tx) (int, error) {
	s, err := o.Stats(tx)
	return s.Pending, err
}

// Stats is what status and metrics show about the outbox.
type Stats struct {
	Pending, Sent, Failed int
	// Bounced counts the failed messages that failed through a DSN after they were sent.
	Bounced int
	// Next is the earliest next attempt; zero when nothing is pending.
	Next time.Time
	// OldestPending is the creation time of the oldest pending message (a stuck relay shows
	// here first); zero when nothing is pending.
	OldestPending time.Time
}

// Stats reads the counters and the head of the due index.
func (o *Outbox) Stats(tx *bolt.Tx) (Stats, error) {
	cb := tx.Bucket(countsBucket)
	get := func(k string) int { return int(store.Count(cb, k)) }
	s := Stats{Pending: get(StatePending), Sent: get(StateSent), Failed: get(StateFailed), Bounced: get("bounced")}
	c := tx.Bucket(dueBucket).Cursor()
	if k, _ := c.First(); k != nil {
		s.Next = store.KeyTime(k)
	}
	// Pending messages are few (a relay outage's worth), so a scan for the oldest is cheap.
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		r, err := getRecord(tx, store.U64(k[8:]))
		if err != nil {
			return Stats{}, fmt.Errorf("outbox stats: %w", err)
		}
		if s.OldestPending.IsZero() || r.Created.Before(s.OldestPending) {
			s.OldestPending = r.Created
		}
	}
	return s, nil
}

// Get returns the message id as stored, with its state; Raw is nil once it finished.
func (o *Outbox) Get(tx *bolt.Tx, id uint64) (Message, string, error) {
	r, err := getRecord(tx, id)
	if err != nil {
		return Message{}, "", err
	}
	return r.message(bytes.Clone(tx.Bucket(rawBucket).Get(store.BE64(id)))), r.State, nil
}

// backoff is the wait after the n-th failed attempt (n >= 1).
func (o *Outbox) backoff(n int) time.Duration {
	d := o.opts.MinBackoff
	for i := 1; i < n && d < o.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.opts.MaxBackoff)
}

// nextAttempt is when to try again after the n-th attempt at now: the backoff, but never
// past the expiry, so the last attempt happens at the expiry itself.
func (o *Outbox) nextAttempt(r *record, now time.Time) time.Time {
	next := now.Add(o.backoff(r.Attempts))
	if exp := r.Created.Add(o.retryFor); next.After(exp) && now.Before(exp) {
		next = exp
	}
	return next
}

// prune drops sent and failed messages that finished before cutoff; at most limit of them,
// so the transaction stays short. It reports how many it dropped.
func (o *Outbox) prune(tx *bolt.Tx, cutoff time.Time, limit int) (int, error) {
	c := tx.Bucket(finishedBucket).Cursor()
	var keys [][]byte
	for k, _ := c.First(); k != nil && store.KeyTime(k).Before(cutoff) && len(keys) < limit; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		id := store.U64(k[8:])
		r, err := getRecord(tx, id)
		if err != nil {
			return 0, err
		}
		err = errors.Join(
			tx.Bucket(finishedBucket).Delete(k),
			tx.Bucket(recordsBucket).Delete(store.BE64(id)),
			tx.Bucket(rawBucket).Delete(store.BE64(id)),
			tx.Bucket(msgIDBucket).Delete(msgIDKey(r.MessageID, id)),
			count(tx, r.State, -1),
		)
		if err == nil && r.Bounced {
			err = count(tx, "bounced", -1)
		}
		if err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// finish moves r from pending to state at t, in tx.
func finish(tx *bolt.Tx, r *record, state string, t time.Time) error {
	if r.State != StatePending {
		return fmt.Errorf("message %d is %s, not pending", r.ID, r.State)
	}
	err := errors.Join(
		tx.Bucket(dueBucket).Delete(store.TimeIDKey(r.NextAttempt, r.ID)),
		tx.Bucket(rawBucket).Delete(store.BE64(r.ID)),
		tx.Bucket(finishedBucket).Put(store.TimeIDKey(t, r.ID), nil),
		count(tx, StatePending, -1),
		count(tx, state, 1),
	)
	r.State, r.Finished, r.NextAttempt = state, t, time.Time{}
	return errors.Join(err, putRecord(tx, r))
}

// reschedule moves r's due key to next, in tx.
func reschedule(tx *bolt.Tx, r *record, next time.Time) error {
	due := tx.Bucket(dueBucket)
	err := errors.Join(due.Delete(store.TimeIDKey(r.NextAttempt, r.ID)), due.Put(store.TimeIDKey(next, r.ID), nil))
	r.NextAttempt = next
	return errors.Join(err, putRecord(tx, r))
}

func getRecord(tx *bolt.Tx, id uint64) (*record, error) {
	r := new(record)
	if ok, err := store.GetJSON(tx.Bucket(recordsBucket), id, r); err != nil {
		return nil, fmt.Errorf("message %d: %w", id, err)
	} else if !ok {
		return nil, fmt.Errorf("message %d: %w", id, ErrNotFound)
	}
	return r, nil
}

func putRecord(tx *bolt.Tx, r *record) error { return store.PutJSON(tx.Bucket(recordsBucket), r.ID, r) }

func count(tx *bolt.Tx, name string, delta int64) error {
	return store.Add(tx.Bucket(countsBucket), name, delta)
}

func msgIDKey(id string, seq uint64) []byte {
	if len(id) > 512 {
		sum := sha256.Sum256([]byte(id))
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	return store.WithID(id, seq)
}

// trimID gives a Message-ID without spaces and angle brackets (RFC 5322 section 3.6.4:
// msg-id is "<" id-left "@" id-right ">"), the form it is stored and matched in.
func trimID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	return strings.TrimSpace(s)
}

// readHeader reads the header block of an RFC 5322 message.
func readHeader(raw []byte) (textproto.MIMEHeader, error) {
	if len(raw) == 0 {
		return nil, errors.New("empty message")
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(h) > 0) {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	return h, nil
}

// decodeSubject decodes RFC 2047 encoded words (ISO-2022-JP among them, which old Japanese
// mail clients need) for the digest; undecodable text is kept as it is.
func decodeSubject(s string) string {
	d := mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(charset)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(r), nil
	}}
	if out, err := d.DecodeHeader(s); err == nil {
		return out
	}
	return s
}
