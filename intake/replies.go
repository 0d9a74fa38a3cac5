package intake

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/ledger"
	"hosho-intake/intake/outbox"
	"hosho-intake/intake/reply"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// Replying is how Effects answers: the composer, the loop protection and rate limit, and
// the outbox the replies are written to in the message's own transaction.
type Replying struct {
	Composer  *reply.Composer
	Policy    reply.Policy
	Limiter   *reply.Limiter
	Outbox    *outbox.Outbox
	Agency    string // the agency's name as replies sign it
	Signature string
	// InquiriesTo gets each inquiry at once, the original attached; "": none.
	InquiriesTo string
}

func addressOf(a *mail.Address) string {
	if a == nil {
		return ""
	}
	return a.Address
}

// forward passes an inquiry at once to the agency's configured address, in the
// transaction that records it, so it is sent once.
func (f *Effects) forward(tx *bolt.Tx, e *ledger.Entry, c *Contents) error {
	r := f.Replying
	if r == nil || r.InquiriesTo == "" || len(c.Raw) == 0 {
		return nil
	}
	fw, err := r.Composer.Forward(reply.ForwardInput{Received: c.Message, Raw: c.Raw, To: r.InquiriesTo, Tracking: inquiryTracking(e.ID),
		ReceivedAt: c.Received, AgencyName: r.Agency, AgencyAddress: r.Policy.AgencyAddress})
	if err != nil {
		return fmt.Errorf("composing the forward of an inquiry: %w", err)
	}
	return r.enqueue(tx, "forward", fw, e.ID)
}

// inquiryTracking is the 受付番号 of a message that filed no notice: M-000123.
func inquiryTracking(entry uint64) string { return fmt.Sprintf("M-%06d", entry) }

// ReplyItem is what a reply says of one notice, from the verifier's judgement.
func ReplyItem(p verifier.Policy, n parser.Notice, tracking, outcome string, reasons, missing []string, kind string) reply.Item {
	it := reply.Item{Notice: n, Tracking: tracking, Outcome: outcome, Reasons: reasons, Missing: missing}
	if kind == verifier.KindServices {
		it.Accepted = p.Services
	} else {
		it.Accepted = p.Works
	}
	if !p.StartDate.IsZero() {
		it.StartDate = fmt.Sprintf("%d年%d月%d日", p.StartDate.Year, p.StartDate.Month, p.StartDate.Day)
		it.StartDateLabel = p.DateBasis
	}
	return it
}

// answer writes the reply to a contractor's message whose sender may be answered
// (reply.Should, decided in record), or records why there is none.
func (f *Effects) answer(tx *bolt.Tx, e *ledger.Entry, c *Contents) error {
	r := f.Replying
	if r == nil {
		return nil
	}
	if len(c.Filed) == 0 && onlyNoNotice(c.Problems) && answersUs(c.Message.InReplyTo, c.Message.References, r.Policy.AgencyAddress) {
		// 「ありがとうございました」 to one of our replies: a person wrote it, a person should
		// read it (the digest lists it); answering "no notice found" would be rude and could
		// go back and forth.
		c.NoReplyWhy = "answer_to_our_reply"
		return nil
	}
	if ok, err := f.admit(tx, e, c); !ok || err != nil {
		return err
	}
	in := reply.Input{Received: c.Message, Problems: c.Problems, AgencyName: r.Agency, AgencyAddress: r.Policy.AgencyAddress,
		Signature: r.Signature, Tracking: inquiryTracking(e.ID)}
	in.Items = f.replyItems(c.Filed)
	rep, err := r.Composer.Compose(in)
	if err != nil {
		return fmt.Errorf("composing the reply: %w", err)
	}
	return r.enqueue(tx, "reply", rep, e.ID)
}

// replyItems are what a reply says of the notices a message filed.
func (f *Effects) replyItems(filed []verifier.Filed) []reply.Item {
	var items []reply.Item
	for _, fl := range filed {
		s := fl.Submission
		it := ReplyItem(f.Policy, s.Notice, s.TrackingNumber(), fl.Outcome, fl.Reasons, s.Decision.Missing, s.Decision.Kind)
		if fl.Outcome == verifier.OutcomeDuplicate {
			it.CurrentState = s.State
		}
		items = append(items, it)
	}
	return items
}

// admit counts one more mail to the message's sender against the reply rate limits, or
// records why it is not sent.
func (f *Effects) admit(tx *bolt.Tx, e *ledger.Entry, c *Contents) (bool, error) {
	why, err := f.Replying.Limiter.Allow(tx, c.Message.From, time.Now())
	if err != nil || why == "" {
		return err == nil, err
	}
	c.NoReplyWhy = why
	f.Log.Warn("not answered: reply rate limit", "entry", e.ID, "to", c.Message.From, "why", why)
	return false, nil
}

func (r *Replying) enqueue(tx *bolt.Tx, kind string, rep reply.Reply, ref uint64) error {
	_, err := r.Outbox.Enqueue(tx, outbox.Message{Kind: kind, From: rep.From, To: []string{rep.To},
		MessageID: rep.MessageID, Raw: rep.Raw, Ref: ref})
	if err != nil {
		return fmt.Errorf("queueing the %s: %w", kind, err)
	}
	return nil
}

// decided tells the contractor the clerk's decision on their notice, unless the sender was
// one that must not be answered (an unauthenticated From may be a stranger's address).
func (f *Effects) decided(tx *bolt.Tx, s verifier.Submission, action string) error {
	r := f.Replying
	if r == nil || s.Unanswerable {
		return nil
	}
	outcome := reply.OutcomeVerified
	it := ReplyItem(f.Policy, s.Notice, s.TrackingNumber(), outcome, nil, nil, s.Decision.Kind)
	if action == verifier.ActionReject {
		it.Outcome = reply.OutcomeRejectedByClerk
		if ch, ok := s.Decided(); ok {
			it.ClerkReason = ch.Why
		}
	}
	rep, err := r.Composer.Outcome(reply.OutcomeInput{To: s.Sender, InReplyTo: s.MessageID, Items: []reply.Item{it},
		AgencyName: r.Agency, AgencyAddress: r.Policy.AgencyAddress, Signature: r.Signature})
	if err != nil {
		return fmt.Errorf("composing the outcome for %s: %w", s.TrackingNumber(), err)
	}
	return r.enqueue(tx, "outcome", rep, s.ID)
}

func onlyNoNotice(ps []parser.Problem) bool {
	return len(ps) == 1 && ps[0].Code == parser.CodeNoNotice
}

// answersUs reports whether a message replies to one of ours: our Message-IDs end in the
// agency's domain.
func answersUs(inReplyTo string, references []string, agencyAddress string) bool {
	domain := agencyAddress[strings.LastIndexByte(agencyAddress, '@')+1:]
	if domain == "" {
		return false
	}
	suffix := "@" + strings.ToLower(domain) + ">"
	for _, id := range append([]string{inReplyTo}, references...) {
		if strings.HasSuffix(strings.ToLower(strings.TrimSpace(id)), suffix) {
			return true
		}
	}
	return false
}
