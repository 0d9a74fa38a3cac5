package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hosho-intake/config"
)

// tokenServer is an OAuth2 token endpoint on loopback that rotates the refresh token on
// every refresh, as Microsoft 365 does, and can be told to fail.
func tokenServer(t *testing.T) (*httptest.Server, *atomic.Int32, *atomic.Bool) {
	var n atomic.Int32
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if fail.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		i := n.Add(1)
		resp := map[string]any{"access_token": fmt.Sprintf("access-%d", i), "token_type": "Bearer", "expires_in": 3600}
		if r.Form.Get("grant_type") == "refresh_token" {
			resp["refresh_token"] = fmt.Sprintf("refresh-%d", i)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &fail
}

func TestPassword(t *testing.T) {
	s, err := New("imap", config.AuthLogin, config.NewSecret("pw"), config.OAuth2{}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Secret(context.Background()); err != nil || got != "pw" {
		t.Fatalf("Secret() = %q, %v", got, err)
	}
}

func TestTokenFileReread(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "token")
	os.WriteFile(f, []byte("first\n"), 0o600)
	s, err := New("imap", config.AuthXOAuth2, config.Secret{}, config.OAuth2{TokenFile: f, Token: config.NewSecret("first")}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f, []byte("second\n"), 0o600)
	if got, _ := s.Secret(context.Background()); got != "second" {
		t.Fatalf("Secret() = %q, want the file's new content", got)
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	srv, _, fail := tokenServer(t)
	dir := t.TempDir()
	expired := `{"access_token":"old","refresh_token":"refresh-0","expiry":"2020-01-01T00:00:00Z"}`
	o := config.OAuth2{TokenURL: srv.URL, ClientID: "id", Token: config.NewSecret(expired)}
	s, err := New("imap", config.AuthXOAuth2, config.Secret{}, o, dir, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Secret(context.Background())
	if err != nil || got != "access-1" {
		t.Fatalf("Secret() = %q, %v", got, err)
	}
	saved := filepath.Join(dir, "oauth2-imap.json")
	fi, err := os.Stat(saved)
	if err != nil {
		t.Fatalf("rotated token not saved: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(saved)
	if !strings.Contains(string(b), "refresh-1") {
		t.Errorf("saved token %s lacks the rotated refresh token", b)
	}
	// A restart prefers the rotated token over the configured (now revoked) one.
	s2, err := New("imap", config.AuthXOAuth2, config.Secret{}, o, dir, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if s2.refresh != "refresh-1" {
		t.Errorf("after restart the refresh token is %q, want refresh-1", s2.refresh)
	}
	if w := s.Warning(time.Now()); w != "" {
		t.Errorf("Warning() = %q while healthy", w)
	}
	fail.Store(true)
	s3, _ := New("imap", config.AuthXOAuth2, config.Secret{}, config.OAuth2{TokenURL: srv.URL, ClientID: "id", Token: config.NewSecret(expired)}, t.TempDir(), srv.Client())
	if _, err := s3.Secret(context.Background()); err == nil {
		t.Fatal("Secret() succeeded against a failing token endpoint")
	}
	if w := s3.Warning(time.Now()); !strings.Contains(w, "invalid_grant") {
		t.Errorf("Warning() = %q, want the provider's error", w)
	}
}

func TestClientCredentials(t *testing.T) {
	srv, n, _ := tokenServer(t)
	o := config.OAuth2{TokenURL: srv.URL, ClientID: "id", ClientSecret: config.NewSecret("s")}
	s, err := New("smtp", config.AuthOAuthBearer, config.Secret{}, o, t.TempDir(), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, err := s.Secret(context.Background()); err != nil || got != "access-1" {
			t.Fatalf("Secret() = %q, %v", got, err)
		}
	}
	if n.Load() != 1 {
		t.Errorf("%d token requests, want 1 (cached until expiry)", n.Load())
	}
	if h := s.Health(); h.Expiry.Before(time.Now().Add(50 * time.Minute)) {
		t.Errorf("expiry %v, want about an hour ahead", h.Expiry)
	}
}
