package intake

import (
	"errors"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/ledger"
	"hosho-intake/intake/reply"
	"hosho-intake/verifier"
)

// Effects records what a message causes, inside the transaction that records the message:
// each notice judged by the agency's policy and filed in the verification queue, or a
// clerk's decision (a reply to a digest link) applied.
type Effects struct {
	Queue    *verifier.Queue
	Policy   verifier.Policy
	Register *verifier.Register // nil: no contract register imported
	Clerks   []string           // addresses allowed to decide by mail
	Replying *Replying          // nil: nobody is answered (parse-only tools)
	Log      *slog.Logger
}

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
	if c.DecisionMail {
		s, action, err := f.Queue.ApplyDecisionMail(tx, c.Message.From, f.Clerks, c.Message.Subject, firstText(c), c.Received)
		if err != nil {
			if errors.Is(err, verifier.ErrNotClerk) || errors.Is(err, verifier.ErrBadToken) ||
				errors.Is(err, verifier.ErrAlreadyDecided) || errors.Is(err, verifier.ErrNotFound) {
				// Refused, not failed: the message is recorded, nothing changes.
				f.Log.Warn("decision mail refused", "entry", e.ID, "from", c.Message.From, "subject", c.Message.Subject, "why", err)
				return f.confirm(tx, e, c, nil, err)
			}
			return fmt.Errorf("applying decision mail: %w", err)
		}
		f.Log.Info("clerk decision applied", "entry", e.ID, "item", s.TrackingNumber(), "action", action, "by", c.Message.From)
		if err := f.decided(tx, s, action); err != nil {
			return err
		}
		return f.confirm(tx, e, c, &s, nil)
	}
	for _, n := range c.Notices {
		d := f.Policy.Judge(n, verifier.Context{Received: c.Received, Texts: c.Message.Texts, Register: f.Register})
		filed, err := f.Queue.Submit(tx, n, d, verifier.Meta{Entry: e.ID, Sender: c.Message.From,
			MessageID: c.Message.MessageID, Received: c.Received})
		if err != nil {
			return fmt.Errorf("filing notice %s: %w", n.ContractNumber, err)
		}
		c.Filed = append(c.Filed, filed)
	}
	return f.answer(tx, e, c)
}

// confirm answers a clerk's decision mail: what was recorded, or why not. Only a clerk is
// answered; anyone else who sends such a subject is refused in the log alone.
func (f *Effects) confirm(tx *bolt.Tx, e *ledger.Entry, c *Contents, s *verifier.Submission, refused error) error {
	r := f.Replying
	if r == nil || errors.Is(refused, verifier.ErrNotClerk) {
		c.NoReplyWhy = "not_a_clerk"
		return nil
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
		in.Refused = []reply.Refusal{{Line: c.Message.Subject, Why: refusalText(refused)}}
	}
	rep, err := r.Composer.Confirmation(in)
	if err != nil {
		return fmt.Errorf("composing the clerk's confirmation: %w", err)
	}
	return r.enqueue(tx, "confirmation", rep, e.ID)
}

func refusalText(err error) string {
	switch {
	case errors.Is(err, verifier.ErrBadToken):
		return "リンクの確認コードが一致しません。ダイジェストのリンクからお送りください。"
	case errors.Is(err, verifier.ErrAlreadyDecided):
		return "この受付は既に処理済みです。"
	case errors.Is(err, verifier.ErrNotFound):
		return "該当する受付が見つかりません。"
	}
	return err.Error()
}

func firstText(c *Contents) string {
	if len(c.Message.Texts) == 0 {
		return ""
	}
	return c.Message.Texts[0]
}
