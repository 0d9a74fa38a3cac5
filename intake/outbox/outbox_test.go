package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/encoding/japanese"

	"hosho-intake/config"
	"hosho-intake/intake/ledger"
)

var t0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

type fixture struct {
	t    testing.TB
	db   *bolt.DB
	ob   *Outbox
	peer *peer
}

// smtpFor is the config.SMTP that reaches p.
func smtpFor(t testing.TB, p *peer, mode string) config.SMTP {
	t.Helper()
	host, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	s := config.SMTP{Addr: config.HostPort{Host: host, Port: port}, TLS: mode, RootCAs: p.pool,
		Timeout: 5 * time.Second, Auth: config.AuthNone}
	if mode == "" {
		s.TLS = config.TLSNone
	}
	return s
}

func openDB(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newFixture(t testing.TB, p *peer, mod func(o *Options)) *fixture {
	t.Helper()
	db := openDB(t, filepath.Join(t.TempDir(), ledger.DBName))
	t.Cleanup(func() { _ = db.Close() })
	opts := Options{SMTP: smtpFor(t, p, ""), MinBackoff: time.Minute, MaxBackoff: time.Hour,
		HelloName: "intake.agency.example.jp", Now: func() time.Time { return t0 }}
	if mod != nil {
		mod(&opts)
	}
	ob, err := Open(db, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return &fixture{t: t, db: db, ob: ob, peer: p}
}

func (f *fixture) enqueue(ms ...Message) []uint64 {
	f.t.Helper()
	var ids []uint64
	err := f.db.Update(func(tx *bolt.Tx) error {
		for _, m := range ms {
			id, err := f.ob.Enqueue(tx, m)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		f.t.Fatalf("Enqueue: %v", err)
	}
	return ids
}

func (f *fixture) sendDue(now time.Time) Result {
	f.t.Helper()
	res, err := f.ob.SendDue(context.Background(), now)
	if err != nil {
		f.t.Fatalf("SendDue(%v): %v", now, err)
	}
	return res
}

func (f *fixture) stats() Stats {
	f.t.Helper()
	var s Stats
	if err := f.db.View(func(tx *bolt.Tx) (err error) { s, err = f.ob.Stats(tx); return err }); err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) failed(since time.Time) []Failure {
	f.t.Helper()
	var out []Failure
	if err := f.db.View(func(tx *bolt.Tx) (err error) { out, err = f.ob.Failed(tx, since); return err }); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) state(id uint64) (Message, string) {
	f.t.Helper()
	var m Message
	var st string
	if err := f.db.View(func(tx *bolt.Tx) (err error) { m, st, err = f.ob.Get(tx, id); return err }); err != nil {
		f.t.Fatal(err)
	}
	return m, st
}

const replySubject = "Re: 電子証書の受付について"

// reply renders a reply as the reply package would: ISO-2022-JP subject, UTF-8 body with a
// line that starts with a dot (dot-stuffing must round-trip), CRLF throughout.
func reply(t testing.TB, i int, to string) Message {
	t.Helper()
	jis, err := japanese.ISO2022JP.NewEncoder().String(replySubject)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("reply-%d.%d@agency.example.jp", i, time.Now().UnixNano())
	raw := "From: =?UTF-8?B?5bO25qC555yM?= <info@agency.example.jp>\r\n" +
		"To: " + to + "\r\n" +
		"Subject: " + mime.BEncoding.Encode("ISO-2022-JP", jis) + "\r\n" +
		"Message-ID: <" + id + ">\r\n" +
		"In-Reply-To: <orig-" + fmt.Sprint(i) + "@contractor.example.jp>\r\n" +
		"Auto-Submitted: auto-replied\r\n" +
		"X-Auto-Response-Suppress: OOF, AutoReply\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"\r\n" +
		"株式会社○○建設 御中\r\n\r\n受付番号: R-" + fmt.Sprint(i) + "\r\n" +
		".保証契約番号 2070004426 (this line starts with a dot)\r\n" +
		"認証キー: ab****yz\r\n"
	return Message{Kind: "reply", From: "info@agency.example.jp", To: []string{to}, Raw: []byte(raw), Ref: uint64(i)}
}

func TestSendTLSAndAuth(t *testing.T) {
	tests := []struct {
		name, tls, auth, mech string
	}{
		{"plain text to loopback, no auth", config.TLSNone, config.AuthNone, ""},
		{"starttls plain", config.TLSStartTLS, config.AuthPlain, "PLAIN"},
		{"implicit tls login", config.TLSImplicit, config.AuthLogin, "LOGIN"},
		{"starttls xoauth2", config.TLSStartTLS, config.AuthXOAuth2, "XOAUTH2"},
		{"implicit oauthbearer", config.TLSImplicit, config.AuthOAuthBearer, "OAUTHBEARER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mechs []string
			if tt.mech != "" {
				mechs = []string{tt.mech}
			}
			p := newPeer(t, peerOptions{tls: tt.tls, mechs: mechs})
			f := newFixture(t, p, func(o *Options) {
				o.SMTP = smtpFor(t, p, tt.tls)
				o.SMTP.Auth, o.SMTP.Username = tt.auth, p.user
				o.Secret = func(context.Context) (string, error) { return p.secret, nil }
			})
			m := reply(t, 1, "contractor@example.jp")
			ids := f.enqueue(m)
			res := f.sendDue(t0)
			if res.Sent != 1 || res.Connections != 1 {
				t.Fatalf("SendDue = %+v, want 1 sent over 1 connection", res)
			}
			got := p.deliveries()
			if len(got) != 1 {
				t.Fatalf("peer received %d messages, want 1", len(got))
			}
			d := got[0]
			if d.From != m.From || !slices.Equal(d.To, m.To) {
				t.Errorf("envelope = %s -> %v, want %s -> %v", d.From, d.To, m.From, m.To)
			}
			if !bytes.Equal(d.Data, m.Raw) {
				t.Errorf("received bytes differ from enqueued:\n got %q\nwant %q", d.Data, m.Raw)
			}
			checkReply(t, d.Data, m)
			if _, st := f.state(ids[0]); st != StateSent {
				t.Errorf("state = %s, want sent", st)
			}
			if s := f.stats(); s.Pending != 0 || s.Sent != 1 {
				t.Errorf("Stats = %+v, want 0 pending, 1 sent", s)
			}
		})
	}
}

// checkReply parses a received reply and checks its headers, charset and text.
func checkReply(t *testing.T, data []byte, m Message) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parsing received mail: %v", err)
	}
	if got := decodeSubject(msg.Header.Get("Subject")); got != replySubject {
		t.Errorf("Subject = %q, want %q", got, replySubject)
	}
	if got := trimID(msg.Header.Get("Message-Id")); got != trimID(string(header(t, m.Raw).Get("Message-Id"))) {
		t.Errorf("Message-ID = %q", got)
	}
	for k, want := range map[string]string{"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "OOF, AutoReply",
		"Content-Type": "text/plain; charset=UTF-8"} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	body, _ := io.ReadAll(msg.Body)
	if !strings.Contains(string(body), "\r\n.保証契約番号 2070004426") || !strings.Contains(string(body), "受付番号: R-") {
		t.Errorf("body = %q, want the dotted line and the tracking number intact", body)
	}
}

func TestAuthRejected(t *testing.T) {
	p := newPeer(t, peerOptions{tls: config.TLSStartTLS, mechs: []string{"XOAUTH2"}})
	var rejected []error
	f := newFixture(t, p, func(o *Options) {
		o.SMTP = smtpFor(t, p, config.TLSStartTLS)
		o.SMTP.Auth, o.SMTP.Username = config.AuthXOAuth2, p.user
		o.Secret = func(context.Context) (string, error) { return "expired-token", nil }
		o.Rejected = func(err error) { rejected = append(rejected, err) }
	})
	ids := f.enqueue(reply(t, 1, "contractor@example.jp"))
	res := f.sendDue(t0)
	if res.Deferred != 1 || res.Sent != 0 {
		t.Fatalf("SendDue = %+v, want 1 deferred", res)
	}
	if len(rejected) != 1 {
		t.Errorf("Rejected called %d times, want 1", len(rejected))
	}
	if _, st := f.state(ids[0]); st != StatePending {
		t.Errorf("state = %s, want pending: a refused credential is the relay's problem, not the message's", st)
	}
}

func TestTemporaryThenAccepted(t *testing.T) {
	p := newPeer(t, peerOptions{})
	p.set(func(p *peer) { p.fail451 = 2 })
	f := newFixture(t, p, nil)
	ids := f.enqueue(reply(t, 1, "contractor@example.jp"))

	steps := []struct {
		at       time.Time
		want     Result
		attempts int
	}{
		{t0, Result{Deferred: 1, Connections: 1, Next: t0.Add(time.Minute)}, 1},
		{t0.Add(59 * time.Second), Result{Next: t0.Add(time.Minute)}, 1}, // not due yet
		{t0.Add(time.Minute), Result{Deferred: 1, Connections: 1, Next: t0.Add(3 * time.Minute)}, 2},
		{t0.Add(3 * time.Minute), Result{Sent: 1, Connections: 1}, 3},
		{t0.Add(time.Hour), Result{}, 3},
	}
	for _, s := range steps {
		res := f.sendDue(s.at)
		if !res.Next.Equal(s.want.Next) {
			t.Errorf("SendDue(%v).Next = %v, want %v", s.at, res.Next, s.want.Next)
		}
		res.Next, s.want.Next = time.Time{}, time.Time{}
		if res != s.want {
			t.Errorf("SendDue(%v) = %+v, want %+v", s.at, res, s.want)
		}
	}
	if n := len(p.deliveries()); n != 1 {
		t.Errorf("received %d times, want once", n)
	}
	var r *record
	_ = f.db.View(func(tx *bolt.Tx) (err error) { r, err = getRecord(tx, ids[0]); return err })
	if r.Attempts != 3 || r.State != StateSent || !strings.Contains(r.LastError, "451 4.3.0") {
		t.Errorf("record = %+v, want sent after 3 attempts, last error 451", r)
	}
}

func TestPermanentFailure(t *testing.T) {
	p := newPeer(t, peerOptions{})
	p.set(func(p *peer) { p.reject["gone@example.jp"] = true })
	f := newFixture(t, p, nil)
	m := reply(t, 1, "gone@example.jp")
	ids := f.enqueue(m)
	if res := f.sendDue(t0); res.Failed != 1 {
		t.Fatalf("SendDue = %+v, want 1 failed", res)
	}
	if res := f.sendDue(t0.Add(2 * time.Hour)); res != (Result{}) {
		t.Errorf("SendDue later = %+v, want nothing: a 5xx is never retried", res)
	}
	fs := f.failed(t0)
	if len(fs) != 1 {
		t.Fatalf("Failed = %+v, want 1", fs)
	}
	want := Failure{ID: ids[0], Kind: "reply", Ref: 1, MessageID: trimID(header(t, m.Raw).Get("Message-Id")),
		To: []string{"gone@example.jp"}, Subject: replySubject, At: t0}
	got := fs[0]
	if !strings.Contains(got.Reason, "550 5.1.1 user unknown") {
		t.Errorf("Reason = %q, want the server's 550", got.Reason)
	}
	got.Reason = ""
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Failed()[0] = %+v, want %+v", got, want)
	}
	if s := f.stats(); s.Failed != 1 || s.Pending != 0 {
		t.Errorf("Stats = %+v", s)
	}
	if len(p.deliveries()) != 0 {
		t.Errorf("peer received a refused message")
	}
}

func TestPartialRecipients(t *testing.T) {
	p := newPeer(t, peerOptions{})
	p.set(func(p *peer) { p.reject["gone@example.jp"] = true })
	f := newFixture(t, p, nil)
	m := reply(t, 1, "clerk@agency.example.jp")
	m.Kind, m.To = "digest", []string{"clerk@agency.example.jp", "gone@example.jp"}
	f.enqueue(m)
	if res := f.sendDue(t0); res.Failed != 1 {
		t.Fatalf("SendDue = %+v, want the message failed for one recipient", res)
	}
	got := p.deliveries()
	if len(got) != 1 || !slices.Equal(got[0].To, []string{"clerk@agency.example.jp"}) {
		t.Fatalf("deliveries = %+v, want one to the clerk", got)
	}
	if fs := f.failed(t0); len(fs) != 1 || !slices.Equal(fs[0].To, []string{"gone@example.jp"}) {
		t.Errorf("Failed = %+v, want gone@example.jp only", fs)
	}
}

func TestDroppedMidData(t *testing.T) {
	p := newPeer(t, peerOptions{})
	p.set(func(p *peer) { p.dropData = 1 })
	f := newFixture(t, p, nil)
	m := reply(t, 1, "contractor@example.jp")
	f.enqueue(m)
	if res := f.sendDue(t0); res.Deferred != 1 {
		t.Fatalf("SendDue = %+v, want deferred after the drop", res)
	}
	if res := f.sendDue(t0.Add(time.Minute)); res.Sent != 1 {
		t.Fatalf("SendDue retry = %+v, want sent", res)
	}
	got := p.deliveries()
	if len(got) != 1 || !bytes.Equal(got[0].Data, m.Raw) {
		t.Errorf("received %d, want the message exactly once", len(got))
	}
}

func TestSilentGreeting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accept, then never say a word
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	p := &peer{addr: l.Addr().String()}
	const timeout = 500 * time.Millisecond
	for _, mode := range []string{config.TLSNone, config.TLSStartTLS, config.TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t, p, func(o *Options) {
				o.SMTP = smtpFor(t, p, mode)
				o.SMTP.Timeout = timeout
			})
			ids := f.enqueue(reply(t, 1, "contractor@example.jp"))
			start := time.Now()
			res := f.sendDue(t0)
			if d := time.Since(start); d > timeout+time.Second {
				t.Errorf("SendDue took %v against a silent server, want at most %v", d, timeout+time.Second)
			}
			if res.Deferred != 1 || !res.Next.Equal(t0.Add(time.Minute)) {
				t.Errorf("SendDue = %+v, want deferred to %v", res, t0.Add(time.Minute))
			}
			if _, st := f.state(ids[0]); st != StatePending {
				t.Errorf("state = %s, want pending", st)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	p := newPeer(t, peerOptions{})
	p.set(func(p *peer) { p.fail451 = 1 << 30 })
	f := newFixture(t, p, func(o *Options) { o.RetryFor = 10 * time.Minute })
	ids := f.enqueue(reply(t, 1, "contractor@example.jp"))
	// Backoff 1, 2, 4 minutes: attempts at 0, 1, 3, 7, then the last at 10 (the expiry).
	var at []time.Duration
	now := t0
	for i := 0; i < 10; i++ {
		res := f.sendDue(now)
		if res.Deferred+res.Failed == 1 {
			at = append(at, now.Sub(t0))
		}
		if res.Failed == 1 {
			break
		}
		if res.Next.IsZero() {
			t.Fatalf("no next attempt after %v", now)
		}
		now = res.Next
	}
	want := []time.Duration{0, time.Minute, 3 * time.Minute, 7 * time.Minute, 10 * time.Minute}
	if !slices.Equal(at, want) {
		t.Errorf("attempts at %v, want %v", at, want)
	}
	fs := f.failed(t0)
	if len(fs) != 1 || fs[0].ID != ids[0] || !strings.Contains(fs[0].Reason, "expired after 5 attempts") ||
		!strings.Contains(fs[0].Reason, "451") {
		t.Errorf("Failed = %+v, want expired after 5 attempts with the last 451", fs)
	}
	if s := f.stats(); s.Pending != 0 {
		t.Errorf("still pending after expiry: %+v", s)
	}
}

func TestBatchOneConnection(t *testing.T) {
	p := newPeer(t, peerOptions{})
	p.set(func(p *peer) { p.reject["gone@example.jp"] = true })
	f := newFixture(t, p, nil)
	var ms []Message
	for i := range 50 {
		to := "contractor@example.jp"
		if i == 25 {
			to = "gone@example.jp" // a refused RCPT mid-batch: RSET, then go on
		}
		ms = append(ms, reply(t, i, to))
	}
	f.enqueue(ms...)
	res := f.sendDue(t0)
	if res.Sent != 49 || res.Failed != 1 || res.Connections != 1 {
		t.Errorf("SendDue = %+v, want 49 sent and 1 failed over 1 connection", res)
	}
	if n := p.connections(); n != 1 {
		t.Errorf("peer saw %d connections, want 1", n)
	}
	got := p.deliveries()
	if len(got) != 49 {
		t.Fatalf("peer received %d, want 49", len(got))
	}
	for i, d := range got {
		j := i
		if i >= 25 {
			j++
		}
		if !bytes.Equal(d.Data, ms[j].Raw) {
			t.Errorf("delivery %d differs from message %d", i, j)
		}
	}
}

func TestRunKickAndCancel(t *testing.T) {
	p := newPeer(t, peerOptions{})
	f := newFixture(t, p, func(o *Options) { o.Now = time.Now })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.ob.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // Run's first pass finds nothing and sleeps with no timer
	f.enqueue(reply(t, 1, "contractor@example.jp"))
	deadline := time.Now().Add(5 * time.Second)
	for len(p.deliveries()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(p.deliveries()) != 1 {
		t.Fatal("Run did not send the message after the commit kicked it")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop on cancel")
	}
}

func TestEnqueueRolledBack(t *testing.T) {
	p := newPeer(t, peerOptions{})
	f := newFixture(t, p, nil)
	errDecision := errors.New("the decision failed")
	err := f.db.Update(func(tx *bolt.Tx) error {
		if _, err := f.ob.Enqueue(tx, reply(t, 1, "contractor@example.jp")); err != nil {
			return err
		}
		return errDecision
	})
	if !errors.Is(err, errDecision) {
		t.Fatal(err)
	}
	if s := f.stats(); s.Pending != 0 {
		t.Errorf("a reply of a rolled-back decision is pending: %+v", s)
	}
	if res := f.sendDue(t0); res != (Result{}) {
		t.Errorf("SendDue = %+v, want nothing", res)
	}
}

func TestEnqueueInvalid(t *testing.T) {
	p := newPeer(t, peerOptions{})
	f := newFixture(t, p, nil)
	good := reply(t, 1, "c@example.jp")
	bad := map[string]func(m *Message){
		"no sender":     func(m *Message) { m.From = "" },
		"no recipients": func(m *Message) { m.To = nil },
		"empty":         func(m *Message) { m.Raw = nil },
		"no Message-ID": func(m *Message) { m.Raw = []byte("Subject: x\r\n\r\nbody\r\n") },
		"other ID":      func(m *Message) { m.MessageID = "<other@example.jp>" },
		"injected rcpt": func(m *Message) { m.To = []string{"a@example.jp>\r\nDATA"} },
	}
	for name, mod := range bad {
		m := good
		mod(&m)
		err := f.db.Update(func(tx *bolt.Tx) error { _, err := f.ob.Enqueue(tx, m); return err })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Enqueue(%s) = %v, want ErrInvalid", name, err)
		}
	}
}

func TestOpenRefusesPlainTextToRemote(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "x.db"))
	defer db.Close()
	_, err := Open(db, Options{SMTP: config.SMTP{Addr: config.HostPort{Host: "smtp.example.jp", Port: "25"}, TLS: config.TLSNone}})
	if err == nil {
		t.Error("Open with tls none to a remote host succeeded")
	}
}

func TestPrune(t *testing.T) {
	p := newPeer(t, peerOptions{})
	f := newFixture(t, p, nil)
	ids := f.enqueue(reply(t, 1, "contractor@example.jp"))
	f.sendDue(t0)
	f.sendDue(t0.Add(29 * 24 * time.Hour))
	if _, st := f.state(ids[0]); st != StateSent {
		t.Fatalf("state = %s before Keep ran out", st)
	}
	f.sendDue(t0.Add(31 * 24 * time.Hour))
	err := f.db.View(func(tx *bolt.Tx) error { _, _, err := f.ob.Get(tx, ids[0]); return err })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Keep = %v, want ErrNotFound", err)
	}
	if s := f.stats(); s.Sent != 0 {
		t.Errorf("Stats after prune = %+v", s)
	}
}

func TestCancelDuringSend(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	p := &peer{addr: l.Addr().String()}
	f := newFixture(t, p, func(o *Options) { o.SMTP.Timeout = time.Minute })
	f.enqueue(reply(t, 1, "contractor@example.jp"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = f.ob.SendDue(ctx, t0)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("SendDue took %v after its context ended", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SendDue = %v, want the context's error", err)
	}
	if s := f.stats(); s.Pending != 1 {
		t.Errorf("Stats = %+v, want the message still pending", s)
	}
}

func TestRelayDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{addr: l.Addr().String()}
	l.Close() // nothing listens: connection refused
	f := newFixture(t, p, nil)
	f.enqueue(reply(t, 1, "a@example.jp"), reply(t, 2, "b@example.jp"), reply(t, 3, "c@example.jp"))
	res := f.sendDue(t0)
	if res.Deferred != 3 || res.Connections != 1 || !res.Next.Equal(t0.Add(time.Minute)) {
		t.Errorf("SendDue = %+v, want 3 deferred after 1 connection attempt, next in a minute", res)
	}
	if s := f.stats(); s.Pending != 3 {
		t.Errorf("Stats = %+v, want 3 pending", s)
	}
}

// TestDefaultBackoff: without settings, the first retry after a temporary failure comes
// within seconds and the waits double up to the configured maximum (issue 19: a relay down
// for a minute held replies for three).
func TestDefaultBackoff(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), ledger.DBName))
	t.Cleanup(func() { _ = db.Close() })
	for _, tt := range []struct {
		max  time.Duration
		want []time.Duration
	}{
		{0, []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}},
		{15 * time.Second, []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 15 * time.Second}},
	} {
		ob, err := Open(db, Options{SMTP: config.SMTP{Addr: config.HostPort{Host: "127.0.0.1", Port: "25"}, TLS: config.TLSNone,
			From: &mail.Address{Address: "a@b.example"}}, MaxBackoff: tt.max})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range tt.want {
			if got := ob.backoff(i + 1); got != want {
				t.Errorf("max %v: wait after attempt %d = %v, want %v", tt.max, i+1, got, want)
			}
		}
		if tt.max == 0 && ob.backoff(30) != 30*time.Minute {
			t.Errorf("default maximum wait = %v, want 30m", ob.backoff(30))
		}
	}
}

// TestSendDueTakesAllDue: one pass sends every message due, past batchLimit (`once` makes
// one pass), over one connection, with one outcome per message.
func TestSendDueTakesAllDue(t *testing.T) {
	p := newPeer(t, peerOptions{})
	f := newFixture(t, p, nil)
	n := batchLimit + 7
	err := f.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			if _, err := f.ob.Enqueue(tx, reply(t, i, "contractor@example.jp")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.ob.SendDue(context.Background(), t0.Add(time.Hour))
	if err != nil || res.Sent != n || res.Deferred != 0 || res.Connections != 1 {
		t.Fatalf("SendDue = %+v, %v; want %d sent over 1 connection", res, err, n)
	}
	if got := len(p.deliveries()); got != n {
		t.Errorf("peer received %d, want %d", got, n)
	}
	var pending int
	f.db.View(func(tx *bolt.Tx) error { pending, err = f.ob.Pending(tx); return err })
	if pending != 0 {
		t.Errorf("Pending = %d after the pass, want 0", pending)
	}
}
