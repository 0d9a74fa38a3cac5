package testkit

import (
	"io"
	"net"
	"os"
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
