package outbox

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/config"
)

// Environment of the child process of TestSIGKILL.
const (
	childDBEnv   = "OUTBOX_TEST_CHILD_DB"
	childAddrEnv = "OUTBOX_TEST_CHILD_ADDR"
)

// TestSIGKILLChild is the child of TestSIGKILL: the daemon's outbox, Open and Run against
// the peer until it is killed. It is skipped in a normal run.
func TestSIGKILLChild(t *testing.T) {
	path, addr := os.Getenv(childDBEnv), os.Getenv(childAddrEnv)
	if path == "" {
		t.Skip("only run as the child of TestSIGKILL")
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	ob, err := Open(db, Options{SMTP: config.SMTP{Addr: config.HostPort{Host: host, Port: port}, TLS: config.TLSNone,
		Timeout: 5 * time.Second}, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		HelloName: "child.example.jp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSIGKILL queues 200 replies and runs the outbox in a child process that is killed with
// SIGKILL at random moments and restarted until the outbox is empty. Every reply must arrive;
// a reply may arrive twice only when the kill fell between the server's 250 and the commit
// that records it, and those are counted.
func TestSIGKILL(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 40
	}
	p := newPeer(t, peerOptions{})
	// A slower server spreads the run over more kills.
	p.set(func(p *peer) { p.mailDelay = 2 * time.Millisecond })
	path := filepath.Join(t.TempDir(), "state.db")
	db := openDB(t, path)
	ob, err := Open(db, Options{SMTP: smtpFor(t, p, "")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	err = db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			m := reply(t, i, "contractor@example.jp")
			if _, err := ob.Enqueue(tx, m); err != nil {
				return err
			}
			want[trimID(header(t, m.Raw).Get("Message-Id"))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	pending := func() int {
		db := openDB(t, path)
		defer db.Close()
		var n int
		if err := db.View(func(tx *bolt.Tx) (err error) { n, err = ob.Pending(tx); return err }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	deadline := time.Now().Add(90 * time.Second)
	for left := n; left > 0; left = pending() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages still pending after %d kills", left, n, kills)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLChild$")
		cmd.Env = append(os.Environ(), childDBEnv+"="+path, childAddrEnv+"="+p.addr)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Random moments, mostly while it sends; after many rounds, give it time to finish.
		wait := time.Duration(10+rng.IntN(90)) * time.Millisecond
		if kills >= 100 {
			wait = 3 * time.Second
		}
		time.Sleep(wait)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("child ended by itself: %v", err)
		}
		kills++
	}

	got := map[string]int{}
	for _, d := range p.deliveries() {
		got[trimID(header(t, d.Data).Get("Message-Id"))]++
	}
	extra, twice := 0, 0
	for id := range want {
		switch c := got[id]; {
		case c == 0:
			t.Errorf("message %s never arrived", id)
		case c > 1:
			twice++
			extra += c - 1
		}
	}
	for id := range got {
		if !want[id] {
			t.Errorf("unexpected message %s arrived", id)
		}
	}
	// One message is in flight at a time, so a kill can cause at most one extra copy: more
	// copies than kills would be a bug, not the window.
	if extra > kills {
		t.Errorf("%d extra copies from %d kills", extra, kills)
	}
	t.Logf("%d messages, %d SIGKILLs: every message arrived; %d arrived more than once (%d extra copies), "+
		"each from a kill between the end of DATA and the commit that records it", n, kills, twice, extra)
}
