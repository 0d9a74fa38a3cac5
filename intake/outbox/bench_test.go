package outbox

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/config"
)

// BenchmarkSend measures replies per second through the outbox to a STARTTLS relay with AUTH
// PLAIN on 127.0.0.1, over one reused connection (one SendDue for the batch) against one
// connection per reply (one SendDue per reply, as if each came alone). Both include the commits
// per reply (an attempt, with the previous reply's outcome when the connection is reused). Run both in one go:
//
//	go test -run '^$' -bench BenchmarkSend ./intake/outbox/
func BenchmarkSend(b *testing.B) {
	for _, mode := range []string{"reused", "per-reply"} {
		b.Run(mode, func(b *testing.B) {
			p := newPeer(b, peerOptions{tls: config.TLSStartTLS, mechs: []string{"PLAIN"}})
			f := newFixture(b, p, func(o *Options) {
				o.SMTP = smtpFor(b, p, config.TLSStartTLS)
				o.SMTP.Auth, o.SMTP.Username, o.SMTP.Password = config.AuthPlain, p.user, config.NewSecret(p.secret)
			})
			// Reply i is due at t0+i, so a pass at t0+i takes exactly reply i.
			err := f.db.Update(func(tx *bolt.Tx) error {
				for i := range b.N {
					m := reply(b, i, "contractor@example.jp")
					m.Created = t0.Add(time.Duration(i))
					if _, err := f.ob.Enqueue(tx, m); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			sent, conns := 0, 0
			if mode == "reused" {
				for sent < b.N {
					res, err := f.ob.SendDue(context.Background(), t0.Add(time.Duration(b.N)))
					if err != nil || res.Sent == 0 {
						b.Fatalf("SendDue = %+v, %v", res, err)
					}
					sent, conns = sent+res.Sent, conns+res.Connections
				}
			} else {
				for i := range b.N {
					res, err := f.ob.SendDue(context.Background(), t0.Add(time.Duration(i)))
					if err != nil || res.Sent != 1 {
						b.Fatalf("SendDue = %+v, %v", res, err)
					}
					sent, conns = sent+res.Sent, conns+res.Connections
				}
			}
			b.StopTimer()
			if got := len(p.deliveries()); got != b.N {
				b.Fatalf("peer received %d, want %d", got, b.N)
			}
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "replies/s")
			b.ReportMetric(float64(conns), "connections")
		})
	}
}
