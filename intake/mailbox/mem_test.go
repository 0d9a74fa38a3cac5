package mailbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"hosho-intake/parser/testkit"
)

const (
	testUser     = "agency"
	testPassword = `pa"ss\word 秘密`
	testToken    = "ya29.test-access-token"
)

// memServer is go-imap's in-memory IMAP server on 127.0.0.1, with hooks for what the tests
// need: capabilities switched off, COPY refused, and the SASL mechanisms XOAUTH2 and
// OAUTHBEARER (checked against testToken).
//
// Its quirks are not the protocol's: it lower-cases keywords, and its MOVE sends EXPUNGE
// responses whose sequence numbers are not what RFC 3501 section 7.4.1 asks for.
type memServer struct {
	Addr string
	user *imapmemserver.User

	failCopy atomic.Bool
	mu       sync.Mutex
	mechs    []string // mechanisms used, in order
}

type memOptions struct {
	noMove, noUIDPlus bool
}

func startMem(t *testing.T, o memOptions) *memServer {
	t.Helper()
	ms := &memServer{user: imapmemserver.NewUser(testUser, testPassword)}
	if err := ms.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	caps := imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapNamespace: {}, imap.CapUIDPlus: {}, imap.CapMove: {}}
	if o.noMove {
		delete(caps, imap.CapMove)
	}
	if o.noUIDPlus {
		delete(caps, imap.CapUIDPlus)
	}
	logger := &testLogger{t: t}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &memSession{ms: ms}, nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       logger,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		logger.stop()
	})
	ms.Addr = ln.Addr().String()
	return ms
}

// testLogger logs the server's complaints to the test while it runs. A connection's goroutine
// can outlive the test (a client that hung up in the middle of AUTHENTICATE is noticed after
// it): once stopped, nothing more is logged, as a finished test must not be written to.
type testLogger struct {
	t       *testing.T
	mu      sync.Mutex
	stopped bool
}

func (l *testLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped && !strings.Contains(format, "closed") {
		l.t.Logf("imapserver: "+format, args...)
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

func (ms *memServer) append(t *testing.T, mailbox string, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		r := literal{strings.NewReader(m), int64(len(m))}
		if _, err := ms.user.Append(mailbox, r, &imap.AppendOptions{Time: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
	}
}

// count returns the number of messages in a mailbox, -1 if it does not exist.
func (ms *memServer) count(t *testing.T, mailbox string) int {
	t.Helper()
	st, err := ms.user.Status(mailbox, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return -1
	}
	return int(*st.NumMessages)
}

type literal struct {
	io.Reader
	size int64
}

func (l literal) Size() int64 { return l.size }

// memSession is a memory-server session with the tests' hooks.
type memSession struct {
	*imapmemserver.UserSession // nil until logged in
	ms                         *memServer
}

var _ imapserver.SessionSASL = (*memSession)(nil)

func (s *memSession) Login(username, password string) error {
	s.ms.record("LOGIN")
	if err := s.ms.user.Login(username, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(s.ms.user)
	return nil
}

func (s *memSession) Close() error {
	if s.UserSession == nil {
		return nil
	}
	return s.UserSession.Close()
}

func (ms *memServer) record(mech string) {
	ms.mu.Lock()
	ms.mechs = append(ms.mechs, mech)
	ms.mu.Unlock()
}

func (ms *memServer) used() []string {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]string(nil), ms.mechs...)
}

func (s *memSession) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	if s.ms.failCopy.Load() {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Quota exceeded (test)"}
	}
	return s.UserSession.Copy(numSet, dest)
}

func (s *memSession) AuthenticateMechanisms() []string {
	return []string{"PLAIN", XOAuth2, sasl.OAuthBearer}
}

func (s *memSession) Authenticate(mech string) (sasl.Server, error) {
	s.ms.record(mech)
	login := func(user string) error {
		if user != testUser {
			return imapserver.ErrAuthFailed
		}
		s.UserSession = imapmemserver.NewUserSession(s.ms.user)
		return nil
	}
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return imapserver.ErrAuthFailed
			}
			if err := s.ms.user.Login(username, password); err != nil {
				return err
			}
			return login(username)
		}), nil
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if o.Token != testToken || login(o.Username) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), nil
	case XOAuth2:
		return &xoauth2Server{login: func(user, token string) error {
			if token != testToken {
				return imapserver.ErrAuthFailed
			}
			return login(user)
		}}, nil
	}
	return nil, fmt.Errorf("unsupported mechanism %s", mech)
}

// xoauth2Server is the server side of XOAUTH2, as Gmail behaves: a refused token gets a
// JSON challenge, then the exchange fails.
type xoauth2Server struct {
	login func(user, token string) error
	state int
}

func (s *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	switch s.state {
	case 0:
		if resp == nil {
			return []byte{}, false, nil // ask for the initial response
		}
		s.state = 1
		fields := strings.Split(string(resp), "\x01")
		if len(fields) != 4 || !strings.HasPrefix(fields[0], "user=") || !strings.HasPrefix(fields[1], "auth=Bearer ") || fields[2] != "" || fields[3] != "" {
			return nil, false, errors.New("malformed XOAUTH2 response")
		}
		if err := s.login(strings.TrimPrefix(fields[0], "user="), strings.TrimPrefix(fields[1], "auth=Bearer ")); err != nil {
			return []byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`), false, nil
		}
		return nil, true, nil
	default:
		return nil, true, imapserver.ErrAuthFailed
	}
}

func loginOptions(addr string) Options {
	return Options{
		Addr: addr, TLS: TLSNone, Username: testUser, Auth: AuthLogin,
		Secret:  func(context.Context) (string, error) { return testPassword, nil },
		Timeout: 2 * time.Second,
	}
}

func dial(t *testing.T, o Options) *Session {
	t.Helper()
	s, err := Dial(context.Background(), o)
	if err != nil {
		t.Fatalf("Dial(%s, %s, %s) = %v", o.Addr, o.TLS, o.Auth, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// message returns a small RFC 5322 message.
func message(id string, body string) string {
	return "From: =?UTF-8?B?5Y+X5rOo6ICF?= <contractor@example.jp>\r\n" +
		"To: agency@example.lg.jp\r\n" +
		"Subject: =?UTF-8?B?6KqN6Ki844Kt44O844Gu44GK55+l44KJ44Gb?=\r\n" +
		"Message-ID: <" + id + ">\r\n" +
		"Date: Sun, 01 Jun 2025 09:00:00 +0900\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" + body + "\r\n"
}

// debugLog returns a logger that writes debug records into a buffer.
func debugLog() (*slog.Logger, *testkit.SyncBuffer) {
	var b testkit.SyncBuffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}
