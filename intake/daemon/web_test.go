package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hosho-intake/parser/testkit"
)

// waitUntil waits for cond, failing after a minute (a bound for a stuck daemon, not a
// measure of speed).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// signinOver GETs the page's sign-in form over the unix socket at sock: its status, or 0
// when nothing answers there.
func signinOver(sock string) int {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	resp, err := c.Get("http://page/signin")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "サインイン") {
		return -resp.StatusCode
	}
	return resp.StatusCode
}

// daemonWithWeb writes a config whose [web] section is web() (regenerated on each write)
// and runs the daemon on it; write rewrites the config, reload sends a SIGHUP and waits for
// the n-th "configuration reloaded".
type daemonWithWeb struct {
	t      *testing.T
	dir    string
	cfg    string
	logs   *testkit.SyncBuffer
	reload chan os.Signal
	n      int
}

func startWithWeb(t *testing.T, web string) *daemonWithWeb {
	t.Helper()
	d := &daemonWithWeb{t: t, dir: t.TempDir(), logs: &testkit.SyncBuffer{}, reload: make(chan os.Signal, 1)}
	d.cfg = filepath.Join(d.dir, "config.toml")
	if err := os.WriteFile(filepath.Join(d.dir, "imap-password"), []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.write(web)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: d.cfg, Getenv: func(string) string { return "" }, Logs: d.logs, Reload: d.reload})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return d
}

// write rewrites the config with web as its [web] section ("" for none).
func (d *daemonWithWeb) write(web string) {
	d.t.Helper()
	cfg := fmt.Sprintf(`[agency]
preset = "shimane"
name = "島根県 土木部"
address = "denshi@pref.shimane.example"

[imap]
addr = "127.0.0.1:1"
tls = "none"
username = "agency"
password_file = %q
schedule = "0 0 1 1 *"

[smtp]
addr = "127.0.0.1:1"
tls = "none"
from = "denshi@pref.shimane.example"

[digest]
to = ["keiyaku@pref.shimane.example"]
clerks = ["keiyaku@pref.shimane.example"]

[state]
dir = %q

%s`, filepath.Join(d.dir, "imap-password"), filepath.Join(d.dir, "state"), web)
	if err := os.WriteFile(d.cfg, []byte(cfg), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemonWithWeb) reloaded() {
	d.t.Helper()
	d.n++
	d.reload <- syscall.SIGHUP
	waitUntil(d.t, fmt.Sprintf("reload %d", d.n), func() bool { return strings.Count(d.logs.String(), "configuration reloaded") == d.n })
}

func unixWeb(sock string) string {
	if sock == "" {
		return ""
	}
	return fmt.Sprintf("[web]\naddr = %q\nurl = \"http://127.0.0.1:8465/\"\n", sock)
}

// TestReloadWeb: a SIGHUP applies a changed [web]: the page moves to its new address (the
// old one stops answering), an address that cannot be bound leaves it where it was, and an
// empty addr stops it.
func TestReloadWeb(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a.sock"), filepath.Join(tmp, "b.sock")
	d := startWithWeb(t, unixWeb(a))
	waitUntil(t, "the page on "+a, func() bool { return signinOver(a) == http.StatusOK })

	// Moved: the new address answers, the old one is gone, socket file and all.
	d.write(unixWeb(b))
	d.reloaded()
	if got := signinOver(b); got != http.StatusOK {
		t.Errorf("after moving to %s: sign-in form %d there, want 200", b, got)
	}
	if got := signinOver(a); got != 0 {
		t.Errorf("after moving away from %s: %d there, want nothing", a, got)
	}
	if _, err := os.Lstat(a); !os.IsNotExist(err) {
		t.Errorf("the old socket %s is left behind: %v", a, err)
	}
	// An address that cannot be bound: the page stays where it was, and the log says why.
	d.write(unixWeb(filepath.Join(tmp, "no-such-dir", "c.sock")))
	d.reloaded()
	if !strings.Contains(d.logs.String(), "reloaded [web] settings could not be applied") || !strings.Contains(d.logs.String(), "serving="+b) {
		t.Errorf("no error for the unbindable address in the log:\n%s", d.logs.String())
	}
	if got := signinOver(b); got != http.StatusOK {
		t.Errorf("after a refused move: %d on %s, want the page still there", got, b)
	}
	// Off.
	d.write("")
	d.reloaded()
	if got := signinOver(b); got != 0 {
		t.Errorf("after [web] addr was emptied: %d on %s, want nothing", got, b)
	}
	// And on again, at the first address.
	d.write(unixWeb(a))
	d.reloaded()
	if got := signinOver(a); got != http.StatusOK {
		t.Errorf("after [web] addr was set again: %d on %s, want 200", got, a)
	}
}

// TestReloadWebTLS: a page serving TLS itself reads its certificate again on a reload (a
// renewed one is served), and keeps the one it has when the new one does not load.
func TestReloadWebTLS(t *testing.T) {
	tmp := t.TempDir()
	certFile, keyFile := filepath.Join(tmp, "page.crt"), filepath.Join(tmp, "page.key")
	roots := x509.NewCertPool()
	issue := func(serial int64) {
		t.Helper()
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "hosho-intake page"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		roots.AddCert(cert)
		kb, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	}
	// A free port of this host, taken for the config (nothing else here binds loopback ports
	// in between).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	web := fmt.Sprintf("[web]\naddr = %q\ncert_file = %q\nkey_file = %q\n", addr, certFile, keyFile)
	var d *daemonWithWeb
	served := func() (int64, int) {
		t.Helper()
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}
		resp, err := c.Get("https://" + addr + "/signin")
		if err != nil {
			return 0, 0
		}
		defer resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), resp.StatusCode
	}
	issue(1)
	d = startWithWeb(t, web)
	waitUntil(t, "the page over TLS", func() bool { _, code := served(); return code == http.StatusOK })
	if serial, _ := served(); serial != 1 {
		t.Fatalf("serving certificate %d, want 1", serial)
	}
	issue(2) // renewed
	d.reloaded()
	if serial, code := served(); serial != 2 || code != http.StatusOK {
		t.Errorf("after renewal and a reload: certificate %d (%d), want 2", serial, code)
	}
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	d.reloaded()
	if serial, code := served(); serial != 2 || code != http.StatusOK {
		t.Errorf("after a reload with a broken key: certificate %d (%d), want the page on with 2", serial, code)
	}
	if !strings.Contains(d.logs.String(), "TLS certificate") {
		t.Errorf("no error for the broken key in the log:\n%s", d.logs.String())
	}
}
