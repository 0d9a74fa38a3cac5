package intake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake"
	"hosho-intake/intake/inbound"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/mailbox"
	"hosho-intake/intake/samplemail"
)

// memMailbox is go-imap's in-memory server on 127.0.0.1 with one user and an INBOX. Its
// quirks (bogus EXPUNGE numbers on MOVE, lower-cased keywords) are not the protocol's; the
// end-to-end tests against Dovecot cover the real thing.
type memMailbox struct {
	addr string
	user *imapmemserver.User
}

func startMemMailbox(t *testing.T) *memMailbox {
	t.Helper()
	m := &memMailbox{user: imapmemserver.NewUser("agency", "pw")}
	if err := m.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem := imapmemserver.New()
	mem.AddUser(m.user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	m.addr = ln.Addr().String()
	return m
}

type sized struct {
	*bytes.Reader
	n int64
}

func (s sized) Size() int64 { return s.n }

func (m *memMailbox) append(t *testing.T, raw []byte) {
	t.Helper()
	if _, err := m.user.Append("INBOX", sized{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (m *memMailbox) count(t *testing.T, name string) int {
	t.Helper()
	st, err := m.user.Status(name, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return -1
	}
	return int(*st.NumMessages)
}

type intakePoller = intake.Poller

func openLedger(t *testing.T, dir string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// newPollerWith is a poller over l with no way to dial yet.
func newPollerWith(t *testing.T, l *ledger.Ledger) (*intake.Poller, *ledger.Ledger) {
	t.Helper()
	return &intake.Poller{
		Mailbox: "INBOX", Processed: "処理済み", MaxSize: 10 << 20, Limits: inbound.DefaultLimits(),
		Ledger: l, PDFs: intake.InProcess{}, Log: slog.New(slog.DiscardHandler), Workers: 3, MoveBatch: 4,
		FetchBatch: 5, CommitBatch: 3,
	}, l
}

func newPoller(t *testing.T, addr, stateDir string) (*intake.Poller, *ledger.Ledger) {
	t.Helper()
	p, l := newPollerWith(t, openLedger(t, stateDir))
	p.Dial = func(ctx context.Context) (*mailbox.Session, error) {
		return mailbox.Dial(ctx, mailbox.Options{Addr: addr, TLS: mailbox.TLSNone, Username: "agency", Auth: mailbox.AuthLogin,
			Secret: func(context.Context) (string, error) { return "pw", nil }, Timeout: 10 * time.Second})
	}
	return p, l
}

// rawMails returns n distinct realistic messages.
func rawMails(t *testing.T, n int) [][]byte {
	t.Helper()
	raws, err := samplemail.Messages(n)
	if err != nil {
		t.Fatal(err)
	}
	return raws
}

func scenarioMails(t *testing.T, seed int) []samplemail.Scenario {
	t.Helper()
	set, err := samplemail.Set(seed)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestPollTakesEverythingOnce(t *testing.T) {
	m := startMemMailbox(t)
	set := scenarioMails(t, 3)
	for _, s := range set {
		raw, err := s.Mail.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		m.append(t, raw)
	}
	p, l := newPoller(t, m.addr, t.TempDir())
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.New != len(set) || res.Recorded != len(set) || res.Moved != len(set) {
		t.Fatalf("first poll = %+v, want %d new, recorded and moved", res, len(set))
	}
	if got := m.count(t, "INBOX"); got != 0 {
		t.Errorf("INBOX holds %d messages after the poll, want 0", got)
	}
	if got := m.count(t, "処理済み"); got != len(set) {
		t.Errorf("processed folder holds %d, want %d", got, len(set))
	}
	entries, err := l.List(ledger.Filter{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, s := range set {
		outcome := intake.OutcomeProblems
		switch {
		case !s.Reply:
			outcome = intake.OutcomeNoReply
		case len(s.Notices) > 0:
			outcome = intake.OutcomeNotices
		}
		want[s.Mail.Subject] = outcome
	}
	for _, e := range entries {
		if want[e.Subject] != e.Outcome {
			t.Errorf("entry %q: outcome %q, want %q", e.Subject, e.Outcome, want[e.Subject])
		}
		if !e.Moved || e.Raw == "" || e.Digest == "" {
			t.Errorf("entry %+v: want moved, raw stored, digest", e)
		}
	}
	// Nothing new: nothing recorded, nothing moved.
	res, err = p.Poll(context.Background())
	if err != nil || res.New != 0 || res.Recorded != 0 || res.Moved != 0 {
		t.Errorf("second poll = %+v, %v; want nothing", res, err)
	}
}

func TestPollFailingPartWayKeepsWhatItFinished(t *testing.T) {
	m := startMemMailbox(t)
	set := scenarioMails(t, 4)
	for _, s := range set[:6] {
		raw, _ := s.Mail.Bytes()
		m.append(t, raw)
	}
	p, l := newPoller(t, m.addr, t.TempDir())
	broken := set[3].Mail.Subject
	p.Record = func(tx *bolt.Tx, e *ledger.Entry, c *intake.Contents) error {
		if e.Subject == broken {
			return errors.New("disk full")
		}
		return nil
	}
	if _, err := p.Poll(context.Background()); err == nil {
		t.Fatal("poll succeeded though recording failed")
	}
	cur, _ := l.Cursor("INBOX")
	if cur.LastUID != 3 {
		t.Errorf("cursor at uid %d, want 3 (the last message recorded before the failure)", cur.LastUID)
	}
	p.Record = nil
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Recorded != 3 {
		t.Errorf("second poll recorded %d, want the 3 left", res.Recorded)
	}
	st, _ := l.Stats()
	if st.Messages != 6 {
		t.Errorf("ledger holds %d messages, want 6, each once", st.Messages)
	}
	if got := m.count(t, "処理済み"); got != 6 {
		t.Errorf("processed folder holds %d, want 6", got)
	}
}

func TestPollRepairsAMoveLostInACrash(t *testing.T) {
	m := startMemMailbox(t)
	set := scenarioMails(t, 5)
	for _, s := range set[:3] {
		raw, _ := s.Mail.Bytes()
		m.append(t, raw)
	}
	dir := t.TempDir()
	p, l := newPoller(t, m.addr, dir)
	// The crash: the poll recorded the messages, then died before the move. A Dial that
	// fails once the fetching is done stands for it: recording happens, moving cannot.
	p.Processed = "存在しない/../"
	if _, err := p.Poll(context.Background()); err == nil {
		t.Fatal("the move to an impossible folder succeeded")
	}
	if n, _ := l.Unmoved("INBOX"); len(n) != 3 {
		t.Fatalf("%d unmoved entries, want 3", len(n))
	}
	p.Processed = "処理済み"
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Repaired != 3 || res.Recorded != 0 {
		t.Errorf("poll after the crash = %+v, want 3 repaired and none recorded again", res)
	}
	if got := m.count(t, "処理済み"); got != 3 {
		t.Errorf("processed folder holds %d, want 3", got)
	}
}

func TestPollUIDValidityChange(t *testing.T) {
	m := startMemMailbox(t)
	set := scenarioMails(t, 6)
	var raws [][]byte
	for _, s := range set[:4] {
		raw, _ := s.Mail.Bytes()
		raws = append(raws, raw)
		m.append(t, raw)
	}
	p, l := newPoller(t, m.addr, t.TempDir())
	p.Processed = "" // flag instead of moving, so the messages stay in INBOX
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The server loses its index: the mailbox is recreated with a new UIDVALIDITY, the
	// same messages in it, plus one new one.
	if err := m.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := m.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	for _, raw := range raws {
		m.append(t, raw)
	}
	extra, _ := set[4].Mail.Bytes()
	m.append(t, extra)
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicates != 4 || res.Recorded != 1 {
		t.Errorf("poll after the UIDVALIDITY change = %+v, want 4 duplicates and 1 recorded", res)
	}
	st, _ := l.Stats()
	if st.Messages != 5 {
		t.Errorf("ledger holds %d messages, want 5", st.Messages)
	}
}

func TestPollTooLarge(t *testing.T) {
	m := startMemMailbox(t)
	big := samplemail.Mail{From: "big@example.jp", To: "agency@example.jp", Subject: "写真", Body: "添付します",
		Attachments: []samplemail.Attachment{{Name: "photo.pdf", Data: bytes.Repeat([]byte("x"), 300<<10)}}}
	raw, err := big.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m.append(t, raw)
	p, l := newPoller(t, m.addr, t.TempDir())
	p.MaxSize = 100 << 10
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	es, _ := l.List(ledger.Filter{}, 10)
	if len(es) != 1 || es[0].Outcome != intake.OutcomeTooLarge || fmt.Sprint(es[0].Problems) != "[too_large]" || es[0].From != "big@example.jp" {
		t.Fatalf("entries %+v, want one too_large with its sender", es)
	}
	stored, err := l.Raw(es[0].ID)
	if err != nil || len(stored) >= 100<<10 {
		t.Errorf("stored %d bytes, %v: want only the header", len(stored), err)
	}
}

// TestPollKeepsEachRawWhole: the download buffers go back for reuse once their message is
// recorded (msgbuf.Release); every message of two polls, of sizes across many buffer
// classes and fetched while earlier ones are committed, is kept as it was sent, and read
// as it was sent (its sender and subject).
func TestPollKeepsEachRawWhole(t *testing.T) {
	m := startMemMailbox(t)
	p, l := newPoller(t, m.addr, t.TempDir())
	var raws [][]byte
	for round := range 2 {
		for i := range 30 {
			mail := samplemail.Mail{From: fmt.Sprintf("sender%d@example.jp", len(raws)), To: "agency@example.jp",
				Subject: fmt.Sprintf("件名 %d", len(raws)), Body: strings.Repeat("本文です。", 50+i*97%400),
				Attachments: []samplemail.Attachment{{Name: "photo.jpg", Data: bytes.Repeat([]byte{byte(len(raws))}, 1000+i*4099%60000)}}}
			raw, err := mail.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			m.append(t, raw)
			raws = append(raws, raw)
		}
		if res, err := p.Poll(context.Background()); err != nil || res.Recorded != 30 {
			t.Fatalf("poll %d: %+v, %v; want 30 recorded", round+1, res, err)
		}
	}
	es, err := l.List(ledger.Filter{}, 0)
	if err != nil || len(es) != len(raws) {
		t.Fatalf("ledger lists %d entries, %v; want %d", len(es), err, len(raws))
	}
	for _, e := range es {
		i := int(e.UID) - 1
		stored, err := l.Raw(e.ID)
		if err != nil || !bytes.Equal(stored, raws[i]) || e.Digest != ledger.Digest(raws[i]) {
			t.Errorf("uid %d: stored %d bytes (%v), sent %d; digest %s", e.UID, len(stored), err, len(raws[i]), e.Digest)
		}
		if want := fmt.Sprintf("sender%d@example.jp", i); e.From != want || e.Subject != fmt.Sprintf("件名 %d", i) {
			t.Errorf("uid %d read as from %q subject %q, want %q", e.UID, e.From, e.Subject, want)
		}
	}
}

// TestMain: started with HOSHO_INTAKE_TEST_WORKER=1 the test binary is a PDF reader for
// the tests' sandbox pools (see budget_test.go).
func TestMain(m *testing.M) {
	if os.Getenv("HOSHO_INTAKE_TEST_WORKER") == "1" {
		if err := serveTestWorker(); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
