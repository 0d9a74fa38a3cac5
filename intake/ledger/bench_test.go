package ledger

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// benchMessage is a 50 KB mail shaped like a contractor's: headers, a short ISO-2022-JP
// body and a base64 PDF (random bytes: a PDF's deflated streams compress about as badly).
func benchMessage() func(i int) []byte {
	pdf := make([]byte, 36<<10)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(pdf)
	enc := base64.StdEncoding.EncodeToString(pdf)
	var body strings.Builder
	for len(enc) > 76 {
		body.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	body.WriteString(enc + "\r\n")
	tail := body.String()
	return func(i int) []byte {
		return fmt.Appendf(nil, "Message-ID: <%d.bench@example.jp>\r\nFrom: contractor@example.jp\r\n"+
			"Subject: =?ISO-2022-JP?B?GyRCRUU7Uj5aPXEbKEI=?=\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n"+
			"body %d\r\n--b\r\nContent-Type: application/pdf; name=notice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n%s--b--\r\n",
			i, i, tail)
	}
}

// BenchmarkRecord measures messages per second recorded with their 50 KB raw message (gzip
// included), one commit per message and in batches of 32 as the poller commits them.
func BenchmarkRecord(b *testing.B) {
	msg := benchMessage()
	if n := len(msg(0)); n < 49<<10 || n > 51<<10 {
		b.Fatalf("bench message is %d bytes, want about 50 KB", n)
	}
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l := openT(b, stateDir(b))
			b.SetBytes(int64(len(msg(0))))
			i := 0
			var items []Item
			for b.Loop() {
				i++
				raw := msg(i)
				e := &Entry{
					Mailbox: "INBOX", UIDValidity: 1, UID: uint32(i),
					MessageID: fmt.Sprintf("<%d.bench@example.jp>", i), Digest: Digest(raw),
					From: "contractor@example.jp", Size: int64(len(raw)), TakenAt: time.Now(),
					Outcome: "notices", Notices: 1,
				}
				items = append(items, Item{Entry: e, Raw: raw})
				if len(items) == batch {
					if err := l.RecordBatch(items, nil); err != nil {
						b.Fatal(err)
					}
					items = items[:0]
				}
			}
			if len(items) > 0 {
				if err := l.RecordBatch(items, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
