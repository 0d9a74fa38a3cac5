package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hosho-intake/config"
	"hosho-intake/intake/credential"
	"hosho-intake/verifier"
)

// runOAuthLogin obtains a refresh token for [imap.oauth2] or [smtp.oauth2] in the admin's
// browser (credential.Login: loopback redirect, PKCE, state) and writes it where the config
// takes its token_file from: the file named, or for cred:NAME (and for no token_file) the
// file beside the config that the unit's LoadCredential= line loads, as the shipped units
// load the passwords. It prints the authorization URL and what to add to the config; never
// the token or the client secret.
func runOAuthLogin(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("oauth-login", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "/etc/hosho-intake/config.toml", "config file")
	server := fs.String("server", "imap", "whose token: imap or smtp")
	to := fs.String("to", "", "write the token here (default: where the config's token_file points, or beside the config)")
	port := fs.Int("port", 0, "loopback port for the browser's redirect (default: a free one); fix it to set up an SSH port forward first")
	redirectHost := fs.String("redirect-host", "127.0.0.1", "the redirect URI's host: 127.0.0.1, or localhost where the app is registered with http://localhost (Microsoft Entra's portal)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the browser")
	if err := fs.Parse(leadingFlags(e.args, "config")); err != nil {
		return exitCode(2)
	}
	if fs.NArg() > 0 || (*server != "imap" && *server != "smtp") {
		fmt.Fprintln(e.stderr, "usage: hosho-intake oauth-login --config FILE [--server imap|smtp] [--to FILE] [--port N]")
		return exitCode(2)
	}
	cfg, err := config.Load(*path, config.LoadOptions{Getenv: e.getenv, KnownPresets: verifier.PresetNames(),
		DeferCredentials: e.getenv("CREDENTIALS_DIRECTORY") == "", OAuthLogin: *server})
	if err != nil {
		return err
	}
	auth, o, user := cfg.IMAP.Auth, cfg.IMAP.OAuth2, cfg.IMAP.Username
	if *server == "smtp" {
		auth, o, user = cfg.SMTP.Auth, cfg.SMTP.OAuth2, cfg.SMTP.Username
	}
	sec := "[" + *server + ".oauth2]"
	switch {
	case auth != config.AuthXOAuth2 && auth != config.AuthOAuthBearer:
		return fmt.Errorf("%s auth is %q: oauth-login is for \"xoauth2\" or \"oauthbearer\"", *server, auth)
	case o.ServiceAccountFile != "":
		return fmt.Errorf("%s uses a service account (service_account_file), which needs no login", sec)
	case o.TokenURL == "" || o.ClientID == "":
		return fmt.Errorf("%s needs token_url and client_id (and for Google client_secret_file): the OAuth client the browser consents to", sec)
	}
	for _, c := range cfg.Credentials {
		if c.Key == *server+".oauth2.client_secret_file" && !c.Read {
			return fmt.Errorf("%s client_secret_file is the systemd credential %q, not readable here: run as sudo env CREDENTIALS_DIRECTORY=%s hosho-intake oauth-login ...", sec, c.Name, filepath.Dir(cfg.File))
		}
	}
	authURL, err := credential.AuthURL(o)
	if err != nil {
		return fmt.Errorf("%s: %w", sec, err)
	}
	file, cred := tokenTarget(cfg, *server, o.TokenFile, e.getenv("CREDENTIALS_DIRECTORY"))
	if *to != "" {
		file, cred = *to, ""
	}

	tok, err := credential.Login(ctx, credential.LoginOptions{AuthURL: authURL, TokenURL: o.TokenURL, ClientID: o.ClientID,
		ClientSecret: o.ClientSecret, Scopes: o.Scope, Port: *port, RedirectHost: *redirectHost, Timeout: *timeout,
		Open: func(authURL, redirect string) {
			p := "PORT"
			if u, err := url.Parse(redirect); err == nil {
				p = u.Port()
			}
			fmt.Fprintf(e.stdout, "Open this URL in a browser and sign in as %s (it waits %v):\n\n%s\n\n", user, *timeout, authURL)
			fmt.Fprintf(e.stdout, "The browser must reach %s (this machine's 127.0.0.1). On a server without a browser, from your PC run\n"+
				"  ssh -L %s:127.0.0.1:%s ADMIN@THIS-SERVER\nand open the URL in the PC's browser while that ssh is connected.\n\n", redirect, p, p)
		}})
	switch {
	case errors.Is(err, credential.ErrNoRefreshToken):
		return fmt.Errorf("%w: Microsoft gives one only when the scope has offline_access; Google only at a consent screen (remove hosho-intake's access at myaccount.google.com/permissions and log in again)", err)
	case err != nil:
		return err
	}
	if err := credential.WriteToken(file, tok); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "The refresh token is written to %s (0600).\n", file)
	// The state directory's rotated token would win over the new one (credential.New).
	rotated := credential.RotatedFile(cfg.State.Dir, *server)
	if err := os.Remove(rotated); err == nil {
		fmt.Fprintf(e.stdout, "Removed %s, the token an earlier login left (it would win over the new one).\n", rotated)
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(e.stderr, "hosho-intake oauth-login: %s holds an earlier token that wins over the new one, and cannot be removed: %v\n", rotated, err)
		return exitCode(1)
	}
	fmt.Fprintln(e.stdout, loginNextSteps(cfg, *server, o, file, cred, e.getenv("CREDENTIALS_DIRECTORY")))
	return nil
}

// tokenTarget is where the token goes: token_file when it names a file; the file beside the
// config for a systemd credential (cred:NAME, or no token_file: the default name), as the
// shipped units load /etc/hosho-intake/NAME. With $CREDENTIALS_DIRECTORY set, Load has
// already turned cred:NAME into that directory's file.
func tokenTarget(cfg *config.Config, server, tokenFile, credDir string) (file, cred string) {
	switch {
	case strings.HasPrefix(tokenFile, "cred:"):
		cred = strings.TrimPrefix(tokenFile, "cred:")
	case tokenFile == "":
		cred = server + "-oauth2-token"
	case credDir != "" && filepath.Dir(tokenFile) == filepath.Clean(credDir):
		return tokenFile, filepath.Base(tokenFile)
	default:
		return tokenFile, ""
	}
	return filepath.Join(filepath.Dir(cfg.File), cred), cred
}

// loginNextSteps says what the config and the unit need for the token just written, and the
// check that proves it.
func loginNextSteps(cfg *config.Config, server string, o config.OAuth2, file, cred, credDir string) string {
	var b strings.Builder
	b.WriteString("\nNext:\n")
	n := 1
	step := func(format string, args ...any) {
		fmt.Fprintf(&b, "%d. "+format+"\n", append([]any{n}, args...)...)
		n++
	}
	switch {
	case cred != "":
		if o.TokenFile == "" {
			step("In %s, under [%s.oauth2]:\n     token_file = \"cred:%s\"", cfg.File, server, cred)
		}
		step("The unit must load it (sudo systemctl edit hosho-intake):\n     [Service]\n     LoadCredential=%s:%s", cred, file)
	case o.TokenFile != file:
		step("In %s, under [%s.oauth2]:\n     token_file = %q", cfg.File, server, file)
		fallthrough
	default:
		step("The service reads %s as its own user: sudo chown hosho-intake %s (or use token_file = \"cred:NAME\" and LoadCredential=)", file, file)
	}
	if credDir == "" {
		credDir = filepath.Dir(cfg.File)
	}
	step("sudo env CREDENTIALS_DIRECTORY=%s hosho-intake check --connect --config %s", credDir, cfg.File)
	return b.String()
}
