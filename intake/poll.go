package intake

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/inbound"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/mailbox"
	"hosho-intake/intake/msgbuf"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// Outcomes of a ledger entry, as the poller names them.
const (
	OutcomeNotices  = "notices"   // at least one notice read
	OutcomeProblems = "problems"  // no notice; the sender is told what to send instead
	OutcomeNoReply  = "no_reply"  // auto-reply, bounce or list mail: never answered
	OutcomeTooLarge = "too_large" // over the size limit: headers kept, body not downloaded
	OutcomeDecision = "decision"  // a clerk's decision by mail
)

// Recorder writes what a message caused (the verifier's submissions, the outbox's replies)
// in the transaction that records the message, so that all of it commits or none does.
type Recorder func(tx *bolt.Tx, e *ledger.Entry, c *Contents) error

// Poller takes in one mailbox: every message is downloaded, stored, read, recorded and then
// moved, once.
type Poller struct {
	Mailbox   string // polled folder, e.g. INBOX
	Processed string // folder recorded messages are moved to; "" flags them instead
	MaxSize   int64  // larger messages are not downloaded (too_large)
	Limits    inbound.Limits
	Dial      func(ctx context.Context) (*mailbox.Session, error)
	Ledger    *ledger.Ledger
	PDFs      PDFReader
	Record    Recorder // nil: only the ledger entry is written
	Log       *slog.Logger
	// Workers read messages in parallel (the PDF reader pool has one process per core);
	// they are committed in UID order whatever order they finish in.
	Workers int
	// FetchBatch is how many messages one UID FETCH asks for (one round trip).
	FetchBatch int
	// CommitBatch is the most messages recorded in one bbolt transaction (one fsync).
	CommitBatch int
	// MoveBatch is how many recorded messages are moved in one command.
	MoveBatch int
	// Grace is how long a cancelled poll may take to finish the messages in hand.
	Grace time.Duration
	// Budget bounds the reading of each message; see Budget.
	Budget Budget
	// After runs at the end of every poll that reached the mailbox, outside any transaction
	// (PPAP.Step: password ZIPs paired in this or an earlier poll); nil: nothing.
	After func(ctx context.Context, now time.Time) error
	// Keep holds the IMAP session open from one poll to the next (the daemon), so that a
	// poll with nothing new is one SELECT on it rather than a connection and a login. A
	// kept session that fails, or has idled past KeepFor, is replaced by a new one in the
	// same poll. Close logs it out.
	Keep bool
	// KeepFor is how long a session may idle between polls and still be used (default
	// keepFor): past it the server may have logged it out (RFC 3501 allows it after 30
	// minutes) or a middlebox dropped it silently, which only a timeout would tell.
	KeepFor time.Duration

	// kept is the session between polls, used at keptAt; only the poll in progress (one
	// at a time) and Close touch them, under keptMu.
	keptMu sync.Mutex
	kept   *mailbox.Session
	keptAt time.Time

	// failed counts, per message, the polls that could not record it, for when the
	// state itself cannot be written to count them (see noteFailure).
	failedMu sync.Mutex
	failed   map[string]int
}

// Result sums up one poll, for the log, status and metrics.
type Result struct {
	Start      time.Time
	Duration   time.Duration
	New        int // messages above the cursor
	Recorded   int // new ledger entries
	Duplicates int // messages recorded before (found again after a UIDVALIDITY change)
	Moved      int
	Repaired   int // recorded earlier, moved only now (a crash between commit and move)
	Notices    int
	SetAside   int // recorded with set_aside after maxRecordAttempts failed polls
	// Stuck is the UID of the message recording stopped at, when it did: the cursor
	// cannot pass it until it is recorded or set aside.
	Stuck uint32
}

// flagProcessed marks a message recorded when there is no processed folder.
const flagProcessed = "$Hosho-Processed"

// job is one message on its way through the pipeline.
type job struct {
	seq      int
	validity uint32 // UIDVALIDITY the message was fetched under
	info     mailbox.Info
	raw      []byte
	large    bool

	entry    *ledger.Entry
	keep     []byte // the raw message, for the ledger to keep
	contents *Contents
	dupOf    uint64 // an entry recorded before: alias instead of recording
	setAside bool   // recording it failed on maxRecordAttempts polls: kept for the clerks only
	err      error
}

// messageID is the message's Message-ID for the log, read from its header when a log line
// wants it: the listing does not fetch it, and a recorded message's is in its entry.
func (j *job) messageID() string {
	raw := j.raw
	if raw == nil {
		raw = j.keep
	}
	return messageID(inbound.ReadHeader(raw).MessageID)
}

// maxRecordAttempts is how many polls may fail to record one message before it is set
// aside (recorded with set_aside, without the queue or a reply, and moved on from), so
// that a message that breaks recording cannot hold the cursor, and the mail behind it,
// forever. Three tells a broken message from a passing fault of the server or the disk.
const maxRecordAttempts = 3

// attemptsBucket holds, per message the poll could not record, how many polls failed on
// it; the intake package owns it. Key: attemptKey; value: the count as a decimal string.
const attemptsBucket = "intake.record_attempts"

func attemptKey(mailbox string, validity, uid uint32) string {
	return fmt.Sprintf("%s\x00%d\x00%d", mailbox, validity, uid)
}

// attempts returns how many polls failed to record a message.
func (p *Poller) attempts(key string) int {
	n := 0
	p.Ledger.DB().View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(attemptsBucket)); b != nil {
			n, _ = strconv.Atoi(string(b.Get([]byte(key))))
		}
		return nil
	})
	p.failedMu.Lock()
	n = max(n, p.failed[key])
	p.failedMu.Unlock()
	return n
}

// noteFailure counts a poll that failed to record j, in the state so that it survives a
// restart (`once` runs from a timer), and in memory for when the state cannot be written.
func (p *Poller) noteFailure(j *job, cause error) {
	key := attemptKey(p.Mailbox, j.validity, j.info.UID)
	n := p.attempts(key) + 1
	p.failedMu.Lock()
	if p.failed == nil {
		p.failed = map[string]int{}
	}
	p.failed[key] = n
	p.failedMu.Unlock()
	err := p.Ledger.DB().Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(attemptsBucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte(strconv.Itoa(n)))
	})
	p.Log.Warn("message not recorded", "uid", j.info.UID, "message_id", j.messageID(), "attempt", n,
		"set_aside_after", maxRecordAttempts, "err", cause, "counting_err", err)
}

// Poll takes in everything new. A poll that fails part-way keeps what it finished: each
// message is committed on its own, in UID order, and the cursor never passes a message that
// was not recorded. When ctx is cancelled the messages in hand are finished within Grace.
func (p *Poller) Poll(ctx context.Context) (res Result, err error) {
	res, err = p.poll(ctx)
	if err == nil && p.After != nil && ctx.Err() == nil {
		err = p.After(ctx, time.Now())
		if res.Recorded > 0 {
			// After reads what the poll left waiting (every waiting ZIP mail for PPAP).
			p.trim()
		}
	}
	return res, err
}

// trim releases the mapped state's pages (Ledger.Trim); failing to is only a warning.
func (p *Poller) trim() {
	if err := p.Ledger.Trim(); err != nil {
		p.Log.Warn("releasing mapped state pages", "err", err)
	}
}

func (p *Poller) poll(ctx context.Context) (res Result, err error) {
	res.Start = time.Now()
	defer func() { res.Duration = time.Since(res.Start) }()
	// I/O runs on work, which outlives ctx by Grace so that a SIGTERM finishes the current
	// message instead of abandoning it half-way.
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(p.grace(), cancel)
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stopGrace()

	s, st, err := p.session(work)
	if err != nil {
		return res, err
	}
	defer func() { p.release(s, err) }()
	cur, err := p.Ledger.Cursor(p.Mailbox)
	if err != nil {
		return res, err
	}
	after := cur.LastUID
	if cur.UIDValidity != st.UIDValidity {
		if cur.UIDValidity != 0 {
			p.Log.Warn("UIDVALIDITY changed: messages are matched by Message-ID and content so none is processed twice",
				"mailbox", p.Mailbox, "was", cur.UIDValidity, "now", st.UIDValidity)
		}
		after = 0
		if err := p.Ledger.Advance(p.Mailbox, st.UIDValidity, 0); err != nil {
			return res, err
		}
	}
	if res.Repaired, err = p.repair(work, s, st.UIDValidity); err != nil {
		return res, err
	}
	// Nothing new: the SELECT answer says so, one round trip.
	if st.Messages == 0 || (st.UIDNext != 0 && st.UIDNext <= after+1) {
		return res, nil
	}
	infos, err := s.Since(work, after)
	if err != nil {
		return res, err
	}
	res.New = len(infos)
	if len(infos) == 0 {
		return res, nil
	}
	err = p.pipeline(ctx, work, s, st.UIDValidity, infos, &res)
	return res, err
}

// keepFor is Poller.KeepFor's default: longer than the default schedule's five minutes,
// well within the 30 minutes a server must allow an idle session.
const keepFor = 10 * time.Minute

// checkTimeout bounds the SELECT on a kept session: a connection a middlebox dropped
// without telling either end answers nothing, and is given up for a new one well before
// the watchdog's timeout would fail the poll.
const checkTimeout = 5 * time.Second

// session is the kept session, checked with a SELECT of the mailbox, or else a new one, and
// the mailbox's status.
func (p *Poller) session(ctx context.Context) (*mailbox.Session, mailbox.Status, error) {
	p.keptMu.Lock()
	s, at := p.kept, p.keptAt
	p.kept = nil
	p.keptMu.Unlock()
	if s != nil {
		if time.Since(at) < cmp.Or(p.KeepFor, keepFor) {
			check, cancel := context.WithTimeout(ctx, checkTimeout)
			st, err := s.Select(check, p.Mailbox)
			cancel()
			if err == nil {
				return s, st, nil
			}
			// Whatever failed (the server logged us out, the connection dropped), a new
			// session says whether it was the connection or the mailbox.
			p.Log.Info("kept IMAP session failed; connecting again", "err", err)
		}
		s.Close()
	}
	if ctx.Err() != nil {
		return nil, mailbox.Status{}, ctx.Err()
	}
	s, err := p.Dial(ctx)
	if err != nil {
		return nil, mailbox.Status{}, err
	}
	st, err := s.Select(ctx, p.Mailbox)
	if err != nil {
		s.Close()
		return nil, mailbox.Status{}, err
	}
	return s, st, nil
}

// release keeps s for the next poll when asked to and the poll went well; after a failure
// the session's state is not known, and the next poll starts afresh.
func (p *Poller) release(s *mailbox.Session, err error) {
	if !p.Keep || err != nil {
		s.Close()
		return
	}
	p.keptMu.Lock()
	p.kept, p.keptAt = s, time.Now()
	p.keptMu.Unlock()
}

// Close logs out the session kept between polls, if any.
func (p *Poller) Close() error {
	p.keptMu.Lock()
	s := p.kept
	p.kept = nil
	p.keptMu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close()
}

func (p *Poller) grace() time.Duration {
	if p.Grace > 0 {
		return p.Grace
	}
	return 8 * time.Second
}

// pipeline downloads messages on this goroutine, FetchBatch to a command, reads them on
// Workers goroutines, and commits them in UID order on one more, many to a transaction;
// recorded messages are moved in batches between fetch commands, on the same connection.
func (p *Poller) pipeline(ctx, work context.Context, s *mailbox.Session, validity uint32, infos []mailbox.Info, res *Result) error {
	workers := max(p.Workers, 1)
	jobs := make(chan *job, workers)
	// inflight bounds the messages between download and commit: one slow PDF must not let
	// the download run ahead and pile the mailbox up in memory behind it.
	inflight := make(chan struct{}, max(4*workers, 2*p.CommitBatch))
	done := make(chan *job, workers*2)
	committed := make(chan recorded, len(infos))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				p.read(work, j)
				done <- j
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	commitErr := make(chan error, 1)
	stopped := make(chan struct{}) // closed when recording failed
	go func() {
		err := p.commitInOrder(done, committed, res, func() { <-inflight })
		if err != nil {
			close(stopped)
		}
		commitErr <- err
	}()

	var fetchErr error
	var toMove []recorded
	moveBatch := max(p.MoveBatch, 1)
	seq := 0
	submit := func(info mailbox.Info, raw []byte, large bool) {
		select {
		case inflight <- struct{}{}:
		case <-stopped:
			return // recording failed: nothing more is taken in this poll
		}
		jobs <- &job{seq: seq, validity: validity, info: info, raw: raw, large: large}
		seq++
	}
	// moveDone moves what has been recorded so far, between fetch commands: a MOVE cannot
	// be sent while a FETCH is still answering on the same connection.
	moveDone := func() error {
		toMove = drain(committed, toMove)
		if len(toMove) < moveBatch {
			return nil
		}
		err := p.move(work, s, toMove, res)
		toMove = toMove[:0]
		return err
	}
	for _, batch := range fetchBatches(infos, max(p.FetchBatch, 1), p.MaxSize) {
		if ctx.Err() != nil || isClosed(stopped) {
			break // stopping, or recording failed: finish what is in hand, take nothing new
		}
		if batch.large {
			// Over the size limit: the header only, for the reply's address.
			info := batch.infos[0]
			raw, err := s.FetchHeader(work, info.UID)
			if err != nil {
				fetchErr = fmt.Errorf("fetching uid %d: %w", info.UID, err)
				break
			}
			submit(info, raw, true)
			if fetchErr = moveDone(); fetchErr != nil {
				break
			}
			continue
		}
		byUID := make(map[uint32]mailbox.Info, len(batch.infos))
		uids := make([]uint32, len(batch.infos))
		for i, info := range batch.infos {
			byUID[info.UID], uids[i] = info, info.UID
		}
		delivered := make(map[uint32]bool, len(uids))
		err := s.FetchEach(work, uids, func(uid uint32, raw []byte) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if info, ok := byUID[uid]; ok && !delivered[uid] {
				delivered[uid] = true
				submit(info, raw, false)
			}
			return nil
		})
		if err == nil {
			err = p.fetchMissing(work, s, uids, delivered, func(uid uint32, raw []byte) { submit(byUID[uid], raw, false) })
		}
		if err != nil {
			if ctx.Err() == nil {
				fetchErr = fmt.Errorf("fetching uids %d-%d: %w", uids[0], uids[len(uids)-1], err)
			}
			break
		}
		if fetchErr = moveDone(); fetchErr != nil {
			break
		}
	}
	close(jobs)
	cerr := <-commitErr
	toMove = drain(committed, toMove)
	var merr error
	if len(toMove) > 0 {
		merr = p.move(work, s, toMove, res)
	}
	return errors.Join(fetchErr, cerr, merr)
}

// fetchMissing fetches one by one what a batch fetch did not deliver. Some servers answer
// a UID FETCH in a shape the client cannot match to its command; a message skipped here
// would be passed by the cursor and never taken in. Only a message the server says is gone
// (expunged meanwhile) is left out.
func (p *Poller) fetchMissing(ctx context.Context, s *mailbox.Session, uids []uint32, delivered map[uint32]bool, submit func(uint32, []byte)) error {
	for _, uid := range uids {
		if delivered[uid] {
			continue
		}
		raw, err := s.Fetch(ctx, uid)
		switch {
		case errors.Is(err, mailbox.ErrNoMessage):
			p.Log.Info("message gone before it could be fetched", "uid", uid)
		case err != nil:
			return err
		default:
			submit(uid, raw)
		}
	}
	return nil
}

// fetchBatch is a run of messages fetched with one command, or one message over the size
// limit whose header alone is fetched.
type fetchBatch struct {
	infos []mailbox.Info
	large bool
}

func fetchBatches(infos []mailbox.Info, size int, maxSize int64) []fetchBatch {
	var out []fetchBatch
	var cur []mailbox.Info
	flush := func() {
		if len(cur) > 0 {
			out = append(out, fetchBatch{infos: cur})
			cur = nil
		}
	}
	for _, info := range infos {
		if maxSize > 0 && info.Size > maxSize {
			flush()
			out = append(out, fetchBatch{infos: []mailbox.Info{info}, large: true})
			continue
		}
		cur = append(cur, info)
		if len(cur) == size {
			flush()
		}
	}
	flush()
	return out
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// recorded is a committed message to move: its entry, and its UID when the poll knows it is
// the entry's only place (a new entry); 0 when the entry must be read for its places (an
// alias of an earlier entry, which may wait under other UIDs too).
type recorded struct {
	id  uint64
	uid uint32
}

func drain(c <-chan recorded, ids []recorded) []recorded {
	for {
		select {
		case id := <-c:
			ids = append(ids, id)
		default:
			return ids
		}
	}
}

// read finds what the message holds; the raw message is kept for the ledger, which stores
// it with the commit. It runs on a worker.
func (p *Poller) read(ctx context.Context, j *job) {
	digest := ""
	if !j.large {
		digest = ledger.Digest(j.raw)
		if prev, ok, err := p.Ledger.Seen(digest); err != nil {
			j.err = err
			return
		} else if ok {
			j.dupOf = prev.ID
			return
		}
	}
	j.keep = j.raw
	if n := p.attempts(attemptKey(p.Mailbox, j.validity, j.info.UID)); n >= maxRecordAttempts {
		p.setAside(j, digest, n)
		return
	}
	lim := p.Limits
	if j.large {
		// Only the header was downloaded: read it for the reply's address, nothing more.
		lim.MaxMessageBytes = int64(len(j.raw)) + 1
	}
	c, err := readBytesWithin(ctx, j.raw, lim, p.PDFs, p.Budget)
	if err != nil {
		j.err = err
		return
	}
	c.Received = j.info.InternalDate
	if c.Received.IsZero() {
		c.Received = time.Now()
	}
	if _, _, _, _, ok := verifier.DecisionMail(c.Message.Subject); ok && !c.NoReply() {
		// A clerk's reply to a digest link quotes the digest, keys and all: it is a
		// decision to apply, never a submission.
		c.DecisionMail = true
		c.Notices, c.Problems = nil, nil
	}
	if j.large {
		c.Notices = nil
		c.Problems = append(c.Problems, parser.Problem{Code: parser.CodeTooLarge,
			Detail: fmt.Sprintf("the message is %d bytes, over the limit of %d", j.info.Size, p.MaxSize)})
		c.Problems = withoutCode(c.Problems, parser.CodeNoNotice)
	}
	// What is kept until the commit is only what the commit needs: the raw message (for the
	// ledger) and the findings, not the decoded attachments.
	if slices.Contains(c.Message.Classes, parser.CodeBounce) {
		c.Bounce = j.raw
	}
	if len(c.Message.Attachments) == 0 && !j.large {
		c.Raw = j.raw // a possible inquiry, forwarded whole
	}
	j.raw = nil
	if len(c.Images) == 0 {
		// The decoded attachments go back for the next message's (msgbuf): their PDFs are
		// read, and what waits for a password is kept (Locked). Beside page images, which a
		// reader in this process may have cut from its file, they are left to the collector.
		c.Message.Release()
	}
	for i := range c.Message.Attachments {
		c.Message.Attachments[i].Data = nil
	}
	j.contents = c
	j.entry = &ledger.Entry{Mailbox: p.Mailbox, UIDValidity: j.validity, UID: j.info.UID, MessageID: messageID(c.Message.MessageID),
		Digest: digest, From: c.Message.From, Subject: c.Message.Subject, Date: c.Message.Date, Size: j.info.Size,
		TakenAt: time.Now(), Notices: len(c.Notices), NoReply: c.NoReply()}
	for _, pr := range c.Problems {
		j.entry.Problems = append(j.entry.Problems, pr.Code)
	}
	switch {
	case c.DecisionMail:
		j.entry.Outcome = OutcomeDecision
	case j.large:
		j.entry.Outcome = OutcomeTooLarge
	case c.NoReply():
		j.entry.Outcome = OutcomeNoReply
	case len(c.Notices) > 0:
		j.entry.Outcome = OutcomeNotices
	default:
		j.entry.Outcome = OutcomeProblems
	}
}

// setAside prepares the ledger entry of a message that failed to be recorded on n polls:
// its headers and the raw message for the clerks, no notices, no queue, no reply. Its PDFs
// are not read again: reading may be what failed.
func (p *Poller) setAside(j *job, digest string, n int) {
	why := fmt.Sprintf("recording failed on %d polls; set aside for a clerk to read", n)
	// Its header alone: a limit below the message's size, as this once was, kept one byte of
	// it, and the entry had no sender, subject or Message-ID for the clerks to know it by.
	msg := inbound.ReadHeader(j.raw)
	c := &Contents{Message: msg, Notices: []parser.Notice{}, Problems: []parser.Problem{{Code: parser.CodeSetAside, Detail: why}},
		Received: j.info.InternalDate, NoReplyWhy: parser.CodeSetAside, setAside: true}
	j.raw = nil
	j.setAside = true
	j.contents = c
	j.entry = &ledger.Entry{Mailbox: p.Mailbox, UIDValidity: j.validity, UID: j.info.UID, MessageID: messageID(msg.MessageID),
		Digest: digest, From: msg.From, Subject: msg.Subject, Date: msg.Date, Size: j.info.Size, TakenAt: time.Now(),
		Outcome: OutcomeProblems, Problems: []string{parser.CodeSetAside}, NoReplyWhy: parser.CodeSetAside}
}

// messageID is the form Message-IDs are kept and compared in: without the angle brackets,
// which the ENVELOPE omits and the header has.
func messageID(s string) string { return strings.Trim(strings.TrimSpace(s), "<>") }

func withoutCode(ps []parser.Problem, code string) []parser.Problem {
	out := ps[:0]
	for _, p := range ps {
		if p.Code != code {
			out = append(out, p)
		}
	}
	return out
}

// commitInOrder records finished jobs in UID order, several to a transaction: whatever run
// of consecutive jobs is ready, up to CommitBatch. It stops at the first failure: the
// cursor must not pass a message that was not recorded.
func (p *Poller) commitInOrder(done <-chan *job, committed chan<- recorded, res *Result, release func()) error {
	pending := map[int]*job{}
	next := 0
	var failed error
	for j := range done {
		pending[j.seq] = j
		if failed != nil {
			release()
			continue // drain, so the workers can finish
		}
		// Gather what finishes in the next few milliseconds into the same commit: one
		// transaction for many messages costs one fsync and rewrites the B+tree's pages once
		// (bbolt copies every page it changes, and the daemon's memory map grows with them).
		gather(done, pending, commitWindow)
		for failed == nil {
			var run []*job
			for len(run) < max(p.CommitBatch, 1) {
				j, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				run = append(run, j)
			}
			if len(run) == 0 {
				break
			}
			var at *job
			at, failed = p.commitRun(run, committed, res)
			if failed != nil && at != nil {
				res.Stuck = at.info.UID
				if !errors.Is(failed, context.Canceled) && !errors.Is(failed, context.DeadlineExceeded) {
					p.noteFailure(at, failed)
				}
			}
			for range run {
				release()
			}
		}
		if failed != nil {
			for seq := range pending {
				delete(pending, seq)
				release()
			}
		}
	}
	return failed
}

// trimEvery is how many recorded messages pass between releases of the mapped state: about
// one commit's worth (CommitBatch), since one transaction may read much of the file (the
// PPAP step reads every waiting ZIP mail for each new one), and what it read would
// otherwise stay resident until the next release; refaulting the pages a commit needs
// from the page cache costs far less than the commit's fsync.
const trimEvery = 64

// commitWindow is how long the committer waits for more finished messages to commit with
// the first one.
const commitWindow = 20 * time.Millisecond

// gather moves into pending what arrives on done within window.
func gather(done <-chan *job, pending map[int]*job, window time.Duration) {
	t := time.NewTimer(window)
	defer t.Stop()
	for {
		select {
		case j, ok := <-done:
			if !ok {
				return
			}
			pending[j.seq] = j
		case <-t.C:
			return
		}
	}
}

// commitRun records a run of jobs: new messages in one transaction, duplicates as aliases.
// When the batch fails it is retried one message at a time, so that the messages before
// the failing one are kept. On failure it returns the job recording stopped at.
func (p *Poller) commitRun(run []*job, committed chan<- recorded, res *Result) (*job, error) {
	var batch []*job
	flush := func() (*job, error) {
		if len(batch) == 0 {
			return nil, nil
		}
		err := p.recordJobs(batch, committed, res)
		if err != nil && len(batch) > 1 {
			for _, j := range batch {
				if err := p.recordJobs([]*job{j}, committed, res); err != nil {
					return j, err
				}
			}
			return nil, nil
		}
		if err != nil {
			return batch[0], err
		}
		batch = batch[:0]
		return nil, nil
	}
	for _, j := range run {
		switch {
		case j.err != nil:
			if at, err := flush(); err != nil {
				return at, err
			}
			return j, fmt.Errorf("uid %d: %w", j.info.UID, j.err)
		case j.dupOf != 0:
			if at, err := flush(); err != nil {
				return at, err
			}
			if err := p.Ledger.Alias(p.Mailbox, j.validity, j.info.UID, j.dupOf, time.Now()); err != nil {
				return j, err
			}
			res.Duplicates++
			p.Log.Info("message taken in before; moving it only", "uid", j.info.UID, "entry", j.dupOf, "message_id", j.messageID())
			committed <- recorded{id: j.dupOf}
		default:
			batch = append(batch, j)
		}
	}
	return flush()
}

// recordOne writes what a message caused, in its ledger entry's transaction: its record
// attempts are cleared, and the Recorder runs, unless the message was set aside. A panic
// in the Recorder fails this message's recording, not the daemon.
func (p *Poller) recordOne(tx *bolt.Tx, e *ledger.Entry, c *Contents, uid uint32) (err error) {
	if b := tx.Bucket([]byte(attemptsBucket)); b != nil {
		if err := b.Delete([]byte(attemptKey(e.Mailbox, e.UIDValidity, uid))); err != nil {
			return err
		}
	}
	if p.Record == nil || c.setAside {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recording panicked: %v", r)
		}
	}()
	return p.Record(tx, e, c)
}

func (p *Poller) recordJobs(jobs []*job, committed chan<- recorded, res *Result) error {
	items := make([]ledger.Item, len(jobs))
	byEntry := make(map[*ledger.Entry]*Contents, len(jobs))
	for i, j := range jobs {
		items[i] = ledger.Item{Entry: j.entry, Raw: j.keep}
		if j.contents != nil {
			items[i].Images = j.contents.Images
		}
		byEntry[j.entry] = j.contents
	}
	more := func(tx *bolt.Tx, e *ledger.Entry) error { return p.recordOne(tx, e, byEntry[e], e.UID) }
	if err := p.Ledger.RecordBatch(items, more); err != nil {
		return err
	}
	if before, after := res.Recorded/trimEvery, (res.Recorded+len(jobs))/trimEvery; after > before {
		// Keep the daemon's memory flat over a big mailbox; see Ledger.Trim.
		p.trim()
	}
	for _, j := range jobs {
		res.Recorded++
		res.Notices += j.entry.Notices
		if j.setAside {
			res.SetAside++
			p.Log.Warn("message set aside", "entry", j.entry.ID, "uid", j.info.UID, "message_id", j.entry.MessageID)
		}
		p.Log.Info("message taken in", "entry", j.entry.ID, "uid", j.info.UID, "message_id", j.entry.MessageID,
			"from", j.entry.From, "outcome", j.entry.Outcome, "notices", j.entry.Notices, "problems", j.entry.Problems)
		committed <- recorded{id: j.entry.ID, uid: j.info.UID}
		j.releaseRaw()
	}
	return nil
}

// releaseRaw gives the recorded message's download buffer back for the next download
// (msgbuf.Release), unless what the message caused holds on to it: a bounce is matched
// and an inquiry forwarded from the raw message. Nothing else refers to it: the ledger has
// written it, and inbound copies what it keeps (an attachment sent unencoded is cloned).
func (j *job) releaseRaw() {
	if j.keep == nil || j.contents == nil || j.contents.Bounce != nil || j.contents.Raw != nil {
		return
	}
	raw := j.keep
	j.keep = nil
	msgbuf.Release(raw)
}

// move moves (or flags) recorded messages and records that it did.
func (p *Poller) move(ctx context.Context, s *mailbox.Session, recs []recorded, res *Result) error {
	uids := make([]uint32, 0, len(recs))
	ids := make([]uint64, len(recs))
	for i, r := range recs {
		ids[i] = r.id
		if r.uid != 0 {
			uids = append(uids, r.uid)
			continue
		}
		e, err := p.Ledger.Get(r.id)
		if err != nil {
			return err
		}
		uids = append(uids, locations(e, p.Mailbox, 0)...)
	}
	if err := p.moveUIDs(ctx, s, uids); err != nil {
		return err
	}
	if err := p.Ledger.MarkMoved(ids); err != nil {
		return err
	}
	res.Moved += len(uids)
	return nil
}

func (p *Poller) moveUIDs(ctx context.Context, s *mailbox.Session, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	if p.Processed == "" {
		return s.Flag(ctx, uids, `\Seen`, flagProcessed)
	}
	return s.Move(ctx, uids, p.Processed)
}

// locations are the UIDs in mailbox under which e's message still waits to be moved; a
// validity of 0 takes every validity (the caller knows the UIDs are current).
func locations(e *ledger.Entry, mailbox string, validity uint32) []uint32 {
	var uids []uint32
	if !e.Moved && e.Mailbox == mailbox && (validity == 0 || e.UIDValidity == validity) {
		uids = append(uids, e.UID)
	}
	for _, a := range e.Aliases {
		if !a.Moved && a.Mailbox == mailbox && (validity == 0 || a.UIDValidity == validity) {
			uids = append(uids, a.UID)
		}
	}
	return uids
}

// repair moves what was recorded but not moved: a crash between the commit and the move.
// The messages are not read again.
func (p *Poller) repair(ctx context.Context, s *mailbox.Session, validity uint32) (int, error) {
	entries, err := p.Ledger.Unmoved(p.Mailbox)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	var uids []uint32
	var ids []uint64
	for i := range entries {
		if u := locations(&entries[i], p.Mailbox, validity); len(u) > 0 {
			uids = append(uids, u...)
			ids = append(ids, entries[i].ID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := p.moveUIDs(ctx, s, uids); err != nil {
		return 0, fmt.Errorf("moving %d messages recorded before: %w", len(uids), err)
	}
	if err := p.Ledger.MarkMoved(ids); err != nil {
		return 0, err
	}
	p.Log.Info("moved messages recorded by an earlier poll", "count", len(uids))
	return len(uids), nil
}
