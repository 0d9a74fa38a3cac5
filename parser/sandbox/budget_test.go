package sandbox

import (
	"context"
	"testing"
	"time"

	"hosho-intake/parser"
)

// TestReadWithin: a limit shorter than Timeout cuts a slow file off as too_slow, not as a
// failed reader; a fault is still one; and a file that waited for a busy worker is not
// charged for the wait.
func TestReadWithin(t *testing.T) {
	tests := []struct {
		input   string
		timeout time.Duration
		limit   time.Duration
		code    string // "" for a document read without problems
		failed  bool
	}{
		{"notice", 10 * time.Second, 200 * time.Millisecond, "", false},
		{"HANG", 10 * time.Second, 300 * time.Millisecond, parser.CodeTooSlow, false},
		{"SLEEP", 10 * time.Second, 300 * time.Millisecond, parser.CodeTooSlow, false},
		{"HANG", 300 * time.Millisecond, 10 * time.Second, parser.CodeCorrupt, true},
		{"HANG", 300 * time.Millisecond, 0, parser.CodeCorrupt, true},
		{"PANIC", 10 * time.Second, time.Second, parser.CodeCorrupt, true},
		{"EXIT", 10 * time.Second, time.Second, parser.CodeCorrupt, true},
	}
	for _, tt := range tests {
		t.Run(tt.input+"/"+tt.limit.String(), func(t *testing.T) {
			opts := testOptions()
			opts.Timeout = tt.timeout
			p := newTestPool(t, opts)
			r, err := p.ReadWithin(context.Background(), []byte(tt.input), tt.limit)
			if err != nil {
				t.Fatalf("ReadWithin(%q, %v) error = %v", tt.input, tt.limit, err)
			}
			code := ""
			if len(r.Doc.Problems) > 0 {
				code = r.Doc.Problems[0].Code
			}
			if code != tt.code || r.Failed != tt.failed || r.Took <= 0 {
				t.Errorf("ReadWithin(%q, %v) = %+v, want code %q, failed %v, a positive Took", tt.input, tt.limit, r, tt.code, tt.failed)
			}
			// The pool goes on serving whatever happened.
			readOK(t, p, "after")
		})
	}
}

func TestReadWithinNotChargedForWaiting(t *testing.T) {
	opts := testOptions()
	opts.Timeout = time.Second
	p := newTestPool(t, opts) // one worker
	readOK(t, p, "warm-up")
	busy := make(chan Reading, 1)
	go func() {
		r, _ := p.ReadWithin(context.Background(), []byte("SLEEP"), 0)
		busy <- r
	}()
	waitBusy(t, p, 1)
	// Waits for the sleeping file's whole second, far past its own limit, then is read.
	r, err := p.ReadWithin(context.Background(), []byte("notice"), 500*time.Millisecond)
	if err != nil || len(r.Doc.Problems) != 0 || r.Doc.Kind != "notice" {
		t.Errorf("ReadWithin after waiting for a busy worker = %+v, %v, want the notice read", r, err)
	}
	if first := <-busy; !first.Failed {
		t.Errorf("the sleeping file = %+v, want a failed reader", first)
	}
}
