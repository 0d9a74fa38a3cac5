package config

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// LoadOptions is what Load needs from outside the file.
type LoadOptions struct {
	// Getenv reads $CREDENTIALS_DIRECTORY and $STATE_DIRECTORY (systemd). Nil: an empty
	// environment, which keeps tests hermetic.
	Getenv func(string) string
	// KnownPresets are the valid agency.preset names, provided by the verifier, which owns
	// the presets. Nil: the presets DESIGN.md names (shimane, tottori-ctc, mlit).
	KnownPresets []string
	// DeferCredentials is for `check` run from an admin's shell, outside the service: a
	// secret that systemd will supply as a credential ($CREDENTIALS_DIRECTORY unset here)
	// is a warning, not an error. The daemon never sets it.
	DeferCredentials bool
	// OAuthLogin is the section ("imap" or "smtp") whose refresh token `oauth-login` is
	// about to write: its token_file may be absent.
	OAuthLogin string
}

// Load reads, checks and resolves the config file at path. A problem with the file's content
// gives an *Errors listing all of them; failing to read the file itself gives a plain error.
func Load(path string, opts LoadOptions) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return load(abs, string(src), opts)
}

func load(abs, src string, opts LoadOptions) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	presets := opts.KnownPresets
	if presets == nil {
		presets = designPresets()
	}

	// The error names the file as given to Load would be nicer for relative paths, but
	// an absolute path is unambiguous in the journal.
	file := abs
	tree, err := readTree(src)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			// pe.Usage is a multi-line tutorial; the one-line message keeps one error a line.
			return nil, &Errors{List: []Error{{File: file, Line: pe.Position.Line, Msg: "syntax error: " + pe.Message}}}
		}
		return nil, &Errors{List: []Error{{File: file, Msg: err.Error()}}}
	}

	c := Default()
	c.File = abs
	d := &decoder{file: file, lines: map[string]int{}, bad: map[string]bool{}}
	d.decodeTable(reflect.ValueOf(&c).Elem(), tree, reflect.TypeFor[Config]())
	v := &validator{decoder: d, c: &c, dir: filepath.Dir(abs), getenv: getenv, presets: presets, deferCreds: opts.DeferCredentials, login: opts.OAuthLogin}
	v.validate()

	sortErrors(d.errs)
	if len(d.errs) > 0 {
		return nil, &Errors{List: d.errs}
	}
	sortErrors(v.warnings)
	c.Warnings = v.warnings
	c.Credentials = v.credentials
	return &c, nil
}

type validator struct {
	*decoder
	c        *Config
	dir      string
	getenv   func(string) string
	presets  []string
	warnings []Error
	// deferCreds: see LoadOptions.DeferCredentials.
	deferCreds bool
	// login: see LoadOptions.OAuthLogin.
	login string
	// deferred are the keys whose secret systemd will supply and check cannot read.
	deferred map[string]bool
	// credentials: see Config.Credentials.
	credentials []Credential
}

// line is where key is written, else where its section is, else 0.
func (v *validator) line(key string) int {
	for k := key; k != ""; {
		if l, ok := v.lines[k]; ok {
			return l
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

func (v *validator) errorf(key, format string, args ...any) {
	if v.isBad(key) {
		return
	}
	v.add(v.line(key), key, format, args...)
}

func (v *validator) defined(key string) bool {
	_, ok := v.lines[key]
	return ok
}

func (v *validator) required(key string, empty bool) {
	if empty {
		v.errorf(key, "required")
	}
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		v.errorf(key, "bad value %q: want one of %s", val, quoteList(allowed))
	}
}

func (v *validator) positive(key string, n int64) {
	if n <= 0 {
		v.errorf(key, "must be more than zero")
	}
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// path resolves a path key against the config file's directory.
func (v *validator) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

// exists checks that the file (or directory, if dir) at *p exists, resolving *p in place.
func (v *validator) exists(key string, p *string, dir bool) {
	if *p == "" {
		return
	}
	*p = v.path(*p)
	fi, err := os.Stat(*p)
	switch {
	case err != nil:
		v.errorf(key, "%v", err)
	case dir && !fi.IsDir():
		v.errorf(key, "%s is not a directory", *p)
	case !dir && fi.IsDir():
		v.errorf(key, "%s is a directory", *p)
	}
}

func (v *validator) validate() {
	c := v.c

	// [agency]
	c.Agency.Name = strings.TrimSpace(c.Agency.Name)
	v.required("agency.name", c.Agency.Name == "")
	switch {
	case c.Agency.Preset != "" && c.Policy.Custom():
		v.errorf("agency.preset", "set either agency.preset or a custom [policy], not both")
	case c.Agency.Preset != "":
		if !slices.Contains(v.presets, c.Agency.Preset) {
			v.errorf("agency.preset", "unknown preset %q: known are %s", c.Agency.Preset, quoteList(v.presets))
		}
	case !c.Policy.Custom():
		v.errorf("agency.preset", "required: set agency.preset (%s) or a custom [policy]", quoteList(v.presets))
	}

	v.imap()
	v.smtp()
	if c.Agency.Address == nil && c.SMTP.From != nil {
		c.Agency.Address = &mail.Address{Address: c.SMTP.From.Address}
	}

	// [reply]
	c.Reply.Charset = strings.ToLower(c.Reply.Charset)
	v.oneOf("reply.charset", c.Reply.Charset, "utf-8", "iso-2022-jp")
	v.positive("reply.rate_limit", int64(c.Reply.RateLimit))
	v.positive("reply.global_rate_limit", int64(c.Reply.GlobalRateLimit))
	v.positive("reply.password_wait", int64(c.Reply.PasswordWait))
	v.positive("smtp.retry_interval_max", int64(c.SMTP.RetryIntervalMax))
	c.Reply.AuthservID = strings.TrimSpace(c.Reply.AuthservID)
	// RFC 8601 §2.2: an authserv-id is a token (or a quoted string, which no server writes).
	// "spf=pass", the first word of Exchange Online's fields, is no id: trusting it would
	// trust every field a sender writes in that form.
	if id := c.Reply.AuthservID; strings.ContainsAny(id, "=;()\"<>@,:[]?/ \t") {
		v.errorf("reply.authserv_id", "%q is not an authserv-id (RFC 8601: the name your own server writes first in Authentication-Results, e.g. mx.pref.shimane.example); Microsoft 365 writes its fields without one, and hosho-intake cannot trust those (admin guide, Microsoft 365)", id)
	}
	for _, r := range c.Reply.TrustedRelays {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			a, aerr := netip.ParseAddr(r)
			if aerr != nil {
				v.errorf("reply.trusted_relays", "bad value %q: want an address or a CIDR prefix, e.g. 10.20.0.0/16", r)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.Reply.TrustedRelayPrefixes = append(c.Reply.TrustedRelayPrefixes, p.Masked())
	}
	if !v.defined("reply.require_auth_results") && c.Reply.Authenticates() {
		// Where the server can tell forged senders, do not answer them unless told to.
		c.Reply.RequireAuthResults = true
	}
	if c.Reply.RequireAuthResults && !c.Reply.Authenticates() {
		v.errorf("reply.authserv_id", "required when require_auth_results = true: the authserv-id your own server writes in Authentication-Results (RFC 8601), so a sender cannot forge a pass")
	}
	v.exists("reply.templates_dir", &c.Reply.TemplatesDir, true)

	// [digest]
	v.required("digest.to", len(c.Digest.To) == 0)
	if len(c.Digest.Clerks) == 0 {
		c.Digest.Clerks = c.Digest.To
	}
	v.positive("digest.token_lifetime", int64(c.Digest.TokenLifetime))
	if a := c.Digest.InquiriesTo; a != nil && c.Agency.Address != nil && !sameOrganisation(a.Address, c.Agency.Address.Address) {
		v.errorf("digest.inquiries_to", "%s is outside the agency's domain (%s): inquiries carry strangers' mail, so they are forwarded only inside the agency", a.Address, domainOf(c.Agency.Address.Address))
	}
	if u := strings.TrimSpace(c.Digest.DSureURL); u != "" {
		p, err := url.Parse(u)
		if err != nil || p.Scheme != "https" || p.Host == "" {
			v.errorf("digest.dsure_url", "bad value %q: want the https:// address of D-Sure's login page", u)
		}
		c.Digest.DSureURL = u
	}

	// [state]
	if c.State.Dir == "" {
		// systemd's StateDirectory= exports the directory; take the first if several.
		c.State.Dir, _, _ = strings.Cut(v.getenv("STATE_DIRECTORY"), ":")
	}
	v.required("state.dir", c.State.Dir == "")
	c.State.Dir = v.path(c.State.Dir)

	v.policy()
	v.exists("register.csv", &c.Register.CSV, false)

	// [metrics]
	if !c.Metrics.Addr.IsZero() {
		if c.Metrics.Addr.Port == "" {
			v.errorf("metrics.addr", "bad value %q: want host:port, e.g. 127.0.0.1:9465", c.Metrics.Addr.String())
		} else if !c.Metrics.Addr.IsLoopback() && !c.Metrics.AllowNonLoopback {
			v.errorf("metrics.addr", "%q is not a loopback address: metrics and /healthz are unauthenticated; set allow_non_loopback = true to serve them beyond this host", c.Metrics.Addr.String())
		}
	}

	v.web()

	// [log]
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "auto", "text", "json")

	// [sandbox]
	if c.Sandbox.Workers < 0 {
		v.errorf("sandbox.workers", "must not be negative (0 means one per CPU)")
	}
	v.positive("sandbox.timeout", int64(c.Sandbox.Timeout))
	v.positive("sandbox.memory_limit", int64(c.Sandbox.MemoryLimit))
	v.positive("sandbox.message_budget", int64(c.Sandbox.MessageBudget))
	v.positive("sandbox.max_pdfs_per_message", int64(c.Sandbox.MaxPDFsPerMessage))
	if c.Sandbox.MessageBudget >= c.IMAP.PollTimeout && c.IMAP.PollTimeout > 0 {
		// A message that may take the whole poll would end every poll at itself.
		v.errorf("sandbox.message_budget", "%v must be shorter than imap.poll_timeout (%v)", c.Sandbox.MessageBudget, c.IMAP.PollTimeout)
	}
}

// defaultPort is the port for a server given without one.
func defaultPort(section, tls string) string {
	switch {
	case section == "imap" && tls == TLSImplicit:
		return "993"
	case section == "imap":
		return "143"
	case tls == TLSImplicit:
		return "465"
	case tls == TLSStartTLS:
		return "587"
	}
	return "25"
}

// server checks what [imap] and [smtp] share.
func (v *validator) server(section string, addr *HostPort, tls string, caFile *string, pool **x509.CertPool) {
	v.oneOf(section+".tls", tls, TLSImplicit, TLSStartTLS, TLSNone)
	if addr.Host == "" {
		v.errorf(section+".addr", "required: the server's host or host:port")
	} else {
		if addr.Port == "" {
			addr.Port = defaultPort(section, tls)
		}
		if tls == TLSNone && !addr.IsLoopback() {
			// Without TLS the password and every notice's 認証キー cross the network in
			// clear; only a connection that never leaves the host is acceptable.
			v.errorf(section+".tls", `"none" is allowed only to a loopback address (127.0.0.1, ::1, localhost), not %q: use "implicit" or "starttls"`, addr.Host)
		}
	}
	if *caFile != "" {
		*caFile = v.path(*caFile)
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			v.errorf(section+".ca_file", "%v", err)
			return
		}
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(pem) {
			v.errorf(section+".ca_file", "no PEM certificate in %s", *caFile)
			return
		}
		*pool = p
	}
}

func (v *validator) imap() {
	m := &v.c.IMAP
	v.server("imap", &m.Addr, m.TLS, &m.CAFile, &m.RootCAs)
	v.required("imap.username", m.Username == "")
	v.oneOf("imap.auth", m.Auth, AuthLogin, AuthPlain, AuthXOAuth2, AuthOAuthBearer)
	switch m.Auth {
	case AuthLogin, AuthPlain:
		m.Password = v.secret("imap.password_file", &m.PasswordFile, "imap-password", true)
	case AuthXOAuth2, AuthOAuthBearer:
		v.oauth2("imap", m.Auth, &m.OAuth2)
	}
	v.required("imap.mailbox", strings.TrimSpace(m.Mailbox) == "")
	if m.ProcessedMailbox != "" && m.ProcessedMailbox == m.Mailbox {
		v.errorf("imap.processed_mailbox", "is the polled mailbox itself; leave it empty to flag messages instead")
	}
	v.positive("imap.timeout", int64(m.Timeout))
	v.positive("imap.poll_timeout", int64(m.PollTimeout))
	if m.PollTimeout > 0 && m.PollTimeout < m.Timeout {
		v.errorf("imap.poll_timeout", "%v is shorter than imap.timeout %v", m.PollTimeout, m.Timeout)
	}
	v.positive("imap.max_message_size", int64(m.MaxMessageSize))
}

func (v *validator) smtp() {
	s := &v.c.SMTP
	v.server("smtp", &s.Addr, s.TLS, &s.CAFile, &s.RootCAs)
	if s.From == nil {
		v.errorf("smtp.from", "required: the address replies and digests are sent from")
	}
	if s.Auth == "" {
		s.Auth = AuthNone
		if s.Username != "" {
			s.Auth = AuthPlain
		}
	}
	v.oneOf("smtp.auth", s.Auth, AuthNone, AuthPlain, AuthLogin, AuthXOAuth2, AuthOAuthBearer)
	switch s.Auth {
	case AuthNone:
		if s.Username != "" {
			v.errorf("smtp.auth", `is "none" but smtp.username is set`)
		}
	case AuthPlain, AuthLogin:
		v.required("smtp.username", s.Username == "")
		s.Password = v.secret("smtp.password_file", &s.PasswordFile, "smtp-password", true)
	case AuthXOAuth2, AuthOAuthBearer:
		v.required("smtp.username", s.Username == "")
		v.oauth2("smtp", s.Auth, &s.OAuth2)
	}
	v.positive("smtp.timeout", int64(s.Timeout))
	v.positive("smtp.retry_for", int64(s.RetryFor))
}

func (v *validator) oauth2(section, auth string, o *OAuth2) {
	k := section + ".oauth2."
	if v.login == section && v.loginTokenAbsent(&o.TokenFile, section+"-oauth2-token") {
		// oauth-login writes it: nothing to read yet.
		if v.deferred == nil {
			v.deferred = map[string]bool{}
		}
		v.deferred[k+"token_file"] = true
	} else {
		o.Token = v.secret(k+"token_file", &o.TokenFile, section+"-oauth2-token", false)
	}
	o.ClientSecret = v.secret(k+"client_secret_file", &o.ClientSecretFile, section+"-oauth2-client-secret", false)
	o.ServiceAccount = v.secret(k+"service_account_file", &o.ServiceAccountFile, section+"-oauth2-service-account", false)
	// A secret systemd will supply (check run by hand) counts as there: the service gets it
	// or refuses to start, and the summary said where it must come from.
	tokenLater, secretLater := v.deferred[k+"token_file"], v.deferred[k+"client_secret_file"]
	accountLater := v.deferred[k+"service_account_file"]
	if o.ServiceAccount.IsZero() && o.ServiceAccountFile == "" && !accountLater {
		v.urlKey(k+"auth_url", o.AuthURL)
	}
	if !o.ServiceAccount.IsZero() || accountLater || o.ServiceAccountFile != "" {
		v.serviceAccount(k, o, accountLater)
		return
	}
	if o.Subject != "" {
		v.errorf(k+"subject", "is only for service_account_file")
	}
	if o.Token.IsZero() && o.ClientSecret.IsZero() && !tokenLater && !secretLater &&
		o.TokenFile == "" && o.ClientSecretFile == "" && v.deferCreds && v.getenv("CREDENTIALS_DIRECTORY") == "" {
		// No file named: the service falls back to the credential of the default name; which
		// one follows from the other keys (client credentials need token_url and client_id).
		if o.TokenURL != "" || o.ClientID != "" {
			v.deferCredential(k+"client_secret_file", section+"-oauth2-client-secret")
			secretLater = true
		} else {
			v.deferCredential(k+"token_file", section+"-oauth2-token")
			tokenLater = true
		}
	}
	switch {
	case o.Token.IsZero() && o.ClientSecret.IsZero() && !tokenLater && !secretLater:
		v.errorf(k+"token_file", "required for auth %q: a token_file, or client_secret_file with token_url and client_id (client credentials), or the systemd credential %s-oauth2-token", auth, section)
	case !o.ClientSecret.IsZero() || secretLater:
		v.required(k+"client_id", o.ClientID == "")
		if o.TokenURL == "" {
			v.errorf(k+"token_url", "required with client_secret_file")
		}
	}
	v.urlKey(k+"token_url", o.TokenURL)
}

// urlKey checks an endpoint URL: https, or http only to a loopback address (tests, a local
// token helper). Empty is left to the caller.
func (v *validator) urlKey(key, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.errorf(key, "bad URL %q: %v", raw, err)
	case u.Scheme == "https" && u.Host != "":
	case u.Scheme == "http" && (HostPort{Host: u.Hostname()}).IsLoopback():
	default:
		v.errorf(key, "bad URL %q: want https:// (http:// only to a loopback address)", raw)
	}
}

// serviceAccount checks a Google service account key with domain-wide delegation: the key
// is the only source (a token file or client secret beside it would be ignored, so it is an
// error), the scope is required (Google grants only what the admin console delegated), and
// the subject defaults to the section's username, the mailbox.
func (v *validator) serviceAccount(k string, o *OAuth2, later bool) {
	for key, set := range map[string]bool{"token_file": o.TokenFile != "", "client_secret_file": o.ClientSecretFile != "",
		"client_id": o.ClientID != "", "token_url": o.TokenURL != "", "auth_url": o.AuthURL != ""} {
		if set {
			v.errorf(k+key, "is not used with service_account_file (the key file names its own client and token_uri)")
		}
	}
	v.required(k+"scope", len(o.Scope) == 0)
	if o.Subject == "" {
		if strings.HasPrefix(k, "imap.") {
			o.Subject = v.c.IMAP.Username
		} else {
			o.Subject = v.c.SMTP.Username
		}
	}
	if later || o.ServiceAccount.IsZero() {
		return
	}
	var key struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
		TokenURI    string `json:"token_uri"`
	}
	if err := json.Unmarshal([]byte(o.ServiceAccount.Reveal()), &key); err != nil {
		v.errorf(k+"service_account_file", "not a JSON key file: %v", err)
		return
	}
	switch {
	case key.Type != "service_account":
		v.errorf(k+"service_account_file", "type is %q, want \"service_account\" (a key of the service account, from the Google Cloud console's Keys tab)", key.Type)
	case key.ClientEmail == "" || key.PrivateKey == "":
		v.errorf(k+"service_account_file", "has no client_email or private_key")
	default:
		v.urlKey(k+"service_account_file", key.TokenURI)
	}
}

// loginTokenAbsent resolves the token file oauth-login will write, as secret would, and
// reports whether it does not exist yet.
func (v *validator) loginTokenAbsent(file *string, cred string) bool {
	credDir := v.getenv("CREDENTIALS_DIRECTORY")
	p := *file
	switch {
	case strings.HasPrefix(p, "cred:") && credDir != "":
		p = filepath.Join(credDir, strings.TrimPrefix(p, "cred:"))
	case strings.HasPrefix(p, "cred:"):
		return false // deferred or an error, as for any credential
	case p == "" && credDir != "":
		p = filepath.Join(credDir, cred)
	case p == "":
		return false
	default:
		p = v.path(p)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	*file = p
	return true
}

// secret reads the secret a *_file key points to, resolving *file to the path read. cred is
// the systemd credential name used when the key is empty.
func (v *validator) secret(key string, file *string, cred string, required bool) Secret {
	credDir := v.getenv("CREDENTIALS_DIRECTORY")
	switch {
	case strings.HasPrefix(*file, "cred:"):
		name := strings.TrimPrefix(*file, "cred:")
		if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
			v.errorf(key, "bad credential name %q", name)
			return Secret{}
		}
		if credDir == "" {
			if v.deferCreds {
				v.deferCredential(key, name)
				return Secret{}
			}
			v.errorf(key, "names systemd credential %q but $CREDENTIALS_DIRECTORY is not set: the service gets it from LoadCredential=%s:FILE in its unit; outside systemd, set CREDENTIALS_DIRECTORY to the directory holding %s, or give a file path", name, name, name)
			return Secret{}
		}
		*file = filepath.Join(credDir, name)
		v.credentials = append(v.credentials, Credential{Key: key, Name: name, Read: true})
	case *file == "":
		if credDir != "" {
			p := filepath.Join(credDir, cred)
			if _, err := os.Stat(p); err == nil {
				*file = p
				v.credentials = append(v.credentials, Credential{Key: key, Name: cred, Read: true})
				break
			}
		}
		switch {
		case required && v.deferCreds && credDir == "":
			v.deferCredential(key, cred)
		case required:
			v.errorf(key, "required: a file holding the secret, or the systemd credential %q (LoadCredential=%s:...)", cred, cred)
		}
		return Secret{}
	default:
		*file = v.path(*file)
	}
	s, warn, err := readSecret(*file)
	if err != nil {
		v.errorf(key, "%v", err)
		return Secret{}
	}
	if warn != "" {
		v.warnings = append(v.warnings, Error{File: v.file, Line: v.line(key), Key: key, Msg: warn})
	}
	return s
}

// deferCredential notes that the secret of key is the systemd credential name, which the
// service will read and check cannot (run by hand, $CREDENTIALS_DIRECTORY is unset). The
// note says where it must come from: the shipped units load only the two passwords, so
// any other name (the OAuth 2.0 ones, a cred:NAME of one's own) needs a line of its own.
func (v *validator) deferCredential(key, name string) {
	if v.deferred == nil {
		v.deferred = map[string]bool{}
	}
	v.deferred[key] = true
	v.credentials = append(v.credentials, Credential{Key: key, Name: name})
	unit := "the shipped units load it from /etc/hosho-intake/" + name + " (hosho-intake@NAME: /etc/hosho-intake/NAME/" + name + ")"
	if name != "imap-password" && name != "smtp-password" {
		unit = "the shipped units load only imap-password and smtp-password: add LoadCredential=" + name + ":/etc/hosho-intake/" + name + " with systemctl edit"
	}
	v.warnings = append(v.warnings, Error{File: v.file, Line: v.line(key), Key: key,
		Msg: fmt.Sprintf("systemd credential %q not checked here ($CREDENTIALS_DIRECTORY is not set): the service reads it only if its unit has LoadCredential=%s:FILE; %s; to read it here: sudo env CREDENTIALS_DIRECTORY=/etc/hosho-intake hosho-intake check", name, name, unit)})
}

// readSecret reads a one-secret file. The mode is checked on the open file, not the path,
// so what is checked is what is read.
func readSecret(path string) (s Secret, warn string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return Secret{}, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Secret{}, "", err
	}
	if !fi.Mode().IsRegular() {
		return Secret{}, "", fmt.Errorf("%s is not a regular file", path)
	}
	perm := fi.Mode().Perm()
	if perm&0o004 != 0 {
		return Secret{}, "", fmt.Errorf("%s is readable by everyone (mode %04o): chmod 600 it, or use LoadCredential=", path, perm)
	}
	if perm&0o040 != 0 {
		warn = fmt.Sprintf("%s is readable by its group (mode %04o): make sure only the service is in it", path, perm)
	}
	const limit = 64 << 10 // a password or token; anything bigger is the wrong file
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return Secret{}, "", err
	}
	if len(b) > limit {
		return Secret{}, "", fmt.Errorf("%s is larger than %d bytes: not a secret file", path, limit)
	}
	val := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if val == "" {
		return Secret{}, "", fmt.Errorf("%s is empty", path)
	}
	return Secret{v: val}, warn, nil
}

func (v *validator) policy() {
	p := &v.c.Policy
	if p.File != "" {
		// A rule file is the whole policy; keys beside it would be silently ignored.
		for _, k := range []string{"orderers", "guarantors", "works_categories", "services_categories", "start_date", "date_basis", "exclude_change_contracts", "name", "version"} {
			if v.defined("policy." + k) {
				v.errorf("policy."+k, "set either policy.file or inline policy keys, not both")
			}
		}
		v.exists("policy.file", &p.File, false)
		return
	}
	inlineKeys := false
	for _, k := range []string{"guarantors", "works_categories", "services_categories", "start_date", "date_basis", "exclude_change_contracts"} {
		inlineKeys = inlineKeys || v.defined("policy."+k)
	}
	if !p.Inline() {
		if inlineKeys {
			v.errorf("policy.orderers", "required for an inline policy: the orderer names a notice must show (発注者, e.g. 島根県知事)")
		}
		return
	}
	v.required("policy.name", strings.TrimSpace(p.Name) == "")
	v.required("policy.version", strings.TrimSpace(p.Version) == "")
	v.required("policy.guarantors", len(p.Guarantors) == 0)
	if len(p.WorksCategories) == 0 && len(p.ServicesCategories) == 0 {
		v.errorf("policy.works_categories", "required: works_categories or services_categories (or both)")
	}
	for _, k := range []struct {
		key  string
		list []string
	}{{"policy.works_categories", p.WorksCategories}, {"policy.services_categories", p.ServicesCategories}} {
		for _, cat := range k.list {
			if !slices.Contains(categories, cat) {
				v.errorf(k.key, "unknown category %q: want %s", cat, quoteList(categories))
			}
		}
	}
	v.required("policy.start_date", p.StartDate.IsZero())
	v.oneOf("policy.date_basis", p.DateBasis, dateBases...)
}

func domainOf(addr string) string { return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:]) }

// sameOrganisation: b's domain is a's, or one is a subdomain of the other
// (pref.shimane.lg.jp and doboku.pref.shimane.lg.jp).
func sameOrganisation(a, b string) bool {
	da, db := domainOf(a), domainOf(b)
	return da == db || strings.HasSuffix(da, "."+db) || strings.HasSuffix(db, "."+da)
}

// web checks [web]: where the clerks' page listens, how it is reached, and its TLS.
func (v *validator) web() {
	w := &v.c.Web
	if w.Addr == "" {
		return
	}
	v.positive("web.session_idle", int64(w.SessionIdle))
	v.positive("web.link_lifetime", int64(w.LinkLifetime))
	if (w.CertFile == "") != (w.KeyFile == "") {
		v.errorf("web.cert_file", "set both cert_file and key_file, or neither")
	}
	v.exists("web.cert_file", &w.CertFile, false)
	v.exists("web.key_file", &w.KeyFile, false)
	derived := ""
	if w.Unix() {
		if w.TLS() {
			v.errorf("web.cert_file", "a unix socket is for a reverse proxy, which serves TLS itself: leave cert_file and key_file empty")
		}
	} else {
		hp, err := parseHostPort(w.Addr)
		switch {
		case err != nil || hp.Port == "":
			v.errorf("web.addr", "bad value %q: want host:port (e.g. 127.0.0.1:8465) or the absolute path of a unix socket", w.Addr)
			return
		case !hp.IsLoopback() && !w.TLS():
			// Sessions and 認証キー must not cross the network in clear.
			v.errorf("web.addr", "%q is not a loopback address: set cert_file and key_file to serve TLS, or listen on loopback or a unix socket behind a reverse proxy", w.Addr)
		}
		scheme := "http"
		if w.TLS() {
			scheme = "https"
		}
		if h := strings.Trim(hp.Host, "[]"); h != "" && h != "0.0.0.0" && h != "::" {
			derived = scheme + "://" + hp.String() + "/"
		}
	}
	if w.URL == "" {
		if derived == "" {
			v.errorf("web.url", "required with this addr: the page's address as clerks' browsers reach it, e.g. https://hosho.pref.example.lg.jp/")
			return
		}
		w.URL = derived
	}
	u, err := url.Parse(w.URL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "":
		v.errorf("web.url", "bad value %q: want the page's https:// address", w.URL)
		return
	case u.Scheme == "http" && !(HostPort{Host: u.Hostname()}).IsLoopback():
		v.errorf("web.url", "%q is http beyond this host: clerks' sessions and 認証キー must cross the network over TLS (https://)", w.URL)
	}
	if !strings.HasSuffix(w.URL, "/") {
		w.URL += "/"
	}
}
