package outbox

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Probe connects to the relay as sending would (TLS, EHLO, AUTH), has it accept MAIL FROM
// from, and leaves without sending anything: `check --connect`'s SMTP step. It needs no
// state. The error carries the server's own words.
func Probe(ctx context.Context, opts Options, from string) (string, error) {
	if err := checkSMTP(opts.SMTP); err != nil {
		return "", err
	}
	if opts.SMTP.Timeout <= 0 {
		opts.SMTP.Timeout = time.Minute
	}
	if opts.HelloName == "" {
		opts.HelloName, _ = os.Hostname()
	}
	o := &Outbox{opts: opts}
	c, err := o.dial(ctx)
	if err != nil {
		return "", err
	}
	defer c.close(true)
	if err := c.c.Mail(from, nil); err != nil {
		return "", fmt.Errorf("MAIL FROM:<%s>: %w", from, err)
	}
	if err := c.c.Reset(); err != nil {
		return "", fmt.Errorf("RSET: %w", err)
	}
	ext := "no DSN"
	if c.dsn {
		ext = "DSN"
	}
	return ext, nil
}
