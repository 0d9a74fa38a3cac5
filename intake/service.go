package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	bolt "go.etcd.io/bbolt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"hosho-intake/config"
	"hosho-intake/intake/credential"
	"hosho-intake/intake/inbound"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/mailbox"
	"hosho-intake/intake/outbox"
	"hosho-intake/intake/reply"
	"hosho-intake/intake/web/session"
	"hosho-intake/parser"
	"hosho-intake/parser/ocr"
	"hosho-intake/parser/sandbox"
	"hosho-intake/verifier"
	"hosho-intake/verifier/store"
)

// Service is the daemon's intake side built from a config: the ledger, the PDF reader
// pool, the mailbox credential and the poller. run, once and the tests build one.
type Service struct {
	Config  *config.Config
	Ledger  *ledger.Ledger
	Poller  *Poller
	IMAPKey *credential.Source
	Queue   *verifier.Queue
	Effects *Effects
	Outbox  *outbox.Outbox
	SMTPKey *credential.Source
	pool    *sandbox.Pool
	log     *slog.Logger

	metrics *metrics

	// Clock is the time the PPAP timer follows (runPPAP); NewService sets the system's, tests
	// one they control.
	Clock Clock
	// run is held by a poll and by the PPAP timer's step: one at a time, so that the timer
	// never steps beside the poll's own PPAP step (Poller.After).
	run sync.Mutex
	// ppapWake tells the PPAP timer that a poll may have added a waiting mail.
	ppapWake chan struct{}

	mu        sync.Mutex
	polling   time.Time // when the poll in progress started; zero when none runs
	lastSweep time.Time
	last      Result
	lastErr   error
	lastOK    time.Time
	failures  int
	progress  progress
}

// ServiceOptions are what a Service needs beyond the config.
type ServiceOptions struct {
	Logger *slog.Logger
	// WorkerCommand starts a PDF reader process (the binary's pdf-worker subcommand).
	WorkerCommand []string
}

// NewService opens the state and prepares the poller. It does not contact the server:
// READY is told after config and state, not after the IMAP server answers.
func NewService(cfg *config.Config, o ServiceOptions) (*Service, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Every owner of buckets in the state file: one transaction upgrades them all, or
	// refuses a file a newer binary wrote before anything starts.
	l, err := ledger.Open(cfg.State.Dir, ledger.Options{Schemas: Schemas()})
	if err != nil {
		return nil, err
	}
	key, err := credential.New("imap", cfg.IMAP.Auth, cfg.IMAP.Password, cfg.IMAP.OAuth2, cfg.State.Dir, nil)
	if err != nil {
		l.Close()
		return nil, err
	}
	effects, queue, err := newEffects(cfg, l, log)
	if err != nil {
		l.Close()
		return nil, err
	}
	smtpKey, err := credential.New("smtp", cfg.SMTP.Auth, cfg.SMTP.Password, cfg.SMTP.OAuth2, cfg.State.Dir, nil)
	if err != nil {
		l.Close()
		return nil, err
	}
	out, err := outbox.Open(l.DB(), outbox.Options{SMTP: cfg.SMTP, Secret: smtpKey.Secret, Rejected: smtpKey.Rejected,
		RetryFor: cfg.SMTP.RetryFor, MaxBackoff: cfg.SMTP.RetryIntervalMax, Logger: log.With("component", "outbox")})
	if err != nil {
		l.Close()
		return nil, err
	}
	if effects.Replying, err = newReplying(cfg, l, out); err != nil {
		l.Close()
		return nil, err
	}
	pool := sandbox.NewPool(sandbox.Options{
		Command: o.WorkerCommand, Workers: cfg.Sandbox.Workers, Timeout: cfg.Sandbox.Timeout,
		MemoryLimit: int64(cfg.Sandbox.MemoryLimit), Logger: log.With("component", "pdf-reader"),
		Env: WorkerEnv(),
		// Asked when a PDF or an image is first read, not at start: `once` with nothing new
		// does not wait for the check's program.
		OCRIf: func() bool {
			return cfg.Sandbox.OCRWanted(func() bool { return ocr.Check(context.Background(), ocr.Options{}) == nil })
		},
	})
	lim := inbound.DefaultLimits()
	lim.MaxMessageBytes = int64(cfg.IMAP.MaxMessageSize)
	s := &Service{Config: cfg, Ledger: l, IMAPKey: key, Queue: queue, Effects: effects, Outbox: out, SMTPKey: smtpKey, pool: pool, log: log,
		Clock: systemClock{}, ppapWake: make(chan struct{}, 1)}
	s.metrics = newMetrics(s)
	workers := cfg.Sandbox.Workers
	if workers <= 0 {
		workers = max(2, runtimeWorkers())
	}
	readers := cfg.Sandbox.Workers // the pool's own default when 0
	if readers <= 0 {
		readers = runtimeWorkers()
	}
	s.Poller = &Poller{
		Mailbox: cfg.IMAP.Mailbox, Processed: cfg.IMAP.ProcessedMailbox, MaxSize: int64(cfg.IMAP.MaxMessageSize),
		Limits: lim, Ledger: l, PDFs: pool, Log: log.With("mailbox", cfg.IMAP.Mailbox), Workers: workers + 1,
		FetchBatch: 200, CommitBatch: 64, MoveBatch: 500, Dial: s.dial, Record: effects.Record, Keep: true,
		Budget: Budget{Time: cfg.Sandbox.MessageBudget, MaxPDFs: cfg.Sandbox.MaxPDFsPerMessage, Parallel: readers},
	}
	effects.PPAP = &PPAP{DB: l.DB(), Effects: effects, PDFs: pool, Budget: s.Poller.Budget, Limits: lim,
		Wait: cfg.Reply.PasswordWait, Log: log.With("component", "ppap"), Readers: readers}
	s.Poller.After = effects.PPAP.Step
	return s, nil
}

// WorkerEnv is the PDF readers' environment: the daemon's, without what systemd gave the
// daemon alone (its notify socket, watchdog and credentials), and one core each: the pool
// runs one worker per core already.
func WorkerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY", "LISTEN_FDS", "LISTEN_PID":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "GOMAXPROCS=1")
}

// Schemas are the state file's owners besides the ledger: the outbox, the reply limiter,
// the verification queue, the clerks' page's sign-in links and sessions, and the password
// ZIPs waiting for their password (PPAP).
func Schemas() []store.Schema {
	return []store.Schema{outbox.Schema(), reply.Schema(), verifier.Schema(), session.Schema(), PPAPSchema()}
}

// newReplying prepares how contractors and clerks are answered.
func newReplying(cfg *config.Config, l *ledger.Ledger, out *outbox.Outbox) (*Replying, error) {
	composer, err := reply.NewComposer(reply.Options{Charset: cfg.Reply.Charset, TemplatesDir: cfg.Reply.TemplatesDir})
	if err != nil {
		return nil, fmt.Errorf("reply templates: %w", err)
	}
	limiter, err := reply.OpenLimiter(l.DB(), cfg.Reply.RateLimit, cfg.Reply.GlobalRateLimit)
	if err != nil {
		return nil, err
	}
	return &Replying{Composer: composer, Limiter: limiter, Outbox: out, Agency: cfg.Agency.Name, Signature: cfg.Reply.Signature,
		Policy: ReplyPolicy(cfg), InquiriesTo: addressOf(cfg.Digest.InquiriesTo)}, nil
}

// ReplyPolicy is who may be answered and how senders are authenticated, from the config.
func ReplyPolicy(cfg *config.Config) reply.Policy {
	p := reply.Policy{RequireAuthResults: cfg.Reply.RequireAuthResults, AuthservID: cfg.Reply.AuthservID,
		TrustedRelays: cfg.Reply.TrustedRelayPrefixes}
	if cfg.Agency.Address != nil {
		p.AgencyAddress = cfg.Agency.Address.Address
	}
	return p
}

// PolicyOf builds the config's eligibility policy and loads its contract register file.
func PolicyOf(cfg *config.Config) (verifier.Policy, *verifier.Register, error) {
	policy, err := policyOf(cfg)
	if err != nil {
		return policy, nil, err
	}
	register, _, err := registerFile(cfg)
	return policy, register, err
}

// policyOf builds the config's eligibility policy.
func policyOf(cfg *config.Config) (verifier.Policy, error) {
	var policy verifier.Policy
	var err error
	if cfg.Agency.Preset != "" {
		policy, err = verifier.Preset(cfg.Agency.Preset)
	} else {
		policy, err = verifier.FromConfig(cfg.Policy)
	}
	if err != nil {
		return policy, fmt.Errorf("eligibility policy: %w", err)
	}
	return policy, nil
}

// newEffects prepares what recording a message does: the agency's policy, its contract
// register, the verification queue and the clerks allowed to decide by mail.
func newEffects(cfg *config.Config, l *ledger.Ledger, log *slog.Logger) (*Effects, *verifier.Queue, error) {
	policy, err := policyOf(cfg)
	if err != nil {
		return nil, nil, err
	}
	queue, err := verifier.OpenQueue(l.DB(), nil)
	if err != nil {
		return nil, nil, err
	}
	var clerks []string
	for _, a := range cfg.Digest.Clerks {
		clerks = append(clerks, a.Address)
	}
	// After OpenQueue: the imported register's bucket exists from then on.
	register, err := chooseRegister(cfg, l.DB())
	if err != nil {
		return nil, nil, err
	}
	switch {
	case register.Source == RegisterFromPage:
		log.Info("contract register imported on the clerks' page", "by", register.Import.By, "at", register.Import.At, "rows", register.Register.Len())
	case register.Shadowed:
		log.Info("contract register: the file changed after the last import on the clerks' page; the file is used", "file", cfg.Register.CSV)
	}
	f := &Effects{Queue: queue, Policy: policy, Clerks: clerks, DecideByMail: cfg.Digest.DecideByMail,
		Auth: ReplyPolicy(cfg), Log: log.With("component", "verifier")}
	f.SetRegister(register)
	return f, queue, nil
}

func (s *Service) dial(ctx context.Context) (*mailbox.Session, error) {
	return s.dialWith(ctx, nil)
}

// dialWith is dial with an EXISTS listener (for the IDLE connection).
func (s *Service) dialWith(ctx context.Context, onExists func(uint32)) (*mailbox.Session, error) {
	m := s.Config.IMAP
	sess, err := mailbox.Dial(ctx, mailbox.Options{Addr: m.Addr.String(), TLS: m.TLS, RootCAs: m.RootCAs,
		Username: m.Username, Auth: m.Auth, Secret: s.IMAPKey.Secret, Timeout: m.Timeout,
		MaxSize: int64(m.MaxMessageSize) + 1<<20, Logger: s.log.With("component", "imap"),
		Debug: s.Config.Log.Level == "debug", OnExists: onExists})
	if errors.Is(err, mailbox.ErrAuth) {
		s.IMAPKey.Rejected(err)
	}
	return sess, err
}

// PollOnce runs one poll under the config's poll timeout and remembers its result.
func (s *Service) PollOnce(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Config.IMAP.PollTimeout)
	defer cancel()
	s.run.Lock()
	s.mu.Lock()
	s.polling = time.Now()
	s.mu.Unlock()
	res, err := s.Poller.Poll(ctx)
	s.run.Unlock()
	select {
	case s.ppapWake <- struct{}{}:
	default: // a wake is pending already
	}
	s.metrics.pollDuration.Observe(res.Duration.Seconds())
	s.mu.Lock()
	s.polling = time.Time{}
	s.last, s.lastErr = res, err
	if err == nil {
		s.lastOK, s.failures = res.Start, 0
	} else {
		s.failures++
	}
	s.progress.observe(res, err)
	s.mu.Unlock()
	if w := s.IMAPKey.Warning(time.Now()); w != "" {
		s.log.Warn("mailbox credential", "warning", w)
	}
	if err != nil {
		return res, fmt.Errorf("polling %s: %w", s.Config.IMAP.Mailbox, err)
	}
	s.sweep(time.Now())
	s.log.Info("poll done", "new", res.New, "recorded", res.Recorded, "duplicates", res.Duplicates,
		"moved", res.Moved, "repaired", res.Repaired, "notices", res.Notices, "set_aside", res.SetAside,
		"duration", res.Duration.Round(time.Millisecond))
	return res, nil
}

// sweep drops raw messages past the retention period, at most once an hour.
func (s *Service) sweep(now time.Time) {
	if s.Config.State.Retention <= 0 || now.Sub(s.lastSweep) < time.Hour {
		return
	}
	s.lastSweep = now
	n, err := s.Ledger.Sweep(now, s.Config.State.Retention)
	if err != nil {
		s.log.Warn("removing raw messages past retention", "err", err)
		return
	}
	if n > 0 {
		s.log.Info("removed raw messages past retention", "count", n, "retention", s.Config.State.Retention)
	}
	if err := s.Ledger.Trim(); err != nil { // the sweep read every entry
		s.log.Warn("releasing mapped state pages", "err", err)
	}
}

// Health is what status shows of the intake.
type Health struct {
	Last     Result
	LastErr  string
	LastOK   time.Time
	Failures int    // consecutive failed polls
	Warning  string // a credential about to fail, or failing
	// Stalled says why polling makes no progress ("" when it does); Alive is false then.
	Stalled string `json:",omitempty"`
}

// Health reports the last poll and the credential's state.
func (s *Service) Health(now time.Time) Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := Health{Last: s.last, LastOK: s.lastOK, Failures: s.failures, Warning: s.IMAPKey.Warning(now)}
	if s.lastErr != nil {
		h.LastErr = s.lastErr.Error()
	}
	h.Stalled = s.progress.stalled(now, s.polling, s.Config.IMAP.PollTimeout)
	return h
}

// Run polls and sends digests on the config's schedules, sends the outbox, and answers
// password ZIPs whose time ends (runPPAP), until ctx ends: four loops, and a fifth holding an
// IDLE connection that kicks the poll when new mail arrives ([imap] idle); each stops when ctx
// does; Run returns when all have.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		s.runPPAP(ctx)
	}()
	kick := make(chan struct{}, 1)
	if s.Config.IMAP.Idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.watch(ctx, kick)
		}()
	}
	go func() {
		defer wg.Done()
		// A poll at once: a restarted daemon finishes moving what it recorded, and takes in
		// what came while it was down, now rather than at the next tick.
		if _, err := s.PollOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("poll at start failed; retrying on schedule", "err", err)
		}
		RunScheduleOrKick(ctx, s.Config.IMAP.Schedule, kick, &Backoff{Min: 30 * time.Second, Max: 30 * time.Minute}, s.log, "poll",
			func(ctx context.Context) error {
				_, err := s.PollOnce(ctx)
				return err
			})
	}()
	go func() {
		defer wg.Done()
		RunSchedule(ctx, s.Config.Digest.Schedule, &Backoff{Min: time.Minute, Max: time.Hour}, s.log, "digest",
			func(ctx context.Context) error {
				_, err := s.SendDigest(time.Now())
				return err
			})
	}()
	go func() {
		defer wg.Done()
		if err := s.Outbox.Run(ctx); err != nil {
			s.log.Error("outbox stopped", "err", err)
		}
	}()
	wg.Wait()
}

// Clock is the time as the PPAP timer sees it.
type Clock interface {
	Now() time.Time
	// Until delivers on the channel once the clock has reached t. An absolute time, not a
	// duration: a duration measured from a Now read a moment earlier would move the
	// deadline by whatever the clock did in between (a test's clock jumps by hours).
	Until(t time.Time) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                     { return time.Now() }
func (systemClock) Until(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }

// runPPAP steps the PPAP pairs when the earliest waiting mail's time ends, so that a password
// ZIP whose password never comes is answered on time, not at the next poll (which may be hours
// away with a sparse schedule). The timer is set again after every poll, which may have added
// a mail, and after every step; the step holds the poll's lock (run). After a failed step, or a
// deadline the step did not clear, it waits the backoff.
func (s *Service) runPPAP(ctx context.Context) {
	p := s.Effects.PPAP
	backoff := &Backoff{Min: 30 * time.Second, Max: 30 * time.Minute}
	var retryAt time.Time
	for {
		next, ok, err := p.NextDeadline()
		if err != nil {
			s.log.Warn("PPAP timer: reading deadlines", "err", err)
			next, ok = s.Clock.Now().Add(backoff.Failed()), true
		}
		if ok && retryAt.After(next) {
			next = retryAt
		}
		var due <-chan time.Time // nil: nothing waits, only a poll or ctx wakes it
		if ok {
			// Step answers a mail once its deadline is passed, not reached.
			due = s.Clock.Until(next.Add(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.ppapWake:
			continue
		case <-due:
		}
		s.run.Lock()
		now := s.Clock.Now()
		err = p.Step(ctx, now)
		s.run.Unlock()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			wait := backoff.Failed()
			retryAt = now.Add(wait)
			s.log.Warn("PPAP timer: step failed", "err", err, "retry_in", wait.Round(time.Second))
			continue
		}
		if n, ok, err := p.NextDeadline(); err == nil && ok && !n.After(now) {
			retryAt = now.Add(backoff.Failed())
			continue
		}
		backoff.Succeeded()
		retryAt = time.Time{}
	}
}

// SendNow sends what the outbox holds that is due, once (the `once` and `digest` commands).
func (s *Service) SendNow(ctx context.Context) (outbox.Result, error) {
	return s.Outbox.SendDue(ctx, time.Now())
}

// Close logs out the IMAP session kept between polls, stops the PDF readers and closes the
// state.
func (s *Service) Close() error {
	return errors.Join(s.Poller.Close(), s.pool.Close(), s.Ledger.Close())
}

func runtimeWorkers() int { return runtime.GOMAXPROCS(0) }

// Reprocessed is the outcome of re-running a stored message through the current rules.
type Reprocessed struct {
	ID        uint64              `json:"id"`
	Notices   []parser.Notice     `json:"notices"`
	Decisions []verifier.Decision `json:"decisions"` // per notice, under the policy in force now
	Problems  []parser.Problem    `json:"problems"`
}

// Reprocess re-runs stored message id through the current reader and rules, and records
// that it did. It changes nothing else: what the message caused stays as it was recorded,
// and the answer shows what the current rules would make of it.
func (s *Service) Reprocess(ctx context.Context, id uint64) (Reprocessed, error) {
	e, err := s.Ledger.Get(id)
	if err != nil {
		return Reprocessed{}, err
	}
	if e.Raw == "" {
		return Reprocessed{}, fmt.Errorf("entry %d: the raw message is no longer kept (retention %v)", id, s.Config.State.Retention)
	}
	raw, err := s.Ledger.Raw(id)
	if err != nil {
		return Reprocessed{}, err
	}
	c, err := ReadWithin(ctx, bytes.NewReader(raw), s.Poller.Limits, s.pool, s.Poller.Budget)
	if err != nil {
		return Reprocessed{}, err
	}
	r := Reprocessed{ID: id, Problems: c.Problems, Decisions: []verifier.Decision{}}
	f := s.Effects
	for _, n := range c.Notices {
		r.Decisions = append(r.Decisions, Judge(f.Policy, &n, verifier.Context{Received: e.TakenAt, Texts: c.Message.Texts, Register: f.Register()}))
		// The answer goes over the socket to any member of its group: the key stays masked,
		// as in queue list (queue list --show-keys shows it, and records who saw it).
		n.AuthKey = verifier.MaskKey(n.AuthKey)
		r.Notices = append(r.Notices, n)
	}
	if err := s.Ledger.Reprocessed(id, time.Now()); err != nil {
		return Reprocessed{}, err
	}
	s.log.Info("message reprocessed", "entry", id, "notices", len(c.Notices), "problems", len(c.Problems))
	return r, nil
}

// QueueList lists the verification queue, oldest first, each 認証キー masked as the
// digest's mask_key does; no states: the waiting ones. The full key leaves the daemon only
// through QueueShowKeys, which records who saw it.
func (s *Service) QueueList(states ...string) ([]verifier.Submission, error) {
	var out []verifier.Submission
	err := s.Ledger.DB().View(func(tx *bolt.Tx) error {
		var err error
		out, err = s.Queue.List(tx, waitingUnless(states)...)
		return err
	})
	for i := range out {
		out[i] = maskedKey(out[i])
	}
	return out, err
}

// QueueShowKeys is QueueList with the full 認証キー, for the clerk (by) who types them into
// D-Sure. Each item listed records that by was shown its key, in the same transaction, so
// no key is shown unrecorded.
func (s *Service) QueueShowKeys(by string, states ...string) ([]verifier.Submission, error) {
	var out []verifier.Submission
	now := time.Now()
	err := s.Ledger.DB().Update(func(tx *bolt.Tx) error {
		items, err := s.Queue.List(tx, waitingUnless(states)...)
		if err != nil {
			return err
		}
		out = make([]verifier.Submission, 0, len(items))
		for _, it := range items {
			shown, err := s.Queue.RecordReveal(tx, it.ID, by, now)
			if err != nil {
				return err
			}
			out = append(out, shown)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("認証キー shown", "items", len(out), "by", by)
	return out, nil
}

// maskedKey is sub with its 認証キー masked.
func maskedKey(sub verifier.Submission) verifier.Submission {
	if sub.Notice.AuthKey != "" {
		sub.Notice.AuthKey = verifier.MaskKey(sub.Notice.AuthKey)
	}
	return sub
}

// waitingUnless is states, or when none are given the waiting ones.
func waitingUnless(states []string) []string {
	if len(states) == 0 {
		return []string{verifier.StateQueued, verifier.StateNeedsReview}
	}
	return states
}

// QueueDecide records a clerk's decision given on the command line, and the contractor's
// answer with it. by is "command:" and the clerk's user name; the item returned has its key
// masked.
func (s *Service) QueueDecide(id uint64, action, by, why string) (verifier.Submission, error) {
	return s.decide(id, action, by, verifier.HowCommand, why, time.Now())
}

// PageDecide records the decision of clerk, signed in on the clerks' page, and the
// contractor's answer with it, at at: the same transaction as QueueDecide and a decision
// mail's.
func (s *Service) PageDecide(id uint64, action, clerk, why string, at time.Time) (verifier.Submission, error) {
	return s.decide(id, action, clerk, verifier.HowPage, why, at)
}

func (s *Service) decide(id uint64, action, by, how, why string, at time.Time) (verifier.Submission, error) {
	var sub verifier.Submission
	err := s.Ledger.DB().Update(func(tx *bolt.Tx) error {
		var err error
		if sub, err = s.Queue.Decide(tx, id, action, by, how, why, at); err != nil {
			return err
		}
		return s.Effects.decided(tx, sub, action)
	})
	if err == nil {
		s.log.Info("clerk decision recorded", "item", sub.TrackingNumber(), "action", action, "by", by, "how", how)
	}
	return maskedKey(sub), err
}
