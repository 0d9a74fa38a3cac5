package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier/store"
)

// Result sums up one SendDue pass.
type Result struct {
	// Sent: delivered to every recipient. Deferred: a temporary failure, to be tried
	// again. Failed: refused or expired for good.
	Sent, Deferred, Failed int
	// Connections is how many SMTP sessions were opened.
	Connections int
	// Next is the earliest next attempt after the pass; zero when nothing is pending.
	Next time.Time
}

// batchLimit bounds the IDs a pass lists at once; it lists the next ones when these are
// done, so that one pass (`once` makes one) sends every message due.
const batchLimit = 500

// SendDue sends every message due at now over one SMTP connection and records each outcome.
// It returns an error only when the state file fails (or ctx ends); SMTP failures are
// outcomes, counted in Result and recorded on the messages.
func (o *Outbox) SendDue(ctx context.Context, now time.Time) (Result, error) {
	var res Result
	if err := o.pruneOld(now); err != nil {
		return res, err
	}
	var c *conn
	defer func() {
		if c != nil {
			c.close(ctx.Err() == nil)
		}
	}()
	// done is the attempt whose outcome is not yet recorded: it is recorded in the same
	// transaction that records the next message's attempt (one commit per reply, not two),
	// so each outcome is still on disk before the next attempt starts, and each attempt
	// before it is made.
	var done *attempt
	seen := map[uint64]bool{}
	for {
		ids, err := o.due(now, seen)
		if err != nil {
			return res, err
		}
		if len(ids) == 0 {
			break
		}
		for i, id := range ids {
			seen[id] = true
			if ctx.Err() != nil {
				if done != nil {
					// Stopping: the last outcome is recorded on its own.
					if err := o.record(done.id, now, done.out, &res); err != nil {
						return res, err
					}
				}
				return res, ctx.Err()
			}
			// Record the attempt before making it (mox's habit): a crash during the send
			// leaves the message due at the recorded next attempt, never lost.
			prev := done
			done = nil
			r, raw, err := o.advance(prev, id, now, &res)
			if err != nil {
				return res, err
			}
			if r == nil {
				continue // finished meanwhile (a bounce), or no longer due
			}
			var out outcome
			for try := 0; ; try++ {
				if c == nil {
					res.Connections++
					if c, err = o.dial(ctx); err != nil {
						// Nothing in this batch can go now: defer all of it, each with
						// its attempt counted, instead of dialling once per message.
						if err := o.deferRest(ctx, &res, r, ids[i+1:], now, err); err != nil {
							return res, err
						}
						res.Next, err = o.next()
						return res, err
					}
				}
				reused := c.used
				out = c.send(r, raw, r.remaining())
				if out.broken {
					c.close(false)
					c = nil
				}
				// A reused session that broke before this message got anywhere (the
				// server closed it while we wrote the last outcome, say) gets one new
				// session for the same message.
				if !out.stale || !reused || try > 0 || ctx.Err() != nil {
					break
				}
			}
			done = &attempt{id: r.ID, out: out}
		}
	}
	if done != nil {
		last := done
		done = nil
		if err := o.record(last.id, now, last.out, &res); err != nil {
			return res, err
		}
	}
	var err error
	res.Next, err = o.next()
	return res, err
}

// attempt is a message attempted and the outcome to record.
type attempt struct {
	id  uint64
	out outcome
}

// advance records the outcome of prev (when not nil) and an attempt of message id at now,
// in one transaction, and returns the message; nil when it is no longer pending and due.
func (o *Outbox) advance(prev *attempt, id uint64, now time.Time, res *Result) (*record, []byte, error) {
	if prev == nil {
		return o.begin(id, now)
	}
	var r, pr *record
	var raw []byte
	var state string
	err := o.db.Update(func(tx *bolt.Tx) error {
		var err error
		if pr, state, err = o.outcome(tx, prev.id, now, prev.out); err != nil {
			return fmt.Errorf("recording outcome of message %d: %w", prev.id, err)
		}
		if r, raw, err = o.attempt(tx, id, now); err != nil {
			return fmt.Errorf("recording attempt of message %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		// Nothing of it was committed: prev's outcome is still to be recorded, on its own,
		// so that a message that cannot be attempted does not make prev go out again.
		if rerr := o.record(prev.id, now, prev.out, res); rerr != nil {
			return nil, nil, errors.Join(err, rerr)
		}
		return nil, nil, err
	}
	o.count(res, state)
	o.logOutcome(pr, state, prev.out)
	return r, raw, nil
}

// due lists the IDs of pending messages due at now, in due order, at most batchLimit, leaving
// out those seen (attempted in this pass: with no backoff they would be due again).
func (o *Outbox) due(now time.Time, seen map[uint64]bool) ([]uint64, error) {
	var ids []uint64
	err := o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(dueBucket).Cursor()
		for k, _ := c.First(); k != nil && !store.KeyTime(k).After(now) && len(ids) < batchLimit; k, _ = c.Next() {
			if id := store.U64(k[8:]); !seen[id] {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing due messages: %w", err)
	}
	return ids, nil
}

func (o *Outbox) next() (time.Time, error) {
	var next time.Time
	err := o.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(dueBucket).Cursor().First(); k != nil {
			next = store.KeyTime(k)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("reading next due message: %w", err)
	}
	return next, nil
}

// begin records an attempt of message id at now and returns the message; nil when it is no
// longer pending and due.
func (o *Outbox) begin(id uint64, now time.Time) (*record, []byte, error) {
	var r *record
	var raw []byte
	err := o.db.Update(func(tx *bolt.Tx) error {
		var err error
		r, raw, err = o.attempt(tx, id, now)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recording attempt of message %d: %w", id, err)
	}
	return r, raw, nil
}

// attempt is begin's transaction.
func (o *Outbox) attempt(tx *bolt.Tx, id uint64, now time.Time) (*record, []byte, error) {
	r, err := getRecord(tx, id)
	if err != nil {
		return nil, nil, err
	}
	if r.State != StatePending || r.NextAttempt.After(now) {
		return nil, nil, nil
	}
	raw := bytes.Clone(tx.Bucket(rawBucket).Get(store.BE64(id)))
	if raw == nil {
		return nil, nil, fmt.Errorf("message %d: raw bytes missing", id)
	}
	r.Attempts++
	r.LastAttempt = now
	return r, raw, reschedule(tx, r, o.nextAttempt(r, now))
}

// record commits the outcome of the attempt at now on message id.
func (o *Outbox) record(id uint64, now time.Time, out outcome, res *Result) error {
	var state string
	var r *record
	err := o.db.Update(func(tx *bolt.Tx) error {
		var err error
		r, state, err = o.outcome(tx, id, now, out)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording outcome of message %d: %w", id, err)
	}
	o.count(res, state)
	o.logOutcome(r, state, out)
	return nil
}

// outcome is record's transaction.
func (o *Outbox) outcome(tx *bolt.Tx, id uint64, now time.Time, out outcome) (*record, string, error) {
	r, err := getRecord(tx, id)
	if err != nil {
		return nil, "", err
	}
	if r.State != StatePending {
		// A bounce for it arrived during the send; what the bounce said stands.
		return r, r.State, nil
	}
	r.Delivered = append(r.Delivered, out.delivered...)
	r.Refused = append(r.Refused, out.refused...)
	if out.temp != nil {
		r.LastError = out.temp.Error()
	}
	state, err := o.settle(tx, r, now)
	return r, state, err
}

// settle decides r's state after an attempt at now: sent when every recipient has it,
// failed when some refused it or it expired, else pending until the already recorded next
// attempt.
func (o *Outbox) settle(tx *bolt.Tx, r *record, now time.Time) (string, error) {
	if len(r.remaining()) > 0 {
		if exp := r.Created.Add(o.retryFor); now.Before(exp) {
			return StatePending, putRecord(tx, r)
		}
		reason := fmt.Sprintf("expired after %d attempts in %s: %s", r.Attempts, o.retryFor, r.LastError)
		for _, to := range r.remaining() {
			r.Refused = append(r.Refused, refusal{Rcpt: to, Reason: reason})
		}
	}
	state := StateSent
	if len(r.Refused) > 0 {
		state = StateFailed
		var reasons []string
		for _, f := range r.Refused {
			reasons = append(reasons, f.Rcpt+": "+f.Reason)
		}
		r.Reason = strings.Join(reasons, "; ")
	}
	return state, finish(tx, r, state, now)
}

// deferRest records that the connection for r and the rest of the batch failed with err.
func (o *Outbox) deferRest(ctx context.Context, res *Result, r *record, rest []uint64, now time.Time, err error) error {
	out := outcome{temp: err}
	if rerr := o.record(r.ID, now, out, res); rerr != nil {
		return rerr
	}
	if ctx.Err() != nil {
		// Shutting down: the rest were not attempted and stay due as they are.
		return ctx.Err()
	}
	for _, id := range rest {
		r, _, berr := o.begin(id, now)
		if berr != nil {
			return berr
		}
		if r == nil {
			continue
		}
		if rerr := o.record(id, now, out, res); rerr != nil {
			return rerr
		}
	}
	return nil
}

func (o *Outbox) count(res *Result, state string) {
	switch state {
	case StateSent:
		res.Sent++
	case StateFailed:
		res.Failed++
	default:
		res.Deferred++
	}
}

func (o *Outbox) logOutcome(r *record, state string, out outcome) {
	attrs := []any{"id", r.ID, "kind", r.Kind, "message_id", r.MessageID, "attempt", r.Attempts}
	switch state {
	case StateSent:
		o.log.Info("outbox: sent", append(attrs, "to", r.To)...)
	case StateFailed:
		o.log.Warn("outbox: undeliverable", append(attrs, "reason", r.Reason)...)
	default:
		o.log.Info("outbox: deferred", append(attrs, "error", out.temp, "next_attempt", r.NextAttempt)...)
	}
}

// pruneOld drops messages finished longer than Keep ago, a bounded number per pass.
func (o *Outbox) pruneOld(now time.Time) error {
	cutoff := now.Add(-o.opts.Keep)
	var old bool
	if err := o.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(finishedBucket).Cursor().First()
		old = k != nil && store.KeyTime(k).Before(cutoff)
		return nil
	}); err != nil || !old {
		return err
	}
	var n int
	err := o.db.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = o.prune(tx, cutoff, 1000)
		return err
	})
	if err != nil {
		return fmt.Errorf("pruning outbox: %w", err)
	}
	o.log.Debug("outbox: pruned", "messages", n)
	return nil
}
