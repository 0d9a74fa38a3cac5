package intake

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/ledger"
	"hosho-intake/intake/reply"
	"hosho-intake/verifier"
)

// Effects records what a message causes, inside the transaction that records the message:
// each notice judged by the agency's policy and filed in the verification queue, or a
// clerk's decision (a reply to a digest link) applied.
//
// Trust is decided once, here: the sender's Auth (reply.Authenticate) is computed when the
// message is recorded, and everything that acts for the sender takes it. A decision by mail
// needs a clerk the agency's server authenticated (where it can) and a token made for that
// clerk; replies and confirmations go only to senders who may be answered.
type Effects struct {
	Queue  *verifier.Queue
	Policy verifier.Policy
	// register is the contract register in effect: replaced whole by an import from the
	// clerks' page while polls read it.
	register atomic.Pointer[RegisterInEffect]
	Clerks   []string // addresses allowed to decide by mail
	// DecideByMail: clerks may decide with the digest's links; false refuses decision mails.
	DecideByMail bool
	// Auth is how senders are authenticated (the authserv-id and trusted relays).
	Auth     reply.Policy
	Replying *Replying // nil: nobody is answered (parse-only tools)
	// PPAP holds password ZIPs for the password the sender mails next; nil: they get
	// password_zip at once.
	PPAP *PPAP
	Log  *slog.Logger
}

// Register is the contract register in effect; nil: none.
func (f *Effects) Register() *verifier.Register {
	if r := f.register.Load(); r != nil {
		return r.Register
	}
	return nil
}

// RegisterInEffect is the contract register in effect and where it came from.
func (f *Effects) RegisterInEffect() RegisterInEffect {
	if r := f.register.Load(); r != nil {
		return *r
	}
	return RegisterInEffect{}
}

// SetRegister puts r in effect for every notice judged from now on.
func (f *Effects) SetRegister(r RegisterInEffect) { f.register.Store(&r) }

// OutcomeInquiry is the ledger outcome of a mail that asks rather than submits
// (reply.Inquiry): acknowledged, and listed for the clerks in the digest's 問い合わせ.
const OutcomeInquiry = "inquiry"

// Reasons a decision mail was refused or not answered, as the ledger and the digest name them.
const (
	whyNotClerk          = "not_a_clerk"
	whyDecisionNotAuthed = "decision_not_authenticated"
	whyDecisionsOff      = "decisions_by_mail_off"
	whyDecisionRefused   = "decision_refused"
)

var (
	errDecisionNotAuthenticated = errors.New("decision mail not authenticated")
	errDecisionsByMailOff       = errors.New("decisions by mail are switched off")
)

// Record implements Recorder.
func (f *Effects) Record(tx *bolt.Tx, e *ledger.Entry, c *Contents) error {
	err := f.record(tx, e, c)
	e.NoReplyWhy = c.NoReplyWhy
	return err
}

func (f *Effects) record(tx *bolt.Tx, e *ledger.Entry, c *Contents) error {
	if c.NoReply() {
		// Auto-replies, bounces and list mail are recorded, never answered; a bounce of one
		// of our replies marks that reply undeliverable, for the digest.
		if c.Bounce != nil && f.Replying != nil {
			m, ok, err := f.Replying.Outbox.MatchBounce(tx, c.Bounce, c.Received)
			if err != nil {
				return fmt.Errorf("matching a bounce: %w", err)
			}
			if ok {
				f.Log.Warn("a reply could not be delivered", "entry", e.ID, "reply", m.MessageID, "to", m.To)
			}
		}
		return nil
	}
	auth := reply.Authenticate(c.Message, f.Auth)
	if c.DecisionMail {
		return f.decision(tx, e, c, auth)
	}
	// Whether the sender may be answered, decided once: the queue marks the items of a
	// sender who may not, and the ledger says why there is no reply.
	answerable, noReplyWhy := f.Replying != nil, ""
	if answerable {
		answerable, noReplyWhy = reply.Should(c.Message, auth, f.Replying.Policy)
	}
	if f.PPAP != nil {
		if done, err := f.PPAP.record(tx, e, c, answerable); done || err != nil {
			return err
		}
	}
	for i := range c.Notices {
		n := &c.Notices[i]
		d := Judge(f.Policy, n, verifier.Context{Received: c.Received, Texts: c.Message.Texts, Register: f.Register()})
		filed, err := f.Queue.Submit(tx, *n, d, verifier.Meta{Entry: e.ID, Sender: c.Message.From, Unanswerable: !answerable,
			MessageID: c.Message.MessageID, Received: c.Received})
		if err != nil {
			return fmt.Errorf("filing notice %s: %w", n.ContractNumber, err)
		}
		c.Filed = append(c.Filed, filed)
	}
	if len(c.Notices) == 0 && !answersUs(c.Message.InReplyTo, c.Message.References, f.Auth.AgencyAddress) && reply.Inquiry(c.Message, c.Problems) {
		// A question, not a failed submission: the digest lists it for the clerks, and it
		// is forwarded at once when configured (only a sender who may be answered: a
		// stranger's spam waits for the digest).
		e.Outcome = OutcomeInquiry
		if answerable {
			if err := f.forward(tx, e, c); err != nil {
				return err
			}
		}
	}
	if f.Replying != nil && !answerable {
		c.NoReplyWhy = noReplyWhy
		return nil
	}
	return f.answer(tx, e, c)
}

// decision applies a clerk's decision mail, or refuses it. The log names the item and why,
// never the subject (it holds the token) nor the body.
func (f *Effects) decision(tx *bolt.Tx, e *ledger.Entry, c *Contents, auth reply.Auth) error {
	action, _, id, _, _ := verifier.DecisionMail(c.Message.Subject)
	tracking := verifier.Submission{ID: id}.TrackingNumber()
	var refused error
	switch {
	case !f.DecideByMail:
		refused = errDecisionsByMailOff
	case auth.Checked && !auth.Clerk():
		// The agency's server can tell, and did not vouch for this From: a forgery, or a
		// clerk's mail sent from outside. The token alone is not enough where more is possible.
		refused = errDecisionNotAuthenticated
	}
	if refused == nil {
		s, _, err := f.Queue.ApplyDecisionMail(tx, c.Message.From, f.Clerks, c.Message.Subject, firstText(c), c.Received, time.Now())
		switch {
		case err == nil:
			f.Log.Info("clerk decision applied", "entry", e.ID, "item", s.TrackingNumber(), "action", action, "by", c.Message.From, "auth", auth.Method)
			if err := f.decided(tx, s, action); err != nil {
				return err
			}
			return f.confirm(tx, e, c, &s, tracking, nil)
		case errors.Is(err, verifier.ErrNotClerk), errors.Is(err, verifier.ErrBadToken), errors.Is(err, verifier.ErrTokenExpired),
			errors.Is(err, verifier.ErrAlreadyDecided), errors.Is(err, verifier.ErrNotFound):
			refused = err // refused, not failed: the message is recorded, nothing changes
		default:
			return fmt.Errorf("applying decision mail: %w", err)
		}
	}
	f.Log.Warn("decision mail refused", "entry", e.ID, "item", tracking, "action", action, "from", c.Message.From,
		"auth", auth.Method, "why", refusalCode(refused))
	// A refusal is told only to a clerk the agency's server authenticated: anyone else (a
	// forger, or every sender where nothing can authenticate) would make the agency mail
	// whoever they name. The digest lists the refusal for the clerks.
	switch {
	case !verifier.IsClerk(c.Message.From, f.Clerks):
		c.NoReplyWhy = whyNotClerk
		return nil
	case errors.Is(refused, errDecisionNotAuthenticated):
		c.NoReplyWhy = whyDecisionNotAuthed
		return nil
	case !auth.Clerk():
		c.NoReplyWhy = whyDecisionRefused
		if errors.Is(refused, errDecisionsByMailOff) {
			c.NoReplyWhy = whyDecisionsOff
		}
		return nil
	}
	return f.confirm(tx, e, c, nil, tracking, refused)
}

// confirm answers a clerk's decision mail: what was recorded, or why not (refused), within
// the reply rate limits. It never quotes the clerk's subject or body back.
func (f *Effects) confirm(tx *bolt.Tx, e *ledger.Entry, c *Contents, s *verifier.Submission, tracking string, refused error) error {
	r := f.Replying
	if r == nil {
		return nil
	}
	if ok, err := f.admit(tx, e, c); !ok || err != nil {
		return err
	}
	in := reply.ConfirmationInput{Received: c.Message, AgencyName: r.Agency, AgencyAddress: r.Policy.AgencyAddress, Signature: r.Signature}
	if s != nil {
		outcome := reply.OutcomeVerified
		if s.State == verifier.StateRejected {
			outcome = reply.OutcomeRejectedByClerk
		}
		it := ReplyItem(f.Policy, s.Notice, s.TrackingNumber(), outcome, nil, nil, s.Decision.Kind)
		if ch, ok := s.Decided(); ok {
			it.ClerkReason = ch.Why
		}
		in.Items = []reply.Item{it}
	} else {
		in.Refused = []reply.Refusal{{Line: "受付番号 " + tracking, Why: refusalText(refused)}}
	}
	rep, err := r.Composer.Confirmation(in)
	if err != nil {
		return fmt.Errorf("composing the clerk's confirmation: %w", err)
	}
	return r.enqueue(tx, "confirmation", rep, e.ID)
}

// refusalCode names a refusal for the log.
func refusalCode(err error) string {
	switch {
	case errors.Is(err, verifier.ErrNotClerk):
		return whyNotClerk
	case errors.Is(err, errDecisionNotAuthenticated):
		return whyDecisionNotAuthed
	case errors.Is(err, errDecisionsByMailOff):
		return whyDecisionsOff
	case errors.Is(err, verifier.ErrBadToken):
		return "bad_token"
	case errors.Is(err, verifier.ErrTokenExpired):
		return "expired_token"
	case errors.Is(err, verifier.ErrAlreadyDecided):
		return "already_decided"
	case errors.Is(err, verifier.ErrNotFound):
		return "no_such_item"
	}
	return "refused"
}

func refusalText(err error) string {
	switch {
	case errors.Is(err, verifier.ErrBadToken):
		return "リンクの確認コードが一致しません。ご自身宛ての最新のダイジェストのリンクからお送りください。"
	case errors.Is(err, verifier.ErrTokenExpired):
		return "リンクの有効期限が切れています。最新のダイジェストのリンクからお送りください。"
	case errors.Is(err, verifier.ErrAlreadyDecided):
		return "この受付は既に処理済みです。"
	case errors.Is(err, verifier.ErrNotFound):
		return "該当する受付が見つかりません。"
	case errors.Is(err, errDecisionsByMailOff):
		return "メールでの確認結果の記録は停止されています。hosho-intake queue コマンドで記録してください。"
	}
	return "記録できませんでした。"
}

func firstText(c *Contents) string {
	if len(c.Message.Texts) == 0 {
		return ""
	}
	return c.Message.Texts[0]
}
