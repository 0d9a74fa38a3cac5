package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logBuffer collects the daemon's log lines from its goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

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

// TestReloadWeb: a SIGHUP applies a changed [web]: the page moves to its new address (the
// old one stops answering), an address that cannot be bound leaves it where it was, and an
// empty addr stops it.
func TestReloadWeb(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "imap-password")
	if err := os.WriteFile(pw, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.toml")
	write := func(addr string) {
		t.Helper()
		web := ""
		if addr != "" {
			web = fmt.Sprintf("[web]\naddr = %q\nurl = \"http://127.0.0.1:8465/\"\n", addr)
		}
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

%s`, pw, filepath.Join(dir, "state"), web)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, b := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	write(a)
	var logs logBuffer
	reload := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: cfgPath, Getenv: func(string) string { return "" }, Logs: &logs, Reload: reload})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	waitUntil(t, "the page on "+a, func() bool { return signinOver(a) == http.StatusOK })

	reloaded := func(n int) {
		t.Helper()
		reload <- syscall.SIGHUP
		waitUntil(t, fmt.Sprintf("reload %d", n), func() bool { return strings.Count(logs.String(), "configuration reloaded") == n })
	}
	// Moved: the new address answers, the old one is gone, socket file and all.
	write(b)
	reloaded(1)
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
	write(filepath.Join(dir, "no-such-dir", "c.sock"))
	reloaded(2)
	if !strings.Contains(logs.String(), "reloaded [web] settings could not be applied") || !strings.Contains(logs.String(), "serving="+b) {
		t.Errorf("no error for the unbindable address in the log:\n%s", logs.String())
	}
	if got := signinOver(b); got != http.StatusOK {
		t.Errorf("after a refused move: %d on %s, want the page still there", got, b)
	}
	// Off.
	write("")
	reloaded(3)
	if got := signinOver(b); got != 0 {
		t.Errorf("after [web] addr was emptied: %d on %s, want nothing", got, b)
	}
	// And on again, at the first address.
	write(a)
	reloaded(4)
	if got := signinOver(a); got != http.StatusOK {
		t.Errorf("after [web] addr was set again: %d on %s, want 200", got, a)
	}
}
