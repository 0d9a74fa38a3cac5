package mailbox

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// watchdog is the connection under go-imap, closing it when the server is silent for too
// long while we wait for it. go-imap v2 beta.8 reads the first byte of each response with
// no deadline (its 30 s read timeout starts only once a response has begun, and a literal
// gets 5 minutes), so a server that stops answering would block a command forever; and the
// library has no way to cancel a command (https://github.com/emersion/go-imap/issues/762).
// Closing the connection is the one way out: every pending command then fails.
//
// The silence is measured from the later of the arm and the last byte read, so a long
// FETCH that keeps streaming is never cut, and an idle connection between commands
// (disarmed) is left alone.
type watchdog struct {
	net.Conn
	timeout time.Duration

	mu     sync.Mutex
	armed  bool
	gen    uint64 // which arming a timer belongs to
	last   time.Time
	timer  *time.Timer
	closed *closeCause
}

type closeCause struct {
	kind error
	err  error
	temp bool
}

func (w *watchdog) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if n > 0 {
		w.mu.Lock()
		w.last = time.Now()
		w.mu.Unlock()
	}
	return n, err
}

// arm starts watching: the server must send something within the timeout.
func (w *watchdog) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = true
	w.gen++
	w.last = time.Now()
	gen := w.gen
	w.timer = time.AfterFunc(w.timeout, func() { w.expire(gen) })
}

func (w *watchdog) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

func (w *watchdog) expire(gen uint64) {
	w.mu.Lock()
	if !w.armed || gen != w.gen || w.closed != nil {
		w.mu.Unlock()
		return
	}
	if idle := time.Since(w.last); idle < w.timeout {
		// Data came meanwhile: wait out the rest from the last byte.
		w.timer = time.AfterFunc(w.timeout-idle, func() { w.expire(gen) })
		w.mu.Unlock()
		return
	}
	w.closed = &closeCause{kind: ErrTimeout, err: fmt.Errorf("nothing received for %v", w.timeout), temp: true}
	w.mu.Unlock()
	w.Conn.Close()
}

// abort closes the connection because the caller's context ended: IMAP cannot cancel a
// command, and the connection's state after an abandoned one is unknown.
func (w *watchdog) abort(err error) {
	w.mu.Lock()
	if w.closed == nil {
		w.closed = classifyCause(err)
	}
	w.mu.Unlock()
	w.Conn.Close()
}

func classifyCause(err error) *closeCause {
	e := classify("", err)
	return &closeCause{kind: e.Kind, err: err, temp: e.temp}
}

// closedBy returns why the watchdog closed the connection, or nil.
func (w *watchdog) closedBy() *closeCause {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

func (w *watchdog) dead() bool { return w.closedBy() != nil }

// shut closes the connection for good on the Session's behalf; later calls report it
// closed. (go-imap calls Close itself when the server hangs up: that records no cause, so
// the error it then reports is classified as the network failure it is.)
func (w *watchdog) shut() {
	w.mu.Lock()
	if w.closed == nil {
		w.closed = &closeCause{err: net.ErrClosed}
	}
	w.mu.Unlock()
	w.Conn.Close()
}
