package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/samplemail"
	"hosho-intake/parser"
)

// slowPDF is a 300-byte PDF whose cross-reference section names itself as the previous
// one (/Prev): the real reader follows it until its timeout. Measured: 10 s, the default
// limit, for every copy.
func slowPDF(i int) []byte {
	return minimalPDFTrailer(fmt.Sprintf("1 0 obj <</Type/Catalog/Pages 2 0 R/N %d>> endobj 2 0 obj <</Type/Pages/Kids[3 0 R]/Count 1>> endobj "+
		"3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 600 800]>> endobj", i), true)
}

// budgetConfig is writeConfigSMTP with a small sandbox: a 1 s reader timeout and a 4 s
// message budget keep a mail of slow PDFs to seconds.
func budgetConfig(t *testing.T, srv *dovecottest.Server, state, smtpAddr string) string {
	t.Helper()
	cfg := writeConfigSMTP(t, srv, "implicit", state, smtpAddr)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// [sandbox] is the file's last section.
	if _, err := f.WriteString("timeout = \"1s\"\nmessage_budget = \"4s\"\n"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// hostileMails returns a mail of 199 slow PDFs and one of 100 slow PDFs in a ZIP.
func hostileMails(t *testing.T) (bare, zipped []byte) {
	t.Helper()
	var parts, members []samplemail.Attachment
	for i := range 199 {
		parts = append(parts, samplemail.Attachment{Name: fmt.Sprintf("notice%03d.pdf", i), Data: slowPDF(i)})
		if i < 100 {
			members = append(members, samplemail.Attachment{Name: fmt.Sprintf("z%03d.pdf", i), Data: slowPDF(1000 + i)})
		}
	}
	z, err := samplemail.Zip(members)
	if err != nil {
		t.Fatal(err)
	}
	m := samplemail.Mail{From: "x@attacker.example", To: "denshi-shosho@pref.shimane.example", Subject: "認証キー",
		MessageID: "<slow.bare@attacker.example>", Body: "添付します。", Attachments: parts}
	if bare, err = m.Bytes(); err != nil {
		t.Fatal(err)
	}
	m.MessageID, m.Attachments = "<slow.zip@attacker.example>", []samplemail.Attachment{{Name: "notices.zip", ContentType: "application/zip", Data: z}}
	if zipped, err = m.Bytes(); err != nil {
		t.Fatal(err)
	}
	return bare, zipped
}

// goodNotice is a contractor's notice mail that is answered.
func goodNotice(t *testing.T, seed int) samplemail.Scenario {
	t.Helper()
	set, err := samplemail.Set(seed)
	if err != nil {
		t.Fatal(err)
	}
	s := set[0]
	if !s.Reply || len(s.Notices) == 0 {
		t.Fatalf("scenario %q is not an answered notice", s.Name)
	}
	s.Mail.MessageID = fmt.Sprintf("<good.%d@contractor.example>", seed)
	return s
}

// TestSlowMailDoesNotStopTheMailbox: against Dovecot and the SMTP peer, a mail of 199
// slow PDFs, and one of 100 slow PDFs in a ZIP, each followed by a notice: one `once`
// records the hostile mail with too_slow and moves it out of INBOX, and answers the notice.
func TestSlowMailDoesNotStopTheMailbox(t *testing.T) {
	bare, zipped := hostileMails(t)
	for i, tt := range []struct {
		name    string
		hostile []byte
	}{{"199 PDFs", bare}, {"100 PDFs in a ZIP", zipped}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := dovecottest.Start(t)
			peer := startSMTPPeer(t)
			good := goodNotice(t, 40+i)
			raw, err := good.Mail.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			srv.Append(t, "INBOX", tt.hostile, raw)
			state := filepath.Join(t.TempDir(), "state")
			cfg := budgetConfig(t, srv, state, peer.addr)
			var out, errOut bytes.Buffer
			if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
				t.Fatalf("once exit %d: %s", code, errOut.String())
			}
			if !strings.Contains(out.String(), "new 2, recorded 2") {
				t.Errorf("once printed %q, want both recorded", out.String())
			}
			if got := srv.Messages(t, "INBOX"); got != 0 {
				t.Errorf("INBOX holds %d after once", got)
			}
			if n := repliesTo(t, peer, good.Mail.From); n != 1 {
				t.Errorf("%d replies to the notice's sender, want 1", n)
			}
			checkLedger(t, state, 2)
		})
	}
}

// repliesTo counts the mails the peer received for addr.
func repliesTo(t *testing.T, peer *demoRelay, addr string) int {
	t.Helper()
	n := 0
	for _, m := range peer.messages(t) {
		if to, err := mail.ParseAddress(m.Header.Get("To")); err == nil && to.Address == addr {
			n++
		}
	}
	return n
}

// checkLedger checks that n messages are recorded once each and moved, the hostile ones
// with too_slow.
func checkLedger(t *testing.T, state string, n int) {
	t.Helper()
	l, err := ledger.Open(state, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entries, err := l.List(ledger.Filter{}, 10*n)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Errorf("%d entries, want %d", len(entries), n)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Digest] {
			t.Errorf("message %s recorded twice", e.MessageID)
		}
		seen[e.Digest] = true
		if !e.Moved {
			t.Errorf("entry %d (%s) not moved", e.ID, e.MessageID)
		}
		if strings.HasPrefix(e.MessageID, "slow.") && !slices.Contains(e.Problems, parser.CodeTooSlow) {
			t.Errorf("hostile mail %s recorded with %v, want too_slow", e.MessageID, e.Problems)
		}
	}
}

// TestSlowMailKilledRepeatedly kills `once` with SIGKILL at random points of a poll that
// meets both hostile mails and two notices, until a run completes: every message is then
// recorded once and moved, and each notice answered once.
func TestSlowMailKilledRepeatedly(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	bare, zipped := hostileMails(t)
	first, second := goodNotice(t, 50), goodNotice(t, 51)
	second.Mail.From = "other@contractor2.example"
	var raws [][]byte
	for _, m := range []samplemail.Mail{first.Mail, second.Mail} {
		raw, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	srv.Append(t, "INBOX", bare, raws[0], zipped, raws[1])
	state := filepath.Join(t.TempDir(), "state")
	cfg := budgetConfig(t, srv, state, peer.addr)
	rng := rand.New(rand.NewPCG(3, 4))
	// The first runs are killed in the middle of reading the hostile mails (a run takes about
	// 3 s), then one is let finish.
	kills := killLoop(t, srv, cfg, func(attempt int) time.Duration {
		if attempt < 6 {
			return time.Duration(100+rng.IntN(2400)) * time.Millisecond
		}
		return time.Hour
	}, nil)
	checkLedger(t, state, 4)
	if got := srv.Messages(t, "処理済み"); got != 4 {
		t.Errorf("処理済み holds %d, want 4", got)
	}
	for _, s := range []samplemail.Scenario{first, second} {
		if n := repliesTo(t, peer, s.Mail.From); n != 1 {
			t.Errorf("%d replies to %s, want 1", n, s.Mail.From)
		}
	}
	t.Logf("killed %d times; every message recorded once, moved, and each notice answered once", kills)
}
