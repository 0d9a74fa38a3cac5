package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/outbox"
	"hosho-intake/intake/web/session"
)

// Sign-in requests allowed in limitWindow: per address (a clerk who asks again because the
// mail is slow gets a second link, not a tenth) and in all (a stranger trying addresses
// cannot make the agency mail its clerks without end).
const (
	limitWindow     = 15 * time.Minute
	limitPerAddress = 3
	limitOverall    = 30
)

// limiter counts sign-in requests in a sliding window, in memory: a restart forgets them,
// which costs at most one more window's worth.
type limiter struct {
	mu   sync.Mutex
	by   map[string][]time.Time
	list []time.Time
}

func newLimiter() *limiter { return &limiter{by: map[string][]time.Time{}} }

// allow records a request for addr at now and reports whether it is within both limits.
func (l *limiter) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := func(ts []time.Time) []time.Time {
		i := 0
		for i < len(ts) && now.Sub(ts[i]) >= limitWindow {
			i++
		}
		return ts[i:]
	}
	l.list = recent(l.list)
	for k, ts := range l.by {
		if ts = recent(ts); len(ts) == 0 {
			delete(l.by, k)
		} else {
			l.by[k] = ts
		}
	}
	addr = strings.ToLower(addr)
	if len(l.list) >= limitOverall || len(l.by[addr]) >= limitPerAddress {
		return false
	}
	l.list = append(l.list, now)
	l.by[addr] = append(l.by[addr], now)
	return true
}

// formNonce is the browser's sign-in cookie, set now when it has none.
func (s *Server) formNonce(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(signinCookie); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	b := make([]byte, 24)
	rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, s.cookie(signinCookie, nonce, 3600))
	return nonce
}

func (s *Server) formToken(nonce string) (string, error) {
	var tok string
	err := s.svc().Ledger.DB().View(func(tx *bolt.Tx) error {
		var err error
		tok, err = session.FormToken(tx, nonce)
		return err
	})
	return tok, err
}

// formOK reports whether the request carries the sign-in form token of its own cookie.
func (s *Server) formOK(r *http.Request) bool {
	ck, err := r.Cookie(signinCookie)
	if err != nil {
		return false
	}
	ok := false
	s.svc().Ledger.DB().View(func(tx *bolt.Tx) error {
		ok = session.CheckFormToken(tx, ck.Value, r.PostFormValue("csrf"))
		return nil
	})
	return ok
}

// safeNext is where to go after signing in: a path of this page, else its start.
func (s *Server) safeNext(next string) string {
	if strings.HasPrefix(next, "/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return strings.TrimSuffix(s.basePath(), "/") + next
	}
	return s.basePath()
}

func (s *Server) signinForm(w http.ResponseWriter, r *http.Request) {
	tok, err := s.formToken(s.formNonce(w, r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := view{Title: "サインイン", CSRF: tok, Next: r.URL.Query().Get("next")}
	if v.Next != "" {
		// A link from a mail is a navigation from another site, which the SameSite=Strict
		// cookie does not go with: a click here, from this page, takes it along.
		v.Resume = s.safeNext(v.Next)
	}
	s.render(w, http.StatusOK, "signin", v)
}

// signinRequest mails a sign-in link to a clerk. Whoever asks gets the same answer, so the
// form tells nobody which addresses are clerks'.
func (s *Server) signinRequest(w http.ResponseWriter, r *http.Request) {
	if !s.formOK(r) {
		s.refuse(w, http.StatusForbidden, "操作を受け付けられません", "サインインの画面を開き直してから、もう一度操作してください。")
		return
	}
	typed := strings.TrimSpace(r.PostFormValue("address"))
	if a, err := mail.ParseAddress(typed); err == nil {
		typed = a.Address
	}
	if len(typed) > 254 {
		typed = typed[:254]
	}
	svc := s.svc()
	cfg := svc.Config
	now := s.now()
	clerk, isClerk := clerkAddress(cfg, typed)
	switch {
	case !s.limit.allow(typed, now):
		s.log.Warn("clerks' page: sign-in request over the rate limit", "address", typed)
	case !isClerk:
		s.log.Warn("clerks' page: sign-in requested for an address that is not a clerk's", "address", typed)
	default:
		err := svc.Ledger.DB().Update(func(tx *bolt.Tx) error {
			token, err := session.NewLink(tx, clerk, now, cfg.Web.LinkLifetime, cfg.Web.SessionIdle)
			if err != nil {
				return err
			}
			link := s.base() + "signin/link?t=" + url.QueryEscape(token)
			if next := r.PostFormValue("next"); strings.HasPrefix(next, "/") && !strings.HasPrefix(next, "//") {
				link += "&next=" + url.QueryEscape(next)
			}
			raw, id, err := signinMessage(cfg.Agency.Name, cfg.Agency.Address.Address, clerk, link, now.Add(cfg.Web.LinkLifetime), now)
			if err != nil {
				return err
			}
			_, err = svc.Outbox.Enqueue(tx, outbox.Message{Kind: "signin", From: cfg.Agency.Address.Address, To: []string{clerk}, MessageID: id, Raw: raw})
			return err
		})
		if err != nil {
			s.fail(w, r, fmt.Errorf("sending a sign-in link: %w", err))
			return
		}
		s.log.Info("clerks' page: sign-in link sent", "clerk", clerk)
	}
	s.render(w, http.StatusOK, "message", view{Title: "サインイン用のリンクを送りました",
		Detail: fmt.Sprintf("%s が担当職員のアドレスであれば、サインイン用のリンクをメールで送りました。リンクは%d分間、1回だけ使えます。"+
			"届かない場合は、アドレスを確かめてから、しばらくして送り直してください。", typed, int(cfg.Web.LinkLifetime.Minutes()))})
}

// linkForm is where a mailed link lands: it only shows a button. Mail scanners that open
// links must not spend them, so the link is spent by the button's POST.
func (s *Server) linkForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("t")
	var err error
	s.svc().Ledger.DB().View(func(tx *bolt.Tx) error {
		_, err = session.PeekLink(tx, token, s.now())
		return nil
	})
	if err != nil {
		s.linkRefused(w, err)
		return
	}
	tok, err := s.formToken(s.formNonce(w, r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "link", view{Title: "サインイン", CSRF: tok, Token: token, Next: r.URL.Query().Get("next")})
}

func (s *Server) linkRefused(w http.ResponseWriter, err error) {
	detail := "サインインの画面から、リンクを送り直してください。"
	switch {
	case errors.Is(err, session.ErrUsedLink):
		s.refuse(w, http.StatusForbidden, "このリンクは使用済みです", "リンクは1回だけ使えます。"+detail)
	case errors.Is(err, session.ErrExpiredLink):
		s.refuse(w, http.StatusForbidden, "このリンクは有効期限が切れています", detail)
	default:
		s.refuse(w, http.StatusForbidden, "このリンクは使えません", detail)
	}
}

// linkUse spends a sign-in link and starts the clerk's session.
func (s *Server) linkUse(w http.ResponseWriter, r *http.Request) {
	if !s.formOK(r) {
		s.refuse(w, http.StatusForbidden, "操作を受け付けられません", "メールのリンクを開き直してから、もう一度操作してください。")
		return
	}
	svc := s.svc()
	now := s.now()
	var c session.Session
	var l session.Link
	err := svc.Ledger.DB().Update(func(tx *bolt.Tx) error {
		var err error
		if l, err = session.UseLink(tx, r.PostFormValue("t"), now); err != nil {
			return err
		}
		if !isClerk(svc.Config, l.Clerk) {
			return session.ErrUnknownLink // no longer a clerk since the link was sent
		}
		c, err = session.New(tx, l.Clerk, now)
		return err
	})
	switch {
	case errors.Is(err, session.ErrUnknownLink), errors.Is(err, session.ErrUsedLink), errors.Is(err, session.ErrExpiredLink):
		s.log.Warn("clerks' page: sign-in link refused", "why", err.Error(), "clerk", l.Clerk)
		s.linkRefused(w, err)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.log.Info("clerks' page: signed in", "clerk", c.Clerk)
	http.SetCookie(w, s.cookie(sessionCookie, c.ID(), 0))
	http.Redirect(w, r, s.safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request, c session.Session) {
	if err := s.svc().Ledger.DB().Update(func(tx *bolt.Tx) error { return session.End(tx, c.ID()) }); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("clerks' page: signed out", "clerk", c.Clerk)
	http.SetCookie(w, s.cookie(sessionCookie, "", -1))
	http.Redirect(w, r, s.basePath()+"signin", http.StatusSeeOther)
}

// signinMessage is the mail that carries a sign-in link, in UTF-8 text.
func signinMessage(agencyName, from, to, link string, expires, now time.Time) ([]byte, string, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, "", err
	}
	msgID := "<signin." + hex.EncodeToString(id[:]) + "@" + from[strings.LastIndexByte(from, '@')+1:] + ">"
	body := agencyName + " 電子証書 確認画面へのサインイン用のリンクです。\n\n" +
		link + "\n\n" +
		"このリンクは " + jst(expires) + " まで、1回だけ使えます。\n" +
		"このメールに心当たりがない場合は、破棄してください。リンクを他の人に転送しないでください。\n"
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", mime.BEncoding.Encode("UTF-8", agencyName)+" <"+from+">")
	h("To", to)
	h("Subject", mime.BEncoding.Encode("UTF-8", "【電子証書】確認画面へのサインイン"))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", msgID)
	h("Auto-Submitted", "auto-generated") // RFC 3834
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=UTF-8")
	h("Content-Transfer-Encoding", "base64")
	b.WriteString("\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes(), msgID, nil
}

// Link makes a sign-in link for clerk without mailing it: for the demo, which has no
// mailbox to read it from. The daemon never calls it.
func (s *Server) Link(clerk string) (string, error) {
	svc := s.svc()
	addr, ok := clerkAddress(svc.Config, clerk)
	if !ok {
		return "", fmt.Errorf("%s is not a clerk", clerk)
	}
	var token string
	err := svc.Ledger.DB().Update(func(tx *bolt.Tx) error {
		var err error
		token, err = session.NewLink(tx, addr, s.now(), svc.Config.Web.LinkLifetime, svc.Config.Web.SessionIdle)
		return err
	})
	return s.base() + "signin/link?t=" + url.QueryEscape(token), err
}
