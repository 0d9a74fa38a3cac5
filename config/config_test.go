package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// base is a minimal good file; the cases below edit single lines of it, so its line numbers
// are the ones the expected errors name.
const base = `[agency]
preset = "shimane"
name = "島根県"

[imap]
addr = "imap.example.jp"
username = "u@example.jp"
password_file = "imap.pass"

[smtp]
addr = "smtp.example.jp"
from = "u@example.jp"

[digest]
to = ["k@example.jp"]

[state]
dir = "state"
`

// setup writes the config and the secret files it names into a fresh directory.
func setup(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "imap.pass"), "imap-secret\n", 0o600)
	path := filepath.Join(dir, "config.toml")
	writeFile(t, path, body, 0o644)
	return path
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
}

// edit applies old -> new replacements to base; each old must occur.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := base
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit: %q not in base", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func good(t *testing.T, body string, opts LoadOptions) *Config {
	t.Helper()
	c, err := Load(setup(t, body), opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestBaseIsGood(t *testing.T) {
	c := good(t, base, LoadOptions{})
	if got := c.IMAP.Password.Reveal(); got != "imap-secret" {
		t.Errorf("imap password = %q, want trailing newline trimmed", got)
	}
	if got, want := c.IMAP.Addr.String(), "imap.example.jp:993"; got != want {
		t.Errorf("imap addr = %q, want %q (default port for implicit TLS)", got, want)
	}
	if got, want := c.SMTP.Addr.String(), "smtp.example.jp:587"; got != want {
		t.Errorf("smtp addr = %q, want %q", got, want)
	}
	if c.SMTP.Auth != AuthNone {
		t.Errorf("smtp auth = %q, want none without a username", c.SMTP.Auth)
	}
	if len(c.Digest.Clerks) != 1 || c.Digest.Clerks[0].Address != "k@example.jp" {
		t.Errorf("clerks = %v, want digest.to", c.Digest.Clerks)
	}
	if c.Agency.Address == nil || c.Agency.Address.Address != "u@example.jp" {
		t.Errorf("agency address = %v, want smtp.from's", c.Agency.Address)
	}
	if !filepath.IsAbs(c.State.Dir) || filepath.Dir(c.State.Dir) != filepath.Dir(c.File) {
		t.Errorf("state dir = %q, want resolved beside %q", c.State.Dir, c.File)
	}
	if c.IMAP.MaxMessageSize != 10<<20 || c.SMTP.RetryFor != 24*time.Hour || c.Reply.RateLimit != 5 {
		t.Errorf("defaults not applied: %v %v %v", c.IMAP.MaxMessageSize, c.SMTP.RetryFor, c.Reply.RateLimit)
	}
	s := c.SummaryAt(time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC))
	for _, want := range []string{"u@example.jp@imap.example.jp:993", "2025-06-02 09:05 JST", "2025-06-03 08:30 JST", "preset shimane"} {
		if !strings.Contains(s, want) {
			t.Errorf("Summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "imap-secret") {
		t.Errorf("Summary shows the password:\n%s", s)
	}
}

type wantErr struct {
	line int
	key  string
	msg  string // substring
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		opts LoadOptions
		want []wantErr
	}{
		{"unknown key, near miss", edit(t, `password_file =`, `pasword_file =`), LoadOptions{}, []wantErr{
			{5, "imap.password_file", "required"},
			{8, "imap.pasword_file", "unknown key (did you mean password_file?)"},
		}},
		{"unknown key of another section", edit(t, `username = "u@example.jp"`, `username = "u@example.jp"`+"\n"+`from = "x@example.jp"`), LoadOptions{}, []wantErr{
			{8, "imap.from", "unknown key (did you mean [smtp] from?)"},
		}},
		{"unknown section", base + "[imapp]\nx = 1\n", LoadOptions{}, []wantErr{
			{19, "imapp", "unknown key (did you mean [imap]?)"},
		}},
		{"bad type", edit(t, `username = "u@example.jp"`, `username = 5`), LoadOptions{}, []wantErr{
			{7, "imap.username", "bad type: want a string, got integer 5"},
		}},
		{"table for a value", edit(t, `dir = "state"`, "[state.dir]\nx = 1"), LoadOptions{}, []wantErr{
			{18, "state.dir", "bad type: want a value, got a table"},
		}},
		{"value for a table", "state = 1\nx = 2\n" + edit(t, "[state]\ndir = \"state\"\n", ""), LoadOptions{}, []wantErr{
			{1, "state", "bad type: want a table ([state]), got integer 1"},
			{2, "x", "unknown key"},
		}},
		{"bad cron", edit(t, `password_file = "imap.pass"`, `password_file = "imap.pass"`+"\n"+`schedule = "61 * * * *"`), LoadOptions{}, []wantErr{
			{9, "imap.schedule", `bad cron schedule "61 * * * *"`},
		}},
		{"bad duration", edit(t, `from = "u@example.jp"`, `from = "u@example.jp"`+"\n"+`retry_for = "1 day"`), LoadOptions{}, []wantErr{
			{13, "smtp.retry_for", `bad duration "1 day"`},
		}},
		{"duration without unit", edit(t, `from = "u@example.jp"`, `from = "u@example.jp"`+"\n"+`timeout = 30`), LoadOptions{}, []wantErr{
			{13, "smtp.timeout", "bad type: want a duration string"},
		}},
		{"bad size", edit(t, `password_file = "imap.pass"`, `password_file = "imap.pass"`+"\n"+`max_message_size = "10 megs"`), LoadOptions{}, []wantErr{
			{9, "imap.max_message_size", `bad size "10 megs"`},
		}},
		{"tls none to a remote host", edit(t, `addr = "imap.example.jp"`, `addr = "192.168.1.10:143"`+"\n"+`tls = "none"`), LoadOptions{}, []wantErr{
			{7, "imap.tls", `"none" is allowed only to a loopback address`},
		}},
		{"bad tls value", edit(t, `addr = "smtp.example.jp"`, `addr = "smtp.example.jp"`+"\n"+`tls = "ssl"`), LoadOptions{}, []wantErr{
			{12, "smtp.tls", `bad value "ssl": want one of "implicit", "starttls", "none"`},
		}},
		{"bad address", edit(t, `to = ["k@example.jp"]`, `to = ["not an address"]`), LoadOptions{}, []wantErr{
			{15, "digest.to", `bad mail address "not an address"`},
		}},
		{"missing required keys", edit(t, `name = "島根県"`, ``, `from = "u@example.jp"`, ``, `dir = "state"`, ``), LoadOptions{}, []wantErr{
			{1, "agency.name", "required"},
			{10, "smtp.from", "required"},
			{17, "state.dir", "required"},
		}},
		{"missing imap addr and username", edit(t, `addr = "imap.example.jp"`, ``, `username = "u@example.jp"`, ``), LoadOptions{}, []wantErr{
			{5, "imap.addr", "required"},
			{5, "imap.username", "required"},
		}},
		{"inquiries forwarded outside the agency", edit(t, `to = ["k@example.jp"]`, `to = ["k@example.jp"]`+"\n"+`inquiries_to = "k@gmail.example"`), LoadOptions{}, []wantErr{
			{16, "digest.inquiries_to", "k@gmail.example is outside the agency's domain (example.jp)"},
		}},
		{"D-Sure link not https", edit(t, `to = ["k@example.jp"]`, `to = ["k@example.jp"]`+"\n"+`dsure_url = "javascript:alert(1)"`), LoadOptions{}, []wantErr{
			{16, "digest.dsure_url", `bad value "javascript:alert(1)": want the https:// address`},
		}},
		{"missing section", strings.Replace(base, "[digest]\nto = [\"k@example.jp\"]\n", "", 1), LoadOptions{}, []wantErr{
			{0, "digest.to", "required"},
		}},
		{"unknown preset", edit(t, `preset = "shimane"`, `preset = "shimame"`), LoadOptions{}, []wantErr{
			{2, "agency.preset", `unknown preset "shimame": known are "shimane", "tottori-ctc", "mlit"`},
		}},
		{"preset from options", base, LoadOptions{KnownPresets: []string{"mlit"}}, []wantErr{
			{2, "agency.preset", `unknown preset "shimane": known are "mlit"`},
		}},
		{"preset and policy", base + "[policy]\norderers = [\"島根県知事\"]\nworks_categories = [\"契約保証\"]\nstart_date = 2023-06-01\n", LoadOptions{}, []wantErr{
			{2, "agency.preset", "not both"},
		}},
		{"bad inline policy", edit(t, `preset = "shimane"`, ``) + "[policy]\norderers = [\"島根県知事\"]\nworks_categories = [\"契約保証予約\"]\ndate_basis = \"落札日\"\n", LoadOptions{}, []wantErr{
			{19, "policy.start_date", "required"},
			{21, "policy.works_categories", `unknown category "契約保証予約"`},
			{22, "policy.date_basis", `bad value "落札日"`},
		}},
		{"reading budget not positive", base + "[sandbox]\nmessage_budget = \"0s\"\nmax_pdfs_per_message = -1\n", LoadOptions{}, []wantErr{
			{20, "sandbox.message_budget", "must be more than zero"},
			{21, "sandbox.max_pdfs_per_message", "must be more than zero"},
		}},
		{"web beyond loopback without TLS", base + "[web]\naddr = \"0.0.0.0:8465\"\n", LoadOptions{}, []wantErr{
			{19, "web.url", "required with this addr"}, // where [web] is: the key is not written
			{20, "web.addr", "not a loopback address: set cert_file and key_file"},
		}},
		{"web on a unix socket without url", base + "[web]\naddr = \"/run/hosho-intake/web.sock\"\n", LoadOptions{}, []wantErr{
			{19, "web.url", "required with this addr"},
		}},
		{"web url in clear beyond loopback", base + "[web]\naddr = \"/run/hosho-intake/web.sock\"\nurl = \"http://hosho.example.jp/\"\nsession_idle = \"0s\"\n", LoadOptions{}, []wantErr{
			{21, "web.url", "is http beyond this host"},
			{22, "web.session_idle", "must be more than zero"},
		}},
		{"web with half a certificate", base + "[web]\naddr = \"127.0.0.1:8465\"\ncert_file = \"nope.crt\"\n", LoadOptions{}, []wantErr{
			{21, "web.cert_file", "set both cert_file and key_file"},
			{21, "web.cert_file", "no such file"},
		}},
		{"metrics beyond loopback", base + "[metrics]\naddr = \"0.0.0.0:9465\"\n", LoadOptions{}, []wantErr{
			{20, "metrics.addr", "not a loopback address"},
		}},
		{"credential without CREDENTIALS_DIRECTORY", edit(t, `password_file = "imap.pass"`, `password_file = "cred:imap-password"`), LoadOptions{}, []wantErr{
			{8, "imap.password_file", "$CREDENTIALS_DIRECTORY is not set"},
		}},
		{"missing secret file", edit(t, `password_file = "imap.pass"`, `password_file = "nope.pass"`), LoadOptions{}, []wantErr{
			{8, "imap.password_file", "no such file"},
		}},
		{"the first word of Microsoft 365's field as authserv_id", base + "[reply]\nauthserv_id = \"spf=pass\"\n", LoadOptions{}, []wantErr{
			{20, "reply.authserv_id", `"spf=pass" is not an authserv-id`},
		}},
		{"auth results without authserv_id", base + "[reply]\nrequire_auth_results = true\n", LoadOptions{}, []wantErr{
			{19, "reply.authserv_id", "required when require_auth_results"},
		}},
		{"bad trusted relay", base + "[reply]\ntrusted_relays = [\"10.0.0.0/8\", \"intranet\"]\n", LoadOptions{}, []wantErr{
			{20, "reply.trusted_relays", `bad value "intranet"`},
		}},
		{"no token lifetime", edit(t, `to = ["k@example.jp"]`, "to = [\"k@example.jp\"]\ntoken_lifetime = \"0s\""), LoadOptions{}, []wantErr{
			{16, "digest.token_lifetime", "must be more than zero"},
		}},
		{"syntax error", edit(t, `name = "島根県"`, `name = "島根県`), LoadOptions{}, []wantErr{
			{3, "", "syntax error"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := setup(t, tt.body)
			_, err := Load(path, tt.opts)
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load = %v, want *Errors", err)
			}
			if len(errs.List) != len(tt.want) {
				t.Fatalf("Load gave %d errors, want %d:\n%v", len(errs.List), len(tt.want), err)
			}
			for i, w := range tt.want {
				e := errs.List[i]
				if e.File != path || e.Line != w.line || e.Key != w.key || !strings.Contains(e.Msg, w.msg) {
					t.Errorf("error %d = %q, want line %d key %q message containing %q", i, e.Error(), w.line, w.key, w.msg)
				}
			}
		})
	}
}

func TestEveryErrorAtOnce(t *testing.T) {
	body := edit(t,
		`preset = "shimane"`, `preset = "kyoto"`,
		`addr = "imap.example.jp"`, `addr = "example.org"`+"\n"+`tls = "none"`,
		`from = "u@example.jp"`, `from = "u@example.jp"`+"\n"+`timout = "1m"`,
		`dir = "state"`, `dir = "state"`+"\n"+`retention = "forever"`,
	)
	path := setup(t, body)
	_, err := Load(path, LoadOptions{})
	want := strings.Join([]string{
		path + `:2: agency.preset: unknown preset "kyoto": known are "shimane", "tottori-ctc", "mlit"`,
		path + `:7: imap.tls: "none" is allowed only to a loopback address (127.0.0.1, ::1, localhost), not "example.org": use "implicit" or "starttls"`,
		path + `:14: smtp.timout: unknown key (did you mean timeout?)`,
		path + `:21: state.retention: bad duration "forever": want e.g. "90d", "24h" or "30s"`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("Load error =\n%v\nwant\n%s", err, want)
	}
}

func TestTLSNoneLoopback(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:143", true},
		{"127.0.0.2", true},
		{"[::1]:143", true},
		{"localhost:1143", true},
		{"LOCALHOST", true},
		{"192.168.1.10:143", false},
		{"example.org:143", false},
		{"localhost.example.org", false},
		{"[::ffff:10.0.0.1]:143", false},
	} {
		body := edit(t, `addr = "imap.example.jp"`, fmt.Sprintf("addr = %q\ntls = \"none\"", tt.addr))
		_, err := Load(setup(t, body), LoadOptions{})
		if (err == nil) != tt.ok {
			t.Errorf("tls none to %q: Load = %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
	c := good(t, edit(t, `addr = "imap.example.jp"`, "addr = \"127.0.0.1\"\ntls = \"none\""), LoadOptions{})
	if got := c.IMAP.Addr.String(); got != "127.0.0.1:143" {
		t.Errorf("addr = %q, want port 143 for tls none", got)
	}
}

func TestScheduleTimeZone(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC) // 09:00 in Tokyo
	for _, tt := range []struct {
		spec string
		want time.Time
	}{
		{"30 8 * * 1-5", time.Date(2025, 6, 3, 8, 30, 0, 0, tokyo)},
		{"CRON_TZ=UTC 30 8 * * 1-5", time.Date(2025, 6, 2, 8, 30, 0, 0, time.UTC)},
		{"TZ=UTC 30 8 * * 1-5", time.Date(2025, 6, 2, 8, 30, 0, 0, time.UTC)},
		{"@daily", time.Date(2025, 6, 3, 0, 0, 0, 0, tokyo)},
		{"@every 10m", monday.Add(10 * time.Minute)},
	} {
		s, err := ParseSchedule(tt.spec)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.spec, err)
			continue
		}
		if got := s.Next(monday); !got.Equal(tt.want) {
			t.Errorf("ParseSchedule(%q).Next(%v) = %v, want %v", tt.spec, monday, got, tt.want)
		}
		if s.String() != tt.spec {
			t.Errorf("ParseSchedule(%q).String() = %q, want the spec as written", tt.spec, s.String())
		}
	}
	for _, bad := range []string{"", "30 8 * *", "CRON_TZ=Mars/Base 30 8 * * *", "* * * * * *"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) = nil error, want one", bad)
		}
	}
}

func TestSecrets(t *testing.T) {
	t.Run("credentials directory, default name", func(t *testing.T) {
		creds := t.TempDir()
		writeFile(t, filepath.Join(creds, "imap-password"), "from-systemd\n", 0o400)
		body := edit(t, `password_file = "imap.pass"`, ``)
		env := map[string]string{"CREDENTIALS_DIRECTORY": creds}
		c := good(t, body, LoadOptions{Getenv: func(k string) string { return env[k] }})
		if got := c.IMAP.Password.Reveal(); got != "from-systemd" {
			t.Errorf("password = %q, want the credential", got)
		}
	})
	t.Run("credentials directory, named", func(t *testing.T) {
		creds := t.TempDir()
		writeFile(t, filepath.Join(creds, "keiyaku-imap"), "named\r\n", 0o400)
		body := edit(t, `password_file = "imap.pass"`, `password_file = "cred:keiyaku-imap"`)
		c := good(t, body, LoadOptions{Getenv: func(k string) string {
			if k == "CREDENTIALS_DIRECTORY" {
				return creds
			}
			return ""
		}})
		if got := c.IMAP.Password.Reveal(); got != "named" {
			t.Errorf("password = %q, want the named credential, CRLF trimmed", got)
		}
		if c.IMAP.PasswordFile != filepath.Join(creds, "keiyaku-imap") {
			t.Errorf("PasswordFile = %q, want resolved to the credential", c.IMAP.PasswordFile)
		}
	})
	t.Run("absolute file", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "pw")
		writeFile(t, other, "abs", 0o600)
		c := good(t, edit(t, `password_file = "imap.pass"`, fmt.Sprintf("password_file = %q", other)), LoadOptions{})
		if c.IMAP.Password.Reveal() != "abs" {
			t.Errorf("password = %q", c.IMAP.Password.Reveal())
		}
	})
	t.Run("group readable warns", func(t *testing.T) {
		path := setup(t, base)
		if err := os.Chmod(filepath.Join(filepath.Dir(path), "imap.pass"), 0o640); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Warnings) != 1 || c.Warnings[0].Line != 8 || !strings.Contains(c.Warnings[0].Msg, "readable by its group") {
			t.Errorf("Warnings = %v, want one at line 8 about the group", c.Warnings)
		}
	})
	t.Run("world readable refused", func(t *testing.T) {
		path := setup(t, base)
		if err := os.Chmod(filepath.Join(filepath.Dir(path), "imap.pass"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), ":8: imap.password_file: ") || !strings.Contains(err.Error(), "readable by everyone") {
			t.Errorf("Load = %v, want an error at line 8 about the mode", err)
		}
	})
	t.Run("oauth2 client credentials", func(t *testing.T) {
		creds := t.TempDir()
		writeFile(t, filepath.Join(creds, "imap-oauth2-client-secret"), "cs", 0o400)
		body := edit(t, `password_file = "imap.pass"`, `auth = "xoauth2"`) +
			"[imap.oauth2]\ntoken_url = \"https://login.example/token\"\nclient_id = \"app\"\nscope = \"https://outlook.office365.com/.default\"\n"
		c := good(t, body, LoadOptions{Getenv: func(k string) string {
			if k == "CREDENTIALS_DIRECTORY" {
				return creds
			}
			return ""
		}})
		if c.IMAP.OAuth2.ClientSecret.Reveal() != "cs" || len(c.IMAP.OAuth2.Scope) != 1 {
			t.Errorf("oauth2 = %+v", c.IMAP.OAuth2)
		}
	})
	t.Run("oauth2 without a token", func(t *testing.T) {
		body := edit(t, `password_file = "imap.pass"`, `auth = "oauthbearer"`)
		_, err := Load(setup(t, body), LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), "imap.oauth2.token_file: required") {
			t.Errorf("Load = %v, want token_file required", err)
		}
	})
}

func TestSecretNeverPrinted(t *testing.T) {
	const pw = "hunter2-認証"
	c := Default()
	c.IMAP.Password = NewSecret(pw)
	c.SMTP.OAuth2.Token = NewSecret(pw)
	s := c.IMAP.Password
	var out bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		fmt.Fprintf(&out, f+"\n", s)
		fmt.Fprintf(&out, f+"\n", c)
		fmt.Fprintf(&out, f+"\n", &c)
	}
	fmt.Fprintln(&out, s, c)
	slog.New(slog.NewTextHandler(&out, nil)).Info("cfg", "secret", s, "config", c, "ptr", &c)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("cfg", "secret", s, "config", c, "ptr", &c)
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	if strings.Contains(out.String(), pw) || strings.Contains(out.String(), fmt.Sprintf("%x", pw)) {
		t.Errorf("secret printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "<secret>") {
		t.Errorf("no placeholder printed:\n%s", out.String())
	}
	if s.Reveal() != pw {
		t.Errorf("Reveal = %q, want %q", s.Reveal(), pw)
	}
}

func TestValues(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Size
	}{{"10MiB", 10 << 20}, {"512KiB", 512 << 10}, {"1 GiB", 1 << 30}, {"10MB", 10e6}, {"4096", 4096}, {"12B", 12}} {
		if got, err := ParseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "-1", "10 megs", "1.5MiB", "99999999999GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = nil error, want one", bad)
		}
	}
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{{"90d", 90 * 24 * time.Hour}, {"2160h", 2160 * time.Hour}, {"1h30m", 90 * time.Minute}, {"0s", 0}} {
		if got, err := parseDuration(tt.in); err != nil || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
	body := edit(t, `dir = "state"`, "dir = \"state\"\nretention = \"2160h\"") +
		"[imap]\n" // a duplicate table is a syntax error: make sure it is reported, not panicking
	if _, err := Load(setup(t, body), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("duplicate table: Load = %v, want a syntax error", err)
	}
	c := good(t, edit(t, `preset = "shimane"`, ``)+
		"[policy]\nname = \"hiroshima\"\nversion = \"2025-04\"\norderers = [\"広島県知事\"]\nworks_categories = [\"契約保証\", \"前払金保証\"]\nservices_categories = [\"前払金保証\"]\nstart_date = \"2024-04-01\"\ndate_basis = \"入札公告日\"\nexclude_change_contracts = true\n"+
		"[metrics]\naddr = \"[::1]:9465\"\n[sandbox]\nmemory_limit = 268435456\n", LoadOptions{})
	if !c.Policy.Inline() || c.Policy.StartDate != (Date{2024, 4, 1}) || c.Sandbox.MemoryLimit != 256<<20 || c.Metrics.Addr.String() != "[::1]:9465" {
		t.Errorf("policy %+v, sandbox %+v, metrics %v", c.Policy, c.Sandbox, c.Metrics.Addr)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"), LoadOptions{})
	var errs *Errors
	if err == nil || errors.As(err, &errs) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a plain not-exist error", err)
	}
}

func TestInlineTableLines(t *testing.T) {
	body := edit(t, `password_file = "imap.pass"`, "auth = \"xoauth2\"\noauth2 = { token_url = \"ftp://x\",\n  client_id = 5 }")
	_, err := Load(setup(t, body), LoadOptions{})
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load = %v, want *Errors", err)
	}
	for _, e := range errs.List {
		if e.Line < 8 {
			t.Errorf("error %q: want a line inside the inline table (8 or later)", e.Error())
		}
	}
}

// FuzzLoad: whatever the file holds, Load reports errors and never panics.
func FuzzLoad(f *testing.F) {
	f.Add(base)
	if src, err := os.ReadFile("../deploy/config.example.toml"); err == nil {
		f.Add(string(src))
	}
	f.Add("[imap]\naddr = \"[::1\"\n[[smtp]]\nx = 1\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src string) {
		c, err := load(filepath.Join(dir, "config.toml"), src, LoadOptions{})
		if (c == nil) == (err == nil) {
			t.Fatalf("load = %v, %v: want exactly one", c, err)
		}
	})
}

// TestAuthDefaults: where the server writes Authentication-Results, forged senders are not
// answered unless the admin says so explicitly.
func TestAuthDefaults(t *testing.T) {
	tests := []struct {
		name, reply  string
		require, can bool
	}{
		{"nothing configured", "", false, false},
		{"authserv_id", "authserv_id = \"mx.example\"\n", true, true},
		{"trusted relays", "trusted_relays = [\"10.20.0.0/16\", \"192.0.2.25\"]\n", true, true},
		{"authserv_id, answering everyone on purpose", "authserv_id = \"mx.example\"\nrequire_auth_results = false\n", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good(t, base+"[reply]\n"+tt.reply, LoadOptions{})
			if c.Reply.RequireAuthResults != tt.require || c.Reply.Authenticates() != tt.can {
				t.Errorf("require_auth_results = %v, Authenticates() = %v, want %v, %v", c.Reply.RequireAuthResults, c.Reply.Authenticates(), tt.require, tt.can)
			}
			// check and status say plainly what the choice means.
			trust := c.TrustSummary()
			if warned := strings.Contains(trust, "WARNING"); warned != (!tt.require) {
				t.Errorf("trust summary warns %v, want %v: %s", warned, !tt.require, trust)
			}
			if tt.can != strings.Contains(trust, "need an authenticated clerk") {
				t.Errorf("trust summary on decisions: %s", trust)
			}
		})
	}
	c := good(t, base+"[reply]\ntrusted_relays = [\"10.20.0.0/16\", \"192.0.2.25\"]\n", LoadOptions{})
	if got := fmt.Sprint(c.Reply.TrustedRelayPrefixes); got != "[10.20.0.0/16 192.0.2.25/32]" {
		t.Errorf("trusted relays = %s", got)
	}
	if d := Default().Digest; !d.DecideByMail || d.TokenLifetime != 14*24*time.Hour {
		t.Errorf("digest defaults: decide_by_mail %v, token_lifetime %v", d.DecideByMail, d.TokenLifetime)
	}
}

// TestDigestLinks: an inquiry address inside the agency (its domain or a subdomain) and an
// https D-Sure page are taken as written.
func TestDigestLinks(t *testing.T) {
	c := good(t, edit(t, `to = ["k@example.jp"]`, `to = ["k@example.jp"]`+"\n"+`inquiries_to = "Keiyaku <keiyaku@doboku.example.jp>"`+"\n"+
		`dsure_url = " https://d-sure.example/login "`), LoadOptions{})
	if c.Digest.InquiriesTo.Address != "keiyaku@doboku.example.jp" || c.Digest.DSureURL != "https://d-sure.example/login" {
		t.Errorf("inquiries_to %v, dsure_url %q", c.Digest.InquiriesTo, c.Digest.DSureURL)
	}
}

// TestOptionalBool: an optional switch (nil: decided at run time) takes true and false.
func TestOptionalBool(t *testing.T) {
	for _, v := range []bool{true, false} {
		c := good(t, base+fmt.Sprintf("[sandbox]\nocr = %v\n", v), LoadOptions{})
		if c.Sandbox.OCR == nil || *c.Sandbox.OCR != v {
			t.Errorf("ocr = %v decoded as %v", v, c.Sandbox.OCR)
		}
	}
	if c := good(t, base, LoadOptions{}); c.Sandbox.OCR != nil {
		t.Errorf("ocr unset decoded as %v, want nil", *c.Sandbox.OCR)
	}
}

// TestOAuthCredentialsByHand is `check` run from an admin's shell ($CREDENTIALS_DIRECTORY
// unset) on an OAuth 2.0 config whose secrets systemd supplies: the file is good, and the
// warning says where the service will get each secret. The daemon (no DeferCredentials)
// still refuses to start without them, and a credentials directory that lacks the file is
// an error in both.
func TestOAuthCredentialsByHand(t *testing.T) {
	const clientCreds = "token_url = \"https://login.example/token\"\nclient_id = \"app\"\n"
	oauth := func(keys string) string {
		return edit(t, `password_file = "imap.pass"`, `auth = "xoauth2"`) + "[imap.oauth2]\n" + keys
	}
	credDir := func(dir string) func(string) string {
		return func(k string) string {
			if k == "CREDENTIALS_DIRECTORY" {
				return dir
			}
			return ""
		}
	}
	empty := t.TempDir()
	tests := []struct {
		name  string
		body  string
		opts  LoadOptions
		warn  string // in the one warning, when the file is good
		error string // in the error, when it is not
	}{
		{"named token", oauth("token_file = \"cred:m365-token\"\n"), LoadOptions{DeferCredentials: true},
			"LoadCredential=m365-token:", ""},
		{"named client secret", oauth(clientCreds + "client_secret_file = \"cred:m365-secret\"\n"), LoadOptions{DeferCredentials: true},
			"LoadCredential=m365-secret:", ""},
		{"default client secret", oauth(clientCreds), LoadOptions{DeferCredentials: true},
			"LoadCredential=imap-oauth2-client-secret:", ""},
		{"default token", oauth(""), LoadOptions{DeferCredentials: true},
			"LoadCredential=imap-oauth2-token:", ""},
		{"named client secret without client_id", oauth("token_url = \"https://login.example/token\"\nclient_secret_file = \"cred:s\"\n"), LoadOptions{DeferCredentials: true},
			"", "imap.oauth2.client_id: required"},
		{"daemon without the credential", oauth(clientCreds), LoadOptions{},
			"", "imap.oauth2.token_file: required"},
		{"daemon, named, no directory", oauth("token_file = \"cred:m365-token\"\n"), LoadOptions{},
			"", "$CREDENTIALS_DIRECTORY is not set"},
		{"directory without the file", oauth("token_file = \"cred:m365-token\"\n"), LoadOptions{Getenv: credDir(empty), DeferCredentials: false},
			"", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(setup(t, tt.body), tt.opts)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("Load = %v, want an error with %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Msg, tt.warn) {
				t.Errorf("Warnings = %v, want one with %q", c.Warnings, tt.warn)
			}
		})
	}
}

// TestOAuthLoginAndServiceAccount: the keys oauth-login and a Google service account use.
func TestOAuthLoginAndServiceAccount(t *testing.T) {
	oauth := func(keys string) string {
		return edit(t, `password_file = "imap.pass"`, `auth = "xoauth2"`) + "[imap.oauth2]\n" + keys
	}
	const google = "token_url = \"https://oauth2.googleapis.com/token\"\nclient_id = \"app\"\nscope = [\"https://mail.google.com/\"]\n"
	const saKey = `{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\n","token_uri":"https://oauth2.googleapis.com/token"}`
	tests := []struct {
		name  string
		body  string
		files map[string]string // beside the config, 0600
		opts  LoadOptions
		error string // "" good
		check func(t *testing.T, c *Config)
	}{
		{"token file to be written by oauth-login", oauth(google + "token_file = \"imap-token\"\n"), nil, LoadOptions{OAuthLogin: "imap"}, "",
			func(t *testing.T, c *Config) {
				if !filepath.IsAbs(c.IMAP.OAuth2.TokenFile) || filepath.Base(c.IMAP.OAuth2.TokenFile) != "imap-token" || !c.IMAP.OAuth2.Token.IsZero() {
					t.Errorf("token_file %q, token read %v", c.IMAP.OAuth2.TokenFile, !c.IMAP.OAuth2.Token.IsZero())
				}
			}},
		{"the same file missing for the daemon", oauth(google + "token_file = \"imap-token\"\n"), nil, LoadOptions{}, "imap.oauth2.token_file: open", nil},
		{"auth_url http to a stranger", oauth(google + "token_file = \"imap-token\"\nauth_url = \"http://idp.example/auth\"\n"), map[string]string{"imap-token": "{}"}, LoadOptions{},
			"imap.oauth2.auth_url: bad URL", nil},
		{"service account, subject defaults to the username", oauth("service_account_file = \"sa.json\"\nscope = [\"https://mail.google.com/\"]\n"),
			map[string]string{"sa.json": saKey}, LoadOptions{}, "",
			func(t *testing.T, c *Config) {
				if c.IMAP.OAuth2.Subject != c.IMAP.Username || c.IMAP.OAuth2.ServiceAccount.IsZero() {
					t.Errorf("subject %q (username %q), key read %v", c.IMAP.OAuth2.Subject, c.IMAP.Username, !c.IMAP.OAuth2.ServiceAccount.IsZero())
				}
			}},
		{"service account without scope", oauth("service_account_file = \"sa.json\"\n"), map[string]string{"sa.json": saKey}, LoadOptions{},
			"imap.oauth2.scope: required", nil},
		{"service account beside a client", oauth(google + "service_account_file = \"sa.json\"\n"), map[string]string{"sa.json": saKey}, LoadOptions{},
			"imap.oauth2.client_id: is not used with service_account_file", nil},
		{"a user's credentials file for a service account key", oauth("service_account_file = \"sa.json\"\nscope = [\"x\"]\n"),
			map[string]string{"sa.json": `{"type":"authorized_user"}`}, LoadOptions{}, `want "service_account"`, nil},
		{"subject without a service account", oauth(google + "token_file = \"imap-token\"\nsubject = \"a@b.example\"\n"), map[string]string{"imap-token": "{}"}, LoadOptions{},
			"imap.oauth2.subject: is only for service_account_file", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := setup(t, tt.body)
			for name, content := range tt.files {
				writeFile(t, filepath.Join(filepath.Dir(path), name), content, 0o600)
			}
			c, err := Load(path, tt.opts)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("Load = %v, want an error with %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

// TestOCRWanted: the config's word wins and then the tools are not looked for (the look
// runs tesseract); without it, OCR is on where they are installed.
func TestOCRWanted(t *testing.T) {
	on, off := true, false
	for _, c := range []struct {
		ocr             *bool
		installed, want bool
		wantLooked      bool
	}{
		{nil, true, true, true},
		{nil, false, false, true},
		{&on, false, true, false},
		{&off, true, false, false},
	} {
		looked := false
		got := Sandbox{OCR: c.ocr}.OCRWanted(func() bool { looked = true; return c.installed })
		if got != c.want || looked != c.wantLooked {
			t.Errorf("OCR %v, installed %v: wanted %v, looked %v; want %v, %v", c.ocr, c.installed, got, looked, c.want, c.wantLooked)
		}
	}
}
