package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/encoding/japanese"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/outbox"
	"hosho-intake/intake/web"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

const (
	agency = "denshi@pref.shimane.example"
	clerk  = "yamada@pref.shimane.example"
	other  = "sato@pref.shimane.example" // a clerk too
)

// clock is the page's clock in a test: moved by hand, never by sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a service with three waiting items and the page over it, on a test server.
type fixture struct {
	t     *testing.T
	svc   *intake.Service
	clock *clock
	srv   *httptest.Server
	items []verifier.Submission
}

func testConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Agency = config.Agency{Preset: "shimane", Name: "島根県 土木部（テスト）", Address: &mail.Address{Address: agency}}
	cfg.IMAP.Addr = config.HostPort{Host: "127.0.0.1", Port: "1"}
	cfg.IMAP.TLS, cfg.IMAP.Username, cfg.IMAP.Password = config.TLSNone, "agency", config.NewSecret("x")
	cfg.SMTP.Addr = config.HostPort{Host: "127.0.0.1", Port: "1"}
	cfg.SMTP.TLS, cfg.SMTP.Auth, cfg.SMTP.From = config.TLSNone, config.AuthNone, &mail.Address{Address: agency}
	clerks := []*mail.Address{{Name: "山田", Address: clerk}, {Address: other}}
	cfg.Digest.To, cfg.Digest.Clerks = clerks, clerks
	cfg.Digest.DSureURL = "https://d-sure.example/login"
	cfg.State.Dir = dir
	cfg.Web = config.Web{Addr: "127.0.0.1:0", URL: "http://127.0.0.1:8465/", SessionIdle: 30 * time.Minute, LinkLifetime: 15 * time.Minute}
	return &cfg
}

func newFixture(t *testing.T, configure ...func(*config.Config)) *fixture {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	for _, c := range configure {
		c(cfg)
	}
	svc, err := intake.NewService(cfg, intake.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, svc: svc, clock: &clock{t: time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)}}
	received := time.Date(2026, 6, 28, 1, 0, 0, 0, time.UTC)
	for i, n := range []parser.Notice{
		{Category: "前払金保証", ContractNumber: "2070004426", AuthKey: "Ab3dEf7hJk", ProjectName: "一般県道松江線道路改良工事", Orderer: "島根県知事", Guarantor: "西日本建設業保証株式会社", Source: "pdf", Attachment: "notice.pdf"},
		{Category: "契約保証", ContractNumber: "2070009999", AuthKey: "QWERTY2345", ProjectName: "=HYPERLINK(\"http://x\")橋梁補修工事", Orderer: "島根県知事", Guarantor: "東日本建設業保証株式会社", Source: "body"},
		{Category: "前払金保証", ContractNumber: "3080001111", AuthKey: "zxcvbn6789", ProjectName: "出雲ダム管理設備更新", Orderer: "島根県知事", Guarantor: "西日本建設業保証株式会社", Source: "pdf", Attachment: "notice.pdf"},
	} {
		f.file(i+1, n, received.Add(time.Duration(i)*time.Hour))
	}
	t.Cleanup(func() { f.svc.Close() })
	// The page follows f.svc, as it follows the daemon's service across reloads.
	s, err := web.New(web.Options{Service: func() *intake.Service { return f.svc }, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// file records a contractor's mail holding notice n, as the poll would, and files it.
func (f *fixture) file(uid int, n parser.Notice, received time.Time) {
	f.t.Helper()
	sender := fmt.Sprintf("contractor%d@kensetsu.example", uid)
	body := "島根県 ご担当者様\r\n電子証書の認証キーのお知らせを送付します。\r\n"
	if n.Source == "body" {
		body += "保証契約番号 " + n.ContractNumber + "\r\n認証キー " + n.AuthKey + "\r\n"
	}
	raw := "From: " + sender + "\r\nTo: " + agency + "\r\nSubject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("電子証書の送付")) + "?=\r\n" +
		"Date: Sun, 28 Jun 2026 10:00:00 +0900\r\nMessage-ID: <m" + fmt.Sprint(uid) + "@kensetsu.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte(body)) + "\r\n--b\r\nContent-Type: application/pdf; name=notice.pdf\r\nContent-Disposition: attachment; filename=notice.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n% a notice\n%%EOF\n")) + "\r\n--b--\r\n"
	e := &ledger.Entry{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(uid), MessageID: fmt.Sprintf("<m%d@kensetsu.example>", uid),
		Digest: ledger.Digest([]byte(raw)), From: sender, Subject: "電子証書の送付", Size: int64(len(raw)), TakenAt: received, Outcome: "notices", Notices: 1}
	err := f.svc.Ledger.Record(e, []byte(raw), func(tx *bolt.Tx, e *ledger.Entry) error {
		filed, err := f.svc.Queue.Submit(tx, n, verifier.Decision{Outcome: verifier.OutcomeQueued, Reasons: []string{verifier.ReasonStartDateUnconfirmed},
			Policy: "shimane", PolicyVersion: "2023-06"}, verifier.Meta{Entry: e.ID, Sender: sender, MessageID: e.MessageID, Received: received})
		f.items = append(f.items, filed.Submission)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// browser is a client with its own cookies that does not follow redirects.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type page struct {
	status int
	body   string
	header http.Header
}

func (f *fixture) get(c *http.Client, path string) page {
	f.t.Helper()
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	return read(f.t, resp)
}

func (f *fixture) post(c *http.Client, path string, form url.Values) page {
	f.t.Helper()
	resp, err := c.PostForm(f.srv.URL+path, form)
	if err != nil {
		f.t.Fatal(err)
	}
	return read(f.t, resp)
}

func read(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, body: string(b), header: resp.Header}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrf(t *testing.T, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page (%d):\n%s", p.status, p.body)
	}
	return m[1]
}

// mails are the outbox's messages of kind, in order.
func (f *fixture) mails(kind string) []outbox.Message {
	f.t.Helper()
	var out []outbox.Message
	f.svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		for id := uint64(1); ; id++ {
			m, _, err := f.svc.Outbox.Get(tx, id)
			if err != nil {
				return nil
			}
			if m.Kind == kind {
				out = append(out, m)
			}
		}
	})
	return out
}

var linkInMail = regexp.MustCompile(`http://127\.0\.0\.1:8465/(signin/link\?t=[^\s]+)`)

// linkOf reads the sign-in link out of a sign-in mail, as path and query on the test server.
func linkOf(t *testing.T, m outbox.Message) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, msg.Body))
	l := linkInMail.FindStringSubmatch(string(b))
	if l == nil {
		t.Fatalf("no sign-in link in the mail:\n%s", b)
	}
	return "/" + l[1]
}

// requestLink asks for a sign-in link for addr in browser c.
func (f *fixture) requestLink(c *http.Client, addr string) page {
	f.t.Helper()
	form := f.get(c, "/signin")
	return f.post(c, "/signin", url.Values{"csrf": {csrf(f.t, form)}, "address": {addr}})
}

// signIn signs clerk addr in through a mailed link and returns the browser and the CSRF
// token of its session.
func (f *fixture) signIn(addr string) (*http.Client, string) {
	f.t.Helper()
	f.clock.add(16 * time.Minute) // past the sign-in rate limit's window
	c := f.browser()
	before := len(f.mails("signin"))
	if p := f.requestLink(c, addr); p.status != http.StatusOK || !strings.Contains(p.body, "サインイン用のリンクを") {
		f.t.Fatalf("sign-in request: %d\n%s", p.status, p.body)
	}
	ms := f.mails("signin")
	if len(ms) != before+1 {
		f.t.Fatalf("%d sign-in mails, want %d", len(ms), before+1)
	}
	p := f.useLink(c, linkOf(f.t, ms[len(ms)-1]))
	if p.status != http.StatusSeeOther {
		f.t.Fatalf("using the link: %d\n%s", p.status, p.body)
	}
	q := f.get(c, "/")
	if q.status != http.StatusOK {
		f.t.Fatalf("queue after sign-in: %d\n%s", q.status, q.body)
	}
	return c, csrf(f.t, q)
}

func (f *fixture) useLink(c *http.Client, link string) page {
	f.t.Helper()
	land := f.get(c, link)
	if land.status != http.StatusOK {
		return land
	}
	u, _ := url.Parse(link)
	return f.post(c, "/signin/link", url.Values{"csrf": {csrf(f.t, land)}, "t": {u.Query().Get("t")}, "next": {u.Query().Get("next")}})
}

func (f *fixture) item(id uint64) verifier.Submission {
	f.t.Helper()
	var s verifier.Submission
	f.svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		var err error
		s, err = f.svc.Queue.Get(tx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		return nil
	})
	return s
}

func TestSignInQueueRevealDecide(t *testing.T) {
	f := newFixture(t)
	c, tok := f.signIn("  YAMADA@pref.shimane.example ") // typed in another case, with spaces
	m := f.mails("signin")[0]
	if len(m.To) != 1 || m.To[0] != clerk {
		t.Errorf("sign-in mail to %v, want the config's spelling %s", m.To, clerk)
	}

	q := f.get(c, "/")
	for _, h := range []string{"Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options", "Cache-Control"} {
		if q.header.Get(h) == "" {
			t.Errorf("the queue is served without %s", h)
		}
	}
	// Oldest first, every field a clerk compares, the rule and why it waits, no key.
	i1, i2, i3 := strings.Index(q.body, "R-000001"), strings.Index(q.body, "R-000002"), strings.Index(q.body, "R-000003")
	if i1 < 0 || i2 < i1 || i3 < i2 {
		t.Errorf("queue not oldest first: %d %d %d", i1, i2, i3)
	}
	for _, want := range []string{"2070004426", "前払金保証", "一般県道松江線道路改良工事", "島根県知事", "西日本建設業保証株式会社",
		"contractor1@kensetsu.example", "shimane 2023-06", "契約日等が未確認", "受付から3日", "https://d-sure.example/login",
		"メール本文に入力された番号・キー"} {
		if !strings.Contains(q.body, want) {
			t.Errorf("the queue does not show %q", want)
		}
	}
	for _, key := range []string{"Ab3dEf7hJk", "QWERTY2345", "zxcvbn6789"} {
		if strings.Contains(q.body, key) {
			t.Errorf("the queue shows the key %s before it is asked for", key)
		}
	}

	// Reveal (as the page's script asks): the key, recorded with the clerk and the time.
	req, _ := http.NewRequest("POST", f.srv.URL+"/items/1/reveal", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Key string }
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got.Key != "Ab3dEf7hJk" {
		t.Errorf("reveal gave %q, want the key", got.Key)
	}
	h := f.item(1).History
	if last := h[len(h)-1]; last.How != verifier.HowKeyShown || last.By != clerk || !last.At.Equal(f.clock.now()) {
		t.Errorf("the reveal is recorded as %+v, want key_shown by %s at %v", last, clerk, f.clock.now())
	}
	// Without the script: the item's page with the key.
	if p := f.post(c, "/items/2/reveal", url.Values{"csrf": {tok}}); p.status != http.StatusOK || !strings.Contains(p.body, "QWERTY2345") {
		t.Errorf("reveal without script: %d, key shown %v", p.status, strings.Contains(p.body, "QWERTY2345"))
	}

	// Verify one, reject one with a reason: the same path as the CLI and mail, the
	// contractor's outcome in the outbox.
	p := f.post(c, "/items/1/decide", url.Values{"csrf": {tok}, "action": {"verify"}})
	if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "done=R-000001") {
		t.Fatalf("verify: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	p = f.post(c, "/items/3/decide", url.Values{"csrf": {tok}, "action": {"reject"}, "reason": {"工事名が契約と異なります"}, "back": {"item"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/items/3?") {
		t.Fatalf("reject: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if s := f.item(1); s.State != verifier.StateVerified {
		t.Errorf("R-000001 is %s, want verified", s.State)
	}
	s3 := f.item(3)
	d, ok := s3.Decided()
	if s3.State != verifier.StateRejected || !ok || d.How != verifier.HowPage || d.By != clerk || d.Why != "工事名が契約と異なります" {
		t.Errorf("R-000003: %s, decision %+v", s3.State, d)
	}
	outcomes := f.mails("outcome")
	if len(outcomes) != 2 || outcomes[0].To[0] != "contractor1@kensetsu.example" || outcomes[1].To[0] != "contractor3@kensetsu.example" {
		t.Fatalf("outcome mails %v, want one to each contractor", outcomes)
	}
	if !strings.Contains(decodeBody(t, outcomes[1].Raw), "工事名が契約と異なります") {
		t.Errorf("the 差戻し's reason is not told to the contractor:\n%s", decodeBody(t, outcomes[1].Raw))
	}

	// The item's page: the history with who did what and how, the original mail.
	ip := f.get(c, "/items/3")
	for _, want := range []string{"差戻し", "工事名が契約と異なります", clerk, "画面", "受信したメール", "contractor3@kensetsu.example", "notice.pdf", "この受付のお知らせ"} {
		if !strings.Contains(ip.body, want) {
			t.Errorf("the item's page does not show %q", want)
		}
	}
	// Decided ones leave the queue; a second decision is refused.
	if q := f.get(c, "/"); strings.Contains(q.body, "R-000001") || !strings.Contains(q.body, "R-000002") {
		t.Errorf("the queue still lists a decided item, or lost a waiting one")
	}
	if p := f.post(c, "/items/1/decide", url.Values{"csrf": {tok}, "action": {"reject"}, "reason": {"x"}}); p.status != http.StatusConflict {
		t.Errorf("a second decision: %d, want 409", p.status)
	}
	if n := len(f.mails("outcome")); n != 2 {
		t.Errorf("%d outcome mails after a refused second decision, want 2", n)
	}
}

func decodeBody(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(m.Body)
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "base64") {
		d, _ := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
		return string(d)
	}
	return string(b)
}

// TestRefusals: every way in that must not work.
func TestRefusals(t *testing.T) {
	f := newFixture(t)

	t.Run("no session", func(t *testing.T) {
		c := f.browser()
		for _, path := range []string{"/", "/items/1", "/items/1/files/0", "/export?from=2026-01-01&to=2026-12-31", "/register"} {
			if p := f.get(c, path); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/signin?next=") {
				t.Errorf("GET %s without a session: %d %s, want a redirect to sign in", path, p.status, p.header.Get("Location"))
			}
		}
		for _, path := range []string{"/items/1/reveal", "/items/1/decide", "/signout", "/register/preview", "/register/confirm"} {
			if p := f.post(c, path, url.Values{"action": {"verify"}}); p.status != http.StatusForbidden {
				t.Errorf("POST %s without a session: %d, want 403", path, p.status)
			}
		}
		if f.item(1).State != verifier.StateQueued || len(f.item(1).History) != 1 {
			t.Errorf("a request without a session changed R-000001")
		}
	})

	t.Run("not a clerk", func(t *testing.T) {
		c := f.browser()
		before := len(f.mails("signin"))
		p := f.requestLink(c, "stranger@evil.example")
		q := f.requestLink(c, "keiyaku-no@pref.shimane.example")
		r := f.requestLink(f.browser(), other)
		norm := func(s string) string { return regexp.MustCompile(`\S+@\S+ が`).ReplaceAllString(s, "") }
		if p.status != http.StatusOK || norm(p.body) != norm(r.body) || norm(q.body) != norm(r.body) {
			t.Errorf("a stranger gets another answer than a clerk (%d):\n%s\n----\n%s", p.status, p.body, r.body)
		}
		if n := len(f.mails("signin")); n != before+1 {
			t.Errorf("%d sign-in mails, want only the clerk's", n-before)
		}
	})

	t.Run("sign-in form without its token", func(t *testing.T) {
		before := len(f.mails("signin"))
		if p := f.post(f.browser(), "/signin", url.Values{"address": {clerk}}); p.status != http.StatusForbidden {
			t.Errorf("sign-in request without the form token: %d, want 403", p.status)
		}
		if len(f.mails("signin")) != before {
			t.Errorf("a sign-in request without the form token sent a mail")
		}
	})

	t.Run("reused link", func(t *testing.T) {
		c := f.browser()
		f.requestLink(c, other)
		ms := f.mails("signin")
		link := linkOf(t, ms[len(ms)-1])
		if p := f.useLink(c, link); p.status != http.StatusSeeOther {
			t.Fatalf("first use: %d", p.status)
		}
		for _, b := range []*http.Client{c, f.browser()} {
			if p := f.useLink(b, link); p.status != http.StatusForbidden || !strings.Contains(p.body, "使用済み") {
				t.Errorf("reused link: %d\n%s", p.status, p.body)
			}
		}
	})

	t.Run("expired link", func(t *testing.T) {
		c := f.browser()
		f.requestLink(c, clerk)
		ms := f.mails("signin")
		link := linkOf(t, ms[len(ms)-1])
		land := f.get(c, link)
		f.clock.add(15 * time.Minute)
		u, _ := url.Parse(link)
		p := f.post(c, "/signin/link", url.Values{"csrf": {csrf(t, land)}, "t": {u.Query().Get("t")}})
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "有効期限") {
			t.Errorf("expired link: %d\n%s", p.status, p.body)
		}
		if p := f.get(c, link); p.status != http.StatusForbidden {
			t.Errorf("opening an expired link: %d, want 403", p.status)
		}
		if p := f.get(c, "/"); p.status != http.StatusSeeOther {
			t.Errorf("an expired link signed in: %d", p.status)
		}
	})

	t.Run("forged link", func(t *testing.T) {
		c := f.browser()
		if p := f.useLink(c, "/signin/link?t=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); p.status != http.StatusForbidden {
			t.Errorf("forged link: %d", p.status)
		}
		land := f.get(c, "/signin")
		if p := f.post(c, "/signin/link", url.Values{"csrf": {csrf(t, land)}, "t": {""}}); p.status != http.StatusForbidden {
			t.Errorf("empty link token: %d", p.status)
		}
	})

	t.Run("link spent without the form token", func(t *testing.T) {
		c := f.browser()
		f.requestLink(c, clerk)
		ms := f.mails("signin")
		u, _ := url.Parse(linkOf(t, ms[len(ms)-1]))
		if p := f.post(f.browser(), "/signin/link", url.Values{"t": {u.Query().Get("t")}}); p.status != http.StatusForbidden {
			t.Errorf("a link posted from another site: %d, want 403", p.status)
		}
		if p := f.useLink(c, u.RequestURI()); p.status != http.StatusSeeOther {
			t.Errorf("the link was spent by the refused post: %d", p.status)
		}
	})

	t.Run("missing CSRF token", func(t *testing.T) {
		c, tok := f.signIn(clerk)
		for _, form := range []url.Values{{"action": {"verify"}}, {"action": {"verify"}, "csrf": {"forged"}}, {"action": {"verify"}, "csrf": {tok + "x"}}} {
			if p := f.post(c, "/items/2/decide", form); p.status != http.StatusForbidden {
				t.Errorf("decide with csrf %q: %d, want 403", form.Get("csrf"), p.status)
			}
			if p := f.post(c, "/items/2/reveal", form); p.status != http.StatusForbidden || strings.Contains(p.body, "QWERTY2345") {
				t.Errorf("reveal with csrf %q: %d", form.Get("csrf"), p.status)
			}
		}
		if s := f.item(2); s.State != verifier.StateQueued || len(s.History) != 1 {
			t.Errorf("a form without its token changed R-000002: %s, %d changes", s.State, len(s.History))
		}
		for _, path := range []string{"/signout", "/register/confirm"} {
			if p := f.post(c, path, url.Values{"sum": {"x"}}); p.status != http.StatusForbidden {
				t.Errorf("POST %s without the CSRF token: %d, want 403", path, p.status)
			}
		}
		if p := f.get(c, "/"); p.status != http.StatusOK {
			t.Errorf("a sign-out without its token signed the clerk out: %d", p.status)
		}
		// Another clerk's token is not this session's.
		_, tok2 := f.signIn(other)
		if p := f.post(c, "/items/2/decide", url.Values{"action": {"verify"}, "csrf": {tok2}}); p.status != http.StatusForbidden {
			t.Errorf("decide with another session's token: %d", p.status)
		}
	})

	t.Run("clerk removed from the config", func(t *testing.T) {
		c, tok := f.signIn(other)
		clerks := f.svc.Config.Digest.Clerks
		f.svc.Config.Digest.Clerks = clerks[:1] // a reload took sato@ off [digest] clerks
		defer func() { f.svc.Config.Digest.Clerks = clerks }()
		if p := f.post(c, "/items/3/decide", url.Values{"csrf": {tok}, "action": {"verify"}}); p.status != http.StatusForbidden {
			t.Errorf("decision by a removed clerk: %d, want 403", p.status)
		}
		if p := f.get(c, "/items/3"); p.status != http.StatusSeeOther {
			t.Errorf("item page for a removed clerk: %d, want a redirect to sign in", p.status)
		}
		// The session ended with the address: being named again needs a new sign-in.
		f.svc.Config.Digest.Clerks = clerks
		if p := f.get(c, "/"); p.status != http.StatusSeeOther {
			t.Errorf("the removed clerk's session came back: %d", p.status)
		}
		if s := f.item(3); s.State != verifier.StateQueued {
			t.Errorf("a removed clerk's decision was recorded: %s", s.State)
		}
	})

	t.Run("another agency's item", func(t *testing.T) {
		c, tok := f.signIn(clerk)
		for _, path := range []string{"/items/999", "/items/0", "/items/x", "/items/999/files/0", "/items/1/files/7"} {
			if p := f.get(c, path); p.status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, p.status)
			}
		}
		for _, path := range []string{"/items/999/decide", "/items/999/reveal"} {
			if p := f.post(c, path, url.Values{"csrf": {tok}, "action": {"verify"}}); p.status != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", path, p.status)
			}
		}
		// A session of another agency's daemon (its own state) is nobody here.
		g := newFixture(t)
		gc, _ := g.signIn(clerk)
		u, _ := url.Parse(g.srv.URL)
		cookies := gc.Jar.Cookies(u)
		fc := f.browser()
		fu, _ := url.Parse(f.srv.URL)
		fc.Jar.SetCookies(fu, cookies)
		if p := f.get(fc, "/items/1"); p.status != http.StatusSeeOther {
			t.Errorf("another daemon's session: %d, want a redirect to sign in", p.status)
		}
	})

	t.Run("idle session", func(t *testing.T) {
		c, _ := f.signIn(clerk)
		f.clock.add(29 * time.Minute)
		if p := f.get(c, "/"); p.status != http.StatusOK {
			t.Fatalf("within the idle time: %d", p.status)
		}
		f.clock.add(29 * time.Minute) // used 29 minutes ago: still alive
		if p := f.get(c, "/"); p.status != http.StatusOK {
			t.Fatalf("used within the idle time: %d", p.status)
		}
		f.clock.add(31 * time.Minute)
		if p := f.get(c, "/"); p.status != http.StatusSeeOther {
			t.Errorf("after the idle time: %d, want a redirect to sign in", p.status)
		}
	})

	t.Run("signed out", func(t *testing.T) {
		c, tok := f.signIn(clerk)
		if p := f.post(c, "/signout", url.Values{"csrf": {tok}}); p.status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", p.status)
		}
		if p := f.get(c, "/"); p.status != http.StatusSeeOther {
			t.Errorf("after signing out: %d", p.status)
		}
	})

	t.Run("bad decisions", func(t *testing.T) {
		c, tok := f.signIn(clerk)
		for _, form := range []url.Values{{"action": {"reject"}}, {"action": {"reject"}, "reason": {"  "}}, {"action": {"approve"}},
			{"action": {"reject"}, "reason": {strings.Repeat("長", 501)}}} {
			form.Set("csrf", tok)
			if p := f.post(c, "/items/2/decide", form); p.status != http.StatusBadRequest {
				t.Errorf("decide %v: %d, want 400", form, p.status)
			}
		}
		if f.item(2).State != verifier.StateQueued {
			t.Errorf("a bad decision changed R-000002")
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		g := newFixture(t)
		for i := range 5 {
			g.requestLink(g.browser(), clerk)
			_ = i
		}
		if n := len(g.mails("signin")); n != 3 {
			t.Errorf("%d sign-in mails for 5 requests, want 3 (the per-address limit)", n)
		}
		for i := range 40 {
			g.requestLink(g.browser(), fmt.Sprintf("nobody%d@pref.shimane.example", i))
		}
		g.requestLink(g.browser(), other)
		if n := len(g.mails("signin")); n != 3 {
			t.Errorf("%d sign-in mails after the overall limit, want still 3", n)
		}
		g.clock.add(16 * time.Minute)
		g.requestLink(g.browser(), other)
		if n := len(g.mails("signin")); n != 4 {
			t.Errorf("%d sign-in mails once the window passed, want 4", n)
		}
	})
}

func TestSearch(t *testing.T) {
	f := newFixture(t)
	c, tok := f.signIn(clerk)
	f.post(c, "/items/1/decide", url.Values{"csrf": {tok}, "action": {"verify"}})
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"R-000002", "R-000003"}},
		{"?state=all", []string{"R-000001", "R-000002", "R-000003"}},
		{"?state=verified", []string{"R-000001"}},
		{"?state=all&number=207000", []string{"R-000001", "R-000002"}},
		{"?state=all&number=２０７０００４４２６", []string{"R-000001"}}, // full-width digits
		{"?state=all&project=ダム", []string{"R-000003"}},
		{"?state=all&project=ﾀﾞﾑ", []string{"R-000003"}}, // half-width kana, NFKC
		{"?state=all&project=" + url.QueryEscape("松江線 道路"), []string{"R-000001"}},
		{"?state=all&sender=CONTRACTOR2", []string{"R-000002"}},
		{"?state=all&from=2026-06-28&to=2026-06-28", []string{"R-000001", "R-000002", "R-000003"}},
		{"?state=all&from=2026-06-29", nil},
	} {
		p := f.get(c, "/"+tc.query)
		if p.status != http.StatusOK {
			t.Errorf("search %s: %d", tc.query, p.status)
			continue
		}
		got := regexp.MustCompile(`<h2><a href="/items/\d+">(R-\d+)</a>`).FindAllStringSubmatch(p.body, -1)
		var ids []string
		for _, g := range got {
			ids = append(ids, g[1])
		}
		if strings.Join(ids, ",") != strings.Join(sortedLike(tc.want, ids), ",") || len(ids) != len(tc.want) {
			t.Errorf("search %s = %v, want %v", tc.query, ids, tc.want)
		}
	}
	if p := f.get(c, "/?state=nonsense"); p.status != http.StatusBadRequest {
		t.Errorf("unknown state: %d, want 400", p.status)
	}
	if p := f.get(c, "/?from=yesterday"); p.status != http.StatusBadRequest {
		t.Errorf("bad date: %d, want 400", p.status)
	}
}

// sortedLike is want in got's order when they hold the same items (the order of states
// other than waiting is newest first).
func sortedLike(want, got []string) []string {
	if len(want) != len(got) {
		return want
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return want
		}
	}
	return got
}

func TestPaging(t *testing.T) {
	f := newFixture(t)
	for i := 4; i <= 55; i++ {
		f.file(i, parser.Notice{Category: "前払金保証", ContractNumber: fmt.Sprintf("20700%05d", i), AuthKey: "Kk1234567" + fmt.Sprint(i%10),
			ProjectName: "工事", Orderer: "島根県知事", Guarantor: "西日本建設業保証株式会社", Source: "pdf"}, time.Date(2026, 6, 29, 0, 0, 0, 0, time.UTC))
	}
	c, _ := f.signIn(clerk)
	p1 := f.get(c, "/")
	if !strings.Contains(p1.body, "55件") || strings.Count(p1.body, `class="card `) != 50 || !strings.Contains(p1.body, `href="/?state=waiting&amp;page=2"`) {
		t.Errorf("page 1: %d cards, count shown %v", strings.Count(p1.body, `class="card `), strings.Contains(p1.body, "55件"))
	}
	p2 := f.get(c, "/?page=2")
	if strings.Count(p2.body, `class="card `) != 5 || !strings.Contains(p2.body, "R-000055") {
		t.Errorf("page 2: %d cards", strings.Count(p2.body, `class="card `))
	}
}

func TestExport(t *testing.T) {
	f := newFixture(t)
	c, tok := f.signIn(clerk)
	f.post(c, "/items/2/decide", url.Values{"csrf": {tok}, "action": {"verify"}})
	f.post(c, "/items/3/decide", url.Values{"csrf": {tok}, "action": {"reject"}, "reason": {"番号違い"}})

	p := f.get(c, "/export?from=2026-07-01&to=2026-07-01&state=verified")
	if p.status != http.StatusOK || p.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(p.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", p.status, p.header)
	}
	want := "\xEF\xBB\xBF受付番号,状態,区分,保証契約番号,工事名,発注者,保証機関,送信者,受信日時,処理日時,処理者,処理方法,差戻しの理由,判定ルール\r\n" +
		"R-000002,確認済,契約保証,2070009999,\"'=HYPERLINK(\"\"http://x\"\")橋梁補修工事\",島根県知事,東日本建設業保証株式会社,contractor2@kensetsu.example," +
		"2026-06-28 11:00,2026-07-01 18:16,yamada@pref.shimane.example,画面,,shimane 2023-06\r\n"
	if p.body != want {
		t.Errorf("export =\n%q\nwant\n%q", p.body, want)
	}
	if strings.Contains(p.body, "QWERTY2345") {
		t.Errorf("the export holds a 認証キー")
	}

	all := f.get(c, "/export?from=2026-06-01&to=2026-06-30&state=all&enc=shift_jis")
	if all.header.Get("Content-Type") != "text/csv; charset=shift_jis" {
		t.Fatalf("Shift_JIS export: %v", all.header)
	}
	dec, err := japanese.ShiftJIS.NewDecoder().String(all.body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(all.body, "\xEF\xBB\xBF") || !strings.HasPrefix(dec, "受付番号,") || strings.Count(dec, "\r\n") != 4 ||
		!strings.Contains(dec, "R-000003,差戻し,") || !strings.Contains(dec, ",番号違い,") || !strings.Contains(dec, "R-000001,確認待ち,") {
		t.Errorf("Shift_JIS export of all:\n%s", dec)
	}
	for _, q := range []string{"", "?from=2026-07-01", "?from=2026-07-02&to=2026-07-01", "?from=2026-07-01&to=2026-07-01&state=queued",
		"?from=2026-07-01&to=2026-07-01&enc=latin1"} {
		if p := f.get(c, "/export"+q); p.status != http.StatusBadRequest {
			t.Errorf("export%s: %d, want 400", q, p.status)
		}
	}
}

func TestItemPageAndFile(t *testing.T) {
	f := newFixture(t)
	c, _ := f.signIn(clerk)
	// A key typed in the mail's body is masked like the key itself until revealed.
	p := f.get(c, "/items/2")
	if p.status != http.StatusOK || strings.Contains(p.body, "QWERTY2345") || !strings.Contains(p.body, "QW***45") {
		t.Errorf("item page: %d, key masked in the mail's text: %v", p.status, !strings.Contains(p.body, "QWERTY2345"))
	}
	if !strings.Contains(p.body, "電子証書の送付") || !strings.Contains(p.body, "m2@kensetsu.example") {
		t.Errorf("the item page does not show the mail's subject and Message-ID")
	}
	changes := len(f.item(1).History)
	pdf := f.get(c, "/items/1/files/0")
	if pdf.status != http.StatusOK || pdf.header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(pdf.header.Get("Content-Disposition"), "inline") || !strings.HasPrefix(pdf.body, "%PDF-") ||
		!strings.Contains(pdf.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("the PDF: %d %v", pdf.status, pdf.header)
	}
	h := f.item(1).History
	if len(h) != changes+1 || h[len(h)-1].How != verifier.HowKeyShown || h[len(h)-1].By != clerk {
		t.Errorf("opening the notice's PDF is not recorded as a key shown: %+v", h)
	}
	if p := f.get(c, "/static/page.css"); p.status != http.StatusOK || !strings.Contains(p.header.Get("Content-Type"), "text/css") {
		t.Errorf("static CSS: %d %s", p.status, p.header.Get("Content-Type"))
	}
	if p := f.get(c, "/static/page.js"); p.status != http.StatusOK {
		t.Errorf("static JS: %d", p.status)
	}
	if p := f.get(f.browser(), "/static/page.css"); p.status != http.StatusOK {
		t.Errorf("the style sheet needs a session: %d", p.status) // the sign-in page uses it
	}
}

// TestDigestLinksToPage: with [web] on, each card of the digest opens the item's page.
func TestDigestLinksToPage(t *testing.T) {
	f := newFixture(t)
	d, err := f.svc.SendDigest(f.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.HTML, `<a href="http://127.0.0.1:8465/items/1">R-000001</a>`) || !strings.Contains(d.Text, "画面で開く: http://127.0.0.1:8465/items/2") {
		t.Errorf("the digest does not link to the item pages:\n%s", d.Text)
	}
}

// TestItemPageResentOften: an item whose notice was resent more often than its history
// keeps says on its page how many older resends are left out.
func TestItemPageResentOften(t *testing.T) {
	f := newFixture(t)
	for i := range 25 {
		f.file(10+i, parser.Notice{Category: "前払金保証", ContractNumber: "3080001111", AuthKey: fmt.Sprintf("zxcvbn%04d", i),
			ProjectName: "出雲ダム管理設備更新", Orderer: "島根県知事", Guarantor: "西日本建設業保証株式会社", Source: "pdf", Attachment: "notice.pdf"},
			time.Date(2026, 6, 29, 1, i, 0, 0, time.UTC))
	}
	c, _ := f.signIn(clerk)
	p := f.get(c, "/items/3")
	if dropped := f.item(3).DroppedResubmissions; p.status != http.StatusOK || dropped == 0 || !strings.Contains(p.body, fmt.Sprintf("ほかに再送 %d 件", dropped)) {
		t.Errorf("item page after 25 resends: %d, %d dropped, line shown %v", p.status, dropped, strings.Contains(p.body, "ほかに再送"))
	}
}
