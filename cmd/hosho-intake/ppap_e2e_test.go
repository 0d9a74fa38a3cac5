package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/ppapzip"
	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/parser/testkit"
	"hosho-intake/verifier"
)

// ppapZipMail is a contractor's first PPAP mail: a covering text and a password ZIP.
func ppapZipMail(t *testing.T, id, from, subject string, zip []byte) []byte {
	t.Helper()
	return ppapMail(t, id, from, subject, "ninsho.zip", "application/zip", zip)
}

// ppapMail is a contractor's first PPAP mail: a covering text and one locked file (a password
// ZIP or 7z archive, or a PDF that needs a user password).
func ppapMail(t *testing.T, id, from, subject, name, contentType string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n",
		from, trustAgency, mime2047(subject), time.Now().Format(time.RFC1123Z), id)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\n認証キーのお知らせをお送りします。パスワードは別メールにてお送りします。\r\n--b1\r\n" +
		fmt.Sprintf("Content-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\n", contentType, name, name) +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b1--\r\n")
	return b.Bytes()
}

// ppapFixture makes password ZIPs of the sample notices.
type ppapFixture struct {
	t       *testing.T
	notices []string // contract numbers, by index of noticepdf.Samples
}

func (f ppapFixture) zip(i int, kind, password string) []byte {
	f.t.Helper()
	z, err := ppapzip.Write(kind, password, ppapzip.Member{Name: "認証キー等のお知らせ.pdf", Data: f.pdf(i), CP932: kind == ppapzip.ZipCrypto})
	if err != nil {
		f.t.Fatal(err)
	}
	return z
}

func ppapOnce(t *testing.T, cfg, what string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("once (%s): %s", what, errOut.String())
	}
	if strings.Contains(errOut.String(), "Hirose0611") || strings.Contains(errOut.String(), "Kensetsu#2026") {
		t.Errorf("once (%s): a password reached the log", what)
	}
}

// repliesTo returns the mails sent to addr since before.
func ppapRepliesTo(t *testing.T, peer *demoRelay, before int, addr string) []*mail.Message {
	t.Helper()
	var out []*mail.Message
	for _, m := range peer.messages(t)[before:] {
		if strings.Contains(m.Header.Get("To"), addr) {
			out = append(out, m)
		}
	}
	return out
}

func queued(t *testing.T, state string) map[string]int {
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
	n := map[string]int{}
	if err := l.DB().View(func(tx *bolt.Tx) error {
		items, err := q.List(tx)
		for _, s := range items {
			n[s.Notice.ContractNumber]++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPPAP is issue 13 end to end, against Dovecot and an SMTP peer: the shared samples' pair
// (Info-ZIP ZipCrypto, a CP932 member name) and generated pairs (AES-256 and AES-128, the
// pairing shapes: the same address, the same domain with the same subject, In-Reply-To or
// References; the password mail first, a wrong password then the right one, a stranger's
// password mail) are
// each answered once, in reply to the ZIP's mail, and their notices queued once; neither mail
// is told "nothing found".
func TestPPAP(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfigSMTP(t, srv, "implicit", state, peer.addr)
	f := ppapFixture{t: t}
	samples := noticepdf.Samples()

	// 1. The shared pair, read in place.
	dir := testkit.Samples(t, "eml")
	var pair [][]byte
	for _, name := range []string{"se08-ppap-password-zip.eml", "se09-ppap-password-followup.eml"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		pair = append(pair, raw)
	}
	srv.Append(t, "INBOX", pair...)
	ppapOnce(t, cfg, "shared pair")
	got := ppapRepliesTo(t, peer, 0, "fujiwara@hirose-kensetsu.example")
	if len(got) != 1 {
		t.Fatalf("shared pair: %d replies, want 1", len(got))
	}
	body := bodyText(t, got[0])
	if got[0].Header.Get("In-Reply-To") != "<cd8440b09e6f$1730d45b$@hirose-kensetsu.example>" || !strings.Contains(body, "3011544209") ||
		!strings.Contains(strings.NewReplacer("\r", "", "\n", "", "　", "").Replace(body), "パスワードで開き") || strings.Contains(body, "見当たりません") || strings.Contains(body, "Hirose0611") {
		t.Errorf("shared pair: reply In-Reply-To %s:\n%s", got[0].Header.Get("In-Reply-To"), body)
	}

	// 2. Generated pairs, each from its own sender.
	const pw = "Kensetsu#2026"
	cases := []struct {
		name     string
		from     string
		mails    [][]byte // appended one poll each
		opens    bool     // the notice is queued
		replies  int
		wantText string
	}{
		{"aes256, same address", "a@aes.example", [][]byte{
			ppapZipMail(t, "z1@aes.example", "a@aes.example", "認証キー送付", f.zip(1, ppapzip.AES256, pw)),
			trustMail(t, "p1@aes.example", "a@aes.example", "【パスワード】認証キー送付", "解凍パスワードは「"+pw+"」です。", nil)},
			true, 1, samples[1].ContractNumber},
		{"aes128, password first (out of order), next line, full-width", "b@aes128.example", [][]byte{
			trustMail(t, "p2@aes128.example", "b@aes128.example", "パスワード", "パスワードは以下のとおりです。\n\n　ＫｅｎｓｅｔｓｕＢ\n", nil),
			ppapZipMail(t, "z2@aes128.example", "b@aes128.example", "認証キー", f.zip(2, ppapzip.AES128, "KensetsuB"))},
			true, 1, samples[2].ContractNumber},
		{"same domain, other address, same subject", "kouji@domain.example", [][]byte{
			ppapZipMail(t, "z3@domain.example", "kouji@domain.example", "【送付】電子証書認証キー", f.zip(3, ppapzip.ZipCrypto, pw)),
			trustMail(t, "p3@domain.example", "jimu@domain.example", "【パスワード】電子証書認証キー", "PW: "+pw, nil)},
			true, 1, samples[3].ContractNumber},
		{"same domain, other address, In-Reply-To", "kouji@reply.example", [][]byte{
			ppapZipMail(t, "z7@reply.example", "kouji@reply.example", "書類送付の件", f.zip(5, ppapzip.AES256, pw)),
			trustMail(t, "p7@reply.example", "jimu@reply.example", "Re: 書類送付の件", "PW: "+pw, nil, "In-Reply-To: <z7@reply.example>")},
			true, 1, f.notice(5).ContractNumber},
		{"same domain, other address, References", "kouji@refs.example", [][]byte{
			ppapZipMail(t, "z8@refs.example", "kouji@refs.example", "書類送付の件", f.zip(6, ppapzip.ZipCrypto, pw)),
			trustMail(t, "p8@refs.example", "jimu@refs.example", "ご連絡", "パスワード："+pw, nil, "References: <x@refs.example> <z8@refs.example>")},
			true, 1, f.notice(6).ContractNumber},
	}
	for _, c := range cases {
		before := len(peer.messages(t))
		for i, m := range c.mails {
			srv.Append(t, "INBOX", m)
			ppapOnce(t, cfg, fmt.Sprintf("%s, mail %d", c.name, i+1))
		}
		got := ppapRepliesTo(t, peer, before, c.from)
		if len(got) != c.replies {
			t.Errorf("%s: %d replies, want %d", c.name, len(got), c.replies)
			continue
		}
		if body := bodyText(t, got[0]); !strings.Contains(body, c.wantText) || strings.Contains(body, pw) {
			t.Errorf("%s: reply:\n%s", c.name, body)
		}
	}

	// 3. A wrong password: told so, in reply to the password mail; the right one then opens it.
	before := len(peer.messages(t))
	srv.Append(t, "INBOX", ppapZipMail(t, "z4@wrong.example", "c@wrong.example", "認証キー", f.zip(4, ppapzip.AES256, pw)))
	ppapOnce(t, cfg, "wrong: zip")
	srv.Append(t, "INBOX", trustMail(t, "p4@wrong.example", "c@wrong.example", "パスワード", "パスワード：nottheone", nil))
	ppapOnce(t, cfg, "wrong: password")
	got = ppapRepliesTo(t, peer, before, "c@wrong.example")
	if len(got) != 1 || !strings.Contains(bodyText(t, got[0]), "開くことができませんでした") || got[0].Header.Get("In-Reply-To") != "<p4@wrong.example>" {
		t.Fatalf("wrong password: %d replies", len(got))
	}
	srv.Append(t, "INBOX", trustMail(t, "p5@wrong.example", "c@wrong.example", "パスワード（訂正）", "失礼しました。パスワード："+pw, nil))
	ppapOnce(t, cfg, "wrong: the right password")
	got = ppapRepliesTo(t, peer, before, "c@wrong.example")
	if len(got) != 2 || !strings.Contains(bodyText(t, got[1]), samples[4].ContractNumber) || got[1].Header.Get("In-Reply-To") != "<z4@wrong.example>" {
		t.Errorf("wrong then right password: %d replies", len(got))
	}

	// 4. A stranger's password mail (another domain) opens nothing and is not paired.
	before = len(peer.messages(t))
	srv.Append(t, "INBOX", ppapZipMail(t, "z6@victim.example", "d@victim.example", "認証キー", f.zip(0, ppapzip.AES256, pw)))
	srv.Append(t, "INBOX", trustMail(t, "p6@evil.example", "x@evil.example", "Re: 認証キー", "パスワード："+pw, nil, "In-Reply-To: <z6@victim.example>"))
	ppapOnce(t, cfg, "stranger")
	if n := len(peer.messages(t)) - before; n != 0 {
		t.Errorf("a stranger's password mail made the agency send %d mails", n)
	}

	q := queued(t, state)
	for _, n := range []string{"3011544209", samples[1].ContractNumber, samples[2].ContractNumber, samples[3].ContractNumber, samples[4].ContractNumber,
		f.notice(5).ContractNumber, f.notice(6).ContractNumber} {
		if q[n] != 1 {
			t.Errorf("notice %s queued %d times, want 1", n, q[n])
		}
	}
	if q[samples[0].ContractNumber] != 0 {
		t.Errorf("the stranger opened someone's ZIP: %s queued", samples[0].ContractNumber)
	}
}

// TestPPAPExpiry: a ZIP whose password does not come, and a password whose ZIP does not
// come, are each answered once when [reply] password_wait ends.
func TestPPAPExpiry(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfigSMTP(t, srv, "implicit", state, peer.addr)
	conf, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(conf, "\n[reply]\npassword_wait = \"2s\"\n"...), 0o600)
	f := ppapFixture{t: t}
	srv.Append(t, "INBOX",
		ppapZipMail(t, "z1@late.example", "e@late.example", "認証キー", f.zip(0, ppapzip.ZipCrypto, "pw")),
		trustMail(t, "p1@lone.example", "g@lone.example", "パスワード", "パスワード：abcd1234", nil))
	ppapOnce(t, cfg, "waiting")
	if n := len(peer.messages(t)); n != 0 {
		t.Fatalf("%d mails sent before the wait ended", n)
	}
	time.Sleep(2500 * time.Millisecond)
	ppapOnce(t, cfg, "expired")
	ppapOnce(t, cfg, "again")
	zipReply, keyReply := ppapRepliesTo(t, peer, 0, "e@late.example"), ppapRepliesTo(t, peer, 0, "g@lone.example")
	// Lines break between phrases: compare the text unwrapped.
	unwrapped := strings.NewReplacer("\r", "", "\n", "", "　", "")
	if len(zipReply) != 1 || !strings.Contains(unwrapped.Replace(bodyText(t, zipReply[0])), "期限を過ぎました") {
		t.Errorf("expired ZIP: %d replies", len(zipReply))
	}
	if len(keyReply) != 1 || !strings.Contains(unwrapped.Replace(bodyText(t, keyReply[0])), "届きませんでした") {
		t.Errorf("lone password: %d replies", len(keyReply))
	}
	// The password came too late for the ZIP: it is no longer opened.
	if q := queued(t, state); len(q) != 0 {
		t.Errorf("queued %v, want nothing", q)
	}
}

// TestPPAPKilled kills `once` at random points while pairs of PPAP mails are taken in, paired,
// opened and answered, three pairs of each locked kind (ZipCrypto, AES-128, AES-256, an AES-256
// 7z with its header encrypted, a PDF with a user password): every notice is queued once and
// every first mail's sender answered once, in reply to it. It counts the kills that fell between
// the two mails of a pair: a first mail recorded, its notice not yet queued.
func TestPPAPKilled(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfigSMTP(t, srv, "implicit", state, peer.addr)
	f := ppapFixture{t: t}
	kinds := []string{ppapzip.ZipCrypto, ppapzip.AES128, ppapzip.AES256, "7z", "pdf"}
	const pairs = 15
	kindOf := func(i int) string { return kinds[i%len(kinds)] }
	for i := range pairs {
		from := fmt.Sprintf("k%d@kill.example", i)
		pw := fmt.Sprintf("Pw%d-x", i)
		id := fmt.Sprintf("z%d@kill.example", i)
		var first []byte
		switch kind := kindOf(i); kind {
		case "7z":
			first = ppapMail(t, id, from, "認証キー", "ninsho.7z", "application/x-7z-compressed", f.sevenZip(i, pw))
		case "pdf":
			first = ppapMail(t, id, from, "認証キー", "ninsho.pdf", "application/pdf", f.lockedPDF(i, pw))
		default:
			first = ppapZipMail(t, id, from, "認証キー", f.zip(i, kind, pw))
		}
		srv.Append(t, "INBOX", first)
		srv.Append(t, "INBOX", trustMail(t, fmt.Sprintf("p%d@kill.example", i), from, "パスワード", "パスワード："+pw, nil))
	}
	between := 0
	rng := rand.New(rand.NewPCG(3, 4))
	kills := killLoop(t, srv, cfg, func(n int) time.Duration { return killAfter(rng, n) }, func() {
		if recordedFirstMails(t, state) > len(queued(t, state)) {
			between++
		}
	})
	// A kill during an SMTP session leaves that reply to the outbox's next attempt (after its
	// backoff): run once more until every pair's reply went out.
	answered := func() bool {
		for i := range pairs {
			if len(ppapRepliesTo(t, peer, 0, fmt.Sprintf("k%d@kill.example", i))) == 0 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(60 * time.Second); !answered() && time.Now().Before(deadline); {
		time.Sleep(2 * time.Second)
		ppapOnce(t, cfg, "the outbox's retries")
	}
	q := queued(t, state)
	for i := range pairs {
		if n := q[f.notice(i).ContractNumber]; n != 1 {
			t.Errorf("pair %d (%s): notice queued %d times, want 1", i, kindOf(i), n)
		}
		got := ppapRepliesTo(t, peer, 0, fmt.Sprintf("k%d@kill.example", i))
		if len(got) != 1 || got[0].Header.Get("In-Reply-To") != fmt.Sprintf("<z%d@kill.example>", i) {
			t.Errorf("pair %d (%s): %d replies, want 1 in reply to the first mail", i, kindOf(i), len(got))
		}
	}
	t.Logf("killed %d times, %d of them between the two mails of a pair; %d pairs (%v) each opened, queued and answered once",
		kills, between, pairs, kinds)
}

// recordedFirstMails counts the ledger's first mails of PPAP pairs (the ones with a locked
// file), waiting or opened.
func recordedFirstMails(t *testing.T, state string) int {
	t.Helper()
	l, err := ledger.Open(state, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entries, err := l.List(ledger.Filter{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.MessageID, "<z") || strings.HasPrefix(e.MessageID, "z") {
			n++
		}
	}
	return n
}

// notice is sample notice i, past the samples one of them with a 保証契約番号 of its own.
func (f ppapFixture) notice(i int) parser.Notice {
	samples := noticepdf.Samples()
	n := samples[i%len(samples)]
	if i >= len(samples) {
		n.ContractNumber = fmt.Sprintf("%010d", 2071000000+i)
	}
	return n
}

// pdf is notice i as a PDF.
func (f ppapFixture) pdf(i int) []byte {
	f.t.Helper()
	var pdf bytes.Buffer
	if err := noticepdf.Write(&pdf, []parser.Notice{f.notice(i)}, noticepdf.Options{Encoding: noticepdf.UCS2}); err != nil {
		f.t.Fatal(err)
	}
	return pdf.Bytes()
}

// sevenZip writes notice i into an AES-256 7z archive made by the real 7z tool
// (ppapzip.SevenZip), the header encrypted as Japanese tools offer it (-mhe=on). Under
// CI=true a missing 7z fails the test.
func (f ppapFixture) sevenZip(i int, password string) []byte {
	f.t.Helper()
	z, err := ppapzip.SevenZip(f.t.TempDir(), map[string][]byte{"認証キー等のお知らせ.pdf": f.pdf(i)}, "-p"+password, "-mhe=on")
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("CI") != "true" {
		f.t.Skip("7z not installed")
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return z
}

// lockedPDF is sample notice i as a PDF that needs user password to open, encrypted by qpdf
// (AES-256) where it is installed, else by noticepdf.Encrypt (pdfcpu). Under CI=true a
// missing qpdf fails the test.
func (f ppapFixture) lockedPDF(i int, password string) []byte {
	f.t.Helper()
	bin, err := exec.LookPath("qpdf")
	if err != nil {
		if os.Getenv("CI") == "true" {
			f.t.Fatal("qpdf not installed (CI installs qpdf)")
		}
		b, err := noticepdf.Encrypt(f.pdf(i), password, "owner-"+password)
		if err != nil {
			f.t.Fatal(err)
		}
		return b
	}
	dir := f.t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, f.pdf(i), 0o600); err != nil {
		f.t.Fatal(err)
	}
	if b, err := exec.Command(bin, "--encrypt", password, "owner-"+password, "256", "--", in, out).CombinedOutput(); err != nil {
		f.t.Fatalf("qpdf: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// TestPPAPLocked: an AES-256 7z archive (header encrypted) and a PDF that needs a user
// password (once problem "encrypted"; ours and the shared samples' sp11) each wait like a password ZIP; a wrong password is told
// so, and the right one opens it, the PDF read by the same workers given the password: its
// notice is queued once and its mail answered once, in reply to it, never "nothing found".
func TestPPAPLocked(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfigSMTP(t, srv, "implicit", state, peer.addr)
	f := ppapFixture{t: t}
	samples := noticepdf.Samples()
	// sp11 is a real producer's locked notice (reportlab, then qpdf --encrypt with user password
	// 0603), read in place from the shared samples.
	sp11, err := os.ReadFile(filepath.Join(testkit.Samples(t, "pdf"), "sp11-west-user-password.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		domain, name, contentType string
		number, pw                string
		data                      []byte
	}{
		{"sevenzip.example", "ninsho.7z", "application/x-7z-compressed", samples[1].ContractNumber, "Kensetsu#2026", f.sevenZip(1, "Kensetsu#2026")},
		{"lockedpdf.example", "ninsho.pdf", "application/pdf", samples[2].ContractNumber, "Kensetsu#2026", f.lockedPDF(2, "Kensetsu#2026")},
		{"sp11.example", "sp11-west-user-password.pdf", "application/pdf", "2081521897", "0603", sp11},
	} {
		pw := c.pw
		from := "s@" + c.domain
		before := len(peer.messages(t))
		srv.Append(t, "INBOX", ppapMail(t, "z1@"+c.domain, from, "認証キー送付", c.name, c.contentType, c.data))
		ppapOnce(t, cfg, c.name)
		if n := len(peer.messages(t)) - before; n != 0 {
			t.Fatalf("%s: %d mails sent while it waits for its password", c.name, n)
		}
		srv.Append(t, "INBOX", trustMail(t, "p1@"+c.domain, from, "【パスワード】認証キー送付", "パスワード：nottheone", nil))
		ppapOnce(t, cfg, c.name+": wrong password")
		got := ppapRepliesTo(t, peer, before, from)
		if len(got) != 1 || !strings.Contains(bodyText(t, got[0]), "開くことができませんでした") {
			t.Fatalf("%s: wrong password: %d replies", c.name, len(got))
		}
		srv.Append(t, "INBOX", trustMail(t, "p2@"+c.domain, from, "【パスワード】認証キー送付", "解凍パスワードは「"+pw+"」です。", nil))
		ppapOnce(t, cfg, c.name+": the right password")
		got = ppapRepliesTo(t, peer, before, from)
		if len(got) != 2 {
			t.Fatalf("%s: right password: %d replies, want 2", c.name, len(got))
		}
		n := c.number
		body := bodyText(t, got[1])
		if got[1].Header.Get("In-Reply-To") != "<z1@"+c.domain+">" || !strings.Contains(body, n) ||
			strings.Contains(body, "見当たりません") || strings.Contains(body, pw) {
			t.Errorf("%s: right password: reply In-Reply-To %s:\n%s", c.name, got[1].Header.Get("In-Reply-To"), body)
		}
		if q := queued(t, state); q[n] != 1 {
			t.Errorf("%s: notice queued %d times, want 1", c.name, q[n])
		}
	}
}

// TestPPAPFlood: a stranger's flood of password ZIPs from one domain, each from an address of
// its own, against Dovecot and an SMTP peer. The first 50 wait for their passwords (no reply);
// the one past the bound of waiting mails per domain is not kept waiting but answered at once
// that a password ZIP cannot be opened; a contractor of another domain is not held up: its pair
// is opened and answered password_unlocked in the same run.
func TestPPAPFlood(t *testing.T) {
	const bound = 50 // intake's ppapWaitPerDomain
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfigSMTP(t, srv, "implicit", state, peer.addr)
	f := ppapFixture{t: t}
	z := f.zip(0, ppapzip.ZipCrypto, "Flood#1")
	var flood [][]byte
	for i := range bound + 1 {
		flood = append(flood, ppapZipMail(t, fmt.Sprintf("f%d@flood.example", i), fmt.Sprintf("x%d@flood.example", i), "見積書", z))
	}
	srv.Append(t, "INBOX", flood...)
	srv.Append(t, "INBOX",
		ppapZipMail(t, "z1@hirose-kensetsu.example", "fujiwara@hirose-kensetsu.example", "認証キー送付", f.zip(1, ppapzip.AES256, "Kensetsu#2026")),
		trustMail(t, "p1@hirose-kensetsu.example", "fujiwara@hirose-kensetsu.example", "パスワード", "パスワード：Kensetsu#2026", nil))
	ppapOnce(t, cfg, "flood")

	unwrapped := strings.NewReplacer("\r", "", "\n", "", "　", "")
	var answered []string
	for i := range bound + 1 {
		addr := fmt.Sprintf("x%d@flood.example", i)
		for _, m := range ppapRepliesTo(t, peer, 0, addr) {
			answered = append(answered, addr)
			if !strings.Contains(unwrapped.Replace(bodyText(t, m)), "パスワード付きのZIPファイルは、開くことができません") {
				t.Errorf("reply to %s is not the password ZIP answer:\n%s", addr, bodyText(t, m))
			}
		}
	}
	if len(answered) != 1 || answered[0] != fmt.Sprintf("x%d@flood.example", bound) {
		t.Errorf("answered %v at once, want only the ZIP past the bound, x%d@flood.example", answered, bound)
	}
	if r := ppapRepliesTo(t, peer, 0, "fujiwara@hirose-kensetsu.example"); len(r) != 1 || !strings.Contains(r[0].Header.Get("In-Reply-To"), "z1@hirose-kensetsu.example") {
		t.Errorf("the other domain's pair: %d replies, want 1 in reply to its ZIP", len(r))
	}
	if q := queued(t, state); q[f.notice(1).ContractNumber] != 1 {
		t.Errorf("queued %v, want the other domain's notice %s once", q, f.notice(1).ContractNumber)
	}
}
