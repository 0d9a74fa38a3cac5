package outbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message"
	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier/store"
)

// dsn is what MatchBounce reads from a delivery status notification (RFC 3464).
type dsn struct {
	// messageIDs are candidate Message-IDs of the returned message, best first.
	messageIDs []string
	// failed are the recipients with Action: failed, and why.
	failed []refusal
	// report: a message/delivery-status part was found; without one, a message that
	// quotes our Message-ID is taken as a failure notice of some older kind.
	report bool
	// otherActions: recipients with delayed, delivered, relayed or expanded actions.
	otherActions bool
}

// partLimit bounds what is read of one part: a DSN's report and headers are small, and a
// returned message is only looked at for its header.
const partLimit = 1 << 20

// messageIDLine finds a quoted Message-ID line. Its length is checked after the match
// (maxQuotedID): a bounded repetition {1,900} compiles to 900 copies of the class, 2.6 ms
// and 450 KB at every process start, the PDF workers' too.
var messageIDLine = regexp.MustCompile(`(?im)^message-id:[ \t]*(?:\r?\n[ \t]+)?<([^>\s]+)>`)

// maxQuotedID is the longest quoted Message-ID taken: longer is not a real one.
const maxQuotedID = 900

// parseDSN reads a received DSN. It does not fail on a malformed message: what it could
// read is returned, and the caller decides whether that is enough.
func parseDSN(raw []byte) dsn {
	var d dsn
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && e == nil {
		return d
	}
	own := trimID(e.Header.Get("Message-Id"))
	_ = e.Walk(func(_ []int, part *message.Entity, err error) error {
		if part == nil {
			return nil
		}
		mt, _, _ := part.Header.ContentType()
		switch mt {
		case "message/delivery-status", "message/global-delivery-status":
			d.report = true
			d.readStatus(io.LimitReader(part.Body, partLimit))
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			h, _ := textproto.NewReader(bufio.NewReader(io.LimitReader(part.Body, partLimit))).ReadMIMEHeader()
			if id := trimID(h.Get("Message-Id")); id != "" {
				d.messageIDs = append([]string{id}, d.messageIDs...)
			}
		}
		return nil
	})
	// Some MTAs (and some forwarding gateways) quote the returned header in a text part
	// instead: any Message-ID line that is not the DSN's own is a candidate, after the
	// structured ones.
	for _, m := range messageIDLine.FindAllSubmatch(raw, 20) {
		if id := string(m[1]); id != own && len(id) <= maxQuotedID {
			d.messageIDs = append(d.messageIDs, id)
		}
	}
	return d
}

// readStatus reads the per-message fields and the per-recipient groups of a
// message/delivery-status body (RFC 3464 section 2.1: header-like groups separated by
// blank lines).
func (d *dsn) readStatus(r io.Reader) {
	tr := textproto.NewReader(bufio.NewReader(r))
	for group := 0; group < 1000; group++ {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			if envid := strings.TrimSpace(h.Get("Original-Envelope-Id")); envid != "" {
				// RFC 3461 section 4.4: the ENVID we sent, xtext-decoded by the MTA or not.
				d.messageIDs = append(d.messageIDs, trimID(xtextDecode(envid)))
			}
			if rcpt := h.Get("Final-Recipient"); rcpt != "" {
				d.recipient(h)
			}
		}
		if err != nil {
			return
		}
	}
}

func (d *dsn) recipient(h textproto.MIMEHeader) {
	action := strings.ToLower(strings.TrimSpace(h.Get("Action")))
	if action != "failed" {
		d.otherActions = true
		return
	}
	// Final-Recipient: rfc822; user@example.jp (RFC 3464 section 2.3.2).
	rcpt := h.Get("Final-Recipient")
	if _, addr, ok := strings.Cut(rcpt, ";"); ok {
		rcpt = addr
	}
	rcpt = strings.Trim(strings.TrimSpace(rcpt), "<>")
	reason := strings.Join(strings.Fields(h.Get("Diagnostic-Code")), " ")
	if status := strings.TrimSpace(h.Get("Status")); status != "" {
		if reason == "" {
			reason = "status " + status
		} else if !strings.Contains(reason, status) {
			reason = status + " " + reason
		}
	}
	if reason == "" {
		reason = "failed (no status given)"
	}
	d.failed = append(d.failed, refusal{Rcpt: rcpt, Reason: "bounced: " + reason})
}

func xtextDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '+' && i+2 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+3], "%02X", &c); err == nil {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MatchBounce finds the sent message a received DSN is about, by the Message-ID in the
// returned headers (or the ENVID), and, when the DSN reports a failed recipient (or is no
// RFC 3464 report at all, just a message quoting ours), marks it failed at "at" with the
// DSN's Diagnostic-Code or Status, so that Failed lists it. ok is false when the DSN
// concerns no message of the outbox. A DSN that only reports a delay or a relay is matched
// (ok, so the caller knows not to answer it) but changes nothing.
//
// A DSN can be forged by anyone who knows a Message-ID; the worst it can do is list a reply
// as undeliverable in the digest, which a clerk can check.
func (o *Outbox) MatchBounce(tx *bolt.Tx, raw []byte, at time.Time) (Message, bool, error) {
	d := parseDSN(raw)
	var r *record
	for _, id := range d.messageIDs {
		var err error
		if r, err = o.byMessageID(tx, id); err != nil {
			return Message{}, false, err
		}
		if r != nil {
			break
		}
	}
	if r == nil {
		return Message{}, false, nil
	}
	m := r.message(nil)
	if r.State == StateFailed || (d.report && len(d.failed) == 0) {
		return m, true, nil
	}
	if !tx.Writable() {
		return Message{}, false, fmt.Errorf("matching bounce of %s: read-only transaction", r.MessageID)
	}
	failed := d.failed
	if len(failed) == 0 {
		failed = []refusal{{Rcpt: strings.Join(r.To, ", "), Reason: "bounced: a failure notice without a delivery report"}}
	}
	var reasons []string
	for _, f := range failed {
		reasons = append(reasons, f.Reason)
	}
	r.Refused = append(r.Refused, failed...)
	r.Reason = strings.Join(reasons, "; ")
	r.Bounced = true
	err := errors.Join(count(tx, r.State, -1), count(tx, StateFailed, 1), count(tx, "bounced", 1))
	switch r.State {
	case StatePending:
		err = errors.Join(err, tx.Bucket(dueBucket).Delete(store.TimeIDKey(r.NextAttempt, r.ID)),
			tx.Bucket(rawBucket).Delete(store.BE64(r.ID)))
	case StateSent:
		err = errors.Join(err, tx.Bucket(finishedBucket).Delete(store.TimeIDKey(r.Finished, r.ID)))
	}
	r.State, r.Finished, r.NextAttempt = StateFailed, at, time.Time{}
	err = errors.Join(err, tx.Bucket(finishedBucket).Put(store.TimeIDKey(at, r.ID), nil), putRecord(tx, r))
	if err != nil {
		return Message{}, false, fmt.Errorf("matching bounce of %s: %w", r.MessageID, err)
	}
	return m, true, nil
}

// byMessageID is the newest record with Message-ID id, nil if none.
func (o *Outbox) byMessageID(tx *bolt.Tx, id string) (*record, error) {
	prefix := msgIDKey(id, 0)
	prefix = prefix[:len(prefix)-8]
	c := tx.Bucket(msgIDBucket).Cursor()
	var last []byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
		last = k
	}
	if last == nil {
		return nil, nil
	}
	return getRecord(tx, store.U64(last[len(prefix):]))
}
