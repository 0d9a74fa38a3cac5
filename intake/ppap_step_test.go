package intake_test

import (
	"context"
	"fmt"
	"net"
	"net/mail"
	"os"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/ppapzip"
	"hosho-intake/intake/samplemail"
)

// TestPPAPStepOpensPairsTogether: password ZIPs waiting for their sender's password mail are
// opened by the step after the poll, read by the two PDF workers at once and recorded in
// groups, in order: each ZIP's notice is queued once, as its own mail's, and nothing is left
// waiting or paired.
func TestPPAPStepOpensPairsTogether(t *testing.T) {
	t.Setenv("HOSHO_INTAKE_TEST_WORKER", "1") // the workers are this test binary (TestMain)
	mb := startMemMailbox(t)
	_, smtpAddr := startSMTPSink(t)
	cfg := config.Default()
	const agency = "denshi-shosho@pref.shimane.example"
	const from = "fujiwara@hirose-kensetsu.example"
	cfg.Agency = config.Agency{Preset: "shimane", Name: "島根県 土木部（テスト）", Address: &mail.Address{Address: agency}}
	host, port, _ := net.SplitHostPort(mb.addr)
	cfg.IMAP.Addr, cfg.IMAP.TLS, cfg.IMAP.Username, cfg.IMAP.Password = config.HostPort{Host: host, Port: port}, config.TLSNone, "agency", config.NewSecret("pw")
	cfg.IMAP.ProcessedMailbox, cfg.IMAP.Idle = "", false
	host, port, _ = net.SplitHostPort(smtpAddr)
	cfg.SMTP.Addr, cfg.SMTP.TLS, cfg.SMTP.Auth, cfg.SMTP.From = config.HostPort{Host: host, Port: port}, config.TLSNone, config.AuthNone, &mail.Address{Address: agency}
	cfg.State.Dir = t.TempDir()
	cfg.Sandbox.Workers = 2
	off := false
	cfg.Sandbox.OCR = &off

	// The password mail first: each ZIP mail after it is paired with it as it comes in.
	raw, err := samplemail.Mail{From: from, To: agency, Subject: "【パスワード通知】認証キー送付", MessageID: "<pw@hirose-kensetsu.example>",
		Body: "パスワード：Kensetsu#2026"}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	mb.append(t, raw)
	const n = 12
	var want []string
	for i := range n {
		z, err := ppapzip.Write(ppapzip.AES256, "Kensetsu#2026", ppapzip.Member{Name: "認証キー.pdf", Data: noticePDF(t, i)})
		if err != nil {
			t.Fatal(err)
		}
		raw, err = samplemail.Mail{From: from, To: agency, Subject: fmt.Sprintf("認証キー送付 %d", i), MessageID: fmt.Sprintf("<z%d@hirose-kensetsu.example>", i),
			Body: "パスワードは別メールにてお送りします。", Attachments: []samplemail.Attachment{{Name: "ninsho.zip", ContentType: "application/zip", Data: z}}}.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		mb.append(t, raw)
		want = append(want, fmt.Sprintf("%010d", 2071000000+i))
	}

	svc, err := intake.NewService(&cfg, intake.ServiceOptions{WorkerCommand: []string{os.Args[0]}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	res, err := svc.PollOnce(context.Background())
	if err != nil || res.Recorded != n+1 {
		t.Fatalf("poll recorded %d of %d: %v", res.Recorded, n+1, err)
	}
	err = svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		subs, err := svc.Queue.List(tx)
		if err != nil {
			return err
		}
		var got []string
		for _, s := range subs {
			got = append(got, s.Notice.ContractNumber)
			e, err := svc.Ledger.Get(s.Entry)
			if err != nil {
				return err
			}
			if e.MessageID != fmt.Sprintf("z%d@hirose-kensetsu.example", len(got)-1) {
				t.Errorf("notice %s queued as ledger entry %d (%s), not its ZIP mail's", s.Notice.ContractNumber, s.Entry, e.MessageID)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("queued %q, want each ZIP's notice once, in order: %q", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next, ok, err := svc.Effects.PPAP.NextDeadline(); ok || err != nil {
		t.Errorf("a mail still waits after the step (until %v, %v)", next, err)
	}
	// A second step finds nothing to do: no pair is opened twice.
	if err := svc.Effects.PPAP.Step(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	err = svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		subs, err := svc.Queue.List(tx)
		if len(subs) != n {
			t.Errorf("%d queued after a second step, want %d", len(subs), n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
