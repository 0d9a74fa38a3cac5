// Package web is the clerks' page: one more face of the running daemon beside the control
// socket, served when [web] addr is set. A clerk (an address of [digest] clerks) signs in
// with a one-time link mailed through the outbox, then sees the waiting items oldest first,
// copies each 保証契約番号 and 認証キー into D-Sure, and records 確認済 or 差戻し; an item's
// page shows the original mail, its PDF in the browser's own viewer (or, for a notice read
// by OCR, the page it was read from) and the history; the
// search finds any item by number, 工事名, sender, date and state; the export writes a
// period's items as CSV for the agency's contract register; the register page imports that
// register (契約台帳) as CSV: the upload is read by verifier.ReadRegister, previewed (rows
// added, changed, removed, refused by line), kept for the clerk in the state, and put in
// effect on confirmation by intake.Service.ImportRegister.
//
// The page decides through intake.Service.PageDecide, the same transaction as `queue
// verify` and a decision mail (verifier.Queue.Decide and the contractor's outcome written
// to the outbox); it shows a full 認証キー only through verifier.Queue.RecordReveal, so
// every key shown is in the item's history with the clerk and the time, as is every
// decision. Neither tokens nor keys are logged.
//
// Security: a session cookie (HttpOnly, SameSite=Strict, Secure when [web] url is https)
// that ends after [web] session_idle without use or session.MaxAge in all; a CSRF token on
// every form (the session's, or before sign-in an HMAC of a cookie nonce); sign-in
// requests limited per address and in all, answered the same whether or not the address
// is a clerk's; a strict Content-Security-Policy (no inline script, nothing from elsewhere:
// LGWAN terminals have no internet), no-referrer, no caching. State: intake/web/session.
package web

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/web/session"
)

//go:embed templates static
var assets embed.FS

// Cookie names: the session, and the nonce the sign-in forms' tokens are bound to.
const (
	sessionCookie = "hosho_session"
	signinCookie  = "hosho_signin"
)

// pageCSP allows only this page's own style sheet and script: no inline code, nothing from
// another origin, no framing.
const pageCSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options are what the page needs from the daemon.
type Options struct {
	// Service is the service running now: a reload replaces it, and the page follows.
	Service func() *intake.Service
	Logger  *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Server is the page's http.Handler.
type Server struct {
	svc   func() *intake.Service
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*template.Template
	limit *limiter
	mux   *http.ServeMux
}

// New prepares the page: its templates and the state's form secret.
func New(o Options) (*Server, error) {
	s := &Server{svc: o.Service, log: o.Logger, now: o.Now, limit: newLimiter()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if err := s.svc().Ledger.DB().Update(session.Prepare); err != nil {
		return nil, fmt.Errorf("preparing the clerks' page: %w", err)
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /signin", s.signinForm)
	m.HandleFunc("POST /signin", s.signinRequest)
	m.HandleFunc("GET /signin/link", s.linkForm)
	m.HandleFunc("POST /signin/link", s.linkUse)
	m.HandleFunc("POST /signout", s.clerk(s.signout))
	m.HandleFunc("GET /{$}", s.clerk(s.queue))
	m.HandleFunc("GET /items/{id}", s.clerk(s.item))
	m.HandleFunc("POST /items/{id}/reveal", s.clerk(s.reveal))
	m.HandleFunc("POST /items/{id}/decide", s.clerk(s.decide))
	m.HandleFunc("GET /items/{id}/files/{n}", s.clerk(s.file))
	m.HandleFunc("GET /items/{id}/page-image", s.clerk(s.pageImage))
	m.HandleFunc("GET /export", s.clerk(s.export))
	m.HandleFunc("GET /register", s.clerk(s.register))
	m.HandleFunc("POST /register/preview", s.clerk(s.registerPreview))
	m.HandleFunc("POST /register/confirm", s.clerk(s.registerConfirm))
	s.mux = m
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // a sign-in link's token never leaves in a Referer
	h.Set("Cache-Control", "no-store")      // pages hold 認証キー and the mail of strangers
	h.Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

// base is the page's URL as clerks reach it, ending in /.
func (s *Server) base() string { return s.svc().Config.Web.URL }

// basePath is the path of base: where the page's links and cookies live behind a proxy.
func (s *Server) basePath() string {
	u, err := url.Parse(s.base())
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

func (s *Server) secure() bool { return strings.HasPrefix(s.base(), "https://") }

func (s *Server) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: s.basePath(), MaxAge: maxAge, HttpOnly: true,
		Secure: s.secure(), SameSite: http.SameSiteStrictMode}
}

// handler is a page for a signed-in clerk.
type handler func(w http.ResponseWriter, r *http.Request, c session.Session)

// clerk admits only a live session of a clerk the config names now; a POST must also carry
// the session's CSRF token. Without a session a GET goes to the sign-in form, and a POST is
// refused.
func (s *Server) clerk(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		svc := s.svc()
		now := s.now()
		var id string
		if ck, err := r.Cookie(sessionCookie); err == nil {
			id = ck.Value
		}
		var c session.Session
		var stale bool
		err := svc.Ledger.DB().View(func(tx *bolt.Tx) error {
			var err error
			c, stale, err = session.Lookup(tx, id, now, svc.Config.Web.SessionIdle)
			return err
		})
		if err == nil && !isClerk(svc.Config, c.Clerk) {
			// Removed from [digest] clerks since signing in: the session ends with it.
			s.log.Warn("clerks' page: session of an address no longer a clerk's ended", "clerk", c.Clerk)
			svc.Ledger.DB().Update(func(tx *bolt.Tx) error { return session.End(tx, id) })
			err = session.ErrNoSession
		}
		if err != nil {
			if !errors.Is(err, session.ErrNoSession) {
				s.fail(w, r, err)
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, s.basePath()+"signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.refuse(w, http.StatusForbidden, "サインインしていません", "サインインしてから、もう一度操作してください。")
			return
		}
		if r.Method == http.MethodPost {
			// Bounded before anything reads the body, the CSRF token's parse included; within
			// the bound a multipart upload stays in memory, never in temporary files.
			r.Body = http.MaxBytesReader(w, r.Body, maxPostBody)
			var perr error
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				perr = r.ParseMultipartForm(maxPostBody)
			} else {
				perr = r.ParseForm()
			}
			if tooBig := (*http.MaxBytesError)(nil); errors.As(perr, &tooBig) {
				s.log.Warn("clerks' page: form over its size bound refused", "clerk", c.Clerk, "path", r.URL.Path)
				s.tooLarge(w)
				return
			}
		}
		if r.Method == http.MethodPost && subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(c.CSRF)) != 1 {
			s.log.Warn("clerks' page: form without its CSRF token refused", "clerk", c.Clerk, "path", r.URL.Path)
			s.refuse(w, http.StatusForbidden, "操作を受け付けられません", "画面を開き直してから、もう一度操作してください。")
			return
		}
		if stale {
			if err := svc.Ledger.DB().Update(func(tx *bolt.Tx) error { return session.Touch(tx, id, now) }); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		h(w, r, c)
	}
}

// isClerk reports whether addr is one of the config's clerks.
func isClerk(cfg *config.Config, addr string) bool {
	_, ok := clerkAddress(cfg, addr)
	return ok
}

// clerkAddress is the config's spelling of the clerk whose address is addr, compared
// without case as verifier.IsClerk does.
func clerkAddress(cfg *config.Config, addr string) (string, bool) {
	for _, c := range cfg.Digest.Clerks {
		if strings.EqualFold(c.Address, strings.TrimSpace(addr)) {
			return c.Address, true
		}
	}
	return "", false
}

// refuse answers with a page saying what was refused and what to do.
func (s *Server) refuse(w http.ResponseWriter, status int, title, detail string) {
	s.render(w, status, "message", view{Title: title, Detail: detail})
}

// fail answers an error of the state or the service, logged once here.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("clerks' page", "path", r.URL.Path, "err", err)
	s.refuse(w, http.StatusInternalServerError, "エラーが発生しました", "しばらくしてから、もう一度操作してください。続く場合は管理者に連絡してください。")
}

// Listen opens the page's listener: a unix socket (a stale one from a crash replaced, mode
// 0660 for the proxy's group) or a TCP address.
func Listen(w config.Web) (net.Listener, error) {
	if w.Unix() {
		if fi, err := os.Lstat(w.Addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(w.Addr)
		}
		ln, err := net.Listen("unix", w.Addr)
		if err != nil {
			return nil, fmt.Errorf("clerks' page: %w", err)
		}
		if err := os.Chmod(w.Addr, 0o660); err != nil {
			ln.Close()
			return nil, fmt.Errorf("clerks' page: %w", err)
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", w.Addr)
	if err != nil {
		return nil, fmt.Errorf("clerks' page: %w", err)
	}
	return ln, nil
}

// Serve serves h on ln until ctx ends, with TLS when w has a certificate, then shuts down
// within a few seconds.
func Serve(ctx context.Context, ln net.Listener, w config.Web, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	if w.TLS() {
		cert, err := tls.LoadX509KeyPair(w.CertFile, w.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("clerks' page: TLS certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("clerks' page: %w", err)
	}
	<-done
	return nil
}
