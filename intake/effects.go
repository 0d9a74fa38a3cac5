package intake

import (
	"errors"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/ledger"
	"hosho-intake/verifier"
)

// Effects records what a message causes, inside the transaction that records the message:
// each notice judged by the agency's policy and filed in the verification queue, or a
// clerk's decision (a reply to a digest link) applied.
type Effects struct {
	Queue    *verifier.Queue
	Policy   verifier.Policy
	Register *verifier.Register // nil: no contract register imported
	Clerks   []string           // addresses allowed to decide by mail
	Log      *slog.Logger
}

// Record implements Recorder.
func (f *Effects) Record(tx *bolt.Tx, e *ledger.Entry, c *Contents) error {
	if c.DecisionMail {
		s, action, err := f.Queue.ApplyDecisionMail(tx, c.Message.From, f.Clerks, c.Message.Subject, firstText(c), c.Received)
		if err != nil {
			if errors.Is(err, verifier.ErrNotClerk) || errors.Is(err, verifier.ErrBadToken) ||
				errors.Is(err, verifier.ErrAlreadyDecided) || errors.Is(err, verifier.ErrNotFound) {
				// Refused, not failed: the message is recorded, nothing changes.
				f.Log.Warn("decision mail refused", "entry", e.ID, "from", c.Message.From, "subject", c.Message.Subject, "why", err)
				c.DecisionErr = err
				return nil
			}
			return fmt.Errorf("applying decision mail: %w", err)
		}
		f.Log.Info("clerk decision applied", "entry", e.ID, "item", s.TrackingNumber(), "action", action, "by", c.Message.From)
		c.Decided = &s
		return nil
	}
	for _, n := range c.Notices {
		d := f.Policy.Judge(n, verifier.Context{Received: c.Received, Texts: c.Message.Texts, Register: f.Register})
		filed, err := f.Queue.Submit(tx, n, d, verifier.Meta{Entry: e.ID, Sender: c.Message.From,
			MessageID: c.Message.MessageID, Received: c.Received})
		if err != nil {
			return fmt.Errorf("filing notice %s: %w", n.ContractNumber, err)
		}
		c.Filed = append(c.Filed, filed)
	}
	return nil
}

func firstText(c *Contents) string {
	if len(c.Message.Texts) == 0 {
		return ""
	}
	return c.Message.Texts[0]
}
