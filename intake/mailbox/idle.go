package mailbox

import (
	"context"
	"errors"

	"github.com/emersion/go-imap/v2"
)

// ErrNoIdle: the server does not advertise IDLE (RFC 2177).
var ErrNoIdle = errors.New("the server does not support IDLE")

// Idle waits in IDLE on the selected mailbox until ctx ends, then ends it with DONE and
// returns nil; new mail arrives meanwhile through Options.OnExists. It returns an error when
// the server ends the IDLE or the connection breaks.
//
// The watchdog is off while idling (the server may rightly say nothing for minutes) and on
// again for DONE, so a server that died silently fails the DONE within the timeout instead of
// hanging: callers end each IDLE well before go-imap's own 28-minute restart, whose DONE has
// no such bound, and before the server's 29 minutes (RFC 2177 section 3).
func (s *Session) Idle(ctx context.Context) error {
	if ok, err := s.has(ctx, imap.CapIdle); err != nil {
		return err
	} else if !ok {
		return ErrNoIdle
	}
	var cmd interface {
		Wait() error
		Close() error
	}
	if err := s.do(ctx, "idle", func() error {
		c, err := s.c.Idle()
		cmd = c
		return err
	}); err != nil {
		return err
	}
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	select {
	case err := <-ended:
		if err == nil {
			err = errors.New("the server ended IDLE")
		}
		return classify("idle", err)
	case <-ctx.Done():
	}
	// DONE under the watchdog, with a context of its own: ctx is already over.
	return s.do(context.WithoutCancel(ctx), "idle done", cmd.Close)
}
