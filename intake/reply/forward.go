package reply

import (
	"errors"
	"fmt"
	"time"

	"hosho-intake/intake/inbound"
)

// ForwardInput is an inquiry to pass on at once to the agency's own address.
type ForwardInput struct {
	Received *inbound.Message // the inquiry, as read
	Raw      []byte           // the inquiry as received, attached whole
	To       string           // the configured internal address ([digest] inquiries_to)
	Tracking string           // the inquiry's 受付番号 (M-000123)
	// ReceivedAt is when the agency's mailbox received it (INTERNALDATE).
	ReceivedAt time.Time

	AgencyName, AgencyAddress string
	Now                       time.Time
	MessageIDDomain           string
}

// Forward renders the mail that passes an inquiry to the clerks at once: from the agency
// address to in.To only, a short note, and the original attached as message/rfc822, so that a
// clerk answers the sender from their own mail client. It is Auto-Submitted: auto-generated
// (RFC 3834 §5), so no responder answers it.
func (c *Composer) Forward(in ForwardInput) (Reply, error) {
	if in.Received == nil || len(in.Raw) == 0 {
		return Reply{}, errors.New("composing forward: no inquiry")
	}
	env, err := newEnvelope(in.AgencyName, in.AgencyAddress, in.MessageIDDomain, in.Now, in.To, "")
	if err != nil {
		return Reply{}, fmt.Errorf("composing forward to %q: %w", in.To, err)
	}
	msg := in.Received
	lv := forwardView{AgencyName: env.agencyName, Tracking: cleanLine(in.Tracking, 40), From: cleanLine(msg.From, 254),
		FromName: cleanLine(msg.FromName, 100), Subject: cleanLine(msg.Subject, maxSubject)}
	if !in.ReceivedAt.IsZero() {
		lv.ReceivedAt = japaneseTime(in.ReceivedAt.In(tokyo()))
	}
	text, err := c.render("forward", lv)
	if err != nil {
		return Reply{}, fmt.Errorf("composing forward to %s: %w", env.to, err)
	}
	// The subject is the agency's words around the sender's, which plainLine rids of links.
	env.subject = "【問い合わせ】" + plainLine(msg.Subject, 80)
	if lv.Tracking != "" {
		env.subject += "（受付番号 " + lv.Tracking + "）"
	}
	env.attach, env.autoSubmitted = in.Raw, "auto-generated"
	return c.finish(env, text, nil)
}

// forwardView is what the forward template sees.
type forwardView struct {
	AgencyName, Tracking, From, FromName, Subject, ReceivedAt string
}
