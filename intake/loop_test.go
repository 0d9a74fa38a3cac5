package intake

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Truncate(time.Duration(e)).Add(time.Duration(e)) }

func TestRunScheduleSkipsTicksOfASlowRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var runs, running atomic.Int32
		start := time.Now()
		done := make(chan struct{})
		go func() {
			RunSchedule(ctx, every(time.Minute), &Backoff{Min: time.Second, Max: time.Minute}, slog.New(slog.NewTextHandler(io.Discard, nil)), "poll",
				func(context.Context) error {
					if running.Add(1) > 1 {
						t.Error("runs overlap")
					}
					defer running.Add(-1)
					runs.Add(1)
					time.Sleep(150 * time.Second) // longer than two ticks
					return nil
				})
			close(done)
		}()
		time.Sleep(10*time.Minute + time.Second)
		cancel()
		<-done
		// Runs start at 1, 4, 7 and 10 minutes: each lasts 2.5 minutes and the ticks it spans are skipped.
		if got := runs.Load(); got != 4 {
			t.Errorf("%d runs in %v, want 4", got, time.Since(start))
		}
	})
}

func TestRunScheduleBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var at []time.Duration
		start := time.Now()
		done := make(chan struct{})
		go func() {
			RunSchedule(ctx, every(time.Hour), &Backoff{Min: 10 * time.Second, Max: 40 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)), "poll",
				func(context.Context) error {
					at = append(at, time.Since(start).Round(time.Second))
					if len(at) <= 4 {
						return errors.New("connection refused")
					}
					return nil
				})
			close(done)
		}()
		time.Sleep(3 * time.Hour)
		cancel()
		<-done
		// First run at the hour; retries after 10, 20, 40, 40 s; then back to the hourly schedule.
		want := []time.Duration{time.Hour, time.Hour + 10*time.Second, time.Hour + 30*time.Second, time.Hour + 70*time.Second,
			time.Hour + 110*time.Second, 2 * time.Hour, 3 * time.Hour}
		if len(at) < len(want)-1 {
			t.Fatalf("runs at %v, want %v", at, want)
		}
		for i := range at {
			if i < len(want) && at[i] != want[i] {
				t.Errorf("run %d at %v, want %v (all: %v)", i, at[i], want[i], at)
			}
		}
	})
}
