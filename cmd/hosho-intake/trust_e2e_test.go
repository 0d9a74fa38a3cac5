package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/intake/ledger"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/verifier"

	bolt "go.etcd.io/bbolt"
)

const (
	trustAuthserv = "mx.pref.shimane.example"
	trustAgency   = "denshi-shosho@pref.shimane.example"
	trustClerk    = "keiyaku@pref.shimane.example"
	trustClerk2   = "kakari@pref.shimane.example"
	contractor    = "yamada@kensetsu.example"
)

// trustMail is a message as the agency's server stores it: header lines (Authentication-Results
// included, as our server prepends it), a subject, a plain body and optionally one PDF.
func trustMail(t *testing.T, id, from, subject, body string, pdf []byte, headers ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n",
		from, trustAgency, mime2047(subject), time.Now().Format(time.RFC1123Z), id)
	if pdf == nil {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", body)
		return b.Bytes()
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n--b1\r\nContent-Type: application/pdf; name=\"notice.pdf\"\r\n" +
		"Content-Disposition: attachment; filename=\"notice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(pdf)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}

func mime2047(s string) string {
	return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

// TestDecisionsNeedAnAuthenticatedClerk is issue 17's findings 1, 2 and 4 against Dovecot and
// an SMTP peer: forged decision mails (a clerk's From with dmarc=fail, with no
// Authentication-Results, with a pass written by another authserv-id, with another clerk's
// token, with an expired token, with a link from a forwarded digest) change nothing and make
// the agency send nothing, ten forged refusals quoting a phishing link make it send nothing,
// and the same decision with a pass from our own server is applied: so the test cannot pass
// by refusing everything.
func TestDecisionsNeedAnAuthenticatedClerk(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfigSMTP(t, srv, "implicit", state, peer.addr)
	conf, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conf = bytes.Replace(conf, []byte(`to = ["keiyaku@pref.shimane.example"]`),
		[]byte(`to = ["keiyaku@pref.shimane.example", "kakari@pref.shimane.example", "archive@pref.shimane.example"]
clerks = ["keiyaku@pref.shimane.example", "kakari@pref.shimane.example"]`), 1)
	conf = append(conf, []byte("\n[reply]\nauthserv_id = \""+trustAuthserv+"\"\n")...)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	once := func(what string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
			t.Fatalf("once (%s): %s", what, errOut.String())
		}
		return errOut.String()
	}
	pass := func(domain string) string {
		return "Authentication-Results: " + trustAuthserv + "; spf=pass smtp.mailfrom=" + domain + "; dkim=pass header.d=" + domain + "; dmarc=pass header.from=" + domain
	}

	// A contractor's authenticated notice, and a stranger's unauthenticated one.
	var pdf bytes.Buffer
	notices := noticepdf.Samples()
	if err := noticepdf.Write(&pdf, notices[:1], noticepdf.Options{Encoding: noticepdf.UCS2}); err != nil {
		t.Fatal(err)
	}
	var pdf2 bytes.Buffer
	if err := noticepdf.Write(&pdf2, notices[1:2], noticepdf.Options{Encoding: noticepdf.UCS2}); err != nil {
		t.Fatal(err)
	}
	srv.Append(t, "INBOX",
		trustMail(t, "n1@kensetsu.example", "山田 <"+contractor+">", "電子証書の提出", "よろしくお願いします。", pdf.Bytes(), pass("kensetsu.example")),
		trustMail(t, "n2@forged.example", "島根県 会計課（口座確認は https://evil.example/ へ） <victim@victim.example>", "提出 https://evil.example/reset",
			"よろしく", pdf2.Bytes(), "Authentication-Results: "+trustAuthserv+"; dmarc=fail header.from=victim.example"))
	once("notices")
	sent := peer.messages(t)
	if len(sent) != 1 || !strings.Contains(sent[0].Header.Get("To"), contractor) {
		var to []string
		for _, m := range sent {
			to = append(to, m.Header.Get("To"))
		}
		t.Fatalf("after the notices, mail went to %v; want one reply, to the authenticated contractor", to)
	}

	// The digest: one copy per recipient, links only for clerks, each clerk's own.
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"digest", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("digest: %s", errOut.String())
	}
	links := map[string]map[string]string{} // recipient -> item -> 確認済 subject
	for _, m := range peer.messages(t)[1:] {
		to := m.Header.Get("To")
		links[to] = map[string]string{}
		for _, l := range regexp.MustCompile(`mailto:[^\s"<>）)]+`).FindAllString(bodyText(t, m), -1) {
			u, err := url.Parse(l)
			if err != nil {
				t.Fatal(err)
			}
			if subj := u.Query().Get("subject"); strings.HasPrefix(subj, verifier.VerifyWord) {
				links[to][strings.Fields(subj)[2]] = subj
			}
		}
	}
	if len(links) != 3 || len(links[trustClerk]) != 2 || len(links[trustClerk2]) != 2 || len(links["archive@pref.shimane.example"]) != 0 {
		t.Fatalf("digest copies and their 確認済 links: %v; want 3 copies, 2 links for each clerk, none for the archive", links)
	}
	const item = "R-000001" // the authenticated contractor's notice
	mine, theirs := links[trustClerk][item], links[trustClerk2][item]
	if mine == "" || mine == theirs {
		t.Fatalf("the clerks' links for %s are %q and %q: want each clerk's own", item, mine, theirs)
	}

	// An expired link: a token of this state's secret whose day has passed.
	expired := expiredLink(t, state, mine)

	clerkFrom := "経理 <" + trustClerk + ">"
	forged := []struct {
		name    string
		from    string
		subject string
		headers []string
	}{
		{"dmarc=fail", clerkFrom, mine, []string{"Authentication-Results: " + trustAuthserv + "; dmarc=fail header.from=pref.shimane.example; spf=fail"}},
		{"no Authentication-Results", clerkFrom, mine, nil},
		{"a pass written by another authserv-id", clerkFrom, mine, []string{"Authentication-Results: mx.evil.example; dmarc=pass header.from=pref.shimane.example"}},
		{"a forged pass below ours", clerkFrom, mine, []string{"Authentication-Results: " + trustAuthserv + "; dmarc=none",
			"Authentication-Results: " + trustAuthserv + "; dmarc=pass header.from=pref.shimane.example"}},
		{"an unaligned dkim pass", clerkFrom, mine, []string{"Authentication-Results: " + trustAuthserv + "; dkim=pass header.d=evil.example"}},
		{"another clerk's token", clerkFrom, theirs, []string{pass("pref.shimane.example")}},
		{"an expired token", clerkFrom, expired, []string{pass("pref.shimane.example")}},
		{"a forwarded digest's link, from outside", "archive <someone@evil.example>", mine, []string{pass("evil.example")}},
	}
	for i, f := range forged {
		before := len(peer.envelopes())
		srv.Append(t, "INBOX", trustMail(t, fmt.Sprintf("forged%d@x", i), f.from, f.subject, "確認しました。", nil, f.headers...))
		once(f.name)
		for _, m := range peer.messages(t)[before:] {
			if to := m.Header.Get("To"); !strings.Contains(to, trustClerk) || !strings.Contains(f.name, "token") {
				t.Errorf("%s: mail sent to %s; want nothing, or a refusal to the authenticated clerk", f.name, to)
			}
		}
		if s := queueItem(t, state, 1); !s.Waiting() {
			t.Fatalf("%s: item %s is %s: a forged decision was applied", f.name, item, s.State)
		}
	}

	// Ten forged refusals carrying a phishing link under the agency's name: nothing is sent.
	before := len(peer.envelopes())
	for i := range 10 {
		srv.Append(t, "INBOX", trustMail(t, fmt.Sprintf("phish%d@x", i), clerkFrom,
			mine[:len(mine)-4]+"AAAA 【至急】パスワード再設定 https://evil.example/reset", "https://evil.example/reset から再設定を", nil,
			"Authentication-Results: "+trustAuthserv+"; dmarc=fail header.from=pref.shimane.example"))
	}
	logs := once("phishing refusals")
	if n := len(peer.envelopes()) - before; n != 0 {
		t.Errorf("ten forged decision mails made the agency send %d mails", n)
	}
	for _, e := range peer.envelopes() {
		if bytes.Contains(e.Data, []byte("evil.example")) {
			t.Errorf("a mail the agency sent carries the stranger's link:\n%s", e.Data)
		}
	}
	if strings.Contains(logs, strings.Fields(mine)[3]) {
		t.Error("a refused decision's token reached the log")
	}

	// The same decision, with a pass from our own server: applied, the contractor told, the
	// clerk confirmed; the unauthenticated stranger's item is decided without mail to them.
	before = len(peer.envelopes())
	srv.Append(t, "INBOX",
		trustMail(t, "real1@pref.shimane.example", clerkFrom, mine, "確認しました。", nil, pass("pref.shimane.example")),
		trustMail(t, "real2@pref.shimane.example", clerkFrom, links[trustClerk]["R-000002"], "確認しました。", nil, pass("pref.shimane.example")))
	once("authenticated decisions")
	if s := queueItem(t, state, 1); s.State != verifier.StateVerified {
		t.Fatalf("the authenticated clerk's decision was not applied: %s is %s", item, s.State)
	}
	if s := queueItem(t, state, 2); s.State != verifier.StateVerified {
		t.Fatalf("the authenticated clerk's decision on R-000002 was not applied: %s", s.State)
	}
	to := map[string]int{}
	for _, m := range peer.messages(t)[before:] {
		a, _ := mail.ParseAddress(m.Header.Get("To"))
		to[a.Address]++
	}
	if to[contractor] != 1 || to[trustClerk] != 2 || len(to) != 2 {
		t.Errorf("after the authenticated decisions mail went to %v; want the contractor once, the clerk twice, nobody else", to)
	}

	// The clerks learn of the forgeries from the digest, which shows no clerk's token.
	before = len(peer.envelopes())
	if code := runCode(context.Background(), env{args: []string{"digest", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("digest: %s", errOut.String())
	}
	digests := peer.messages(t)[before:]
	if len(digests) != 3 {
		t.Fatalf("%d digest copies, want 3: %s %s", len(digests), out.String(), errOut.String())
	}
	text := bodyText(t, digests[0])
	if !strings.Contains(text, "なりすましの疑い") {
		t.Errorf("the digest does not list the unauthenticated decision mails:\n%s", text)
	}
	for _, tok := range []string{strings.Fields(mine)[3], strings.Fields(theirs)[3]} {
		if strings.Contains(strings.ToUpper(text), tok) {
			t.Errorf("the digest shows a clerk's token %s:\n%s", tok, text)
		}
	}
}

// expiredLink is link with its token replaced by one for the same clerk and item that
// expired yesterday, made with the secret in the state.
func expiredLink(t *testing.T, state, link string) string {
	t.Helper()
	f := strings.Fields(link)
	s, q := queueItemOf(t, state, 1)
	f[3] = q.Token(verifier.ActionVerify, s, trustClerk, time.Now().Add(-48*time.Hour))
	return strings.Join(f, " ")
}

// queueItem reads item id from the state of a daemon that is not running.
func queueItem(t *testing.T, state string, id uint64) verifier.Submission {
	t.Helper()
	s, _ := queueItemOf(t, state, id)
	return s
}

func queueItemOf(t *testing.T, state string, id uint64) (verifier.Submission, *verifier.Queue) {
	t.Helper()
	l, err := ledger.Open(state, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	q, err := verifier.OpenQueue(l.DB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var s verifier.Submission
	if err := l.DB().View(func(tx *bolt.Tx) error {
		var err error
		s, err = q.Get(tx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s, q
}
