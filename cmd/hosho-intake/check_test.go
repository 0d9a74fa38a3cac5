package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"hosho-intake/intake/dovecottest"
)

func TestCheck(t *testing.T) {
	example := filepath.Join("..", "..", "deploy", "config.example.toml")
	var out, errOut bytes.Buffer
	// From an admin's shell: the credentials systemd gives the service are only noted.
	if code := runCode(context.Background(), env{args: []string{"check", "--config", example}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("check of the example config: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "preset shimane") || !strings.Contains(out.String(), "not checked here") {
		t.Errorf("summary:\n%s", out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[agency]\npreset = \"shimane\"\nnmae = \"x\"\n\n[imap]\ntls = \"none\"\naddr = \"imap.example.jp:143\"\nschedule = \"every five minutes\"\n"), 0o600)
	out.Reset()
	errOut.Reset()
	if code := runCode(context.Background(), env{args: []string{"check", "--config", bad}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 1 {
		t.Fatalf("check of a bad config: exit %d, want 1", code)
	}
	for _, want := range []string{bad + ":3: agency.nmae", bad + ":6: imap.tls", bad + ":8: imap.schedule"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("errors lack %q:\n%s", want, errOut.String())
		}
	}
}

// TestCheckConnect is `check --connect` against Dovecot and the SMTP peer: a good config
// passes every step, and each way an admin gets it wrong fails the step it belongs to, in
// the server's words, with exit 1.
func TestCheckConnect(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	good := writeConfigSMTP(t, srv, "implicit", filepath.Join(t.TempDir(), "state"), peer.addr)
	srv.Append(t, "INBOX", trustMail(t, "ar1@kensetsu.example", "山田 <"+contractor+">", "提出", "本文", nil,
		"Authentication-Results: mx.pref.shimane.example; dmarc=pass header.from=kensetsu.example"))
	variant := func(t *testing.T, edit func(string) string) string {
		b, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(filepath.Dir(good), strings.ReplaceAll(t.Name(), "/", "_")+".toml")
		if err := os.WriteFile(p, []byte(edit(string(b))), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		edit     func(string) string
		code     int
		failStep string // the step that must fail; "" when none
		says     string
	}{
		{"good, with the authserv-id the server writes", func(s string) string {
			return s + "\n[reply]\nauthserv_id = \"mx.pref.shimane.example\"\n"
		}, 0, "", "ok   smtp: "},
		{"another authserv-id than the server writes", func(s string) string {
			return s + "\n[reply]\nauthserv_id = \"mx.other.example\"\n"
		}, 1, "authentication-results", "it has: mx.pref.shimane.example"},
		{"wrong password", func(s string) string {
			pw := filepath.Join(filepath.Dir(good), "wrong-password")
			os.WriteFile(pw, []byte("not-it\n"), 0o600)
			return replaceLine(s, "password_file = ", "password_file = \""+pw+"\"")
		}, 1, "imap", "AUTHENTICATIONFAILED"},
		{"empty password file", func(s string) string {
			pw := filepath.Join(filepath.Dir(good), "empty-password")
			os.WriteFile(pw, nil, 0o600)
			return replaceLine(s, "password_file = ", "password_file = \""+pw+"\"")
		}, 1, "", "empty-password is empty"}, // refused with the config, before any server
		{"STARTTLS on the implicit-TLS port", func(s string) string {
			return strings.Replace(s, "tls = \"implicit\"", "tls = \"starttls\"", 1)
		}, 1, "imap", ""},
		{"missing mailbox", func(s string) string {
			return strings.Replace(s, "mailbox = \"INBOX\"", "mailbox = \"受信箱\"", 1)
		}, 1, "mailbox", "受信箱"},
		{"implicit TLS to a plain relay", func(s string) string {
			return replaceLine(s, "tls = \"none\"", "tls = \"implicit\"")
		}, 1, "smtp", "tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := variant(t, tt.edit)
			var out, errOut bytes.Buffer
			code := runCode(context.Background(), env{args: []string{"check", "--connect", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut})
			if code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s%s", code, tt.code, out.String(), errOut.String())
			}
			fails := regexp.MustCompile(`(?m)^FAIL ([a-z-]+):`).FindAllStringSubmatch(out.String(), -1)
			if tt.failStep == "" && len(fails) > 0 || tt.failStep != "" && (len(fails) != 1 || fails[0][1] != tt.failStep) {
				t.Errorf("failed steps %v, want only %q:\n%s", fails, tt.failStep, out.String())
			}
			if !strings.Contains(out.String()+errOut.String(), tt.says) {
				t.Errorf("output does not say %q:\n%s%s", tt.says, out.String(), errOut.String())
			}
			if strings.Contains(out.String()+errOut.String(), srv.Password) {
				t.Error("check --connect printed the password")
			}
		})
	}
}

// replaceLine replaces the first line of s that starts with prefix.
func replaceLine(s, prefix, with string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = with
			return strings.Join(lines, "\n")
		}
	}
	return s
}

// TestCheckOCR: `check` says whether OCR will run; OCR asked for by the config but not
// installed is an error, left to the default it is a note.
func TestCheckOCR(t *testing.T) {
	example := filepath.Join("..", "..", "deploy", "config.example.toml")
	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	on := filepath.Join(t.TempDir(), "ocr.toml")
	if err := os.WriteFile(on, bytes.Replace(b, []byte("[sandbox]\n"), []byte("[sandbox]\nocr = true\n"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"check", "--config", example}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 ||
		!strings.Contains(out.String(), "ocr       tesseract") {
		t.Errorf("check with tesseract installed: exit %d:\n%s%s", code, out.String(), errOut.String())
	}
	t.Setenv("PATH", t.TempDir()) // no tesseract
	out.Reset()
	errOut.Reset()
	if code := runCode(context.Background(), env{args: []string{"check", "--config", on}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 1 ||
		!strings.Contains(errOut.String(), "sandbox.ocr = true, but") {
		t.Errorf("check with ocr = true and no tesseract: exit %d:\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := runCode(context.Background(), env{args: []string{"check", "--config", example}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 ||
		!strings.Contains(out.String(), "ocr       off:") {
		t.Errorf("check with OCR left to the default and no tesseract: exit %d:\n%s", code, out.String())
	}
}

// TestCheckOAuthByHand: an admin runs `check` from a shell on a Microsoft 365 config whose
// client secret systemd supplies. By hand the file is good and the summary says where the
// service gets the secret; --connect needs the secret itself and says how to give it; with
// CREDENTIALS_DIRECTORY pointing at the files, as the README shows, the secret is read.
func TestCheckOAuthByHand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := "[agency]\npreset = \"shimane\"\nname = \"島根県\"\n\n[imap]\naddr = \"127.0.0.1:1\"\nusername = \"u@example.jp\"\nauth = \"xoauth2\"\n" +
		"[imap.oauth2]\ntoken_url = \"https://login.example/token\"\nclient_id = \"app\"\n\n" +
		"[smtp]\naddr = \"127.0.0.1:1\"\nfrom = \"u@example.jp\"\n\n[digest]\nto = [\"k@example.jp\"]\n\n[state]\ndir = \"state\"\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(getenv func(string) string, args ...string) (int, string) {
		var out bytes.Buffer
		code := runCode(context.Background(), env{args: append([]string{"check"}, args...), getenv: getenv, stdout: &out, stderr: &out})
		return code, out.String()
	}
	code, out := check(noEnv, "--config", cfg)
	if code != 0 || !strings.Contains(out, `systemd credential "imap-oauth2-client-secret" not checked here`) ||
		!strings.Contains(out, "LoadCredential=imap-oauth2-client-secret:/etc/hosho-intake/imap-oauth2-client-secret") {
		t.Errorf("check by hand: exit %d, want 0 and where the secret comes from:\n%s", code, out)
	}
	code, out = check(noEnv, "--connect", "--config", cfg)
	if code != 1 || !strings.Contains(out, "imap.oauth2.token_file: required") {
		t.Errorf("check --connect without the secret: exit %d, want 1 naming the key:\n%s", code, out)
	}
	creds := filepath.Join(dir, "creds")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "imap-oauth2-client-secret"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withCreds := func(k string) string {
		if k == "CREDENTIALS_DIRECTORY" {
			return creds
		}
		return ""
	}
	code, out = check(withCreds, "--config", cfg)
	if code != 0 || strings.Contains(out, "not checked here") || strings.Contains(out, "s3cret") {
		t.Errorf("check with CREDENTIALS_DIRECTORY: exit %d, want 0, the secret read and not shown:\n%s", code, out)
	}
}

// TestCheckConnectMicrosoft365: the newest mail carries Exchange Online's
// Authentication-Results, which have no authserv-id. Without authserv_id, check says that
// such fields authenticate no one; with an id copied from a Microsoft host name the step
// fails and shows that the field has none.
func TestCheckConnectMicrosoft365(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	good := writeConfigSMTP(t, srv, "implicit", filepath.Join(t.TempDir(), "state"), peer.addr)
	srv.Append(t, "INBOX", trustMail(t, "m365@kensetsu.example", "山田 <"+contractor+">", "提出", "本文", nil,
		"Received: from TYWPR01MB1234.jpnprd01.prod.outlook.com (2603:1096:400:1::5) by OS3PR01MB5678.jpnprd01.prod.outlook.com with HTTPS; Mon, 1 Dec 2025 00:00:03 +0000",
		"Authentication-Results: spf=pass (sender IP is 203.0.113.5) smtp.mailfrom=kensetsu.example; dkim=pass (signature was verified) header.d=kensetsu.example;dmarc=pass action=none header.from=kensetsu.example;compauth=pass reason=100"))
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		reply string
		code  int
		says  string
	}{
		{"", 0, "ok   authentication-results: the newest message's Authentication-Results has no authserv-id (Microsoft 365 writes them so)"},
		{"\n[reply]\nauthserv_id = \"protection.outlook.com\"\n", 1, "FAIL authentication-results: the newest message has no Authentication-Results of protection.outlook.com (it has: (no authserv-id))"},
	} {
		cfg := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(cfg, append(slices.Clone(b), tt.reply...), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code := runCode(context.Background(), env{args: []string{"check", "--connect", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &out})
		if code != tt.code || !strings.Contains(out.String(), tt.says) {
			t.Errorf("check --connect with %q: exit %d, want %d and %q:\n%s", tt.reply, code, tt.code, tt.says, out.String())
		}
	}
}

// TestCheckUnitCredentials: check compares the credentials a config takes with the
// LoadCredential= lines of the installed unit that runs it (the shipped units, their paths
// moved into a temporary directory, and drop-ins as `systemctl edit` writes them).
func TestCheckUnitCredentials(t *testing.T) {
	tmp := t.TempDir()
	etc, lib, conf := filepath.Join(tmp, "etc"), filepath.Join(tmp, "lib"), filepath.Join(tmp, "conf")
	write := func(path, text string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"hosho-intake.service", "hosho-intake@.service"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", u))
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(lib, u), strings.ReplaceAll(string(b), "/etc/hosho-intake/", conf+"/"), 0o644)
	}
	const head = "[agency]\npreset = \"shimane\"\nname = \"島根県\"\n\n[smtp]\naddr = \"127.0.0.1:1\"\nfrom = \"u@example.jp\"\n\n[digest]\nto = [\"k@example.jp\"]\n\n[state]\ndir = \"state\"\n\n"
	single := filepath.Join(conf, "config.toml")
	write(single, head+"[imap]\naddr = \"127.0.0.1:1\"\nusername = \"u@example.jp\"\nauth = \"xoauth2\"\n[imap.oauth2]\ntoken_url = \"https://login.example/token\"\nclient_id = \"app\"\nclient_secret_file = \"cred:oauth2-client-secret\"\n", 0o600)
	instance := filepath.Join(conf, "keiyaku.toml")
	write(instance, head+"[imap]\naddr = \"127.0.0.1:1\"\nusername = \"u@example.jp\"\n", 0o600)
	other := filepath.Join(tmp, "elsewhere.toml")
	write(other, head+"[imap]\naddr = \"127.0.0.1:1\"\nusername = \"u@example.jp\"\npassword_file = \"cred:imap-password\"\n", 0o600)

	check := func(cfg string) (int, string) {
		var out bytes.Buffer
		code := runCode(context.Background(), env{args: []string{"check", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &out, unitDirs: []string{etc, lib}})
		return code, out.String()
	}
	dropin := filepath.Join(etc, "hosho-intake.service.d", "override.conf")
	secret := filepath.Join(conf, "oauth2-client-secret")
	steps := []struct {
		name   string
		before func()
		cfg    string
		code   int
		says   string
	}{
		{"the shipped unit lacks the OAuth secret", func() {}, single, 1,
			"FAIL credential oauth2-client-secret (imap.oauth2.client_secret_file): hosho-intake.service has no LoadCredential=oauth2-client-secret"},
		{"a drop-in names a file that is not there", func() {
			write(dropin, "[Service]\nLoadCredential=oauth2-client-secret:"+secret+"\n", 0o644)
		}, single, 1, "FAIL credential oauth2-client-secret (imap.oauth2.client_secret_file): LoadCredential=oauth2-client-secret:" + secret + ", and that file does not exist"},
		{"the file is there", func() { write(secret, "s3cret\n", 0o600) }, single, 0,
			"ok   credential oauth2-client-secret (imap.oauth2.client_secret_file): the service gets it from " + secret},
		{"an emptied list, then encrypted", func() {
			write(dropin, "[Service]\nLoadCredential=\nLoadCredentialEncrypted=oauth2-client-secret:"+secret+"\n", 0o644)
		}, single, 0, "the service gets it from " + secret + " (encrypted"},
		{"a drop-in that empties the list", func() { write(dropin, "[Service]\nLoadCredential=\n", 0o644) }, single, 1,
			"has no LoadCredential=oauth2-client-secret"},
		{"the instance's unit, default credential name", func() {
			write(filepath.Join(conf, "keiyaku", "imap-password"), "pw\n", 0o600)
		}, instance, 0, "ok   credential imap-password (imap.password_file): the service gets it from " + filepath.Join(conf, "keiyaku", "imap-password")},
		{"a config no unit runs", func() {}, other, 0, "no installed hosho-intake.service or hosho-intake@NAME.service runs " + other},
	}
	for _, st := range steps {
		st.before()
		code, out := check(st.cfg)
		if code != st.code || !strings.Contains(out, st.says) {
			t.Errorf("%s: exit %d, want %d and %q:\n%s", st.name, code, st.code, st.says, out)
		}
		if strings.Contains(out, "s3cret") {
			t.Errorf("%s: check printed the secret", st.name)
		}
	}
}
