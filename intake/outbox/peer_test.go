package outbox

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// peer is a real SMTP server (go-smtp's) on 127.0.0.1 that keeps what it receives and can
// be told to misbehave.
type peer struct {
	addr string
	srv  *smtp.Server
	// pool trusts the peer's certificate, for TLS modes.
	pool *x509.CertPool

	mu       sync.Mutex
	received []delivery
	conns    int
	// fail451 answers 451 to the next fail451 MAIL commands.
	fail451 int
	// reject answers 550 to RCPT for these addresses.
	reject map[string]bool
	// dropData drops the connection in the middle of the next dropData DATA.
	dropData int
	// mailDelay is how long the server thinks before it answers MAIL. Not DATA: the
	// message is in the server's socket buffer once the client wrote the final dot, and a
	// delay there would widen the duplicate window beyond the client's own.
	mailDelay time.Duration
	// mechs are the AUTH mechanisms offered; user/secret are what they accept.
	mechs        []string
	user, secret string
	authed       int
}

type delivery struct {
	From string
	To   []string
	Data []byte
}

type peerOptions struct {
	tls   string // "none", "starttls", "implicit"
	mechs []string
}

func newPeer(t testing.TB, o peerOptions) *peer {
	t.Helper()
	p := &peer{reject: map[string]bool{}, mechs: o.mechs, user: "agency@example.jp", secret: "s3cret"}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		p.mu.Lock()
		p.conns++
		p.mu.Unlock()
		return &peerSession{p: p, c: c}, nil
	}))
	srv.Domain = "peer.example.jp"
	srv.AllowInsecureAuth = o.tls == "none" || o.tls == ""
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.EnableDSN = true
	srv.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.tls == "starttls" || o.tls == "implicit" {
		cert, pool := testCert(t)
		p.pool = pool
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
		if o.tls == "starttls" {
			srv.TLSConfig = cfg
		} else {
			l = tls.NewListener(l, cfg)
		}
	}
	p.addr = l.Addr().String()
	p.srv = srv
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

func (p *peer) set(f func(p *peer)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *peer) deliveries() []delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]delivery(nil), p.received...)
}

func (p *peer) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

type peerSession struct {
	p    *peer
	c    *smtp.Conn
	from string
	to   []string
}

func (s *peerSession) Reset()        { s.from, s.to = "", nil }
func (s *peerSession) Logout() error { return nil }

func (s *peerSession) Mail(from string, _ *smtp.MailOptions) error {
	s.p.mu.Lock()
	delay := s.p.mailDelay
	s.p.mu.Unlock()
	time.Sleep(delay)
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if len(s.p.mechs) > 0 && s.p.authed == 0 {
		return smtp.ErrAuthRequired
	}
	if s.p.fail451 > 0 {
		s.p.fail451--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.from = from
	return nil
}

func (s *peerSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if s.p.reject[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "user unknown"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *peerSession) Data(r io.Reader) error {
	s.p.mu.Lock()
	drop := s.p.dropData > 0
	if drop {
		s.p.dropData--
	}
	s.p.mu.Unlock()
	if drop {
		// Read a little of the message, then vanish as a crashing server would.
		_, _ = io.ReadFull(r, make([]byte, 64))
		_ = s.c.Conn().Close()
		return errors.New("dropped")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.p.mu.Lock()
	s.p.received = append(s.p.received, delivery{From: s.from, To: s.to, Data: b})
	s.p.mu.Unlock()
	return nil
}

func (s *peerSession) AuthMechanisms() []string { return s.p.mechs }

func (s *peerSession) Auth(mech string) (sasl.Server, error) {
	ok := func(user, secret string) error {
		s.p.mu.Lock()
		defer s.p.mu.Unlock()
		if user != s.p.user || secret != s.p.secret {
			return smtp.ErrAuthFailed
		}
		s.p.authed++
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return ok(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: ok}, nil
	case "XOAUTH2":
		return &xoauth2Server{check: ok}, nil
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if ok(o.Username, o.Token) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token"}
			}
			return nil
		}), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of LOGIN as go-sasl's client speaks it: the username as
// the initial response, then "Password:".
type loginServer struct {
	step  int
	user  string
	check func(user, secret string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// xoauth2Server: "user=U^Aauth=Bearer T^A^A"; a bad token gets a JSON challenge first.
type xoauth2Server struct {
	failed bool
	check  func(user, secret string) error
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, true, smtp.ErrAuthFailed
	}
	var user, token string
	for _, f := range strings.Split(string(resp), "\x01") {
		if v, ok := strings.CutPrefix(f, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(f, "auth=Bearer "); ok {
			token = v
		}
	}
	if x.check(user, token) != nil {
		x.failed = true
		return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
	}
	return nil, true, nil
}

// testCert makes a self-signed certificate for 127.0.0.1 and a pool that trusts it.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peer.example.jp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// header reads the header of a received message.
func header(t testing.TB, data []byte) textproto.MIMEHeader {
	t.Helper()
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("reading received header: %v", err)
	}
	return h
}
