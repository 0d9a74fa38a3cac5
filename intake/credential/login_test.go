package credential

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hosho-intake/config"
	"hosho-intake/intake/credential/oauthtest"
)

func loginOptions(p *oauthtest.Provider, open func(authURL, redirect string)) LoginOptions {
	return LoginOptions{AuthURL: p.URL + "/auth", TokenURL: p.URL + "/token", ClientID: oauthtest.ClientID,
		ClientSecret: config.NewSecret(oauthtest.ClientSecret), Scopes: []string{"https://mail.google.com/"},
		Timeout: time.Minute, Open: open}
}

// noSecrets fails when text shows the client secret or the refresh token.
func noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{oauthtest.ClientSecret, oauthtest.RefreshToken} {
		if strings.Contains(text, s) {
			t.Errorf("%s shows a secret: %q", what, text)
		}
	}
}

func TestLogin(t *testing.T) {
	p := oauthtest.New(t)
	var wg sync.WaitGroup
	var pageStatus int
	var page string
	tok, err := Login(context.Background(), loginOptions(p, func(authURL, redirect string) {
		wg.Go(func() { pageStatus, page = oauthtest.Browse(t, authURL) })
	}))
	wg.Wait()
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if pageStatus != http.StatusOK || !strings.Contains(page, "ログインを受け取りました") {
		t.Errorf("the browser's page: %d %q", pageStatus, page)
	}
	if tok.RefreshToken != oauthtest.RefreshToken {
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
		TokenURL: p.URL + "/token", ClientID: oauthtest.ClientID, ClientSecret: config.NewSecret(oauthtest.ClientSecret)}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.Secret(context.Background())
	if err != nil || got != oauthtest.AccessToken {
		t.Fatalf("Secret() after login = %q, %v; want the refreshed access token", got, err)
	}
	if ex, rf := p.Counts(); ex != 1 || rf != 1 {
		t.Errorf("provider saw %d code exchanges and %d refreshes, want 1 and 1", ex, rf)
	}
}

func TestLoginHostile(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(p *oauthtest.Provider)
		opts    func(o *LoginOptions)
		browser func(t *testing.T, p *oauthtest.Provider, authURL, redirect string)
		timeout time.Duration
		wantErr string // "" succeeds
		wantEx  int    // code exchanges the provider saw
	}{{
		name: "wrong state is refused, then the real redirect completes",
		browser: func(t *testing.T, p *oauthtest.Provider, authURL, redirect string) {
			st, page := oauthtest.Browse(t, redirect+"?state=guessed&code=stolen-code")
			if st != http.StatusBadRequest || !strings.Contains(page, "state") {
				t.Errorf("wrong state: %d %q, want 400", st, page)
			}
			oauthtest.Browse(t, authURL)
		},
		wantEx: 1,
	}, {
		name:    "redirect_uri http://localhost:PORT, as Microsoft Entra's portal registers it",
		opts:    func(o *LoginOptions) { o.RedirectHost = "localhost" },
		browser: func(t *testing.T, p *oauthtest.Provider, authURL, redirect string) { oauthtest.Browse(t, authURL) },
		wantEx:  1,
	}, {
		name:    "a redirect host that is not loopback",
		opts:    func(o *LoginOptions) { o.RedirectHost = "login.example" },
		wantErr: `redirect host "login.example"`,
	}, {
		name:  "error=access_denied on the redirect",
		setup: func(p *oauthtest.Provider) { p.Deny = true },
		browser: func(t *testing.T, p *oauthtest.Provider, authURL, redirect string) {
			if st, page := oauthtest.Browse(t, authURL); st != http.StatusOK || !strings.Contains(page, "access_denied") {
				t.Errorf("denied: %d %q", st, page)
			}
		},
		wantErr: "access_denied",
	}, {
		name:    "a redirect that never comes",
		browser: func(t *testing.T, p *oauthtest.Provider, authURL, redirect string) {},
		timeout: 200 * time.Millisecond,
		wantErr: ErrLoginTimeout.Error(),
	}, {
		name:    "the token endpoint answers 400 invalid_grant",
		setup:   func(p *oauthtest.Provider) { p.BadGrant = true },
		browser: func(t *testing.T, p *oauthtest.Provider, authURL, redirect string) { oauthtest.Browse(t, authURL) },
		wantErr: "HTTP 400: invalid_grant: Bad Request",
		wantEx:  1,
	}, {
		name:  "a second request to the listener gets 410 and no second exchange",
		setup: func(p *oauthtest.Provider) { p.HoldToken = make(chan struct{}) },
		browser: func(t *testing.T, p *oauthtest.Provider, authURL, redirect string) {
			// The first redirect is taken; Login is now exchanging its code (held), so the
			// listener still answers the replay.
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(authURL)
			if err != nil {
				t.Error(err)
				close(p.HoldToken)
				return
			}
			resp.Body.Close()
			back := resp.Header.Get("Location")
			if st, _ := oauthtest.Browse(t, back); st != http.StatusOK {
				t.Errorf("first redirect: %d", st)
			}
			if st, page := oauthtest.Browse(t, back); st != http.StatusGone {
				t.Errorf("replayed redirect: %d %q, want 410", st, page)
			}
			if st, _ := oauthtest.Browse(t, redirect+"?state=x&code=y"); st != http.StatusGone {
				t.Errorf("another request after the login: %d, want 410", st)
			}
			close(p.HoldToken)
		},
		wantEx: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := oauthtest.New(t)
			if tt.setup != nil {
				tt.setup(p)
			}
			o := loginOptions(p, nil)
			if tt.timeout > 0 {
				o.Timeout = tt.timeout
			}
			if tt.opts != nil {
				tt.opts(&o)
			}
			var wg sync.WaitGroup
			o.Open = func(authURL, redirect string) { wg.Go(func() { tt.browser(t, p, authURL, redirect) }) }
			tok, err := Login(context.Background(), o)
			wg.Wait()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Login: %v", err)
			case tt.wantErr == "" && tok.RefreshToken != oauthtest.RefreshToken:
				t.Errorf("refresh token %q", tok.RefreshToken)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Login: %v, want an error with %q", err, tt.wantErr)
			}
			if err != nil {
				noSecrets(t, "the error", err.Error())
			}
			if ex, _ := p.Counts(); ex != tt.wantEx {
				t.Errorf("the provider saw %d code exchanges, want %d", ex, tt.wantEx)
			}
		})
	}
}

func TestLoginCanceled(t *testing.T) {
	p := oauthtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	o := loginOptions(p, func(string, string) { cancel() })
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
