package credential

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hosho-intake/config"
)

const (
	fakeClientID     = "hosho-test.apps.example"
	fakeClientSecret = "GOCSPX-client-secret-never-printed"
	fakeRefresh      = "1//refresh-token-never-printed"
	fakeAccess       = "ya29.test-access-token" // what intake/mailbox's memory server accepts
)

// provider plays Google or Microsoft on loopback: an authorization endpoint that sends the
// browser back to the redirect URI with a code (or with an error), and a token endpoint that
// exchanges the code (checking PKCE, the redirect URI and the client) and later refreshes.
type provider struct {
	*httptest.Server
	t *testing.T

	deny      bool          // the admin pressed Cancel: error=access_denied
	badGrant  bool          // the token endpoint answers 400 invalid_grant
	holdToken chan struct{} // when set, the code exchange waits for it

	mu        sync.Mutex
	challenge map[string]string // code → code_challenge
	redirect  map[string]string // code → redirect_uri
	exchanges int
	refreshes int
}

func newProvider(t *testing.T) *provider {
	p := &provider{t: t, challenge: map[string]string{}, redirect: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", p.authorize)
	mux.HandleFunc("/token", p.token)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	// RFC 8252 §7.3: a loopback IP literal, any port.
	if u, err := url.Parse(redirect); err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
		http.Error(w, "redirect_uri must be http://127.0.0.1:PORT", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != fakeClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("access_type") != "offline" {
		http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	if p.deny {
		back.Set("error", "access_denied")
		back.Set("error_description", "The user denied the request")
	} else {
		code := fmt.Sprintf("code-%d", time.Now().UnixNano())
		p.mu.Lock()
		p.challenge[code], p.redirect[code] = q.Get("code_challenge"), redirect
		p.mu.Unlock()
		back.Set("code", code)
	}
	http.Redirect(w, r, redirect+"?"+back.Encode(), http.StatusFound)
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.t.Error(err)
	}
	w.Header().Set("Content-Type", "application/json")
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	if id != fakeClientID || secret != fakeClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		if p.holdToken != nil {
			<-p.holdToken
		}
		p.mu.Lock()
		p.exchanges++
		code := r.Form.Get("code")
		challenge, redirect := p.challenge[code], p.redirect[code]
		delete(p.challenge, code) // a code is good once
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if p.badGrant || challenge == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge || r.Form.Get("redirect_uri") != redirect {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Bad Request"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":"first-access","token_type":"Bearer","expires_in":3599,"refresh_token":%q,"scope":"https://mail.google.com/"}`, fakeRefresh)
	case "refresh_token":
		p.mu.Lock()
		p.refreshes++
		p.mu.Unlock()
		if r.Form.Get("refresh_token") != fakeRefresh {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3599}`, fakeAccess)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
	}
}

func (p *provider) counts() (exchanges, refreshes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exchanges, p.refreshes
}

func (p *provider) options(open func(authURL, redirect string)) LoginOptions {
	return LoginOptions{AuthURL: p.URL + "/auth", TokenURL: p.URL + "/token", ClientID: fakeClientID,
		ClientSecret: config.NewSecret(fakeClientSecret), Scopes: []string{"https://mail.google.com/"},
		Timeout: time.Minute, Open: open}
}

// browse is the admin's browser: it GETs url and follows redirects (to the loopback
// listener), returning the last page's status and text.
func browse(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Errorf("browser: GET %s: %v", u, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// noSecrets fails when text shows the client secret or the refresh token.
func noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{fakeClientSecret, fakeRefresh} {
		if strings.Contains(text, s) {
			t.Errorf("%s shows a secret: %q", what, text)
		}
	}
}

func TestLogin(t *testing.T) {
	p := newProvider(t)
	var wg sync.WaitGroup
	var pageStatus int
	var page string
	tok, err := Login(context.Background(), p.options(func(authURL, redirect string) {
		wg.Go(func() { pageStatus, page = browse(t, authURL) })
	}))
	wg.Wait()
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if pageStatus != http.StatusOK || !strings.Contains(page, "ログインを受け取りました") {
		t.Errorf("the browser's page: %d %q", pageStatus, page)
	}
	if tok.RefreshToken != fakeRefresh {
		t.Errorf("refresh token = %q, want the provider's", tok.RefreshToken)
	}

	// Written where the config's token_file points, it is a token New refreshes with.
	dir := t.TempDir()
	file := filepath.Join(dir, "imap-oauth2-token")
	if err := WriteToken(file, tok); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v, want 0600", err, fi.Mode())
	}
	raw, _ := os.ReadFile(file)
	if strings.Contains(string(raw), "first-access") {
		t.Errorf("the token file keeps the access token: %s", raw)
	}
	src, err := New("imap", config.AuthXOAuth2, config.Secret{}, config.OAuth2{TokenFile: file, Token: config.NewSecret(string(raw)),
		TokenURL: p.URL + "/token", ClientID: fakeClientID, ClientSecret: config.NewSecret(fakeClientSecret)}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.Secret(context.Background())
	if err != nil || got != fakeAccess {
		t.Fatalf("Secret() after login = %q, %v; want the refreshed access token", got, err)
	}
	if ex, rf := p.counts(); ex != 1 || rf != 1 {
		t.Errorf("provider saw %d code exchanges and %d refreshes, want 1 and 1", ex, rf)
	}
}

func TestLoginHostile(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(p *provider)
		browser func(t *testing.T, p *provider, authURL, redirect string)
		timeout time.Duration
		wantErr string // "" succeeds
		wantEx  int    // code exchanges the provider saw
	}{{
		name: "wrong state is refused, then the real redirect completes",
		browser: func(t *testing.T, p *provider, authURL, redirect string) {
			st, page := browse(t, redirect+"?state=guessed&code=stolen-code")
			if st != http.StatusBadRequest || !strings.Contains(page, "state") {
				t.Errorf("wrong state: %d %q, want 400", st, page)
			}
			browse(t, authURL)
		},
		wantEx: 1,
	}, {
		name:  "error=access_denied on the redirect",
		setup: func(p *provider) { p.deny = true },
		browser: func(t *testing.T, p *provider, authURL, redirect string) {
			if st, page := browse(t, authURL); st != http.StatusOK || !strings.Contains(page, "access_denied") {
				t.Errorf("denied: %d %q", st, page)
			}
		},
		wantErr: "access_denied",
	}, {
		name:    "a redirect that never comes",
		browser: func(t *testing.T, p *provider, authURL, redirect string) {},
		timeout: 200 * time.Millisecond,
		wantErr: ErrLoginTimeout.Error(),
	}, {
		name:    "the token endpoint answers 400 invalid_grant",
		setup:   func(p *provider) { p.badGrant = true },
		browser: func(t *testing.T, p *provider, authURL, redirect string) { browse(t, authURL) },
		wantErr: "HTTP 400: invalid_grant: Bad Request",
		wantEx:  1,
	}, {
		name:  "a second request to the listener gets 410 and no second exchange",
		setup: func(p *provider) { p.holdToken = make(chan struct{}) },
		browser: func(t *testing.T, p *provider, authURL, redirect string) {
			// The first redirect is taken; Login is now exchanging its code (held), so the
			// listener still answers the replay.
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(authURL)
			if err != nil {
				t.Error(err)
				close(p.holdToken)
				return
			}
			resp.Body.Close()
			back := resp.Header.Get("Location")
			if st, _ := browse(t, back); st != http.StatusOK {
				t.Errorf("first redirect: %d", st)
			}
			if st, page := browse(t, back); st != http.StatusGone {
				t.Errorf("replayed redirect: %d %q, want 410", st, page)
			}
			if st, _ := browse(t, redirect+"?state=x&code=y"); st != http.StatusGone {
				t.Errorf("another request after the login: %d, want 410", st)
			}
			close(p.holdToken)
		},
		wantEx: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t)
			if tt.setup != nil {
				tt.setup(p)
			}
			o := p.options(nil)
			if tt.timeout > 0 {
				o.Timeout = tt.timeout
			}
			var wg sync.WaitGroup
			o.Open = func(authURL, redirect string) { wg.Go(func() { tt.browser(t, p, authURL, redirect) }) }
			tok, err := Login(context.Background(), o)
			wg.Wait()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Login: %v", err)
			case tt.wantErr == "" && tok.RefreshToken != fakeRefresh:
				t.Errorf("refresh token %q", tok.RefreshToken)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Login: %v, want an error with %q", err, tt.wantErr)
			}
			if err != nil {
				noSecrets(t, "the error", err.Error())
			}
			if ex, _ := p.counts(); ex != tt.wantEx {
				t.Errorf("the provider saw %d code exchanges, want %d", ex, tt.wantEx)
			}
		})
	}
}

func TestLoginCanceled(t *testing.T) {
	p := newProvider(t)
	ctx, cancel := context.WithCancel(context.Background())
	o := p.options(func(string, string) { cancel() })
	if _, err := Login(ctx, o); !errors.Is(err, context.Canceled) {
		t.Errorf("Login after SIGINT: %v, want context.Canceled", err)
	}
}

func TestAuthURL(t *testing.T) {
	tests := []struct {
		o       config.OAuth2
		want    string
		wantErr bool
	}{
		{config.OAuth2{AuthURL: "https://idp.example/authorize", TokenURL: "https://oauth2.googleapis.com/token"}, "https://idp.example/authorize", false},
		{config.OAuth2{TokenURL: "https://oauth2.googleapis.com/token"}, "https://accounts.google.com/o/oauth2/auth", false},
		{config.OAuth2{TokenURL: "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token"}, "https://login.microsoftonline.com/TENANT/oauth2/v2.0/authorize", false},
		{config.OAuth2{TokenURL: "https://idp.example/token"}, "", true},
	}
	for _, tt := range tests {
		got, err := AuthURL(tt.o)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("AuthURL(%+v) = %q, %v; want %q (error %v)", tt.o, got, err, tt.want, tt.wantErr)
		}
	}
}
