package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/samplemail"
	"hosho-intake/intake/web"
	"hosho-intake/verifier"
)

const (
	demoAgency = "denshi-shosho@pref.shimane.example"
	demoClerk  = "keiyaku@pref.shimane.example"
)

// runDemo shows the daemon at work with nothing installed: go-imap's in-memory IMAP server
// holds a dozen realistic contractor mails that the repo's own code generates, a local SMTP
// server writes what it receives to a folder, and the real daemon code runs one poll and
// one digest against them with a temporary state. It prints what happened to each mail.
func runDemo(ctx context.Context, e env) error {
	dir, err := os.MkdirTemp("", "hosho-intake-demo-")
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake demo: %v\n", err)
		return exitCode(1)
	}
	if err := demo(ctx, e, dir); err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake demo: %v\n", err)
		return exitCode(1)
	}
	return nil
}

// demoRun is the demo's world: the mailbox, the SMTP server, the service that polled it once
// and sent its replies and digest, and the clerks' page over it.
type demoRun struct {
	cfg     *config.Config
	svc     *intake.Service
	relay   *demoRelay
	page    *web.Server
	pageURL string
	sent    string // the folder the SMTP server writes to
	log     *os.File
	mails   int
	poll    intake.Result
	digest  verifier.Digest
	stop    []func()
}

func (d *demoRun) close() {
	for i := len(d.stop) - 1; i >= 0; i-- {
		d.stop[i]()
	}
}

// startDemo builds the demo's world in dir and runs one poll, the replies and a digest;
// the clerks' page serves until ctx ends or close.
func startDemo(ctx context.Context, e env, dir string) (*demoRun, error) {
	d := &demoRun{}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	set, err := samplemail.Set(1)
	if err != nil {
		return nil, fmt.Errorf("generating mails: %w", err)
	}
	d.mails = len(set)
	user := imapmemserver.NewUser("agency", "demo-password")
	if err := user.Create("INBOX", nil); err != nil {
		return nil, err
	}
	for _, s := range set {
		raw, err := s.Mail.Bytes()
		if err != nil {
			return nil, err
		}
		// The mailbox received them now (INTERNALDATE), whatever their senders' Date says:
		// the digest counts ages from arrival.
		if _, err := user.Append("INBOX", literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{Time: time.Now()}); err != nil {
			return nil, err
		}
	}
	imapAddr, stopIMAP, err := serveIMAP(user)
	if err != nil {
		return nil, err
	}
	d.stop = append(d.stop, stopIMAP)
	d.sent = filepath.Join(dir, "sent")
	if err := os.Mkdir(d.sent, 0o700); err != nil {
		return nil, err
	}
	relay, stopSMTP, err := serveSMTP(d.sent)
	if err != nil {
		return nil, err
	}
	d.relay = relay
	d.stop = append(d.stop, stopSMTP)
	// The page listens before the service starts, so that its address is in the config
	// the digest's links are made from.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.cfg = demoConfig(imapAddr, relay.addr, filepath.Join(dir, "state"))
	d.cfg.Web.Addr = ln.Addr().String()
	d.pageURL = "http://" + d.cfg.Web.Addr + "/"
	d.cfg.Web.URL = d.pageURL
	if d.log, err = os.Create(filepath.Join(dir, "daemon.log")); err != nil {
		ln.Close()
		return nil, err
	}
	d.stop = append(d.stop, func() { d.log.Close() })
	logger := slog.New(slog.NewTextHandler(d.log, nil))
	if d.svc, err = newService(e, d.cfg, logger); err != nil {
		ln.Close()
		return nil, err
	}
	d.stop = append(d.stop, func() { d.svc.Close() })
	if d.page, err = web.New(web.Options{Service: func() *intake.Service { return d.svc }, Logger: logger.With("component", "web")}); err != nil {
		ln.Close()
		return nil, err
	}
	pageCtx, stopPage := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { web.Serve(pageCtx, ln, d.cfg.Web, d.page); close(served) }()
	d.stop = append(d.stop, func() { stopPage(); <-served })

	if d.poll, err = d.svc.PollOnce(ctx); err != nil {
		return nil, err
	}
	if _, err := d.svc.SendNow(ctx); err != nil {
		return nil, err
	}
	if d.digest, err = d.svc.SendDigest(time.Now()); err != nil {
		return nil, err
	}
	if _, err := d.svc.SendNow(ctx); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

func demo(ctx context.Context, e env, dir string) error {
	d, err := startDemo(ctx, e, dir)
	if err != nil {
		return err
	}
	defer d.close()
	cfg, svc, relay, digest, res, sent, logFile := d.cfg, d.svc, d.relay, d.digest, d.poll, d.sent, d.log

	fmt.Fprintf(e.stdout, "hosho-intake demo: %d contractor mails in an in-memory IMAP mailbox; one poll took %v\n\n",
		d.mails, res.Duration.Round(time.Millisecond))
	entries, err := svc.Ledger.List(ledger.Filter{}, 100)
	if err != nil {
		return err
	}
	items, err := svc.QueueList(verifier.StateQueued, verifier.StateNeedsReview, verifier.StateVerified, verifier.StateRejected)
	if err != nil {
		return err
	}
	replies := relay.bySubject()
	for i := len(entries) - 1; i >= 0; i-- { // oldest first
		en := entries[i]
		fmt.Fprintf(e.stdout, "%s 「%s」\n", en.From, en.Subject)
		for _, it := range items {
			if it.Entry == en.ID {
				var reasons []string
				for _, r := range it.Decision.Reasons {
					reasons = append(reasons, r+" "+verifier.ReasonLabel(r))
				}
				fmt.Fprintf(e.stdout, "    %s %s %s %s → %s %s", it.TrackingNumber(), orDash(it.Notice.Category), it.Notice.ContractNumber,
					orDash(it.Notice.Guarantor), it.State, it.Label())
				if len(reasons) > 0 {
					fmt.Fprintf(e.stdout, ": %s", strings.Join(reasons, ", "))
				}
				fmt.Fprintln(e.stdout)
			}
		}
		for _, p := range en.Problems {
			fmt.Fprintf(e.stdout, "    problem: %s %s\n", p, intake.WhyLabel(p))
		}
		if en.Outcome == intake.OutcomeInquiry {
			fmt.Fprintf(e.stdout, "    inquiry: acknowledged, forwarded to %s, listed in the digest for a clerk to answer\n", cfg.Digest.InquiriesTo.Address)
		}
		switch r, ok := replies["Re: "+en.Subject]; {
		case ok:
			fmt.Fprintf(e.stdout, "    reply sent: %s\n", r)
		case en.NoReply:
			fmt.Fprintf(e.stdout, "    no reply: machine-generated or list mail, never answered\n")
		default:
			fmt.Fprintf(e.stdout, "    no reply: %s\n", en.NoReplyWhy)
		}
	}
	htmlFile := filepath.Join(dir, "digest.html")
	if digest.Empty {
		fmt.Fprintln(e.stdout, "\ndigest: nothing to report")
	} else {
		fmt.Fprintf(e.stdout, "\ndigest to the clerks (%s): %s\n", demoClerk, digest.Subject)
		fmt.Fprintf(e.stdout, "    %s\n", strings.ReplaceAll(strings.TrimRight(digest.Text, "\n"), "\n", "\n    "))
		// Its HTML part, for a browser (and deploy/screenshots).
		if err := os.WriteFile(htmlFile, []byte(digest.HTML), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "\nThe digest's HTML part is %s.\n", htmlFile)
	}
	fmt.Fprintf(e.stdout, "\nEverything the SMTP server received is in %s; the state is in %s; the log in %s.\n",
		sent, filepath.Join(dir, "state"), logFile.Name())
	link, err := d.page.Link(demoClerk)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nThe clerks' page: %s\nSign in as %s with this one-time link (valid %v): %s\n",
		d.pageURL, demoClerk, cfg.Web.LinkLifetime, link)
	fmt.Fprintf(e.stdout, "Remove %s when done.\n", dir)
	if interactive(e.stdin) {
		fmt.Fprintln(e.stdout, "The page serves until Ctrl-C.")
		<-ctx.Done()
	}
	return nil
}

// interactive reports whether r is a terminal: the demo then keeps its page open for the
// person at it, and a script or test gets its summary and the exit.
func interactive(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull) // a character device too, and nobody at it
	return err != nil || !os.SameFile(fi, null)
}

func demoConfig(imapAddr, smtpAddr, state string) *config.Config {
	cfg := config.Default()
	cfg.Agency = config.Agency{Preset: "shimane", Name: "島根県 土木部 技術管理課（デモ）", Address: &mail.Address{Address: demoAgency}}
	host, port, _ := net.SplitHostPort(imapAddr)
	cfg.IMAP.Addr = config.HostPort{Host: host, Port: port}
	cfg.IMAP.TLS, cfg.IMAP.Username, cfg.IMAP.Password = config.TLSNone, "agency", config.NewSecret("demo-password")
	cfg.IMAP.ProcessedMailbox = "処理済み"
	host, port, _ = net.SplitHostPort(smtpAddr)
	cfg.SMTP.Addr = config.HostPort{Host: host, Port: port}
	cfg.SMTP.TLS, cfg.SMTP.Auth, cfg.SMTP.From = config.TLSNone, config.AuthNone, &mail.Address{Address: demoAgency}
	clerk := &mail.Address{Name: "契約検査課", Address: demoClerk}
	cfg.Digest.To, cfg.Digest.Clerks = []*mail.Address{clerk}, []*mail.Address{clerk}
	cfg.Digest.InquiriesTo = clerk
	cfg.Digest.DSureURL = "https://d-sure.example/login" // a stand-in: set D-Sure's own page in a real config
	cfg.Reply.Signature = "島根県 土木部 技術管理課\n電子証書受付窓口（デモ）"
	cfg.State.Dir = state
	cfg.Web.SessionIdle, cfg.Web.LinkLifetime = 30*time.Minute, 30*time.Minute
	return &cfg
}

type literal struct {
	io.Reader
	n int64
}

func (l literal) Size() int64 { return l.n }

func serveIMAP(user *imapmemserver.User) (string, func(), error) {
	mem := imapmemserver.New()
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}},
		InsecureAuth: true, // loopback only
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// demoRelay is a local SMTP server that writes every message it receives to a folder and
// keeps it, with its envelope, for whoever looks (the demo's summary, the tests).
type demoRelay struct {
	addr, dir string
	mu        sync.Mutex
	got       []received
	subjects  map[string]string // decoded subject -> file
}

// received is one message a demoRelay received.
type received struct {
	From string
	To   []string
	Data []byte
}

func serveSMTP(dir string) (*demoRelay, func(), error) {
	r := &demoRelay{dir: dir, subjects: map[string]string{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &demoSession{r: r}, nil }))
	srv.Domain, srv.AllowInsecureAuth = "relay.demo", true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	go srv.Serve(ln)
	r.addr = ln.Addr().String()
	return r, func() { srv.Close() }, nil
}

func (r *demoRelay) bySubject() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.subjects))
	for k, v := range r.subjects {
		out[k] = v
	}
	return out
}

type demoSession struct {
	r    *demoRelay
	from string
	to   []string
}

func (s *demoSession) Reset()        { s.from, s.to = "", nil }
func (s *demoSession) Logout() error { return nil }
func (s *demoSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *demoSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *demoSession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.got = append(s.r.got, received{From: s.from, To: s.to, Data: b})
	name := filepath.Join(s.r.dir, fmt.Sprintf("%02d-%s.eml", len(s.r.got), strings.Join(s.to, ",")))
	if err := os.WriteFile(name, b, 0o600); err != nil {
		return err
	}
	if m, err := mail.ReadMessage(bytes.NewReader(b)); err == nil {
		var dec mime.WordDecoder
		subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
		s.r.subjects[subject] = name
	}
	return nil
}
