package intake

import (
	"context"
	"log/slog"
	"time"
)

// Schedule gives the next time something is due after t (a cron schedule).
type Schedule interface {
	Next(t time.Time) time.Time
}

// Backoff is the wait after consecutive failures: Min, doubling up to Max.
type Backoff struct {
	Min, Max time.Duration
	failures int
}

// Failed records a failure and returns how long to wait before trying again.
func (b *Backoff) Failed() time.Duration {
	d := b.Min << min(b.failures, 30)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	b.failures++
	return d
}

// Succeeded resets the backoff.
func (b *Backoff) Succeeded() { b.failures = 0 }

// RunSchedule calls work at each due time of sched until ctx ends. Work runs one at a time:
// a run that lasts past the next due time skips it (the next time is taken after the run
// ends), never overlaps. After a failed run the next attempt waits at least the backoff, so
// a server that is down is not hammered, and at most until the next due time. It returns
// when ctx is done, after the run in progress has returned.
func RunSchedule(ctx context.Context, sched Schedule, backoff *Backoff, log *slog.Logger, name string,
	work func(ctx context.Context) error) {
	RunScheduleOrKick(ctx, sched, nil, backoff, log, name, work)
}

// RunScheduleOrKick is RunSchedule that also runs work as soon as kick delivers (IMAP IDLE
// saw new mail), still one run at a time: a kick during a run is kept for after it.
func RunScheduleOrKick(ctx context.Context, sched Schedule, kick <-chan struct{}, backoff *Backoff, log *slog.Logger, name string,
	work func(ctx context.Context) error) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	var retryAt time.Time
	for {
		now := time.Now()
		due := sched.Next(now)
		if !retryAt.IsZero() && retryAt.Before(due) {
			due = retryAt
		}
		timer.Reset(due.Sub(now))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-kick:
		}
		if err := work(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := backoff.Failed()
			retryAt = time.Now().Add(wait)
			log.Warn(name+" failed", "err", err, "retry_in", wait.Round(time.Second))
			continue
		}
		backoff.Succeeded()
		retryAt = time.Time{}
	}
}
