// Package config reads hosho-intake's one TOML configuration file.
//
// The contract: Load reads the file over Default(), parses every value into its type at load
// time (durations, cron schedules in Asia/Tokyo unless CRON_TZ= says otherwise, mail
// addresses, host:port addresses, sizes, dates), reads the secrets the file points to, and
// checks everything. It returns either a Config that the daemon can run with, or an *Errors
// listing every problem in the file at once, one per line as "file:line: key: message":
// unknown keys (with a did-you-mean), values of the wrong type, bad values, missing
// required keys. Nothing is half-applied: a Config is returned only when the list is empty.
//
// The key names of [agency], [imap], [smtp], [digest] and [state] that DESIGN.md lists are a
// contract with scripts and outside checks. deploy/config.example.toml documents every key,
// and a test keeps it complete.
//
// Secrets never appear in the file. A *_file key names a file holding one secret (a
// relative path is relative to the config file's directory; one trailing newline is
// trimmed), or "cred:NAME" for the systemd credential $CREDENTIALS_DIRECTORY/NAME
// (LoadCredential=). When the key is empty and $CREDENTIALS_DIRECTORY holds the credential
// of the key's default name (imap-password, smtp-password, imap-oauth2-token, ...), that is
// used. A secret file readable by everyone is an error; one readable by its group is allowed
// (root:hosho-intake 0640 is a common way to hand a file to a service) but is reported in
// Config.Warnings. Secrets are held as Secret, which prints as <secret>.
//
// The package reads files only: the config, the secrets, and the CA file, policy file,
// register and templates directory it checks for existence. It reads the environment only
// through LoadOptions.Getenv and holds no package state.
package config

import (
	"crypto/x509"
	"net/mail"
	"net/netip"
	"strings"
	"time"
)

// Config is the whole configuration. Fields tagged toml:"-" are derived by Load (secrets,
// the CA pool, the file's path) and are not keys of the file.
type Config struct {
	Agency   Agency   `toml:"agency"`
	IMAP     IMAP     `toml:"imap"`
	SMTP     SMTP     `toml:"smtp"`
	Reply    Reply    `toml:"reply"`
	Digest   Digest   `toml:"digest"`
	State    State    `toml:"state"`
	Policy   Policy   `toml:"policy"`
	Register Register `toml:"register"`
	Metrics  Metrics  `toml:"metrics"`
	Web      Web      `toml:"web"`
	Log      Log      `toml:"log"`
	Sandbox  Sandbox  `toml:"sandbox"`

	// File is the absolute path of the file loaded; relative paths in it were resolved
	// against its directory.
	File string `toml:"-"`
	// Warnings are problems that do not stop the daemon (a group-readable secret file).
	Warnings []Error `toml:"-"`
	// Credentials are the secrets taken from systemd credentials, in the order of the keys:
	// what `check` compares with the unit's LoadCredential= lines.
	Credentials []Credential `toml:"-"`
}

// Credential is a secret the config takes from the systemd credential Name
// ($CREDENTIALS_DIRECTORY/Name, filled by the unit's LoadCredential=), for the key Key.
type Credential struct {
	Key, Name string
	// Read: the secret was read here ($CREDENTIALS_DIRECTORY was set); else only the
	// service will read it.
	Read bool
}

// Agency is who runs the mailbox and which rules judge the notices.
type Agency struct {
	// Preset names an eligibility rule set built into the verifier (shimane, tottori-ctc,
	// mlit). Exactly one of preset and [policy] is set.
	Preset string `toml:"preset"`
	// Name is the agency as replies and digests name it (島根県 土木部 技術管理課). Required.
	Name string `toml:"name"`
	// Address is the agency mailbox's address: where contractors send notices and clerks'
	// decision links point, and an address never answered. Default: smtp.from.
	Address *mail.Address `toml:"address"`
}

// TLS modes of [imap] tls and [smtp] tls.
const (
	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"
	TLSNone     = "none" // only to a loopback address
)

// Authentication mechanisms of [imap] auth and [smtp] auth.
const (
	AuthNone        = "none" // smtp only: a relay that does not authenticate
	AuthLogin       = "login"
	AuthPlain       = "plain"
	AuthXOAuth2     = "xoauth2"
	AuthOAuthBearer = "oauthbearer"
)

// IMAP is the agency mailbox that is polled.
type IMAP struct {
	Addr     HostPort `toml:"addr"`
	TLS      string   `toml:"tls"`
	CAFile   string   `toml:"ca_file"`
	Username string   `toml:"username"`
	Auth     string   `toml:"auth"`
	// PasswordFile: see the package comment. The secret read is Password.
	PasswordFile string `toml:"password_file"`
	OAuth2       OAuth2 `toml:"oauth2"`
	Mailbox      string `toml:"mailbox"`
	// ProcessedMailbox receives messages once recorded; empty: they are flagged instead.
	ProcessedMailbox string   `toml:"processed_mailbox"`
	Schedule         Schedule `toml:"schedule"`
	// Idle keeps one more connection in IMAP IDLE (RFC 2177) so that new mail is taken in
	// within seconds; the schedule stays the safety net. Off by itself where the server does
	// not advertise IDLE.
	Idle bool `toml:"idle"`
	// Timeout bounds connecting and each command's answer.
	Timeout time.Duration `toml:"timeout"`
	// PollTimeout bounds a whole poll session; go-imap has no per-command deadline, so the
	// connection is closed when this runs out.
	PollTimeout    time.Duration `toml:"poll_timeout"`
	MaxMessageSize Size          `toml:"max_message_size"`

	Password Secret `toml:"-"`
	// RootCAs is the pool read from CAFile; nil means the system's roots.
	RootCAs *x509.CertPool `toml:"-"`
}

// OAuth2 is the token source for xoauth2 and oauthbearer: a token file (a refresh token that
// `hosho-intake oauth-login` wrote, or an access token kept fresh by something else), the
// client-credentials flow (TokenURL, ClientID, ClientSecretFile, Scope) that Microsoft 365
// offers for unattended mailboxes, or a Google service account with domain-wide delegation
// (ServiceAccountFile, Subject, Scope).
type OAuth2 struct {
	TokenFile string `toml:"token_file"`
	TokenURL  string `toml:"token_url"`
	// AuthURL is the authorization endpoint oauth-login sends the browser to; empty: the one
	// that goes with Google's or Microsoft's token_url.
	AuthURL          string   `toml:"auth_url"`
	ClientID         string   `toml:"client_id"`
	ClientSecretFile string   `toml:"client_secret_file"`
	Scope            []string `toml:"scope"`
	// ServiceAccountFile is a Google service account's JSON key (a secret: it holds the
	// private key); Subject is the mailbox the account acts as (default: the username).
	ServiceAccountFile string `toml:"service_account_file"`
	Subject            string `toml:"subject"`

	// Token is TokenFile's content at load time. The file may be rotated while the daemon
	// runs, so readers of long-lived tokens should re-read TokenFile (an absolute path after
	// Load).
	Token          Secret `toml:"-"`
	ClientSecret   Secret `toml:"-"`
	ServiceAccount Secret `toml:"-"`
}

// SMTP is the server replies and digests are sent through.
type SMTP struct {
	Addr     HostPort `toml:"addr"`
	TLS      string   `toml:"tls"`
	CAFile   string   `toml:"ca_file"`
	Username string   `toml:"username"`
	// Auth empty means plain when Username is set and none otherwise; Load resolves it.
	Auth         string        `toml:"auth"`
	PasswordFile string        `toml:"password_file"`
	OAuth2       OAuth2        `toml:"oauth2"`
	From         *mail.Address `toml:"from"`
	Timeout      time.Duration `toml:"timeout"`
	// RetryFor is how long a reply that meets 4xx or a dropped connection is retried before
	// it is given up and reported in the digest.
	RetryFor time.Duration `toml:"retry_for"`
	// RetryIntervalMax is the longest wait between two attempts: the first retry comes after
	// seconds, and the wait doubles up to it.
	RetryIntervalMax time.Duration `toml:"retry_interval_max"`

	Password Secret         `toml:"-"`
	RootCAs  *x509.CertPool `toml:"-"`
}

// Reply is how contractors are answered.
type Reply struct {
	// Charset is "utf-8" or "iso-2022-jp" (for old mail clients).
	Charset   string `toml:"charset"`
	Signature string `toml:"signature"`
	// TemplatesDir holds files overriding the built-in templates; empty: built-in only.
	TemplatesDir string `toml:"templates_dir"`
	// RateLimit is the most replies one sender gets in an hour; it stops ping-pong with a
	// misconfigured robot.
	RateLimit int `toml:"rate_limit"`
	// GlobalRateLimit is the most replies all senders together get in an hour, so that a
	// stranger forging a new From for every mail cannot make the agency send without end.
	GlobalRateLimit int `toml:"global_rate_limit"`
	// PasswordWait is how long a password ZIP waits for the password its sender mails next
	// (PPAP), and a password mail for its ZIP; then the sender is told and both are dropped.
	PasswordWait time.Duration `toml:"password_wait"`
	// RequireAuthResults answers only senders authenticated by the Authentication-Results
	// from AuthservID (a DMARC pass, or a DKIM or SPF pass aligned with the From domain) or
	// by TrustedRelays, so forged senders are not answered. Default: true when AuthservID is
	// set.
	RequireAuthResults bool   `toml:"require_auth_results"`
	AuthservID         string `toml:"authserv_id"`
	// TrustedRelays are the agency's own relays and networks (CIDR prefixes or addresses):
	// mail whose every Received hop came from them is the agency's own, authenticated.
	TrustedRelays []string `toml:"trusted_relays"`

	// TrustedRelayPrefixes is TrustedRelays parsed.
	TrustedRelayPrefixes []netip.Prefix `toml:"-"`
}

// Authenticates reports whether anything can authenticate a sender: an authserv-id whose
// Authentication-Results the daemon reads, or trusted relays. Without it a decision link's
// token is the only proof that a decision mail comes from its clerk.
func (r Reply) Authenticates() bool {
	return r.AuthservID != "" || len(r.TrustedRelayPrefixes) > 0
}

// Digest is the clerks' summary mail.
type Digest struct {
	To []*mail.Address `toml:"to"`
	// Clerks may decide by mail (確認済 / 差戻し links); empty means To.
	Clerks    []*mail.Address `toml:"clerks"`
	Schedule  Schedule        `toml:"schedule"`
	MaskKey   bool            `toml:"mask_key"`
	SendEmpty bool            `toml:"send_empty"`
	// DecideByMail lets clerks decide with the digest's links; false: by command (and the
	// clerk page) only, and decision mails are refused.
	DecideByMail bool `toml:"decide_by_mail"`
	// TokenLifetime is how long a digest's decision link works.
	TokenLifetime time.Duration `toml:"token_lifetime"`
	// InquiriesTo, when set, receives each inquiry (a mail that asks rather than submits) at
	// once, the original attached; an address in the agency's own domain, since the mail
	// carries a stranger's words. Nil: inquiries wait for the digest.
	InquiriesTo *mail.Address `toml:"inquiries_to"`
	// DSureURL is the D-Sure login page the digest links to (https); empty: no link.
	DSureURL string `toml:"dsure_url"`
}

// State is where the bbolt file and the stored raw messages live.
type State struct {
	// Dir: required, or $STATE_DIRECTORY (systemd StateDirectory=) when empty.
	Dir string `toml:"dir"`
	// Retention is how long raw messages are kept; 0 keeps them forever.
	Retention time.Duration `toml:"retention"`
}

// Date bases a custom policy's start date can apply to.
var dateBases = []string{"契約日", "当初契約日", "入札公告日", "指名日", "通知日"}

// Categories a policy can accept.
var categories = []string{"契約保証", "前払金保証", "中間前払金保証"}

// Policy is a custom eligibility rule set, in a rule file (File) or inline, in the format
// the verifier's presets use. Exclusive with agency.preset.
type Policy struct {
	File                   string   `toml:"file"`
	Name                   string   `toml:"name"`
	Version                string   `toml:"version"`
	Orderers               []string `toml:"orderers"`
	Guarantors             []string `toml:"guarantors"`
	WorksCategories        []string `toml:"works_categories"`
	ServicesCategories     []string `toml:"services_categories"`
	StartDate              Date     `toml:"start_date"`
	DateBasis              string   `toml:"date_basis"`
	ExcludeChangeContracts bool     `toml:"exclude_change_contracts"`
	// Checklist is what a clerk compares on the certificate, shown in the digest; empty:
	// the default list (保証契約番号, 工事名, 発注者, 保証機関, 区分).
	Checklist []string `toml:"checklist"`
}

// Inline reports whether the policy is given inline in the config file.
func (p Policy) Inline() bool { return len(p.Orderers) > 0 }

// Custom reports whether a custom policy (a file or inline) replaces a preset.
func (p Policy) Custom() bool { return p.File != "" || p.Inline() }

// Register is the agency's contract register, which dates notices by 工事名.
type Register struct {
	CSV string `toml:"csv"`
}

// Metrics serves Prometheus metrics and /healthz.
type Metrics struct {
	// Addr empty: off.
	Addr             HostPort `toml:"addr"`
	AllowNonLoopback bool     `toml:"allow_non_loopback"`
}

// Web is the clerks' page (intake/web): the queue, sign-in by a mailed link, decisions,
// search and export, served by the daemon. Off unless Addr is set.
type Web struct {
	// Addr is where the page listens: host:port (a loopback address, or any with CertFile
	// and KeyFile), or the absolute path of a unix socket for the agency's reverse proxy.
	// Empty: off.
	Addr string `toml:"addr"`
	// URL is the page as clerks' browsers reach it (sign-in links and the digest's links
	// point there), https unless its host is a loopback one. Default: derived from Addr
	// when it names a host; required for a unix socket or a wildcard address.
	URL string `toml:"url"`
	// CertFile and KeyFile are the PEM certificate chain and key the page serves TLS with;
	// required when Addr is not a loopback address.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// SessionIdle ends a clerk's session after this long without a request.
	SessionIdle time.Duration `toml:"session_idle"`
	// LinkLifetime is how long a mailed sign-in link works (once).
	LinkLifetime time.Duration `toml:"link_lifetime"`
}

// Unix reports whether the page listens on a unix socket.
func (w Web) Unix() bool { return strings.HasPrefix(w.Addr, "/") }

// TLS reports whether the page serves TLS itself.
func (w Web) TLS() bool { return w.CertFile != "" }

// Log is the daemon's logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // auto (journal under systemd, else text), text, json
}

// Sandbox bounds the PDF reader child processes.
type Sandbox struct {
	// Workers 0: one per CPU the process may use.
	Workers     int           `toml:"workers"`
	Timeout     time.Duration `toml:"timeout"`
	MemoryLimit Size          `toml:"memory_limit"`
	// MessageBudget is the reading time one message may take across all its PDFs and
	// ZIP members; MaxPDFsPerMessage the PDFs read from one message. A message past
	// either is recorded with too_slow and the poll goes on to the next.
	MessageBudget     time.Duration `toml:"message_budget"`
	MaxPDFsPerMessage int           `toml:"max_pdfs_per_message"`
	// OCR reads PDFs without a usable text layer and attached images with tesseract,
	// inside the same readers and limits. Unset: on where tesseract and its Japanese
	// data are installed; true: on, and check reports them missing; false: off.
	OCR *bool `toml:"ocr"`
}

// OCRWanted reports whether OCR is to be used: as the config says, or else where its tools
// are installed. installed is asked only then: it runs a program.
func (s Sandbox) OCRWanted(installed func() bool) bool {
	if s.OCR == nil {
		return installed()
	}
	return *s.OCR
}

// Default returns the configuration an empty file gives: every default in one place. The
// required keys (agency.name, imap.addr, imap.username, smtp.addr, smtp.from, digest.to,
// state.dir, and a preset or policy) are left empty.
func Default() Config {
	return Config{
		IMAP: IMAP{
			TLS:            TLSImplicit,
			Auth:           AuthLogin,
			Mailbox:        "INBOX",
			Schedule:       mustSchedule("*/5 * * * *"),
			Idle:           true,
			Timeout:        time.Minute,
			PollTimeout:    10 * time.Minute,
			MaxMessageSize: 10 << 20,
		},
		SMTP: SMTP{
			TLS:              TLSStartTLS,
			Timeout:          time.Minute,
			RetryFor:         24 * time.Hour,
			RetryIntervalMax: 30 * time.Minute,
		},
		Reply: Reply{
			Charset:         "utf-8",
			RateLimit:       5,
			GlobalRateLimit: 200,
			PasswordWait:    24 * time.Hour,
		},
		Digest: Digest{
			Schedule:      mustSchedule("30 8 * * 1-5"),
			DecideByMail:  true,
			TokenLifetime: 14 * 24 * time.Hour,
		},
		State: State{
			Retention: 90 * 24 * time.Hour,
		},
		Web: Web{
			SessionIdle:  30 * time.Minute,
			LinkLifetime: 15 * time.Minute,
		},
		Policy: Policy{
			Name:       "custom",
			Version:    "1",
			Guarantors: []string{"西日本建設業保証株式会社", "東日本建設業保証株式会社", "北海道建設業信用保証株式会社"},
			DateBasis:  "契約日",
		},
		Log: Log{
			Level:  "info",
			Format: "auto",
		},
		Sandbox: Sandbox{
			Timeout:     10 * time.Second,
			MemoryLimit: 512 << 20,
			// A real notice reads in 1-10 ms and a real mail holds 1-5 PDFs: a minute and
			// 20 PDFs leave a wide margin, while a mail of slow PDFs costs at most a minute of
			// reader time instead of stopping the mailbox.
			MessageBudget:     time.Minute,
			MaxPDFsPerMessage: 20,
		},
	}
}

// designPresets are the presets DESIGN.md names; used when LoadOptions.KnownPresets is nil.
func designPresets() []string { return []string{"shimane", "tottori-ctc", "mlit"} }
