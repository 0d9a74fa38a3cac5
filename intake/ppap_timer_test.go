package intake_test

import (
	"context"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/ppapzip"
	"hosho-intake/intake/samplemail"
)

// handClock is a clock the test moves by hand (intake.Clock).
type handClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []handWaiter
}

type handWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *handClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *handClock) Until(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !t.After(c.now) {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, handWaiter{at: t, ch: ch})
	return ch
}

// advance moves the clock and fires the timers it passed.
func (c *handClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// smtpSink is go-smtp's server on 127.0.0.1 keeping what it receives.
type smtpSink struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct{ s *smtpSink }

func (x *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *sinkSession) Reset()                               {}
func (x *sinkSession) Logout() error                        { return nil }
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, b)
	x.s.mu.Unlock()
	return err
}

func (s *smtpSink) received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.msgs...)
}

func startSMTPSink(t *testing.T) (*smtpSink, string) {
	t.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "sink.example"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sink, ln.Addr().String()
}

// TestPPAPExpiresWithoutPoll: in the running daemon (Service.Run) a password ZIP whose password
// does not come is answered when its [reply] password_wait ends, by the PPAP timer, though no
// poll runs after the one that took it in (the poll schedule is yearly, IDLE off). The clock is
// the test's: an hour passes in one step, and the reply goes out through the outbox to a real
// SMTP server, once.
func TestPPAPExpiresWithoutPoll(t *testing.T) {
	mb := startMemMailbox(t)
	sink, smtpAddr := startSMTPSink(t)
	cfg := config.Default()
	const agency = "denshi-shosho@pref.shimane.example"
	cfg.Agency = config.Agency{Preset: "shimane", Name: "島根県 土木部（テスト）", Address: &mail.Address{Address: agency}}
	host, port, _ := net.SplitHostPort(mb.addr)
	cfg.IMAP.Addr, cfg.IMAP.TLS, cfg.IMAP.Username, cfg.IMAP.Password = config.HostPort{Host: host, Port: port}, config.TLSNone, "agency", config.NewSecret("pw")
	cfg.IMAP.ProcessedMailbox, cfg.IMAP.Idle = "", false
	yearly, err := config.ParseSchedule("0 0 1 1 *")
	if err != nil {
		t.Fatal(err)
	}
	cfg.IMAP.Schedule, cfg.Digest.Schedule = yearly, yearly
	host, port, _ = net.SplitHostPort(smtpAddr)
	cfg.SMTP.Addr, cfg.SMTP.TLS, cfg.SMTP.Auth, cfg.SMTP.From = config.HostPort{Host: host, Port: port}, config.TLSNone, config.AuthNone, &mail.Address{Address: agency}
	cfg.Reply.PasswordWait = time.Hour
	cfg.State.Dir = t.TempDir()

	z, err := ppapzip.Write(ppapzip.AES256, "Kensetsu#2026", ppapzip.Member{Name: "認証キー.pdf", Data: noticePDF(t, 3)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := samplemail.Mail{From: "e@late.example", To: agency, Subject: "認証キー送付", MessageID: "<z1@late.example>",
		Body: "パスワードは別メールにてお送りします。", Attachments: []samplemail.Attachment{{Name: "ninsho.zip", ContentType: "application/zip", Data: z}}}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	mb.append(t, raw)

	svc, err := intake.NewService(&cfg, intake.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	clock := &handClock{now: time.Now()}
	svc.Clock = clock
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()

	var polled time.Time
	waitUntil(t, "ZIP mail recorded by the poll at start", func() bool {
		h := svc.Health(time.Now())
		polled = h.LastOK
		return h.Last.Recorded == 1
	})
	clock.advance(30 * time.Minute)
	if n := len(sink.received()); n != 0 {
		t.Fatalf("%d mails sent half-way through the wait", n)
	}
	clock.advance(31 * time.Minute)
	waitUntil(t, "expiry reply", func() bool { return len(sink.received()) > 0 })
	got := sink.received()
	body := string(got[0])
	if len(got) != 1 || !strings.Contains(body, "z1@late.example") || strings.Contains(body, "Kensetsu#2026") {
		t.Errorf("%d mails; first:\n%s", len(got), body)
	}
	if h := svc.Health(time.Now()); !h.LastOK.Equal(polled) || h.Last.Recorded != 1 {
		t.Errorf("a poll ran (last %v, was %v): the reply must come from the timer", h.LastOK, polled)
	}
	// Once: the waiting mail is gone, and another hour sends nothing more.
	clock.advance(time.Hour)
	if _, ok, err := svc.Effects.PPAP.NextDeadline(); ok || err != nil {
		t.Errorf("still waiting after the expiry (%v)", err)
	}
	if n := len(sink.received()); n != 1 {
		t.Errorf("%d mails after another hour, want 1", n)
	}
}

// waitUntil polls cond every 20ms for up to 30s (a wait for an effect, not a timing assertion).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30s", what)
		}
	}
}
