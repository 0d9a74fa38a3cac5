package mailbox

import (
	"math/bits"
	"sync"
)

// Message buffers. A poll downloads each message into a buffer of its size and holds it
// until the message is recorded (the ledger writes it to raw/), then drops it: over 2,000
// real mails that was a quarter of the daemon's allocation, and the collections it paid
// for (issue 14). A caller that knows nothing refers to a message any more gives its
// buffer back with Release, and the next download of about the same size takes it.
//
// Capacities come in eight steps per power of two (a buffer is at most an eighth larger
// than its message), from 4 KiB to 4 MiB; other sizes are allocated and left to the
// collector. Pooled buffers go when the runtime clears its pools, after two collections.
const (
	minPooledShift = 12 // 4 KiB: smaller messages are cheap to allocate
	maxPooledShift = 22 // 4 MiB: larger ones are rare, and would pin too much
	stepsPerShift  = 8
)

var literalPools [(maxPooledShift - minPooledShift + 1) * stepsPerShift]sync.Pool

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

// newBuffer is a buffer of n bytes, recycled when one of its class was released. Its bytes
// are not zeroed: the caller overwrites all of them.
func newBuffer(n int) []byte {
	class, capacity, ok := bufferClass(n)
	if !ok {
		return make([]byte, n)
	}
	if b, _ := literalPools[class].Get().(*[]byte); b != nil {
		return (*b)[:n]
	}
	return make([]byte, n, capacity)
}

// Release gives back a message buffer that FetchEach, Fetch or FetchHeader returned, once
// nothing refers to it or to any part of it: its next owner overwrites it. A buffer of any
// other origin is accepted when its capacity is a pooled one, and is as free to reuse.
func Release(raw []byte) {
	if raw == nil {
		return
	}
	class, capacity, ok := bufferClass(cap(raw))
	if !ok || capacity != cap(raw) {
		return
	}
	raw = raw[:0]
	literalPools[class].Put(&raw)
}
