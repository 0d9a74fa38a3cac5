package outbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"hosho-intake/config"
)

// checkSMTP refuses settings that would send credentials or mail in clear text to another
// host (RFC 8314 section 3: submission uses TLS), and unknown modes.
func checkSMTP(s config.SMTP) error {
	if s.Addr.Host == "" || s.Addr.Port == "" {
		return fmt.Errorf("smtp address %q: want host:port", s.Addr)
	}
	switch s.TLS {
	case config.TLSImplicit, config.TLSStartTLS:
	case config.TLSNone:
		if !s.Addr.IsLoopback() {
			return fmt.Errorf("smtp tls none to %s: only a loopback address may go without TLS", s.Addr)
		}
	default:
		return fmt.Errorf("smtp tls %q: want implicit, starttls or none", s.TLS)
	}
	switch s.Auth {
	case "", config.AuthNone, config.AuthPlain, config.AuthLogin, config.AuthXOAuth2, config.AuthOAuthBearer:
	default:
		return fmt.Errorf("smtp auth %q: want none, plain, login, xoauth2 or oauthbearer", s.Auth)
	}
	return nil
}

// sendError is an SMTP failure, classified where it is born.
type sendError struct {
	err error
	// permanent: a 5xx reply (RFC 5321 section 4.2.1), about this message or recipient.
	permanent bool
	// broken: the connection cannot be used any more (I/O error, timeout, unexpected
	// reply); the next message needs a new one.
	broken bool
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// classify turns what go-smtp returned for a command into a sendError. A reply code is
// permanent (5xx) or temporary (4xx); anything else (EOF, reset, timeout, TLS) means the
// connection is gone and the outcome unknown, which is temporary too.
func classify(step string, err error) *sendError {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &sendError{err: fmt.Errorf("%s: %s", step, replyText(se)), permanent: se.Code/100 == 5}
	}
	return &sendError{err: fmt.Errorf("%s: %w", step, err), broken: true}
}

// replyText is a server reply as people read it: "550 5.1.1 user unknown".
func replyText(se *smtp.SMTPError) string {
	if c := se.EnhancedCode; c != smtp.NoEnhancedCode && c != (smtp.EnhancedCode{}) {
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, c[0], c[1], c[2], se.Message)
	}
	return fmt.Sprintf("%d %s", se.Code, se.Message)
}

// conn is one SMTP session of a batch.
type conn struct {
	c    *smtp.Client
	wd   *watchdogConn
	stop func() bool // ends the context watch
	// dirty: a transaction was left half done (a refused MAIL or RCPT), so RSET is needed
	// before the next MAIL (RFC 5321 section 4.1.1.5).
	dirty bool
	dsn   bool // the server offers DSN (RFC 3461): send ENVID
	// used: the session has carried a message; a server may close it when idle.
	used bool
}

// close ends the session: with QUIT when it is healthy (RFC 5321 section 4.1.1.10), else
// by closing the socket, since a broken session would only make QUIT wait for the watchdog.
func (c *conn) close(healthy bool) {
	c.stop()
	if healthy {
		c.wd.setLimit(time.Now().Add(c.wd.idle))
		if c.c.Quit() == nil {
			return
		}
	}
	_ = c.c.Close()
}

// dial connects, greets, starts TLS and authenticates, every step under the watchdog.
// Every error is temporary: it says nothing about the messages.
func (o *Outbox) dial(ctx context.Context) (*conn, error) {
	s := o.opts.SMTP
	addr := s.Addr.String()
	d := net.Dialer{Timeout: s.Timeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	wd := &watchdogConn{Conn: raw, idle: s.Timeout}
	wd.setLimit(time.Now().Add(3 * s.Timeout))
	// Cancelling ctx must not wait for a deadline: close the socket under the client.
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	fail := func(err error) (*conn, error) {
		stop()
		_ = raw.Close()
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return nil, fmt.Errorf("smtp session with %s: %w", addr, err)
	}
	tlsConfig := &tls.Config{ServerName: s.Addr.Host, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}
	var c *smtp.Client
	switch s.TLS {
	case config.TLSImplicit:
		tc := tls.Client(wd, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("tls: %w", err))
		}
		c = smtp.NewClient(tc)
	case config.TLSStartTLS:
		// NewClientStartTLS greets and says EHLO as "localhost" before STARTTLS; the
		// name we give after it is the one that counts (RFC 3207 section 4.2: the
		// session starts over).
		c, err = smtp.NewClientStartTLS(wd, tlsConfig)
		if err != nil {
			return fail(fmt.Errorf("starttls: %w", err))
		}
	default:
		c = smtp.NewClient(wd)
	}
	// The watchdog enforces the timeouts; these only keep go-smtp's own deadlines from
	// being the shorter ones.
	c.CommandTimeout, c.SubmissionTimeout = s.Timeout, 10*s.Timeout
	if err := c.Hello(o.opts.HelloName); err != nil {
		_ = c.Close()
		return fail(fmt.Errorf("greeting: %w", err))
	}
	if err := o.auth(ctx, c); err != nil {
		_ = c.Close()
		return fail(err)
	}
	ok, _ := c.Extension("DSN")
	return &conn{c: c, wd: wd, stop: stop, dsn: ok}, nil
}

func (o *Outbox) auth(ctx context.Context, c *smtp.Client) error {
	s := o.opts.SMTP
	mech := s.Auth
	if mech == "" && s.Username != "" {
		mech = config.AuthPlain
	}
	if mech == "" || mech == config.AuthNone {
		return nil
	}
	secret := s.Password.Reveal()
	if o.opts.Secret != nil {
		var err error
		if secret, err = o.opts.Secret(ctx); err != nil {
			return fmt.Errorf("smtp credential: %w", err)
		}
	}
	var sc sasl.Client
	switch mech {
	case config.AuthPlain:
		sc = sasl.NewPlainClient("", s.Username, secret)
	case config.AuthLogin:
		sc = sasl.NewLoginClient(s.Username, secret)
	case config.AuthXOAuth2:
		sc = &xoauth2Client{username: s.Username, token: secret}
	case config.AuthOAuthBearer:
		sc = sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: s.Username, Token: secret,
			Host: s.Addr.Host})
	}
	if err := c.Auth(sc); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && o.opts.Rejected != nil {
			o.opts.Rejected(err)
		}
		return fmt.Errorf("authenticating as %s (%s): %w", s.Username, mech, err)
	}
	return nil
}

// xoauth2Client is Google's and Microsoft's XOAUTH2 SASL mechanism, which go-sasl lacks:
// one initial response "user=U^Aauth=Bearer T^A^A". On failure the server sends a 334 with
// a JSON error, to which the client answers with an empty line and gets the final 535.
type xoauth2Client struct{ username, token string }

func (a *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + a.username + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}

func (a *xoauth2Client) Next(challenge []byte) ([]byte, error) { return []byte{}, nil }

// watchdogConn puts a deadline on every read and write: the idle timeout, and no later than
// the limit of the current phase. go-smtp sets and clears deadlines around its commands but
// not around the greeting it waits for or the DATA it writes, so its calls to SetDeadline are
// ignored here and ours always hold. A read or write past its deadline fails, the session
// is dropped and the socket closed.
type watchdogConn struct {
	net.Conn
	idle time.Duration

	mu    sync.Mutex
	limit time.Time
}

func (w *watchdogConn) setLimit(t time.Time) {
	w.mu.Lock()
	w.limit = t
	w.mu.Unlock()
}

func (w *watchdogConn) deadline() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := time.Now().Add(w.idle)
	if !w.limit.IsZero() && w.limit.Before(d) {
		d = w.limit
	}
	return d
}

func (w *watchdogConn) Read(p []byte) (int, error) {
	if err := w.Conn.SetReadDeadline(w.deadline()); err != nil {
		return 0, err
	}
	return w.Conn.Read(p)
}

func (w *watchdogConn) Write(p []byte) (int, error) {
	if err := w.Conn.SetWriteDeadline(w.deadline()); err != nil {
		return 0, err
	}
	return w.Conn.Write(p)
}

func (w *watchdogConn) SetDeadline(time.Time) error      { return nil }
func (w *watchdogConn) SetReadDeadline(time.Time) error  { return nil }
func (w *watchdogConn) SetWriteDeadline(time.Time) error { return nil }

// outcome is what one attempt achieved.
type outcome struct {
	delivered []string
	refused   []refusal
	// temp is the temporary failure for the recipients neither delivered nor refused.
	temp error
	// broken: drop the connection.
	broken bool
	// stale: it broke before MAIL was accepted, so the message got nowhere.
	stale bool
}

// send runs one mail transaction (RFC 5321 section 3.3) for the recipients in rcpts.
func (c *conn) send(r *record, raw []byte, rcpts []string) outcome {
	c.used = true
	c.wd.setLimit(time.Now().Add(10 * c.wd.idle))
	if c.dirty {
		if err := c.c.Reset(); err != nil {
			return outcome{temp: classify("RSET", err), broken: true, stale: true}
		}
		c.dirty = false
	}
	var opts *smtp.MailOptions
	if c.dsn {
		// RFC 3461 section 4.3: RET=HDRS, a bounce needs only our headers to be matched,
		// not the whole reply back. Section 4.4: the ENVID comes back in the DSN as
		// Original-Envelope-Id, a second way to find the message when a DSN omits the
		// returned headers.
		opts = &smtp.MailOptions{Return: smtp.DSNReturnHeaders}
		if isXtextSafe(r.MessageID) {
			opts.EnvelopeID = r.MessageID
		}
	}
	c.dirty = true
	if err := c.c.Mail(r.From, opts); err != nil {
		se := classify("MAIL FROM", err)
		if se.permanent {
			var out outcome
			for _, to := range rcpts {
				out.refused = append(out.refused, refusal{Rcpt: to, Reason: se.Error()})
			}
			return out
		}
		return outcome{temp: se, broken: se.broken, stale: se.broken}
	}
	var out outcome
	var accepted []string
	for _, to := range rcpts {
		err := c.c.Rcpt(to, nil)
		if err == nil {
			accepted = append(accepted, to)
			continue
		}
		se := classify("RCPT TO:<"+to+">", err)
		switch {
		case se.broken:
			return outcome{refused: out.refused, temp: se, broken: true}
		case se.permanent:
			out.refused = append(out.refused, refusal{Rcpt: to, Reason: se.Error()})
		default:
			out.temp = se
		}
	}
	if len(accepted) == 0 {
		if out.temp == nil && len(out.refused) < len(rcpts) {
			out.temp = errors.New("no recipient accepted")
		}
		return out
	}
	w, err := c.c.Data()
	if err != nil {
		se := classify("DATA", err)
		return c.dataFailed(out, accepted, se)
	}
	if _, err := w.Write(raw); err != nil {
		return c.dataFailed(out, accepted, classify("writing message", err))
	}
	if err := w.Close(); err != nil {
		return c.dataFailed(out, accepted, classify("end of DATA", err))
	}
	c.dirty = false
	out.delivered = accepted
	return out
}

func (c *conn) dataFailed(out outcome, accepted []string, se *sendError) outcome {
	if se.permanent {
		for _, to := range accepted {
			out.refused = append(out.refused, refusal{Rcpt: to, Reason: se.Error()})
		}
		return out
	}
	out.temp, out.broken = se, se.broken
	return out
}

// isXtextSafe: go-smtp xtext-encodes the ENVID, but RFC 3461 section 4.4 caps it at 100
// characters and printable ASCII.
func isXtextSafe(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
