package verifier

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/parser"
	"hosho-intake/verifier/store"
)

// States of a submission in the verification queue.
const (
	StateQueued      = "queued"       // waits for a clerk to view it on D-Sure
	StateNeedsReview = "needs_review" // waits too, and the clerk must check something first
	StateVerified    = "verified"     // a clerk viewed the certificate on D-Sure
	StateRejected    = "rejected"     // refused at intake, or by a clerk
)

// Outcomes of Submit besides the judgement's own (OutcomeQueued, OutcomeNeedsReview,
// OutcomeRejected): what the reply to the sender is about.
const (
	OutcomeDuplicate    = "duplicate"    // the same number and key again: the reply gives the status
	OutcomeResubmission = "resubmission" // the waiting item's key was replaced
)

// How a change was made (Change.How).
const (
	HowIntake  = "intake"  // by the poll that read the contractor's mail
	HowMail    = "mail"    // by a clerk's decision mail
	HowCommand = "command" // by `hosho-intake queue verify|reject`
	HowPage    = "page"    // by a signed-in clerk on the clerks' page (intake/web)
)

// BySystem is Change.By for what the daemon did on its own.
const BySystem = "system"

// Sentinel errors of the queue, for what callers branch on.
var (
	// ErrNotFound: no submission has that ID.
	ErrNotFound = errors.New("no such submission")
	// ErrAlreadyDecided: the submission is verified or rejected already; a decision is final.
	ErrAlreadyDecided = errors.New("submission already decided")
	// ErrNotClerk: a decision mail from an address that is not a clerk's.
	ErrNotClerk = errors.New("sender is not a clerk")
	// ErrBadToken: a decision mail whose token was not made by this queue for its action,
	// 保証契約番号 and item.
	ErrBadToken = errors.New("invalid decision token")
	// ErrTokenExpired: a decision mail whose token was made for it but is past its lifetime.
	ErrTokenExpired = errors.New("expired decision token")
	// ErrNotDecisionMail: a subject that does not hold a decision.
	ErrNotDecisionMail = errors.New("not a decision mail")
)

// Bucket names of the queue; see the package comment for their keys and values.
const (
	queueOwner         = "verifier"
	itemsBucket        = "verifier-items"
	byNumberBucket     = "verifier-by-number"
	byStateBucket      = "verifier-by-state"
	changesBucket      = "verifier-changes"
	queueStateBucket   = "verifier-state"
	secretKey          = "secret"
	digestSentKey      = "digest-sent"
	secretLen          = 32
	trackingNumberForm = "R-%06d"
)

// Schema is the queue's part of the state file, for ledger.Options.Schemas. Its steps are
// append-only.
func Schema() store.Schema {
	return store.Schema{Owner: queueOwner, Steps: []func(*bolt.Tx) error{
		// 1: the layout in the package comment.
		store.CreateBuckets(itemsBucket, byNumberBucket, byStateBucket, changesBucket, queueStateBucket),
		// 2: the contract register imported from the clerks' page (register_import.go).
		store.CreateBuckets(registerBucket),
	}}
}

// Queue is the verification queue in the shared bbolt file. Every method that changes
// state takes the caller's *bolt.Tx, so a message's ledger entry, its submissions and its
// replies commit together. A Queue holds no state of its own but the token secret, so it
// is safe for concurrent use; bbolt serialises the writers.
type Queue struct {
	secret []byte
}

// OpenQueue brings the queue's buckets to the current schema and returns the queue. With a
// nil secret the tokens of decision links use one kept in the state, created at random on
// first use, so that links in digests sent before a restart still work after it.
func OpenQueue(db *bolt.DB, secret []byte) (*Queue, error) {
	q := &Queue{secret: slices.Clone(secret)}
	if err := store.Ensure(db, Schema()); err != nil {
		return nil, fmt.Errorf("opening verification queue: %w", err)
	}
	if len(q.secret) > 0 {
		return q, nil
	}
	// The kept secret is read without a write transaction (whose commit would sync the
	// file at every start); only the first start writes one.
	db.View(func(tx *bolt.Tx) error {
		q.secret = slices.Clone(tx.Bucket([]byte(queueStateBucket)).Get([]byte(secretKey)))
		return nil
	})
	if len(q.secret) > 0 {
		return q, nil
	}
	err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(queueStateBucket))
		if s := b.Get([]byte(secretKey)); len(s) > 0 {
			q.secret = slices.Clone(s) // the slice is valid only inside the transaction
			return nil
		}
		s := make([]byte, secretLen)
		if _, err := rand.Read(s); err != nil {
			return fmt.Errorf("creating token secret: %w", err)
		}
		q.secret = s
		return b.Put([]byte(secretKey), s)
	})
	if err != nil {
		return nil, fmt.Errorf("opening verification queue: %w", err)
	}
	return q, nil
}

// Submission is one notice in the verification queue.
type Submission struct {
	// ID is the item's sequence number; TrackingNumber shows it to contractors as 受付番号.
	ID     uint64        `json:"id"`
	Notice parser.Notice `json:"notice"`
	// Entry, Sender, Received and MessageID are of the message that brought the current
	// key: a resubmission replaces them with the newer message's.
	Entry  uint64 `json:"entry"`
	Sender string `json:"sender"`
	// Unanswerable: Sender must not get mail about this item (the server could not
	// authenticate it, so it may be a stranger's forged address): the clerk's decision is
	// recorded but not mailed to it.
	Unanswerable bool      `json:"unanswerable,omitempty"`
	Received     time.Time `json:"received"`
	MessageID    string    `json:"message_id"`
	State        string    `json:"state"`
	// Decision is the judgement that put the item in its state at intake, with duplicate
	// or resubmission added by the queue. A clerk's decision is in History.
	Decision Decision `json:"decision"`
	// Resubmission is set when the item's key replaced an earlier one: of this item while
	// it waited, or of an earlier item already decided.
	Resubmission bool     `json:"resubmission"`
	History      []Change `json:"history"`
	// DroppedResubmissions counts the key replacements no longer in History (see
	// maxResubmissionChanges).
	DroppedResubmissions int `json:"dropped_resubmissions,omitempty"`
}

// maxResubmissionChanges bounds the key replacements an item's History keeps. Each
// resubmission rewrites the whole item, so a sender resending one contract's notice again
// and again, or a stranger doing it on purpose, made every later one cost more: at 10,000
// of the corpus's mails one item held 385 and filing took 16% of the intake's CPU. The
// filing, every clerk's change and the latest replacements are kept.
const maxResubmissionChanges = 20

// addResubmission appends c, a key replacement, and drops the oldest replacement beyond
// maxResubmissionChanges. History[0] is the filing; every later HowIntake change is a
// replacement.
func (s *Submission) addResubmission(c Change) {
	s.History = append(s.History, c)
	n, oldest := 0, -1
	for i := 1; i < len(s.History); i++ {
		if s.History[i].How == HowIntake {
			if n++; oldest < 0 {
				oldest = i
			}
		}
	}
	if n > maxResubmissionChanges {
		s.History = slices.Delete(s.History, oldest, oldest+1)
		s.DroppedResubmissions++
	}
}

// Change is one change of a submission's state.
type Change struct {
	At   time.Time `json:"at"`
	From string    `json:"from"` // "" when the item was filed
	To   string    `json:"to"`
	By   string    `json:"by"`  // the clerk's address, or BySystem
	How  string    `json:"how"` // HowIntake, HowMail, HowCommand, HowPage or HowKeyShown (no change of state)
	Why  string    `json:"why"` // the reasons, a clerk's reason for 差戻し, or what changed
}

// TrackingNumber is the 受付番号 contractors are told and quote back: R-000123.
func (s Submission) TrackingNumber() string { return fmt.Sprintf(trackingNumberForm, s.ID) }

// Waiting reports whether the item still waits for a clerk's decision.
func (s Submission) Waiting() bool { return s.State == StateQueued || s.State == StateNeedsReview }

// FiledAt is when the item entered the queue.
func (s Submission) FiledAt() time.Time {
	if len(s.History) == 0 {
		return time.Time{}
	}
	return s.History[0].At
}

// Decided is the clerk's decision, if any: the last change made by mail, command or page.
func (s Submission) Decided() (Change, bool) {
	for i := len(s.History) - 1; i >= 0; i-- {
		if c := s.History[i]; c.How == HowMail || c.How == HowCommand || c.How == HowPage {
			return c, true
		}
	}
	return Change{}, false
}

// Meta is what the queue keeps of the message that brought a notice.
type Meta struct {
	Entry        uint64 // the message's ledger entry
	Sender       string
	Unanswerable bool // see Submission.Unanswerable
	MessageID    string
	Received     time.Time
	// At is when the intake files the notice; the zero time means Received. Digests
	// tell "new since the last digest" by it: a message received before a digest but
	// read after it (polling failed meanwhile) is still new in the next one.
	At time.Time
}

// Filed is what Submit did with one notice.
type Filed struct {
	// Submission is the item as it now stands: the new one, the one whose key was
	// replaced, or for a duplicate the earlier one, whose state the reply gives.
	Submission Submission
	// Outcome is what the reply is about: queued, needs_review, rejected, duplicate or
	// resubmission (the waiting item's key was replaced).
	Outcome string
	// Reasons are the reply's reasons: the judgement's, with duplicate or resubmission.
	Reasons []string
}

// Submit files one judged notice, in tx with the message that brought it.
//
// Duplicates are told by 保証契約番号 (DESIGN.md, issue 4):
//
//   - The same number and key as an earlier item: nothing is filed; Outcome is duplicate
//     and Submission the earlier item, so the reply can give its status. The exception is
//     an earlier item refused at intake when this notice is accepted (the mail now states
//     the contract date, or the policy changed): it is filed as new.
//   - The same number with another key while an earlier item waits: that item's key is
//     replaced and it is flagged Resubmission (reason resubmission), so the clerk views
//     the certificate with the key that works. Its other fields are completed from the
//     newer notice; it takes the newer judgement only when that queues, because a newer
//     body-typed notice that names no 区分 must not send a complete PDF's item to review.
//   - The same number with another key after the earlier items were decided: a new item,
//     with reason resubmission.
//
// A rejected notice is filed too, as rejected by the intake, so that status and later
// duplicates know it; it never replaces a waiting item's key.
func (q *Queue) Submit(tx *bolt.Tx, n parser.Notice, d Decision, m Meta) (Filed, error) {
	state, ok := stateOf(d.Outcome)
	if !ok {
		return Filed{}, fmt.Errorf("filing %s: unknown decision outcome %q", n.ContractNumber, d.Outcome)
	}
	d.Reasons = slices.Clone(d.Reasons)
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	at := m.At
	if at.IsZero() {
		at = m.Received
	}

	// Newest first: the latest item with the same key decides what the reply says. Items are
	// read one at a time, so a duplicate of the latest item costs one read, not one of every
	// item of its number (issue 14: a contract resent often had its whole past decoded).
	var earlier []Submission // newest first, read before the duplicate if there is one
	resubmission := false
	dup, err := q.newestByNumber(tx, n.ContractNumber, func(e Submission) bool {
		if e.Notice.AuthKey != n.AuthKey {
			resubmission = true
			earlier = append(earlier, e)
			return false
		}
		refusedAtIntake := e.State == StateRejected && e.Decision.Outcome == OutcomeRejected && !hasClerkDecision(e)
		if refusedAtIntake && state != StateRejected {
			earlier = append(earlier, e)
			return false
		}
		return true
	})
	if err != nil {
		return Filed{}, err
	}
	if dup != nil {
		return Filed{Submission: *dup, Outcome: OutcomeDuplicate, Reasons: []string{ReasonDuplicate}}, nil
	}

	if state != StateRejected && resubmission {
		d.Reasons = addReason(d.Reasons, ReasonResubmission)
		for _, e := range earlier {
			if e.Waiting() {
				s, err := q.replaceKey(tx, e, n, d, m, at)
				if err != nil {
					return Filed{}, err
				}
				return Filed{Submission: s, Outcome: OutcomeResubmission, Reasons: slices.Clone(s.Decision.Reasons)}, nil
			}
		}
	}

	s := Submission{
		Notice: n, Entry: m.Entry, Sender: m.Sender, Unanswerable: m.Unanswerable, Received: m.Received, MessageID: m.MessageID,
		State: state, Decision: d, Resubmission: state != StateRejected && resubmission,
		History: []Change{{At: at, To: state, By: BySystem, How: HowIntake, Why: strings.Join(d.Reasons, ",")}},
	}
	id, err := tx.Bucket([]byte(itemsBucket)).NextSequence()
	if err != nil {
		return Filed{}, fmt.Errorf("filing %s: %w", n.ContractNumber, err)
	}
	s.ID = id
	if err := q.put(tx, s, ""); err != nil {
		return Filed{}, err
	}
	if err := tx.Bucket([]byte(byNumberBucket)).Put(store.WithID(n.ContractNumber, id), nil); err != nil {
		return Filed{}, fmt.Errorf("filing %s: %w", s.TrackingNumber(), err)
	}
	return Filed{Submission: s, Outcome: d.Outcome, Reasons: slices.Clone(d.Reasons)}, nil
}

// replaceKey puts the newer notice's key into the waiting item e.
func (q *Queue) replaceKey(tx *bolt.Tx, e Submission, n parser.Notice, d Decision, m Meta, at time.Time) (Submission, error) {
	old := e.State
	merged := n
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&merged.Category, e.Notice.Category},
		{&merged.ProjectName, e.Notice.ProjectName},
		{&merged.Orderer, e.Notice.Orderer},
		{&merged.Guarantor, e.Notice.Guarantor},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
	e.Notice = merged
	if d.Outcome == OutcomeQueued {
		e.Decision, e.State = d, StateQueued
	} else {
		e.Decision.Reasons = addReason(slices.Clone(e.Decision.Reasons), ReasonResubmission)
	}
	e.Entry, e.Sender, e.Unanswerable, e.Received, e.MessageID = m.Entry, m.Sender, m.Unanswerable, m.Received, m.MessageID
	e.Resubmission = true
	e.addResubmission(Change{
		At: at, From: old, To: e.State, By: BySystem, How: HowIntake,
		Why: fmt.Sprintf("%s: key replaced by ledger entry %d", ReasonResubmission, m.Entry),
	})
	if err := q.put(tx, e, old); err != nil {
		return Submission{}, err
	}
	return e, nil
}

func hasClerkDecision(s Submission) bool { _, ok := s.Decided(); return ok }

// addReason appends r unless present; resubmission and duplicate are the last Reason
// constants, so the order of Decision.Reasons stays theirs.
func addReason(reasons []string, r string) []string {
	if slices.Contains(reasons, r) {
		return reasons
	}
	return append(reasons, r)
}

func stateOf(outcome string) (string, bool) {
	switch outcome {
	case OutcomeQueued:
		return StateQueued, true
	case OutcomeNeedsReview:
		return StateNeedsReview, true
	case OutcomeRejected:
		return StateRejected, true
	}
	return "", false
}

// put stores s and moves its indexes from the state oldState ("" for a new item). The
// change index gets s's last change.
func (q *Queue) put(tx *bolt.Tx, s Submission, oldState string) error {
	if err := store.PutJSON(tx.Bucket([]byte(itemsBucket)), s.ID, s); err != nil {
		return fmt.Errorf("storing %s: %w", s.TrackingNumber(), err)
	}
	states := tx.Bucket([]byte(byStateBucket))
	if oldState != "" && oldState != s.State {
		if err := states.Delete(store.WithID(oldState, s.ID)); err != nil {
			return fmt.Errorf("storing %s: %w", s.TrackingNumber(), err)
		}
	}
	if err := states.Put(store.WithID(s.State, s.ID), nil); err != nil {
		return fmt.Errorf("storing %s: %w", s.TrackingNumber(), err)
	}
	if len(s.History) > 0 {
		k := store.TimeIDKey(s.History[len(s.History)-1].At, s.ID)
		if err := tx.Bucket([]byte(changesBucket)).Put(k, nil); err != nil {
			return fmt.Errorf("storing %s: %w", s.TrackingNumber(), err)
		}
	}
	return nil
}

// Get returns the submission id.
func (q *Queue) Get(tx *bolt.Tx, id uint64) (Submission, error) {
	b := tx.Bucket([]byte(itemsBucket))
	if b == nil {
		return Submission{}, fmt.Errorf("submission %d: %w", id, ErrNotFound)
	}
	var s Submission
	if ok, err := store.GetJSON(b, id, &s); err != nil {
		return Submission{}, fmt.Errorf("reading %s: %w", fmt.Sprintf(trackingNumberForm, id), err)
	} else if !ok {
		return Submission{}, fmt.Errorf("%s: %w", fmt.Sprintf(trackingNumberForm, id), ErrNotFound)
	}
	return s, nil
}

// ByNumber returns the submissions of one 保証契約番号, oldest first.
func (q *Queue) ByNumber(tx *bolt.Tx, number string) ([]Submission, error) {
	return q.scan(tx, byNumberBucket, number)
}

// newestByNumber reads the submissions of one 保証契約番号 newest first until found says
// one is the one sought, and returns it (nil when none is). An empty number has none.
func (q *Queue) newestByNumber(tx *bolt.Tx, number string, found func(Submission) bool) (*Submission, error) {
	if number == "" {
		return nil, nil
	}
	p := append([]byte(number), 0)
	c := tx.Bucket([]byte(byNumberBucket)).Cursor()
	// The keys are number, 0, then the id in 8 big-endian bytes: seek past the last of them.
	k, _ := c.Seek(append(slices.Clone(p), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, p); k, _ = c.Prev() {
		if len(k) != len(p)+8 {
			continue // a longer key of another number that contains a 0 byte
		}
		s, err := q.Get(tx, store.U64(k[len(p):]))
		if err != nil {
			return nil, err
		}
		if found(s) {
			return &s, nil
		}
	}
	return nil, nil
}

// List returns the submissions in any of states, or all of them, oldest first.
func (q *Queue) List(tx *bolt.Tx, states ...string) ([]Submission, error) {
	if len(states) == 0 {
		var out []Submission
		err := tx.Bucket([]byte(itemsBucket)).ForEach(func(k, _ []byte) error {
			s, err := q.Get(tx, store.U64(k))
			out = append(out, s)
			return err
		})
		return out, err
	}
	var out []Submission
	for _, st := range states {
		s, err := q.scan(tx, byStateBucket, st)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	slices.SortFunc(out, func(a, b Submission) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Counts returns the number of submissions in each state; every state is present.
func (q *Queue) Counts(tx *bolt.Tx) (map[string]int, error) {
	counts := map[string]int{StateQueued: 0, StateNeedsReview: 0, StateVerified: 0, StateRejected: 0}
	err := tx.Bucket([]byte(byStateBucket)).ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, 0); i >= 0 {
			counts[string(k[:i])]++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting submissions: %w", err)
	}
	return counts, nil
}

// scan returns the items an index lists under prefix, in ID order.
func (q *Queue) scan(tx *bolt.Tx, bucket, prefix string) ([]Submission, error) {
	p := append([]byte(prefix), 0)
	c := tx.Bucket([]byte(bucket)).Cursor()
	var out []Submission
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if len(k) != len(p)+8 {
			continue // a longer key of another prefix that contains a 0 byte
		}
		s, err := q.Get(tx, store.U64(k[len(p):]))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
