package msgbuf

import "testing"

// TestBufferClass: every pooled size gets a buffer it fits, at most an eighth larger, from the one class its capacity names again when it
// is released; sizes outside the range are not pooled.
func TestBufferClass(t *testing.T) {
	seen := map[int]int{} // class -> capacity
	for n := 0; n <= 1<<maxPooledShift+1; n += 1 + n/97 {
		class, capacity, ok := bufferClass(n)
		pooled := n > 1<<(minPooledShift-1) && n <= 1<<maxPooledShift
		if ok != pooled {
			t.Fatalf("bufferClass(%d) pooled %v, want %v", n, ok, pooled)
		}
		if !ok {
			continue
		}
		if capacity < n || capacity > n+n/8 {
			t.Fatalf("bufferClass(%d) capacity %d", n, capacity)
		}
		if class < 0 || class >= len(pools) {
			t.Fatalf("bufferClass(%d) class %d of %d", n, class, len(pools))
		}
		if c, ok := seen[class]; ok && c != capacity {
			t.Fatalf("class %d has capacities %d and %d", class, c, capacity)
		}
		seen[class] = capacity
		if again, c, ok := bufferClass(capacity); !ok || again != class || c != capacity {
			t.Fatalf("a buffer of %d bytes (for %d) is released to class %d capacity %d, taken from %d", capacity, n, again, c, class)
		}
		if b := Get(n); len(b) != n || cap(b) != capacity {
			t.Fatalf("Get(%d) is %d bytes of %d, want %d", n, len(b), cap(b), capacity)
		}
	}
}

// TestReleaseRefusesOtherCapacities: a buffer whose capacity is no class's is not pooled,
// so that newBuffer never hands out less room than its class promises.
func TestReleaseRefusesOtherCapacities(t *testing.T) {
	Release(make([]byte, 5000, 5001))
	Release(make([]byte, 10, 100))
	for range 100 {
		if b := Get(5000); cap(b) != 5120 {
			t.Fatalf("Get(5000) has capacity %d, want 5120", cap(b))
		}
	}
}
