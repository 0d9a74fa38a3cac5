package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"hosho-intake/config"
	"hosho-intake/intake/credential"
	"hosho-intake/intake/credential/oauthtest"
)

// oauthConfig writes a config whose [imap] logs in with xoauth2 against the fake provider,
// its client secret a systemd credential in creds/, with extra lines under [imap.oauth2].
func oauthConfig(t *testing.T, p *oauthtest.Provider, oauth2 string) (cfg, creds string) {
	t.Helper()
	dir := t.TempDir()
	creds = filepath.Join(dir, "creds")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "imap-oauth2-client-secret"), []byte(oauthtest.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := "[agency]\npreset = \"shimane\"\nname = \"島根県\"\n\n[imap]\naddr = \"127.0.0.1:1\"\nusername = \"u@example.jp\"\nauth = \"xoauth2\"\ntimeout = \"2s\"\n" +
		"[imap.oauth2]\ntoken_url = \"" + p.URL + "/token\"\nauth_url = \"" + p.URL + "/auth\"\nclient_id = \"" + oauthtest.ClientID + "\"\n" +
		"client_secret_file = \"cred:imap-oauth2-client-secret\"\nscope = [\"https://mail.google.com/\"]\n" + oauth2 +
		"\n[smtp]\naddr = \"127.0.0.1:1\"\nfrom = \"u@example.jp\"\n\n[digest]\nto = [\"k@example.jp\"]\n\n[state]\ndir = \"state\"\n"
	cfg = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, creds
}

func credEnv(dir string) func(string) string {
	return func(k string) string {
		if k == "CREDENTIALS_DIRECTORY" {
			return dir
		}
		return ""
	}
}

// loginAsBrowser runs oauth-login and plays the admin's browser: it opens the URL the
// command prints, which the provider sends back to the command's loopback listener.
func loginAsBrowser(t *testing.T, getenv func(string) string, args ...string) (int, string) {
	t.Helper()
	pr, pw := io.Pipe()
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "http://127.0.0.1:") && strings.Contains(sc.Text(), "/auth?") {
				if st, page := oauthtest.Browse(t, sc.Text()); st != 200 {
					t.Errorf("the browser got %d: %s", st, page)
				}
			}
		}
	})
	code := runCode(context.Background(), env{args: append([]string{"oauth-login"}, args...), getenv: getenv, stdout: pw, stderr: pw})
	pw.Close()
	wg.Wait()
	return code, out.String()
}

// TestOAuthLogin: oauth-login end to end. The token is written where the config's
// cred:imap-oauth2-token is loaded from, 0600, an earlier rotated token is removed, the
// output says what the unit needs and shows no secret; then the daemon's credential
// refreshes with the written token, and check --connect reports the token step.
func TestOAuthLogin(t *testing.T) {
	p := oauthtest.New(t)
	cfg, creds := oauthConfig(t, p, "token_file = \"cred:imap-oauth2-token\"\n")
	state := filepath.Join(filepath.Dir(cfg), "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := credential.RotatedFile(state, "imap")
	if err := os.WriteFile(stale, []byte(`{"refresh_token":"from-an-old-grant"}`), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out := loginAsBrowser(t, credEnv(creds), "--config", cfg, "--server", "imap")
	if code != 0 {
		t.Fatalf("oauth-login: exit %d\n%s", code, out)
	}
	t.Logf("oauth-login said:\n%s", out)
	for _, s := range []string{oauthtest.ClientSecret, oauthtest.RefreshToken, "first-access"} {
		if strings.Contains(out, s) {
			t.Errorf("oauth-login printed a secret (%q):\n%s", s, out)
		}
	}
	file := filepath.Join(creds, "imap-oauth2-token")
	for _, want := range []string{"ssh -L ", "LoadCredential=imap-oauth2-token:" + file, "CREDENTIALS_DIRECTORY=" + creds + " hosho-intake check --connect --config " + cfg} {
		if !strings.Contains(out, want) {
			t.Errorf("oauth-login's output lacks %q:\n%s", want, out)
		}
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v (mode %v), want 0600", err, fi)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the earlier rotated token is still in the state directory: %v", err)
	}

	// The service's view: the config loads with the token, and the token refreshes.
	c, err := config.Load(cfg, config.LoadOptions{Getenv: credEnv(creds)})
	if err != nil {
		t.Fatal(err)
	}
	src, err := credential.New("imap", c.IMAP.Auth, c.IMAP.Password, c.IMAP.OAuth2, c.State.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := src.Secret(context.Background()); err != nil || got != oauthtest.AccessToken {
		t.Fatalf("the daemon's token after oauth-login: %q, %v", got, err)
	}
	var buf bytes.Buffer
	runCode(context.Background(), env{args: []string{"check", "--connect", "--config", cfg}, getenv: credEnv(creds), stdout: &buf, stderr: &buf})
	if !strings.Contains(buf.String(), "ok   imap-oauth2: access token fetched") || strings.Contains(buf.String(), oauthtest.AccessToken) {
		t.Errorf("check --connect: want the token step ok, the token not shown:\n%s", buf.String())
	}

	// A refused refresh token is check's own failing step, with the provider's words.
	if err := os.WriteFile(file, []byte(`{"refresh_token":"revoked"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	code = runCode(context.Background(), env{args: []string{"check", "--connect", "--config", cfg}, getenv: credEnv(creds), stdout: &buf, stderr: &buf})
	if code != 1 || !strings.Contains(buf.String(), "FAIL imap-oauth2: ") || !strings.Contains(buf.String(), "invalid_grant") {
		t.Errorf("check --connect with a revoked token: exit %d, want 1 and a failed imap-oauth2 step:\n%s", code, buf.String())
	}
}

// TestOAuthLoginRefuses: configs oauth-login cannot serve are explained before any browser.
func TestOAuthLoginRefuses(t *testing.T) {
	p := oauthtest.New(t)
	tests := []struct {
		name   string
		oauth2 string
		edit   func(string) string
		env    bool // CREDENTIALS_DIRECTORY set
		says   string
	}{
		{"client secret not readable without CREDENTIALS_DIRECTORY", "", nil, false, "CREDENTIALS_DIRECTORY="},
		{"unknown provider without auth_url", "", func(s string) string {
			return strings.Replace(s, "auth_url = ", "# auth_url = ", 1)
		}, true, "set auth_url"},
		{"a password login", "", func(s string) string {
			return strings.Replace(s, `auth = "xoauth2"`, "auth = \"login\"\npassword_file = \"cred:imap-oauth2-client-secret\"", 1)
		}, true, `oauth-login is for "xoauth2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, creds := oauthConfig(t, p, tt.oauth2)
			if tt.edit != nil {
				b, _ := os.ReadFile(cfg)
				os.WriteFile(cfg, []byte(tt.edit(string(b))), 0o600)
			}
			getenv := noEnv
			if tt.env {
				getenv = credEnv(creds)
			}
			var out bytes.Buffer
			code := runCode(context.Background(), env{args: []string{"oauth-login", "--config", cfg, "--timeout", "1ms"}, getenv: getenv, stdout: &out, stderr: &out})
			if code != 1 || !strings.Contains(out.String(), tt.says) || strings.Contains(out.String(), "http://127.0.0.1:") {
				t.Errorf("exit %d, want 1 saying %q before any URL:\n%s", code, tt.says, out.String())
			}
			if ex, _ := p.Counts(); ex != 0 {
				t.Errorf("%d code exchanges", ex)
			}
		})
	}
}

// TestCheckServiceAccount: check says a server logs in as a Google service account for the
// mailbox; check --connect fetches its token from the key's token_uri (a fake Google) as the
// imap-oauth2 step, before the IMAP login (nobody listens at 127.0.0.1:1, so that fails).
func TestCheckServiceAccount(t *testing.T) {
	sa := oauthtest.NewServiceAccount(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "oauth2-service-account"), sa.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	body := "[agency]\npreset = \"shimane\"\nname = \"島根県\"\n\n[imap]\naddr = \"127.0.0.1:1\"\nusername = \"denshi-shosho@example.jp\"\nauth = \"xoauth2\"\ntimeout = \"2s\"\n" +
		"[imap.oauth2]\nservice_account_file = \"cred:oauth2-service-account\"\nscope = [\"https://mail.google.com/\"]\n" +
		"\n[smtp]\naddr = \"127.0.0.1:1\"\nfrom = \"u@example.jp\"\n\n[digest]\nto = [\"k@example.jp\"]\n\n[state]\ndir = \"state\"\n"
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"check", "--config", cfg}, getenv: credEnv(dir), stdout: &out, stderr: &out}); code != 0 ||
		!strings.Contains(out.String(), "auth xoauth2: Google service account with domain-wide delegation, as denshi-shosho@example.jp") {
		t.Errorf("check: exit %d, want 0 naming the service account and its subject:\n%s", code, out.String())
	}
	out.Reset()
	code := runCode(context.Background(), env{args: []string{"check", "--connect", "--config", cfg}, getenv: credEnv(dir), stdout: &out, stderr: &out})
	if code != 1 || !strings.Contains(out.String(), "ok   imap-oauth2: access token fetched") || !strings.Contains(out.String(), "FAIL imap: ") ||
		strings.Contains(out.String(), oauthtest.AccessToken) || strings.Contains(out.String(), "PRIVATE KEY") {
		t.Errorf("check --connect: exit %d, want 1 with the token step ok, the login failed, nothing secret shown:\n%s", code, out.String())
	}
	if claims, _ := sa.Claims(); len(claims) != 1 || claims[0]["sub"] != "denshi-shosho@example.jp" {
		t.Errorf("the token endpoint saw %v, want one assertion for the mailbox", claims)
	}
}
