// Package msgbuf recycles the buffers a poll holds messages in: each downloaded message
// (intake/mailbox) and its decoded attachments (intake/inbound) are held until the message
// is read and recorded, then dropped. Over 2,000 real mails those were half the daemon's
// allocation, and the collections it paid for (issue 14). A caller that knows nothing
// refers to a buffer any more gives it back with Release, and the next message or part of
// about the same size takes it with Get.
//
// Capacities come in eight steps per power of two (a buffer is at most an eighth larger
// than its message), for sizes above 2 KiB up to 4 MiB; other sizes are allocated and left
// to the collector. Buffers waiting for reuse count as live memory until the runtime clears
// its pools (after two collections): in a `once` over 2,000 real mails the daemon's
// anonymous memory peaked about 1.5 MiB higher, for half the allocation and collections.
package msgbuf

import (
	"math/bits"
	"sync"
)

const (
	minPooledShift = 12 // sizes above 2 KiB (classes of 2 to 4 KiB): smaller ones are cheap to allocate
	maxPooledShift = 22 // 4 MiB: larger ones are rare, and would pin too much
	stepsPerShift  = 8
)

var pools [(maxPooledShift - minPooledShift + 1) * stepsPerShift]sync.Pool

// bufferClass is the pool and the capacity for a message of n bytes; ok is false for a size
// outside the pooled range.
func bufferClass(n int) (class, capacity int, ok bool) {
	if n <= 1<<(minPooledShift-1) || n > 1<<maxPooledShift {
		return 0, 0, false
	}
	shift := bits.Len(uint(n - 1)) // 1<<shift >= n > 1<<(shift-1)
	step := 1 << (shift - 4)
	steps := (n + step - 1) / step // 9 to 16 steps of step: at most one step, an eighth of n, to spare
	return (shift-minPooledShift)*stepsPerShift + steps - 9, steps * step, true
}

// Get is a buffer of n bytes, recycled when one of its class was released. Its bytes are
// not zeroed: the caller overwrites all of them, or takes only what it wrote.
func Get(n int) []byte {
	class, capacity, ok := bufferClass(n)
	if !ok {
		return make([]byte, n)
	}
	if b, _ := pools[class].Get().(*[]byte); b != nil {
		return (*b)[:n]
	}
	return make([]byte, n, capacity)
}

// Release gives back a buffer Get returned, once nothing refers to it or to any part of it:
// its next owner overwrites it. A buffer of any other origin is accepted when its capacity
// is a pooled one, and is as free to reuse.
func Release(raw []byte) {
	if raw == nil {
		return
	}
	class, capacity, ok := bufferClass(cap(raw))
	if !ok || capacity != cap(raw) {
		return
	}
	raw = raw[:0]
	pools[class].Put(&raw)
}
