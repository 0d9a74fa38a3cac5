package testkit

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards loopback TCP to a server and, once told, misbehaves on the server's side
// after a budget of bytes: StallAfter, like a server that hangs mid-response (or a
// middlebox that drops the connection without a FIN); CutAfter, like a server or network
// that goes away in the middle of a fetch; Drop, like a server that closes idle connections.
type Proxy struct {
	// Addr is where clients connect.
	Addr string

	mode   atomic.Int32 // forwardAll, stall or cut
	budget atomic.Int64 // bytes of the server still forwarded, over all connections
	done   chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]bool // the client sides of the connections open now
}

const (
	forwardAll int32 = iota
	stall
	cut
)

// StartProxy listens on a loopback port and forwards every connection to target until the
// test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), done: make(chan struct{}), conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() { close(p.done); ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c] = true
			p.mu.Unlock()
			wg.Go(func() { io.Copy(s, c); s.Close() })
			wg.Go(func() { p.serve(c, s) })
		}
	})
	return p
}

// StallAfter makes the proxy forward n more bytes from the server, then nothing until the
// budget is raised by another StallAfter.
func (p *Proxy) StallAfter(n int64) {
	p.budget.Store(n)
	p.mode.Store(stall)
}

// Resume makes the proxy forward everything again.
func (p *Proxy) Resume() { p.mode.Store(forwardAll) }

// CutAfter makes the proxy drop every connection once the server has sent n more bytes in
// total; the read that goes over the budget is not forwarded.
func (p *Proxy) CutAfter(n int64) {
	p.budget.Store(n)
	p.mode.Store(cut)
}

// Drop closes every connection open now, both sides, as a server does that logs idle clients
// out; later connections are forwarded as before.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// serve forwards the server's bytes on one connection.
func (p *Proxy) serve(c, s net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	defer c.Close()
	defer s.Close()
	buf := make([]byte, 4096)
	for {
		n, err := s.Read(buf)
		if n > 0 && !p.forward(c, buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward writes b to c as the mode and budget allow; false: drop the connection.
func (p *Proxy) forward(c net.Conn, b []byte) bool {
	switch p.mode.Load() {
	case cut:
		if p.budget.Add(-int64(len(b))) < 0 {
			return false
		}
	case stall:
		for len(b) > 0 {
			budget := p.budget.Load()
			if budget <= 0 {
				select {
				case <-p.done:
					return false
				case <-time.After(5 * time.Millisecond):
				}
				continue
			}
			n := min(int64(len(b)), budget)
			p.budget.Add(-n)
			if _, err := c.Write(b[:n]); err != nil {
				return false
			}
			b = b[n:]
		}
		return true
	}
	_, err := c.Write(b)
	return err == nil
}
