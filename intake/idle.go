package intake

import (
	"context"
	"errors"
	"time"

	"hosho-intake/intake/mailbox"
)

// idleRefresh is how long one IDLE lasts before DONE, a NOOP-like check and a new IDLE:
// under go-imap's own 28-minute restart and the server's 29 minutes (RFC 2177 section 3), and
// short enough that a connection that died without a word is found within minutes.
const idleRefresh = 9 * time.Minute

// watch keeps a connection in IDLE on the polled mailbox and kicks the poll loop when the
// server reports new mail: a contractor is answered within seconds, not at the next cron
// tick. The poll itself does the work, on its own connection, one poll at a time, so IDLE
// and the schedule never take the same message twice. A lost connection is dialled again
// with backoff; a server without IDLE leaves the schedule alone, as before.
func (s *Service) watch(ctx context.Context, kick chan<- struct{}) {
	backoff := Backoff{Min: 5 * time.Second, Max: 5 * time.Minute}
	for ctx.Err() == nil {
		err := s.idleOnce(ctx, kick, &backoff)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, mailbox.ErrNoIdle):
			s.log.Info("the IMAP server does not support IDLE: polling on schedule only")
			return
		}
		wait := backoff.Failed()
		s.log.Warn("IDLE connection lost", "err", err, "retry_in", wait.Round(time.Second))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// idleOnce holds one IDLE connection until it fails or ctx ends.
func (s *Service) idleOnce(ctx context.Context, kick chan<- struct{}, backoff *Backoff) error {
	poke := func() {
		select {
		case kick <- struct{}{}:
		default: // a poll is already due: it will see this message too
		}
	}
	sess, err := s.dialWith(ctx, func(uint32) { poke() })
	if err != nil {
		return err
	}
	defer sess.Close()
	if _, err := sess.Select(ctx, s.Config.IMAP.Mailbox); err != nil {
		return err
	}
	// Mail that came while this connection was down has raised no EXISTS here.
	poke()
	for {
		ictx, cancel := context.WithTimeout(ctx, idleRefresh)
		err := sess.Idle(ictx)
		cancel()
		if err != nil || ctx.Err() != nil {
			return err
		}
		backoff.Succeeded()
	}
}
