package testkit

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestSamplesPath(t *testing.T) {
	t.Setenv("HOSHO_SAMPLES", "")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := SamplesPath("eml"), filepath.Join(root, "..", "shared", "samples", "eml"); got != want {
		t.Errorf("SamplesPath(eml) = %q, want %q", got, want)
	}
	t.Setenv("HOSHO_SAMPLES", "/corpus")
	if got, want := SamplesPath("pdf"), "/corpus/pdf"; got != want {
		t.Errorf("SamplesPath(pdf) with HOSHO_SAMPLES = %q, want %q", got, want)
	}
}

// server writes size bytes to every connection.
func server(t *testing.T, size int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); c.Write(make([]byte, size)) }()
		}
	}()
	return ln.Addr().String()
}

func TestProxy(t *testing.T) {
	p := StartProxy(t, server(t, 1000))
	read := func() (int, error) {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := io.Copy(io.Discard, c)
		return int(n), err
	}
	if n, err := read(); n != 1000 || err != nil {
		t.Errorf("through the proxy: %d bytes, %v; want 1000, EOF", n, err)
	}
	p.StallAfter(100)
	if n, err := read(); n != 100 || !os.IsTimeout(err) {
		t.Errorf("stalled after 100: %d bytes, %v; want 100 and a timeout", n, err)
	}
	p.CutAfter(0)
	if n, err := read(); n != 0 || err != nil {
		t.Errorf("cut at 0: %d bytes, %v; want 0, closed", n, err)
	}
}

// TestWatchMemory watches a shell that runs two copies of this test binary, each holding
// 32 MiB of its own: the largest child's anonymous memory holds them, and the tree's PSS
// is below its summed RSS because the copies share the binary's pages.
func TestWatchMemory(t *testing.T) {
	const held = 32 << 20
	if os.Getenv("TESTKIT_MEMORY_CHILD") == "1" {
		b := make([]byte, held)
		for i := range b {
			b[i] = byte(i)
		}
		time.Sleep(time.Second) // for the watch to sample; nothing is timed
		t.Log(b[held-1])
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exe + " -test.run=^TestWatchMemory$"
	cmd := exec.Command("sh", "-c", child+" & "+child+" & wait")
	cmd.Env = append(os.Environ(), "TESTKIT_MEMORY_CHILD=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := WatchMemory(cmd.Process.Pid, 5*time.Millisecond)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	m := <-peak
	t.Log(m)
	if m.Processes != 3 {
		t.Errorf("saw at most %d processes, want 3 (the shell and two children)", m.Processes)
	}
	if m.Child.Anon < held>>10 {
		t.Errorf("the largest child's anonymous memory %d KiB, want at least the %d KiB it held", m.Child.Anon, held>>10)
	}
	if m.Child.File == 0 {
		t.Errorf("a child's file-backed memory is 0: its binary's pages were not counted")
	}
	if m.RSS < 2*m.Child.Anon || m.PSS >= m.RSS {
		t.Errorf("tree: summed RSS %d KiB, PSS %d KiB: want RSS at least both children's heaps and PSS below RSS (the binary shared)", m.RSS, m.PSS)
	}
}
