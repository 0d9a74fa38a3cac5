// Package oauthtest plays an OAuth 2.0 provider (Google's or Microsoft's authorization and
// token endpoints) on 127.0.0.1 for tests of hosho-intake's login and token refresh: the
// authorization endpoint at URL+"/auth" sends the browser back to the loopback redirect URI,
// the token endpoint at URL+"/token" checks PKCE, the redirect URI and the client.
package oauthtest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// The client the provider knows, and the tokens it issues.
const (
	ClientID     = "hosho-test.apps.example"
	ClientSecret = "GOCSPX-client-secret-never-printed"
	RefreshToken = "1//refresh-token-never-printed"
	AccessToken  = "ya29.test-access-token" // what intake/mailbox's memory server accepts
)

// Provider plays Google or Microsoft on loopback: an authorization endpoint that sends the
// browser back to the redirect URI with a code (or with an error), and a token endpoint that
// exchanges the code (checking PKCE, the redirect URI and the client) and later refreshes.
type Provider struct {
	*httptest.Server
	t *testing.T

	// Set before the login starts:
	Deny      bool          // the admin pressed Cancel: error=access_denied
	BadGrant  bool          // the token endpoint answers 400 invalid_grant
	HoldToken chan struct{} // when set, the code exchange waits for it

	mu        sync.Mutex
	challenge map[string]string // code → code_challenge
	redirect  map[string]string // code → redirect_uri
	exchanges int
	refreshes int
}

func New(t *testing.T) *Provider {
	p := &Provider{t: t, challenge: map[string]string{}, redirect: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", p.authorize)
	mux.HandleFunc("/token", p.token)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	// RFC 8252 §7.3: a loopback IP literal, any port (Microsoft: localhost too, any port).
	if u, err := url.Parse(redirect); err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
		http.Error(w, "redirect_uri must be http://127.0.0.1:PORT or http://localhost:PORT", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != ClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("access_type") != "offline" {
		http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	if p.Deny {
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

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.t.Error(err)
	}
	w.Header().Set("Content-Type", "application/json")
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	if id != ClientID || secret != ClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		if p.HoldToken != nil {
			<-p.HoldToken
		}
		p.mu.Lock()
		p.exchanges++
		code := r.Form.Get("code")
		challenge, redirect := p.challenge[code], p.redirect[code]
		delete(p.challenge, code) // a code is good once
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if p.BadGrant || challenge == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge || r.Form.Get("redirect_uri") != redirect {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Bad Request"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":"first-access","token_type":"Bearer","expires_in":3599,"refresh_token":%q,"scope":"https://mail.google.com/"}`, RefreshToken)
	case "refresh_token":
		p.mu.Lock()
		p.refreshes++
		p.mu.Unlock()
		if r.Form.Get("refresh_token") != RefreshToken {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3599}`, AccessToken)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
	}
}

// Counts is how many codes were exchanged and tokens refreshed.
func (p *Provider) Counts() (exchanges, refreshes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exchanges, p.refreshes
}

// Browse is the admin's browser: it GETs url and follows redirects (to the loopback
// listener), returning the last page's status and text.
func Browse(t *testing.T, u string) (int, string) {
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
