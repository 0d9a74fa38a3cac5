package intake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake"
	"hosho-intake/intake/inbound"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/samplemail"
	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/parser/sandbox"
)

// serveTestWorker reads PDFs with the real parser, except that a file naming HANG loops
// and one naming EXIT crashes, as the hostile files of cmd/hosho-intake's tests make the
// real reader do; here they cost the test no more than their timeout.
func serveTestWorker() error {
	return sandbox.ServeFuncArchives(os.Stdin, os.Stdout, func(data []byte) parser.Document {
		switch {
		case bytes.Contains(data, []byte("HANG")):
			for {
			}
		case bytes.Contains(data, []byte("EXIT")):
			os.Exit(3)
		}
		return parser.ReadPDF(data)
	}, func(data, args []byte) []byte {
		if bytes.Contains(data, []byte("HANG")) {
			for {
			}
		}
		return inbound.ServeSevenZip(data, args)
	})
}

func newTestPool(t *testing.T, timeout time.Duration) *sandbox.Pool {
	t.Helper()
	p := sandbox.NewPool(sandbox.Options{Command: []string{os.Args[0]}, Env: append(os.Environ(), "HOSHO_INTAKE_TEST_WORKER=1"),
		Workers: 2, Timeout: timeout, MemoryLimit: 256 << 20})
	t.Cleanup(func() { p.Close() })
	return p
}

func noticePDF(t *testing.T, i int) []byte {
	t.Helper()
	n := noticepdf.Samples()[0]
	n.ContractNumber = fmt.Sprintf("%010d", 2071000000+i)
	var b bytes.Buffer
	if err := noticepdf.Write(&b, []parser.Notice{n}, noticepdf.Options{}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mailWith returns a contractor's mail with the given PDFs attached, n of kind each.
func mailWith(t *testing.T, subject string, parts ...samplemail.Attachment) []byte {
	t.Helper()
	raw, err := samplemail.Mail{From: "koumu@kensetsu.example", To: "denshi-shosho@pref.shimane.example", Subject: subject,
		MessageID: "<" + strings.ReplaceAll(subject, " ", ".") + "@kensetsu.example>", Body: "お世話になっております。",
		Attachments: parts}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func pdfs(name string, n int, data func(i int) []byte) []samplemail.Attachment {
	var out []samplemail.Attachment
	for i := range n {
		out = append(out, samplemail.Attachment{Name: fmt.Sprintf("%s%03d.pdf", name, i), Data: data(i)})
	}
	return out
}

func hang(i int) []byte  { return []byte(fmt.Sprintf("%%PDF-1.4 HANG %d", i)) }
func crash(i int) []byte { return []byte(fmt.Sprintf("%%PDF-1.4 EXIT %d", i)) }

// TestReadWithinBudget reads messages through a real sandbox pool: a message of hanging
// PDFs, of too many PDFs or of PDFs that crash readers ends with too_slow after a bounded
// number of files; an ordinary one is read whole.
func TestReadWithinBudget(t *testing.T) {
	good := func(i int) []byte { return noticePDF(t, i) }
	tests := []struct {
		name      string
		timeout   time.Duration // per PDF
		parts     []samplemail.Attachment
		budget    intake.Budget
		tooSlow   bool
		notices   int
		maxFiles  int64 // files handed to a reader, at most
		wantInDet string
	}{
		{"hanging PDFs then a notice", 10 * time.Second, append(pdfs("slow", 40, hang), pdfs("notice", 1, good)...),
			intake.Budget{Time: time.Second, MaxPDFs: 50, Parallel: 2}, true, 0, 2, "budget of 1s was spent"},
		{"timeouts", 300 * time.Millisecond, pdfs("slow", 40, hang),
			intake.Budget{Time: time.Minute, MaxPDFs: 50, Parallel: 2}, true, 0, 4, "failed on 3"},
		{"too many PDFs", 10 * time.Second, pdfs("notice", 25, good), intake.Budget{Time: time.Minute, MaxPDFs: 20, Parallel: 2}, true, 20, 20, "25 PDFs"},
		{"readers crashing", 10 * time.Second, pdfs("crash", 10, crash), intake.Budget{Time: time.Minute, MaxPDFs: 20, Parallel: 2}, true, 0, 4, "failed on 3"},
		{"an ordinary mail", 10 * time.Second, pdfs("notice", 3, good), intake.Budget{Time: 10 * time.Second, MaxPDFs: 20, Parallel: 2}, false, 3, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := newTestPool(t, tt.timeout)
			raw := mailWith(t, tt.name, tt.parts...)
			c, err := intake.ReadWithin(context.Background(), bytes.NewReader(raw), inbound.DefaultLimits(), pool, tt.budget)
			if err != nil {
				t.Fatal(err)
			}
			var detail string
			for _, p := range c.Problems {
				if p.Code == parser.CodeTooSlow {
					detail = p.Detail
				}
			}
			if (detail != "") != tt.tooSlow || !strings.Contains(detail, tt.wantInDet) {
				t.Errorf("problems = %+v, want too_slow %v with %q", c.Problems, tt.tooSlow, tt.wantInDet)
			}
			if len(c.Notices) != tt.notices {
				t.Errorf("%d notices, want %d", len(c.Notices), tt.notices)
			}
			if st := pool.Stats(); st.Files > tt.maxFiles {
				t.Errorf("%d files handed to readers, want at most %d: %+v", st.Files, tt.maxFiles, st)
			}
		})
	}
}

// TestPollMovesOnFromASlowMessage: a message over its budget is recorded with too_slow
// and the message behind it is taken in by the same poll.
func TestPollMovesOnFromASlowMessage(t *testing.T) {
	m := startMemMailbox(t)
	m.append(t, mailWith(t, "slow", pdfs("slow", 60, hang)...))
	m.append(t, mailWith(t, "notice", pdfs("notice", 1, func(i int) []byte { return noticePDF(t, i) })...))
	p, l := newPoller(t, m.addr, t.TempDir())
	p.PDFs = newTestPool(t, 300*time.Millisecond)
	p.Budget = intake.Budget{Time: time.Second, MaxPDFs: 100, Parallel: 2}
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Recorded != 2 || res.Notices != 1 {
		t.Errorf("poll = %+v, want both recorded and the notice read", res)
	}
	entries, err := l.List(ledger.Filter{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Subject == "slow" && !slices.Contains(e.Problems, parser.CodeTooSlow) {
			t.Errorf("the slow message recorded with %v, want too_slow", e.Problems)
		}
	}
	if got := m.count(t, "処理済み"); got != 2 {
		t.Errorf("processed folder holds %d, want 2", got)
	}
}

// TestPollSetsAsideWhatCannotBeRecorded: a message whose recording fails (an error or a
// panic) holds the cursor for maxRecordAttempts polls, each by a new poller as `once`
// runs, and is then recorded with set_aside, without the Recorder, and moved on from.
func TestPollSetsAsideWhatCannotBeRecorded(t *testing.T) {
	for _, how := range []string{"error", "panic"} {
		t.Run(how, func(t *testing.T) {
			m := startMemMailbox(t)
			set := scenarioMails(t, 5)
			for _, s := range set[:5] {
				raw, _ := s.Mail.Bytes()
				m.append(t, raw)
			}
			first, l := newPoller(t, m.addr, t.TempDir())
			broken := set[2].Mail.Subject
			for poll := 1; poll <= 4; poll++ {
				p, _ := newPollerWith(t, l)
				p.Dial = first.Dial
				p.Record = func(tx *bolt.Tx, e *ledger.Entry, c *intake.Contents) error {
					if e.Subject == broken {
						if how == "panic" {
							panic("a bug on this message")
						}
						return errors.New("cannot record this one")
					}
					return nil
				}
				res, err := p.Poll(context.Background())
				if poll < 4 {
					if err == nil || res.Stuck != 3 {
						t.Fatalf("poll %d = %+v, %v: want a failure stuck at uid 3", poll, res, err)
					}
					continue
				}
				if err != nil || res.SetAside != 1 || res.Stuck != 0 {
					t.Fatalf("poll %d = %+v, %v: want the message set aside and the rest taken in", poll, res, err)
				}
			}
			entries, err := l.List(ledger.Filter{}, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 5 {
				t.Errorf("%d entries, want 5", len(entries))
			}
			// The set-aside entry still names its sender, subject and Message-ID for the
			// clerks (it once kept one byte of the message and named nothing).
			setAside := 0
			for _, e := range entries {
				if e.Subject != broken {
					continue
				}
				setAside++
				if !slices.Equal(e.Problems, []string{parser.CodeSetAside}) || e.NoReplyWhy != parser.CodeSetAside {
					t.Errorf("the broken message recorded as %+v, want set_aside", e)
				}
				raw, _ := set[2].Mail.Bytes()
				if from := set[2].Mail.From; e.From == "" || !strings.Contains(from, e.From) || e.MessageID == "" ||
					!bytes.Contains(raw, []byte("<"+e.MessageID+">")) {
					t.Errorf("the set-aside entry names from %q, Message-ID %q; want %q and the message's", e.From, e.MessageID, from)
				}
			}
			if setAside != 1 {
				t.Errorf("%d entries with the broken message's subject %q, want 1", setAside, broken)
			}
			seen := map[string]bool{}
			for _, e := range entries {
				if seen[e.Digest] {
					t.Errorf("%q recorded twice", e.Subject)
				}
				seen[e.Digest] = true
			}
			if got := m.count(t, "処理済み"); got != 5 {
				t.Errorf("processed folder holds %d, want 5", got)
			}
		})
	}
}
