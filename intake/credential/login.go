package credential

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"hosho-intake/config"
)

// LoginOptions is what Login needs: the app's endpoints, client and scopes.
type LoginOptions struct {
	AuthURL, TokenURL string
	ClientID          string
	ClientSecret      config.Secret // Google's desktop clients have one; Microsoft's public clients none
	Scopes            []string
	// Port is the loopback port to listen on; 0 picks a free one. A fixed port lets an
	// admin on a headless server set up `ssh -L PORT:127.0.0.1:PORT` before starting.
	Port int
	// RedirectHost is the redirect URI's host: "127.0.0.1" (empty; RFC 8252 §8.3 prefers the
	// IP literal) or "localhost", which Microsoft Entra's portal takes as a "Mobile and
	// desktop" redirect URI while 127.0.0.1 needs an edit of the app's manifest. The
	// listener is on 127.0.0.1 either way.
	RedirectHost string
	// Timeout bounds the wait for the browser's redirect.
	Timeout time.Duration
	// Client makes the token request (nil: one with a 30 s timeout).
	Client *http.Client
	// Open is told the authorization URL and the redirect URI once the listener is up:
	// the command prints them for the admin, a test plays the browser with them.
	Open func(authURL, redirectURI string)
}

// Errors of Login that the command explains to the admin.
var (
	ErrLoginTimeout   = errors.New("no redirect from the browser in time")
	ErrNoRefreshToken = errors.New("the provider sent no refresh token")
)

// Login runs the OAuth 2.0 authorization code flow for an installed app (RFC 8252): a listener
// on 127.0.0.1, the admin's browser sent to the provider with PKCE (RFC 7636, S256) and a
// random state, the one redirect with that state taken, its code exchanged. It returns the
// token, which holds a refresh token. A redirect with another state gets 400 and is not used
// (a stale tab of an earlier attempt must not end this one); an error on the redirect
// (access_denied) ends the login; every request after the first good redirect gets 410.
func Login(ctx context.Context, o LoginOptions) (*oauth2.Token, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("listening on 127.0.0.1 for the browser's redirect: %w", err)
	}
	defer ln.Close()
	host := o.RedirectHost
	switch host {
	case "":
		host = "127.0.0.1"
	case "127.0.0.1", "localhost":
	default:
		return nil, fmt.Errorf("redirect host %q: want 127.0.0.1 or localhost", host)
	}
	redirect := "http://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)) + "/"
	cfg := &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(), Scopes: o.Scopes,
		RedirectURL: redirect, Endpoint: oauth2.Endpoint{AuthURL: o.AuthURL, TokenURL: o.TokenURL,
			// Both Google and Microsoft take the client in the form; auto-detection would send
			// the code a second time after a 400, and a code is good once.
			AuthStyle: oauth2.AuthStyleInParams}}
	state, err := randomState()
	if err != nil {
		return nil, err
	}
	verifier := oauth2.GenerateVerifier()
	// access_type=offline and prompt=consent: Google gives a refresh token only with the
	// first, and only at a consent screen (a second login without prompt gets none).
	// Microsoft asks for offline_access in the scope instead; its consent screen again does
	// no harm.
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.AccessTypeOffline,
		oauth2.SetAuthURLParam("prompt", "consent"))

	type result struct {
		code string
		err  error
	}
	got := make(chan result, 1)
	var mu sync.Mutex
	taken := false
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r) // the browser's favicon.ico
			return
		}
		mu.Lock()
		defer mu.Unlock()
		q := r.URL.Query()
		switch {
		case taken:
			loginPage(w, http.StatusGone, "このログインは終了しています。hosho-intake の画面を見てください。")
		case q.Get("state") != state:
			// Not ours: another attempt's tab, or someone on this machine guessing. Its code
			// (if any) is never exchanged.
			loginPage(w, http.StatusBadRequest, "state が一致しません。hosho-intake oauth-login が表示した最新の URL を開き直してください。")
		case q.Get("error") != "":
			taken = true
			loginPage(w, http.StatusOK, "ログインは中止されました: "+q.Get("error"))
			got <- result{err: fmt.Errorf("the provider refused: %s %s", q.Get("error"), q.Get("error_description"))}
		case q.Get("code") == "":
			loginPage(w, http.StatusBadRequest, "認可コードがありません。")
		default:
			taken = true
			loginPage(w, http.StatusOK, "ログインを受け取りました。このタブを閉じて、hosho-intake の画面に戻ってください。")
			got <- result{code: q.Get("code")}
		}
	})}
	go srv.Serve(ln)
	defer func() {
		// Shutdown, not Close: the page that says the login was received (or refused) is
		// still being written when its code reaches the select below.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	if o.Open != nil {
		o.Open(authURL, redirect)
	}
	wait := o.Timeout
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var res result
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, fmt.Errorf("%w (waited %v)", ErrLoginTimeout, wait)
	case res = <-got:
	}
	if res.err != nil {
		return nil, res.err
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, client), res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("exchanging the authorization code at %s: %w", o.TokenURL, tokenError(err))
	}
	if tok.RefreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	return tok, nil
}

// tokenError keeps what the provider said (error, error_description) and drops the rest of
// oauth2.RetrieveError's text, which quotes the whole response body.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	msg := fmt.Sprintf("HTTP %d", re.Response.StatusCode)
	if re.ErrorCode != "" {
		msg += ": " + re.ErrorCode
	}
	if re.ErrorDescription != "" {
		msg += ": " + re.ErrorDescription
	}
	return errors.New(msg)
}

func randomState() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making the login's state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func loginPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>hosho-intake</title><p>%s</p>\n", html.EscapeString(msg))
}

// AuthURL is the authorization endpoint for o: auth_url, else the one that goes with a
// well-known token_url (Google's; Microsoft's v2.0 token URL of a tenant).
func AuthURL(o config.OAuth2) (string, error) {
	switch {
	case o.AuthURL != "":
		return o.AuthURL, nil
	case o.TokenURL == google.Endpoint.TokenURL:
		return google.Endpoint.AuthURL, nil
	case strings.HasPrefix(o.TokenURL, "https://login.microsoftonline.com/") && strings.HasSuffix(o.TokenURL, "/oauth2/v2.0/token"):
		return strings.TrimSuffix(o.TokenURL, "/token") + "/authorize", nil
	}
	return "", errors.New("auth_url is not set and token_url is neither Google's nor Microsoft's: set auth_url")
}

// WriteToken writes the refresh token as the JSON token file that New reads (0600, through a
// temporary file and a rename, so a reader never sees half of it). Only the refresh token is
// kept: the access token expires within the hour anyway.
func WriteToken(path string, tok *oauth2.Token) error {
	b, err := json.Marshal(&oauth2.Token{RefreshToken: tok.RefreshToken, TokenType: tok.TokenType})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing the token file: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing the token file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("writing the token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the token file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing the token file: %w", err)
	}
	return nil
}

// RotatedFile is where New keeps a refresh token the provider rotated; it wins over the
// token file, so a new login must remove it.
func RotatedFile(stateDir, name string) string {
	return filepath.Join(stateDir, "oauth2-"+name+".json")
}
