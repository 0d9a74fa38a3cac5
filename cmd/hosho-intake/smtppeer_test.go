package main

import (
	"bytes"
	"net/mail"
	"testing"
)

// startSMTPPeer starts the demo's relay as the agency's SMTP server for a test: it stores
// every message it receives, with its envelope.
func startSMTPPeer(t *testing.T) *demoRelay {
	t.Helper()
	r, stop, err := serveSMTP(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return r
}

// messages returns what was received so far, parsed.
func (r *demoRelay) messages(t *testing.T) []*mail.Message {
	t.Helper()
	var out []*mail.Message
	for _, e := range r.envelopes() {
		m, err := mail.ReadMessage(bytes.NewReader(e.Data))
		if err != nil {
			t.Fatalf("the relay received a message net/mail cannot read: %v\n%s", err, e.Data)
		}
		out = append(out, m)
	}
	return out
}

func (r *demoRelay) envelopes() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}
