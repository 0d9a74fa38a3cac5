// Package mailbox is the agency's mailbox over IMAP (RFC 3501, IMAP4rev1; RFC 9051 where
// it agrees), with go-imap v2's client underneath.
//
// The contract:
//
//   - Dial connects with implicit TLS, STARTTLS, or (to a loopback address only) no TLS,
//     and authenticates with LOGIN, SASL PLAIN, XOAUTH2 or OAUTHBEARER (RFC 7628).
//   - Nothing blocks forever. go-imap has no per-command deadline and waits for the first
//     byte of an answer without one, so every exchange runs under a watchdog: when the
//     server sends nothing for Options.Timeout while we wait for it, or the call's context
//     ends, the connection is closed and the call fails (ErrTimeout, Temporary). A closed
//     Session stays closed: the caller dials again.
//   - A poll with nothing new is one SELECT: the caller compares Status.UIDNext with the
//     highest UID it has taken in, and only otherwise calls Since, which is one UID FETCH.
//   - Move never deletes a message that was not copied: with MOVE (RFC 6851) the server
//     does it atomically; without, COPY, then \Deleted and UID EXPUNGE (RFC 4315) of
//     exactly the UIDs the server reported copied in COPYUID, and nothing at all after a
//     failed COPY.
//   - Errors are *Error: Temporary(err) says back off and retry; otherwise a person is
//     needed (ErrAuth, ErrNoMailbox, ErrConfig, ErrTLS).
//   - With Options.Debug the protocol is logged at debug level, credentials redacted.
//
// A Session is one connection and is not safe for concurrent use.
package mailbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// TLS modes.
const (
	TLSImplicit = "implicit" // RFC 8314 section 3.3, usually port 993
	TLSStartTLS = "starttls" // RFC 3501 section 6.2.1, usually port 143
	TLSNone     = "none"     // only to a loopback address
)

// Authentication mechanisms.
const (
	AuthLogin       = "login"       // RFC 3501 section 6.2.3
	AuthPlain       = "plain"       // SASL PLAIN, RFC 4616
	AuthXOAuth2     = "xoauth2"     // Google/Microsoft XOAUTH2
	AuthOAuthBearer = "oauthbearer" // RFC 7628
)

// Defaults.
const (
	DefaultTimeout = 30 * time.Second
	DefaultMaxSize = 64 << 20
	logoutTimeout  = 2 * time.Second
)

// Options say how to reach and log in to the mailbox.
type Options struct {
	Addr     string         // host:port
	TLS      string         // TLSImplicit, TLSStartTLS or TLSNone (refused unless the host is a loopback address)
	RootCAs  *x509.CertPool // nil: the system roots
	Username string
	Auth     string // AuthLogin, AuthPlain, AuthXOAuth2 or AuthOAuthBearer
	// Secret returns the password, or the OAuth2 access token for xoauth2/oauthbearer.
	// It is called once per Dial, so a rotated token is picked up at the next one.
	Secret func(ctx context.Context) (string, error)
	// Timeout bounds the dial, the greeting, TLS, and the server's silence while an answer
	// is awaited (default DefaultTimeout). A long FETCH that keeps sending is not cut.
	Timeout time.Duration
	// MaxSize is the largest message Fetch accepts (default DefaultMaxSize), so a server
	// that announces a huge literal cannot bloat the daemon; callers check Info.Size
	// against their own, smaller limit first.
	MaxSize int64
	Logger  *slog.Logger // nil: discard
	Debug   bool         // log the protocol at debug level, credentials redacted
	// OnExists, when set, is told the selected mailbox's message count each time the server
	// reports it unasked (an EXISTS response, RFC 3501 section 7.3.1: new mail, during IDLE
	// too). It runs on the connection's reader goroutine and must not block.
	OnExists func(n uint32)
}

// Session is one authenticated connection.
type Session struct {
	c       *imapclient.Client
	wd      *watchdog
	maxSize int64
	log     *slog.Logger

	selected string
	flags    []imap.Flag // FLAGS of the selected mailbox
	perm     []imap.Flag // its PERMANENTFLAGS
}

// Dial connects and authenticates. ctx bounds Dial only (cancelling it closes the
// connection being set up); each later call takes its own context.
func Dial(ctx context.Context, o Options) (*Session, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	op := "dial " + o.Addr
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, &Error{Op: op, Kind: ErrConfig, Err: err}
	}
	if o.Secret == nil {
		return nil, &Error{Op: op, Kind: ErrConfig, Err: errors.New("no secret")}
	}
	switch o.Auth {
	case AuthLogin, AuthPlain, AuthXOAuth2, AuthOAuthBearer:
	default:
		return nil, &Error{Op: op, Kind: ErrConfig, Err: fmt.Errorf("unknown auth %q", o.Auth)}
	}

	// The secret first: a failing token source is reported without touching the server.
	secret, err := o.Secret(ctx)
	if err != nil {
		// A credential source that cannot answer now (the token endpoint unreachable)
		// says so with a net.Error or a Temporary method; anything else (a missing file,
		// a refused client secret) needs a person.
		var temp interface{ Temporary() bool }
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &temp) && temp.Temporary()) {
			return nil, &Error{Op: "getting the secret for " + o.Username, Err: err, temp: true}
		}
		return nil, &Error{Op: "getting the secret for " + o.Username, Kind: ErrAuth, Err: err}
	}

	dialAddr := o.Addr
	switch o.TLS {
	case TLSImplicit, TLSStartTLS:
	case TLSNone:
		// Credentials in cleartext only where they cannot leave the machine. The name is
		// resolved once and the checked address dialled, so a second lookup cannot
		// answer differently.
		ip, err := loopback(ctx, host)
		if err != nil {
			return nil, &Error{Op: op, Kind: ErrConfig, Err: err}
		}
		_, port, _ := net.SplitHostPort(o.Addr)
		dialAddr = net.JoinHostPort(ip.String(), port)
	default:
		return nil, &Error{Op: op, Kind: ErrConfig, Err: fmt.Errorf("unknown tls mode %q", o.TLS)}
	}

	d := net.Dialer{Timeout: o.Timeout}
	raw, err := d.DialContext(ctx, "tcp", dialAddr)
	if err != nil {
		return nil, classify(op, err)
	}
	wd := &watchdog{Conn: raw, timeout: o.Timeout}
	s := &Session{wd: wd, maxSize: o.MaxSize, log: o.Logger}

	copts := &imapclient.Options{}
	if o.OnExists != nil {
		copts.UnilateralDataHandler = &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				o.OnExists(*d.NumMessages)
			}
		}}
	}
	var tr *transcript
	if o.Debug {
		tr = newTranscript(o.Logger.With("addr", o.Addr))
		copts.DebugWriter = tr
	}
	tlsConfig := &tls.Config{ServerName: host, RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}

	// Dial by hand, not with imapclient.DialTLS/DialStartTLS/DialInsecure: those dial
	// their own connection, and the watchdog has to own it to bound the greeting. What
	// they do after dialling is the same (New, NewStartTLS).
	err = s.do(ctx, op, func() error {
		switch o.TLS {
		case TLSImplicit:
			tlsConfig.NextProtos = []string{"imap"} // RFC 8314 section 7.1 (ALPN)
			tc := tls.Client(wd, tlsConfig)
			if err := tc.HandshakeContext(ctx); err != nil {
				return err
			}
			s.c = imapclient.New(tc, copts)
		case TLSStartTLS:
			copts.TLSConfig = tlsConfig
			c, err := imapclient.NewStartTLS(wd, copts)
			if err != nil {
				return err
			}
			s.c = c
		default:
			s.c = imapclient.New(wd, copts)
		}
		return s.c.WaitGreeting()
	})
	if err != nil {
		s.closeNow()
		return nil, err
	}

	if s.c.State() == imap.ConnStateAuthenticated {
		// PREAUTH (RFC 3501 section 7.1.4): imapclient already refused it over STARTTLS.
		return s, nil
	}
	if err := s.authenticate(ctx, o, secret, tr); err != nil {
		s.closeNow()
		return nil, err
	}
	return s, nil
}

// loopback resolves host and returns its address if every address it has is a loopback one.
func loopback(ctx context.Context, host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("tls none refused: %s is not a loopback address", host)
		}
		return ip, nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("tls none: resolving %s: %w", host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return nil, fmt.Errorf("tls none refused: %s resolves to %s, not a loopback address", host, a.IP)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("tls none: %s has no address", host)
	}
	// "localhost" often resolves to ::1 first while the server listens on 127.0.0.1 only.
	for _, a := range addrs {
		if a.IP.To4() != nil {
			return a.IP, nil
		}
	}
	return addrs[0].IP, nil
}

func (s *Session) authenticate(ctx context.Context, o Options, secret string, tr *transcript) error {
	op := fmt.Sprintf("%s as %s", o.Auth, o.Username)
	var caps imap.CapSet
	if err := s.do(ctx, "capability", func() error {
		caps = s.c.Caps()
		if caps == nil {
			return errors.New("no CAPABILITY answer")
		}
		return nil
	}); err != nil {
		return err
	}

	var client sasl.Client
	switch o.Auth {
	case AuthLogin:
		// RFC 3501 section 6.2.3: LOGINDISABLED forbids LOGIN (typically before STARTTLS).
		if caps.Has(imap.CapLoginDisabled) {
			return &Error{Op: op, Kind: ErrAuth, Err: errors.New("server advertises LOGINDISABLED")}
		}
		if tr != nil {
			tr.secret(secret)
			// The quoted form go-imap sends when the password holds " or \.
			tr.secret(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(secret))
		}
		return s.auth(ctx, op, func() error { return s.c.Login(o.Username, secret).Wait() })
	case AuthPlain:
		client = sasl.NewPlainClient("", o.Username, secret)
	case AuthXOAuth2:
		client = NewXOAuth2Client(o.Username, secret)
	case AuthOAuthBearer:
		client = newOAuthBearerClient(o.Username, secret, o.Addr)
	}
	mech, _, _ := client.Start()
	if !caps.Has(imap.Cap("AUTH=" + mech)) {
		return &Error{Op: op, Kind: ErrAuth, Err: fmt.Errorf("server does not offer AUTH=%s (it offers %s)", mech, authCaps(caps))}
	}
	if tr != nil {
		client = redactingSASL{Client: client, t: tr}
	}
	return s.auth(ctx, op, func() error { return s.c.Authenticate(client) })
}

// auth runs a login exchange: a refusal is ErrAuth (permanent) unless the server said it
// was unavailable (NO [UNAVAILABLE], BYE) or the connection failed.
func (s *Session) auth(ctx context.Context, op string, f func() error) error {
	err := s.do(ctx, op, f)
	var e *Error
	if !errors.As(err, &e) || e.Kind != nil {
		return err
	}
	var ie *imap.Error
	var refused *tokenRefused
	switch {
	case errors.As(err, &refused):
		e.Kind, e.temp = ErrAuth, false
	case errors.As(err, &ie) && !e.temp:
		e.Kind = ErrAuth
	}
	return err
}

func authCaps(caps imap.CapSet) string {
	var l []string
	for c := range caps {
		if strings.HasPrefix(string(c), "AUTH=") {
			l = append(l, string(c))
		}
	}
	slices.Sort(l)
	if caps.Has(imap.CapLoginDisabled) {
		l = append(l, "LOGINDISABLED")
	}
	return strings.Join(l, " ")
}

// Caps returns the server's capabilities, sorted, for logging.
func (s *Session) Caps(ctx context.Context) ([]string, error) {
	var caps imap.CapSet
	err := s.do(ctx, "capability", func() error {
		caps = s.c.Caps()
		if caps == nil {
			return errors.New("no CAPABILITY answer")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l := make([]string, 0, len(caps))
	for c := range caps {
		l = append(l, string(c))
	}
	slices.Sort(l)
	return l, nil
}

func (s *Session) has(ctx context.Context, c imap.Cap) (bool, error) {
	var caps imap.CapSet
	err := s.do(ctx, "capability", func() error {
		caps = s.c.Caps()
		if caps == nil {
			return errors.New("no CAPABILITY answer")
		}
		return nil
	})
	return caps.Has(c), err
}

// Close logs out (RFC 3501 section 6.1.3), waiting a short while for the answer, and
// closes the connection.
func (s *Session) Close() error {
	if s.c == nil || s.wd.dead() {
		s.closeNow()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), logoutTimeout)
	defer cancel()
	err := s.do(ctx, "logout", func() error { return s.c.Logout().Wait() })
	s.closeNow()
	// A server that hangs up on LOGOUT without its tagged OK has still logged us out.
	if err != nil && !Temporary(err) {
		return err
	}
	return nil
}

func (s *Session) closeNow() {
	if s.c != nil {
		s.c.Close()
	}
	s.wd.shut()
}

// do runs one exchange with the server under the watchdog and ctx, and turns its error
// into an *Error.
func (s *Session) do(ctx context.Context, op string, f func() error) error {
	if err := ctx.Err(); err != nil {
		return classify(op, err)
	}
	if cause := s.wd.closedBy(); cause != nil {
		return &Error{Op: op, Kind: cause.kind, Err: cause.err, temp: cause.temp}
	}
	s.wd.arm()
	stop := context.AfterFunc(ctx, func() { s.wd.abort(context.Cause(ctx)) })
	err := f()
	stop()
	s.wd.disarm()
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return e
	}
	if cause := s.wd.closedBy(); cause != nil {
		// Whatever go-imap said (EOF, use of closed connection), the cause was ours.
		return &Error{Op: op, Kind: cause.kind, Err: cause.err, temp: cause.temp}
	}
	return classify(op, err)
}

func quote(mailbox string) string { return strconv.Quote(mailbox) }
