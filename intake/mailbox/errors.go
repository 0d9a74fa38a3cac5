package mailbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"
)

// Sentinel errors that callers branch on, with errors.Is. Every error this package returns
// is an *Error, whose Temporary method says whether to back off and retry (the network,
// the server busy or gone) or to alert a person (credentials, configuration, a missing
// mailbox).
var (
	// ErrAuth: the server refused the credentials or the mechanism (permanent).
	ErrAuth = errors.New("authentication failed")
	// ErrNoMailbox: the mailbox does not exist (permanent).
	ErrNoMailbox = errors.New("no such mailbox")
	// ErrTimeout: the server stopped answering and the watchdog closed the connection
	// (temporary).
	ErrTimeout = errors.New("server stopped answering")
	// ErrNoMessage: the UID is not (or no longer) in the selected mailbox.
	ErrNoMessage = errors.New("no such message")
	// ErrTooLarge: the server sent a message larger than Options.MaxSize.
	ErrTooLarge = errors.New("message larger than the limit")
	// ErrFlagNotPermanent: the mailbox does not keep a flag or keyword (its PERMANENTFLAGS,
	// RFC 3501 section 7.1, lack it and \*): the other flags were stored.
	ErrFlagNotPermanent = errors.New("flag not kept by the server")
	// ErrConfig: the options cannot work (permanent).
	ErrConfig = errors.New("invalid mailbox options")
	// ErrTLS: the server's certificate was not trusted (permanent).
	ErrTLS = errors.New("server certificate not trusted")
)

// Error is an IMAP operation that failed.
type Error struct {
	Op   string // what was being done, e.g. `select "INBOX"`
	Kind error  // one of the sentinel errors above, or nil
	Err  error  // the cause: an *imap.Error, a network error, ...
	temp bool
}

func (e *Error) Error() string {
	switch {
	case e.Kind != nil && e.Err != nil:
		return fmt.Sprintf("imap %s: %v: %v", e.Op, e.Kind, e.Err)
	case e.Kind != nil:
		return fmt.Sprintf("imap %s: %v", e.Op, e.Kind)
	default:
		return fmt.Sprintf("imap %s: %v", e.Op, e.Err)
	}
}

// Unwrap lets errors.Is and errors.As see both the kind and the cause.
func (e *Error) Unwrap() []error {
	var l []error
	if e.Kind != nil {
		l = append(l, e.Kind)
	}
	if e.Err != nil {
		l = append(l, e.Err)
	}
	return l
}

// Temporary reports whether trying again later may succeed without a person's help.
func (e *Error) Temporary() bool { return e.temp }

// Temporary reports whether err is worth retrying after a backoff: a network failure, a
// timeout, a server that said BYE or that it is unavailable. It is false for credentials,
// configuration and missing mailboxes, which need a person.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.temp
	}
	return classify("", err).temp
}

// classify decides, where an error is born, whether it is temporary.
func classify(op string, err error) *Error {
	e := &Error{Op: op, Err: err}
	var ie *imap.Error
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ie):
		if ie.Type == imap.StatusResponseTypeBye {
			e.temp = true // RFC 3501 section 7.1.5: the server is closing; reconnect later
			break
		}
		// Response codes: RFC 5530 and RFC 9051 section 7.1.
		switch ie.Code {
		case imap.ResponseCodeAuthenticationFailed, imap.ResponseCodeAuthorizationFailed,
			imap.ResponseCodeExpired, imap.ResponseCodePrivacyRequired, imap.ResponseCodeContactAdmin:
			e.Kind = ErrAuth
		case imap.ResponseCodeNonExistent:
			e.Kind = ErrNoMailbox
		case imap.ResponseCodeUnavailable, imap.ResponseCodeInUse, imap.ResponseCodeLimit,
			imap.ResponseCodeServerBug:
			// Dovecot answers NO [SERVERBUG] to transient I/O errors and
			// NO [UNAVAILABLE] when its auth backend is down.
			e.temp = true
		}
	case errors.Is(err, context.DeadlineExceeded):
		e.temp = true
	case errors.Is(err, context.Canceled):
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		e.Kind = ErrTLS
	default:
		// The network: resets, EOF, closed connections, a server that broke the
		// protocol mid-response.
		e.temp = true
	}
	return e
}
