package mailbox

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"hosho-intake/config"
	"hosho-intake/intake/credential"
	"hosho-intake/intake/credential/oauthtest"
)

// TestLoginTokenOpensMailbox: the refresh token a browser login obtained (credential.Login
// against the fake provider), written as oauth-login writes it, refreshes into the access
// token that the memory server's XOAUTH2 accepts: the login's end is a session, not a file.
func TestLoginTokenOpensMailbox(t *testing.T) {
	if testToken != oauthtest.AccessToken {
		t.Fatalf("the memory server accepts %q, the provider issues %q", testToken, oauthtest.AccessToken)
	}
	p := oauthtest.New(t)
	var wg sync.WaitGroup
	tok, err := credential.Login(context.Background(), credential.LoginOptions{AuthURL: p.URL + "/auth", TokenURL: p.URL + "/token",
		ClientID: oauthtest.ClientID, ClientSecret: config.NewSecret(oauthtest.ClientSecret), Scopes: []string{"https://mail.google.com/"},
		Open: func(authURL, _ string) { wg.Go(func() { oauthtest.Browse(t, authURL) }) }})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "imap-oauth2-token")
	if err := credential.WriteToken(file, tok); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	writeConfig := `[agency]
preset = "shimane"
name = "島根県"
[imap]
addr = "127.0.0.1:1"
username = "u@example.jp"
auth = "xoauth2"
[imap.oauth2]
token_file = "imap-oauth2-token"
token_url = "` + p.URL + `/token"
client_id = "` + oauthtest.ClientID + `"
client_secret_file = "secret"
[smtp]
addr = "127.0.0.1:1"
from = "u@example.jp"
[digest]
to = ["k@example.jp"]
[state]
dir = "state"
`
	for name, content := range map[string]string{path: writeConfig, filepath.Join(dir, "secret"): oauthtest.ClientSecret} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := credential.New("imap", c.IMAP.Auth, c.IMAP.Password, c.IMAP.OAuth2, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms := startMem(t, memOptions{})
	o := loginOptions(ms.Addr)
	o.Auth, o.Secret = AuthXOAuth2, src.Secret
	s, err := Dial(context.Background(), o)
	if err != nil {
		t.Fatalf("XOAUTH2 with the login's token: %v", err)
	}
	defer s.Close()
	if _, err := s.Select(context.Background(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	if used := ms.used(); len(used) != 1 || used[0] != XOAuth2 {
		t.Errorf("server saw %v, want [XOAUTH2]", used)
	}
	if ex, rf := p.Counts(); ex != 1 || rf != 1 {
		t.Errorf("provider: %d exchanges, %d refreshes; want 1 and 1", ex, rf)
	}
}
