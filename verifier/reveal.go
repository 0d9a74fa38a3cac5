package verifier

import (
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// HowKeyShown is Change.How for a clerk shown an item's full 認証キー (`queue list
// --show-keys`): the key is a password to the certificate, so who saw it and when is kept
// with the item. Such a change has From == To and is no decision: Decided and the digests
// pass over it.
const HowKeyShown = "key_shown"

// RecordReveal records in tx that by was shown the full 認証キー of submission id at at,
// without the key, and returns the item with the change. The item's state stays as it is,
// whatever it is: a clerk may need the key of a decided item too.
func (q *Queue) RecordReveal(tx *bolt.Tx, id uint64, by string, at time.Time) (Submission, error) {
	if strings.TrimSpace(by) == "" {
		return Submission{}, fmt.Errorf("recording a key shown for %s: nobody named", fmt.Sprintf(trackingNumberForm, id))
	}
	s, err := q.Get(tx, id)
	if err != nil {
		return Submission{}, err
	}
	s.History = append(s.History, Change{At: at, From: s.State, To: s.State, By: by, How: HowKeyShown})
	if err := q.put(tx, s, s.State); err != nil {
		return Submission{}, err
	}
	return s, nil
}
