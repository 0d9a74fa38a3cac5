// Package credential provides the secrets that open the agency mailbox and the SMTP relay:
// a password, or an OAuth2 access token (what Microsoft 365 and Google Workspace require
// since basic authentication went away) from a token file, a refresh token, the
// client-credentials flow, or a Google service account with domain-wide delegation. Login
// obtains the refresh token in the admin's browser (`hosho-intake oauth-login`). It remembers when a token will expire and why the last attempt
// failed, so that status and the digest can warn before polling stops.
//
// On disk: a refresh token that the provider rotates is written to the state directory as
// oauth2-NAME.json (0600) and preferred over the configured token file from then on.
package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/google"

	"hosho-intake/config"
)

// Source hands out the current secret. It is safe for concurrent use.
type Source struct {
	name     string // "imap" or "smtp", for messages and the rotated-token file
	password config.Secret
	tokens   oauth2.TokenSource // nil for a password
	file     string             // a bare access token re-read on each use; "" otherwise
	saved    string             // where a rotated refresh token is kept

	mu      sync.Mutex
	expiry  time.Time
	lastErr error
	lastOK  time.Time
	refresh string // the refresh token last saved, to notice a rotation
}

// Health is what status and the digest show about a credential.
type Health struct {
	Expiry  time.Time // zero: unknown or never
	LastOK  time.Time
	LastErr string
}

// New builds the source for one server's authentication settings. stateDir receives rotated
// refresh tokens; client is used for token requests (nil: http.DefaultClient with a timeout).
func New(name, auth string, password config.Secret, o config.OAuth2, stateDir string, client *http.Client) (*Source, error) {
	s := &Source{name: name, password: password, saved: RotatedFile(stateDir, name)}
	if auth != config.AuthXOAuth2 && auth != config.AuthOAuthBearer {
		return s, nil
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	if !o.ServiceAccount.IsZero() {
		// golang.org/x/oauth2/google signs the JWT assertion (RFC 7523) with the key file's
		// private key and posts it to the key file's token_uri; Subject makes it a token
		// for the mailbox's user (domain-wide delegation).
		jc, err := google.JWTConfigFromJSON([]byte(o.ServiceAccount.Reveal()), o.Scope...)
		if err != nil {
			return nil, fmt.Errorf("%s oauth2: service_account_file: %w", name, err)
		}
		jc.Subject = o.Subject
		s.tokens = jc.TokenSource(ctx)
		return s, nil
	}
	switch tok, err := s.initialToken(o); {
	case err != nil:
		return nil, err
	case tok != nil && tok.RefreshToken != "":
		if o.TokenURL == "" || o.ClientID == "" {
			return nil, fmt.Errorf("%s oauth2: a refresh token needs token_url and client_id", name)
		}
		cfg := &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(), Scopes: o.Scope,
			Endpoint: oauth2.Endpoint{TokenURL: o.TokenURL}}
		s.refresh = tok.RefreshToken
		s.expiry = tok.Expiry
		s.tokens = cfg.TokenSource(ctx, tok)
	case tok != nil:
		s.file = o.TokenFile // kept fresh by something else: re-read each time
	case o.TokenURL != "" && !o.ClientSecret.IsZero():
		cfg := &clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(),
			TokenURL: o.TokenURL, Scopes: o.Scope}
		s.tokens = cfg.TokenSource(ctx)
	default:
		return nil, fmt.Errorf("%s oauth2: no token_file and no client credentials", name)
	}
	return s, nil
}

// initialToken reads the rotated token kept in the state directory, else the configured
// token file: a JSON token (access_token, refresh_token, expiry) or a bare access token.
func (s *Source) initialToken(o config.OAuth2) (*oauth2.Token, error) {
	if b, err := os.ReadFile(s.saved); err == nil {
		var t oauth2.Token
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("%s oauth2: reading %s: %w", s.name, s.saved, err)
		}
		return &t, nil
	}
	raw := strings.TrimSpace(o.Token.Reveal())
	if raw == "" {
		return nil, nil
	}
	if strings.HasPrefix(raw, "{") {
		var t oauth2.Token
		if err := json.Unmarshal([]byte(raw), &t); err != nil {
			return nil, fmt.Errorf("%s oauth2: token_file is not a JSON token: %w", s.name, err)
		}
		return &t, nil
	}
	return &oauth2.Token{AccessToken: raw}, nil
}

// Secret returns the password or a valid access token.
func (s *Source) Secret(ctx context.Context) (string, error) {
	switch {
	case s.tokens == nil && s.file == "":
		return s.password.Reveal(), nil
	case s.file != "":
		b, err := os.ReadFile(s.file)
		if err != nil {
			return "", s.failed(fmt.Errorf("%s oauth2: reading token file: %w", s.name, err))
		}
		s.succeeded(time.Time{})
		return strings.TrimSpace(string(b)), nil
	}
	tok, err := s.tokens.Token()
	if err != nil {
		return "", s.failed(fmt.Errorf("%s oauth2: getting a token: %w", s.name, err))
	}
	if err := s.keepRotated(tok); err != nil {
		return "", s.failed(err)
	}
	s.succeeded(tok.Expiry)
	return tok.AccessToken, nil
}

// keepRotated stores a refresh token the provider replaced: Microsoft 365 rotates them, and
// the old one stops working.
func (s *Source) keepRotated(tok *oauth2.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok.RefreshToken == "" || tok.RefreshToken == s.refresh {
		return nil
	}
	b, err := json.Marshal(tok)
	if err != nil {
		return fmt.Errorf("%s oauth2: %w", s.name, err)
	}
	tmp := s.saved + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("%s oauth2: saving the rotated refresh token: %w", s.name, err)
	}
	if err := os.Rename(tmp, s.saved); err != nil {
		return fmt.Errorf("%s oauth2: saving the rotated refresh token: %w", s.name, err)
	}
	s.refresh = tok.RefreshToken
	return nil
}

func (s *Source) failed(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	return err
}

func (s *Source) succeeded(expiry time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr, s.lastOK = nil, time.Now()
	if !expiry.IsZero() {
		s.expiry = expiry
	}
}

// Rejected records that the server refused the secret (authentication failed), which a
// token source cannot know by itself.
func (s *Source) Rejected(err error) {
	s.failed(fmt.Errorf("%s: the server refused the credential: %w", s.name, err))
}

// Health reports expiry and the last failure.
func (s *Source) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := Health{Expiry: s.expiry, LastOK: s.lastOK}
	if s.lastErr != nil {
		h.LastErr = s.lastErr.Error()
	}
	return h
}

// Warning returns what an admin must be told before polling stops: a failing credential,
// or a token that cannot be refreshed and expires within a day. "" when all is well.
func (s *Source) Warning(now time.Time) string {
	h := s.Health()
	switch {
	case h.LastErr != "":
		return h.LastErr
	case s.tokens == nil && !h.Expiry.IsZero() && h.Expiry.Sub(now) < 24*time.Hour:
		return fmt.Sprintf("%s: the access token expires at %s and cannot be refreshed", s.name, h.Expiry.Format(time.RFC3339))
	}
	return ""
}
