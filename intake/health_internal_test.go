package intake

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestProgress: polls that keep failing at one message, or keep running out of time before
// recording any, stall the daemon after stallPolls; a server that is down does not, and one
// poll that takes something in clears it.
func TestProgress(t *testing.T) {
	down := errors.New("dial: connection refused")
	stuck := func(uid uint32) (Result, error) { return Result{New: 5, Stuck: uid}, errors.New("recording failed") }
	timedOut := func() (Result, error) { return Result{New: 5}, context.DeadlineExceeded }

	tests := []struct {
		name  string
		polls []func() (Result, error)
		want  string // in the stall text; "" for none
	}{
		{"stuck at one message", repeat(stallPolls, func() (Result, error) { return stuck(7) }), "failed at the message with UID 7"},
		{"one short", repeat(stallPolls-1, func() (Result, error) { return stuck(7) }), ""},
		{"stuck at different messages", append(repeat(stallPolls-1, func() (Result, error) { return stuck(7) }),
			func() (Result, error) { return stuck(8) }), ""},
		{"out of time", repeat(stallPolls, timedOut), "ran out of time"},
		{"server down", repeat(2*stallPolls, func() (Result, error) { return Result{}, down }), ""},
		{"progress clears", append(repeat(stallPolls, timedOut), func() (Result, error) { return Result{New: 5, Recorded: 1}, context.DeadlineExceeded }), ""},
	}
	now := time.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p progress
			for _, f := range tt.polls {
				p.observe(f())
			}
			got := p.stalled(now, time.Time{}, 10*time.Minute)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Errorf("stalled() = %q, want %q", got, tt.want)
			}
		})
	}
	var p progress
	if got := p.stalled(now, now.Add(-20*time.Minute), 10*time.Minute); !strings.Contains(got, "past the poll timeout") {
		t.Errorf("stalled() with a poll running 20 min = %q, want it reported", got)
	}
	if got := p.stalled(now, now.Add(-time.Minute), 10*time.Minute); got != "" {
		t.Errorf("stalled() with a poll running 1 min = %q, want none", got)
	}
}

func repeat[F any](n int, f F) []F {
	out := make([]F, n)
	for i := range out {
		out[i] = f
	}
	return out
}
