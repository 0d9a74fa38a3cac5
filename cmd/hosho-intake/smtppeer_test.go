package main

import (
	"bytes"
	"io"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpPeer is go-smtp's server on 127.0.0.1, standing for the agency's relay: it stores
// every message it receives, with its envelope.
type smtpPeer struct {
	addr string
	mu   sync.Mutex
	got  []received
}

type received struct {
	From string
	To   []string
	Data []byte
}

func startSMTPPeer(t *testing.T) *smtpPeer {
	t.Helper()
	p := &smtpPeer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &peerSession{p: p}, nil }))
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p.addr = ln.Addr().String()
	return p
}

// messages returns what was received so far, parsed.
func (p *smtpPeer) messages(t *testing.T) []*mail.Message {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*mail.Message
	for _, r := range p.got {
		m, err := mail.ReadMessage(bytes.NewReader(r.Data))
		if err != nil {
			t.Fatalf("the relay received a message net/mail cannot read: %v\n%s", err, r.Data)
		}
		out = append(out, m)
	}
	return out
}

func (p *smtpPeer) envelopes() []received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]received(nil), p.got...)
}

type peerSession struct {
	p    *smtpPeer
	from string
	to   []string
}

func (s *peerSession) Reset()        { s.from, s.to = "", nil }
func (s *peerSession) Logout() error { return nil }
func (s *peerSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *peerSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *peerSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.p.mu.Lock()
	s.p.got = append(s.p.got, received{From: s.from, To: s.to, Data: b})
	s.p.mu.Unlock()
	return nil
}
