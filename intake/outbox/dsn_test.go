package outbox

import (
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// postfixDSN is a bounce as Postfix writes it (RFC 3464 multipart/report), with the returned
// headers as text/rfc822-headers, for a message whose Message-ID is id.
func postfixDSN(id, action, status, diag string) string {
	return "Return-Path: <>\r\n" +
		"From: MAILER-DAEMON@mail.contractor.example.jp (Mail Delivery System)\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"To: info@agency.example.jp\r\n" +
		"Auto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status;\r\n" +
		"\tboundary=\"4C1A2B3C4D.1717290000/mail.contractor.example.jp\"\r\n" +
		"Message-Id: <20250602090100.4C1A2B3C4D@mail.contractor.example.jp>\r\n" +
		"\r\n" +
		"This is a MIME-encapsulated message.\r\n" +
		"\r\n" +
		"--4C1A2B3C4D.1717290000/mail.contractor.example.jp\r\n" +
		"Content-Description: Notification\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n" +
		"\r\n" +
		"This is the mail system at host mail.contractor.example.jp.\r\n" +
		"\r\n" +
		"I'm sorry to have to inform you that your message could not\r\n" +
		"be delivered to one or more recipients.\r\n" +
		"\r\n" +
		"<nobody@contractor.example.jp>: host mx.contractor.example.jp said: " + diag + "\r\n" +
		"\r\n" +
		"--4C1A2B3C4D.1717290000/mail.contractor.example.jp\r\n" +
		"Content-Description: Delivery report\r\n" +
		"Content-Type: message/delivery-status\r\n" +
		"\r\n" +
		"Reporting-MTA: dns; mail.contractor.example.jp\r\n" +
		"X-Postfix-Queue-ID: 4C1A2B3C4D\r\n" +
		"X-Postfix-Sender: rfc822; info@agency.example.jp\r\n" +
		"Arrival-Date: Mon,  2 Jun 2025 18:00:59 +0900 (JST)\r\n" +
		"\r\n" +
		"Final-Recipient: rfc822; nobody@contractor.example.jp\r\n" +
		"Original-Recipient: rfc822;nobody@contractor.example.jp\r\n" +
		"Action: " + action + "\r\n" +
		"Status: " + status + "\r\n" +
		"Remote-MTA: dns; mx.contractor.example.jp\r\n" +
		"Diagnostic-Code: smtp; " + diag + "\r\n" +
		"\r\n" +
		"--4C1A2B3C4D.1717290000/mail.contractor.example.jp\r\n" +
		"Content-Description: Undelivered Message Headers\r\n" +
		"Content-Type: text/rfc822-headers\r\n" +
		"\r\n" +
		"Return-Path: <info@agency.example.jp>\r\n" +
		"Received: from intake.agency.example.jp (intake.agency.example.jp [192.0.2.10])\r\n" +
		"\tby mail.contractor.example.jp (Postfix) with ESMTPS id 4C1A2B3C4D\r\n" +
		"\tfor <nobody@contractor.example.jp>; Mon,  2 Jun 2025 18:00:59 +0900 (JST)\r\n" +
		"From: info@agency.example.jp\r\n" +
		"To: nobody@contractor.example.jp\r\n" +
		"Subject: =?ISO-2022-JP?B?UmU6IBskQkVFO1I+Wj1xGyhC?=\r\n" +
		"Message-ID:\r\n <" + id + ">\r\n" +
		"Auto-Submitted: auto-replied\r\n" +
		"\r\n" +
		"--4C1A2B3C4D.1717290000/mail.contractor.example.jp--\r\n"
}

func TestMatchBounce(t *testing.T) {
	p := newPeer(t, peerOptions{})
	f := newFixture(t, p, nil)
	m := reply(t, 7, "nobody@contractor.example.jp")
	ids := f.enqueue(m, reply(t, 8, "other@contractor.example.jp"))
	f.sendDue(t0)
	msgID := trimID(header(t, m.Raw).Get("Message-Id"))
	at := t0.Add(time.Hour)

	match := func(dsn string) (Message, bool) {
		t.Helper()
		var got Message
		var ok bool
		err := f.db.Update(func(tx *bolt.Tx) (err error) {
			got, ok, err = f.ob.MatchBounce(tx, []byte(dsn), at)
			return err
		})
		if err != nil {
			t.Fatalf("MatchBounce: %v", err)
		}
		return got, ok
	}

	// A delay notice is ours (so nobody answers it) but changes nothing.
	if got, ok := match(postfixDSN(msgID, "delayed", "4.4.1", "451 4.4.1 try later")); !ok || got.ID != ids[0] {
		t.Errorf("MatchBounce(delayed) = %d, %v; want message %d matched", got.ID, ok, ids[0])
	}
	if fs := f.failed(t0); len(fs) != 0 {
		t.Errorf("a delay notice made the message fail: %+v", fs)
	}

	// A DSN about a message that is not ours.
	if _, ok := match(postfixDSN("someone-else@example.com", "failed", "5.1.1", "550 5.1.1 unknown")); ok {
		t.Error("MatchBounce matched a DSN about a message that is not in the outbox")
	}

	diag := "550 5.1.1 <nobody@contractor.example.jp>: Recipient address rejected: User unknown in local recipient table"
	got, ok := match(postfixDSN(msgID, "failed", "5.1.1", diag))
	if !ok || got.ID != ids[0] || got.MessageID != msgID || got.Kind != "reply" || got.Ref != 7 {
		t.Fatalf("MatchBounce = %+v, %v; want message %d", got, ok, ids[0])
	}
	fs := f.failed(t0)
	if len(fs) != 1 {
		t.Fatalf("Failed = %+v, want the bounced reply", fs)
	}
	if fs[0].ID != ids[0] || !fs[0].Bounced || !fs[0].At.Equal(at) || fs[0].Subject != replySubject ||
		!strings.Contains(fs[0].Reason, diag) || fs[0].To[0] != "nobody@contractor.example.jp" {
		t.Errorf("Failed()[0] = %+v", fs[0])
	}
	if s := f.stats(); s.Sent != 1 || s.Failed != 1 || s.Bounced != 1 {
		t.Errorf("Stats = %+v, want 1 sent, 1 failed (bounced)", s)
	}
	// A second copy of the same DSN is matched again and changes nothing.
	if _, ok := match(postfixDSN(msgID, "failed", "5.1.1", diag)); !ok {
		t.Error("second MatchBounce did not match")
	}
	if s := f.stats(); s.Failed != 1 || s.Bounced != 1 {
		t.Errorf("Stats after a repeated DSN = %+v", s)
	}
}

func TestParseDSNEnvelopeID(t *testing.T) {
	// An MTA that returns no headers at all (RET=HDRS ignored), only the ENVID.
	dsn := "From: MAILER-DAEMON@example.com\r\nMessage-ID: <own@example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Original-Envelope-Id: reply-1+2B2@agency.example.jp\r\nReporting-MTA: dns; example.com\r\n\r\n" +
		"Final-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.0.0\r\n\r\n--b--\r\n"
	d := parseDSN([]byte(dsn))
	if len(d.messageIDs) == 0 || d.messageIDs[0] != "reply-1+2@agency.example.jp" {
		t.Errorf("parseDSN message IDs = %q, want the decoded ENVID first, not the DSN's own", d.messageIDs)
	}
	if len(d.failed) != 1 || d.failed[0].Rcpt != "x@example.com" || !strings.Contains(d.failed[0].Reason, "5.0.0") {
		t.Errorf("parseDSN failed = %+v", d.failed)
	}
}

func FuzzParseDSN(f *testing.F) {
	f.Add([]byte(postfixDSN("a@b", "failed", "5.1.1", "550 no")))
	f.Add([]byte("Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <a@b>\r\n\r\n--x--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = parseDSN(raw)
	})
}

// TestParseDSNQuotedIDs: Message-ID lines quoted in a text part are candidates, the DSN's own
// and over-long ones not.
func TestParseDSNQuotedIDs(t *testing.T) {
	long := strings.Repeat("x", maxQuotedID-len("@a.example")+1) + "@a.example"
	dsn := "From: MAILER-DAEMON@example.com\r\nMessage-ID: <own@example.com>\r\nContent-Type: text/plain\r\n\r\n" +
		"Your message could not be delivered.\r\n\r\nMessage-ID: <" + long + ">\r\n" +
		"message-id:\r\n <reply-7@agency.example.jp>\r\n"
	d := parseDSN([]byte(dsn))
	if want := []string{"reply-7@agency.example.jp"}; !slices.Equal(d.messageIDs, want) {
		t.Errorf("parseDSN message IDs = %.60q, want %q", d.messageIDs, want)
	}
}
