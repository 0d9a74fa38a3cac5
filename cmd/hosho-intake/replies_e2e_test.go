package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/intake/samplemail"
)

var wordDecoder = mime.WordDecoder{}

func header(m *mail.Message, k string) string {
	v, err := wordDecoder.DecodeHeader(m.Header.Get(k))
	if err != nil {
		return m.Header.Get(k)
	}
	return v
}

// bodyText returns the decoded text of a message: its first text/plain part, UTF-8, also
// inside a nested multipart (a digest with page images is multipart/mixed around
// multipart/alternative).
func bodyText(t *testing.T, m *mail.Message) string {
	t.Helper()
	return partText(t, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
}

func partText(t *testing.T, ctype, cte string, body io.Reader) string {
	t.Helper()
	ct, params, _ := mime.ParseMediaType(ctype)
	if strings.HasPrefix(ct, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			if text := partText(t, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); text != "" {
				return text
			}
		}
	}
	if ct != "text/plain" {
		return ""
	}
	return decodePart(t, cte, body)
}

func decodePart(t *testing.T, cte string, r io.Reader) string {
	t.Helper()
	switch strings.ToLower(cte) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dsn is a Postfix-style bounce of a message we never sent: never to be answered.
func dsn() []byte {
	return []byte("Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example (Mail Delivery System)\r\nTo: denshi-shosho@pref.shimane.example\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\nDate: Mon, 15 Jun 2026 10:00:00 +0900\r\nMessage-ID: <bounce.1@mx.example>\r\n" +
		"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n保証契約番号：2070009999\r\n認証キー：ABCDEFGH99\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; nobody@example.jp\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--b--\r\n")
}

// TestRepliesDigestAndDecision runs the whole loop through Dovecot and an SMTP peer: a
// batch of contractor mail (with auto-replies, a bounce and a newsletter among it) is
// answered once, the robots never; the clerks' digest goes out with decision links; a
// clerk's reply to a link verifies an item; the contractor is told and the clerk confirmed.
func TestRepliesDigestAndDecision(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	set, err := samplemail.Set(11)
	if err != nil {
		t.Fatal(err)
	}
	answered := map[string]string{} // sender -> original subject
	robots := map[string]bool{"mailer-daemon@mx.example": true}
	var raws [][]byte
	for i, s := range set {
		s.Mail.MessageID = fmt.Sprintf("<%d.e2e@contractor.example>", i)
		raw, err := s.Mail.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
		if s.Reply {
			answered[s.Mail.From] = s.Mail.Subject
		} else {
			robots[s.Mail.From] = true
		}
	}
	raws = append(raws, dsn())
	srv.Append(t, "INBOX", raws...)
	cfg := writeConfigSMTP(t, srv, "implicit", filepath.Join(t.TempDir(), "state"), peer.addr)

	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("once: %s", errOut.String())
	}
	replies := peer.messages(t)
	if len(replies) != len(answered) {
		t.Errorf("%d replies for %d contractor mails:\n%s", len(replies), len(answered), out.String())
	}
	for _, m := range replies {
		to := m.Header.Get("To")
		addr, _ := mail.ParseAddress(to)
		if addr == nil || robots[addr.Address] {
			t.Errorf("a reply went to %q, which must never be answered", to)
			continue
		}
		want, ok := answered[addr.Address]
		if !ok {
			t.Errorf("a reply to %q, who sent nothing", to)
			continue
		}
		delete(answered, addr.Address)
		if got := header(m, "Subject"); got != "Re: "+want {
			t.Errorf("reply subject %q, want %q", got, "Re: "+want)
		}
		if m.Header.Get("Auto-Submitted") != "auto-replied" || m.Header.Get("In-Reply-To") == "" || !strings.Contains(m.Header.Get("X-Auto-Response-Suppress"), "AutoReply") {
			t.Errorf("reply to %s lacks the loop-protection headers: %v", to, m.Header)
		}
		text := bodyText(t, m)
		if !strings.Contains(text, "受付番号") && !strings.Contains(text, "M-") {
			t.Errorf("reply to %s carries no tracking number:\n%s", to, text)
		}
	}
	for _, s := range set {
		for _, n := range s.Notices {
			for _, e := range peer.envelopes() {
				if bytes.Contains(e.Data, []byte(n.AuthKey)) {
					t.Errorf("a reply carries the unmasked 認証キー %s", n.AuthKey)
				}
			}
		}
	}

	// A contractor thanks us for the reply: a person should read it, no robot answers it.
	thanks := samplemail.Mail{From: replies[0].Header.Get("To"), To: "denshi-shosho@pref.shimane.example",
		Subject: "Re: " + header(replies[0], "Subject"), Body: "ご連絡ありがとうございました。\n", MessageID: "<thanks.1@contractor.example>",
		Header: map[string]string{"In-Reply-To": replies[0].Header.Get("Message-Id")}}
	raw, err := thanks.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	srv.Append(t, "INBOX", raw)
	before := len(peer.envelopes())
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("once: %s", errOut.String())
	}
	if got := len(peer.envelopes()); got != before {
		t.Errorf("a thank-you to our reply was answered (%d messages sent)", got-before)
	}

	// The digest: waiting items with their decision links.
	before = len(peer.envelopes())
	out.Reset()
	if code := runCode(context.Background(), env{args: []string{"digest", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("digest: %s", errOut.String())
	}
	all := peer.messages(t)
	if len(all) != before+1 {
		t.Fatalf("digest command sent %d messages, want 1: %s", len(all)-before, out.String())
	}
	digest := all[before]
	if got := digest.Header.Get("To"); !strings.Contains(got, "keiyaku@pref.shimane.example") {
		t.Errorf("digest to %q", got)
	}
	text := bodyText(t, digest)
	for _, want := range []string{"返信しなかったメール 4件", "自動応答", "メーリングリスト", "配送エラー通知", "受付の返信への返事"} {
		if !strings.Contains(text, want) {
			t.Errorf("the digest does not say %q:\n%s", want, text)
		}
	}
	links := regexp.MustCompile(`mailto:[^\s"<>）)]+`).FindAllString(text, -1)
	var verify string
	for _, l := range links {
		u, err := url.Parse(l)
		if err == nil && strings.Contains(u.Query().Get("subject"), "確認済") {
			verify = u.Query().Get("subject")
			break
		}
	}
	if verify == "" {
		t.Fatalf("no 確認済 link in the digest:\n%s", text)
	}

	// The clerk answers the link from a mail program; the next poll applies it.
	clerk := samplemail.Mail{From: "keiyaku@pref.shimane.example", To: "denshi-shosho@pref.shimane.example", Subject: verify,
		Body: "確認しました。\n", MessageID: "<clerk.1@pref.shimane.example>"}
	raw, _ = clerk.Bytes()
	srv.Append(t, "INBOX", raw)
	before = len(peer.envelopes())
	out.Reset()
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("once after the decision: %s", errOut.String())
	}
	after := peer.messages(t)[before:]
	var toClerk, toContractor int
	for _, m := range after {
		if strings.Contains(m.Header.Get("To"), "keiyaku@") {
			toClerk++
		} else {
			toContractor++
			if txt := bodyText(t, m); !strings.Contains(txt, "確認") {
				t.Errorf("the contractor's outcome does not say it was verified:\n%s", txt)
			}
		}
	}
	if toClerk != 1 || toContractor != 1 {
		t.Errorf("after the decision: %d to the clerk, %d to the contractor; want 1 and 1\n%s", toClerk, toContractor, out.String())
	}
	// The same link again is refused: nothing more to the contractor.
	clerk.MessageID = "<clerk.2@pref.shimane.example>"
	raw, _ = clerk.Bytes()
	srv.Append(t, "INBOX", raw)
	before = len(peer.envelopes())
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("once: %s", errOut.String())
	}
	for _, m := range peer.messages(t)[before:] {
		if !strings.Contains(m.Header.Get("To"), "keiyaku@") {
			t.Errorf("a replayed decision link reached the contractor again: %v", m.Header)
		}
	}
	// The logs of all these runs never show a password or a 認証キー.
	logs := errOut.String()
	if !strings.Contains(logs, "message taken in") {
		t.Fatalf("no logs captured:\n%s", logs)
	}
	if strings.Contains(logs, srv.Password) {
		t.Error("the logs show the IMAP password")
	}
	for _, s := range set {
		for _, n := range s.Notices {
			if strings.Contains(logs, n.AuthKey) {
				t.Errorf("the logs show the 認証キー %s", n.AuthKey)
			}
		}
	}
}
