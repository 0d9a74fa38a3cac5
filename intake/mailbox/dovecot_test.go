package mailbox

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/parser/testkit"
)

// End-to-end tests against a real Dovecot 2.3 (intake/dovecottest).

func dovecotOptions(s *dovecottest.Server, addr, mode, auth string) Options {
	return Options{
		Addr: addr, TLS: mode, RootCAs: s.CA, Username: s.User, Auth: auth,
		Secret:  func(context.Context) (string, error) { return s.Password, nil },
		Timeout: 5 * time.Second,
	}
}

func dovecotMessage(i int) []byte {
	return []byte(message(fmt.Sprintf("%d@e2e", i), fmt.Sprintf("本文 %d", i)))
}

func TestDovecotConnect(t *testing.T) {
	s := dovecottest.Start(t)
	s.Append(t, "INBOX", dovecotMessage(1), dovecotMessage(2))
	ports := []struct{ name, addr, mode string }{
		{"IMAPS", s.IMAPS, TLSImplicit},
		{"STARTTLS", s.STARTTLS, TLSStartTLS},
		{"Plain", s.Plain, TLSNone},
	}
	for _, p := range ports {
		for _, auth := range []string{AuthLogin, AuthPlain, AuthXOAuth2, AuthOAuthBearer} {
			t.Run(p.name+"/"+auth, func(t *testing.T) {
				ctx := context.Background()
				log, buf := debugLog()
				o := dovecotOptions(s, p.addr, p.mode, auth)
				o.Logger, o.Debug = log, true
				c, err := Dial(ctx, o)
				if err != nil {
					t.Fatalf("Dial = %v", err)
				}
				defer c.Close()
				st, err := c.Select(ctx, "INBOX")
				if err != nil || st.Messages != 2 || st.UIDNext != 3 {
					t.Fatalf("Select(INBOX) = %+v, %v", st, err)
				}
				raw, err := c.Fetch(ctx, 2)
				if err != nil || string(raw) != string(dovecotMessage(2)) {
					t.Errorf("Fetch(2) = %q, %v", raw, err)
				}
				c.Close()
				if out := buf.String(); strings.Contains(out, s.Password) || !strings.Contains(out, redacted) {
					t.Errorf("transcript shows the password or no redaction:\n%s", out)
				}
			})
		}
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		o := dovecotOptions(s, s.IMAPS, TLSImplicit, AuthLogin)
		o.RootCAs = nil // system roots do not know the test certificate
		_, err := Dial(context.Background(), o)
		if !errors.Is(err, ErrTLS) || Temporary(err) {
			t.Errorf("Dial with the system roots = %v, want ErrTLS, permanent", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		for _, auth := range []string{AuthLogin, AuthPlain, AuthXOAuth2, AuthOAuthBearer} {
			o := dovecotOptions(s, s.IMAPS, TLSImplicit, auth)
			o.Secret = func(context.Context) (string, error) { return "wrong", nil }
			_, err := Dial(context.Background(), o)
			if !errors.Is(err, ErrAuth) || Temporary(err) {
				t.Errorf("Dial(%s) with a wrong secret = %v, want ErrAuth, permanent", auth, err)
			}
		}
	})
}

// TestDovecotMoveJapanese moves into a folder that does not exist yet and whose name is
// Japanese: created, subscribed, and named right on the server.
func TestDovecotMoveJapanese(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []dovecottest.Option
	}{
		{"MOVE", nil},
		{"no MOVE", []dovecottest.Option{dovecottest.WithoutMove()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := dovecottest.Start(t, tc.opts...)
			s.Append(t, "INBOX", dovecotMessage(1), dovecotMessage(2), dovecotMessage(3))
			ctx := context.Background()
			c := dial(t, dovecotOptions(s, s.IMAPS, TLSImplicit, AuthLogin))
			caps, _ := c.Caps(ctx)
			if hasMove := slices.Contains(caps, "MOVE"); hasMove == (tc.opts != nil) {
				t.Fatalf("capabilities %v", caps)
			}
			if _, err := c.Select(ctx, "INBOX"); err != nil {
				t.Fatal(err)
			}
			// Another client's \Deleted message must survive our move.
			if err := c.store(ctx, uidSet([]uint32{3}), []imap.Flag{imap.FlagDeleted}); err != nil {
				t.Fatal(err)
			}
			const dest = "処理済み"
			if err := c.Move(ctx, []uint32{1, 2}, dest); err != nil {
				t.Fatalf("Move([1 2], %s) = %v", dest, err)
			}
			if n := s.Messages(t, dest); n != 2 {
				t.Errorf("Messages(%s) = %d, want 2", dest, n)
			}
			if n := s.Messages(t, "INBOX"); n != 1 {
				t.Errorf("Messages(INBOX) = %d, want 1 (the other client's \\Deleted one)", n)
			}
			if out, err := s.Doveadm("mailbox", "list", "-s", "-u", s.User); err != nil || !strings.Contains(out, dest) {
				t.Errorf("subscriptions = %q, %v; want %s", out, err, dest)
			}
			// The moved messages are intact in the new folder.
			if _, err := c.Select(ctx, dest); err != nil {
				t.Fatal(err)
			}
			if raw, err := c.Fetch(ctx, 2); err != nil || string(raw) != string(dovecotMessage(2)) {
				t.Errorf("Fetch(2) in %s = %q, %v", dest, raw, err)
			}
		})
	}
}

// TestDovecotFailingCopy: without MOVE, a COPY the server refuses (over quota) must delete
// nothing, flag nothing.
func TestDovecotFailingCopy(t *testing.T) {
	s := dovecottest.Start(t, dovecottest.WithoutMove(), dovecottest.WithMessageQuota(3))
	s.Append(t, "INBOX", dovecotMessage(1), dovecotMessage(2), dovecotMessage(3))
	s.CreateMailbox(t, "Done")
	ctx := context.Background()
	c := dial(t, dovecotOptions(s, s.Plain, TLSNone, AuthPlain))
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	err := c.Move(ctx, []uint32{1, 2, 3}, "Done")
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeOverQuota {
		t.Fatalf("Move over quota = %v, want NO [OVERQUOTA]", err)
	}
	if Temporary(err) {
		t.Errorf("Temporary(%v) = true, want an alert", err)
	}
	if n := s.Messages(t, "INBOX"); n != 3 {
		t.Errorf("Messages(INBOX) = %d, want 3", n)
	}
	if n := s.Messages(t, "Done"); n != 0 {
		t.Errorf("Messages(Done) = %d, want 0", n)
	}
	for uid := uint32(1); uid <= 3; uid++ {
		if f := flagsOf(t, c, uid); slices.Contains(f, `\Deleted`) {
			t.Errorf("UID %d flags %v after a failed COPY", uid, f)
		}
	}
}

// TestDovecotUIDValidityReset: after the server renumbers a mailbox, Since from 0 lists
// every message again, for the caller to download and recognise by its bytes.
func TestDovecotUIDValidityReset(t *testing.T) {
	s := dovecottest.Start(t)
	s.Append(t, "INBOX", dovecotMessage(1), dovecotMessage(2), dovecotMessage(3))
	ctx := context.Background()
	messageID := regexp.MustCompile(`(?m)^Message-ID: <([^>]+)>`)
	// list is Since(0) and the Message-ID of each message it lists, as downloaded.
	list := func() (Status, []Info, []string) {
		t.Helper()
		c := dial(t, dovecotOptions(s, s.STARTTLS, TLSStartTLS, AuthLogin))
		defer c.Close()
		st, err := c.Select(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		l, err := c.Since(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, i := range l {
			raw, err := c.Fetch(ctx, i.UID)
			if err != nil {
				t.Fatal(err)
			}
			if m := messageID.FindSubmatch(raw); m != nil {
				ids = append(ids, string(m[1]))
			}
		}
		return st, l, ids
	}
	st1, l1, _ := list()
	c := dial(t, dovecotOptions(s, s.STARTTLS, TLSStartTLS, AuthLogin))
	c.Select(ctx, "INBOX")
	if err := c.Move(ctx, []uint32{1}, "Done"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Append(t, "INBOX", dovecotMessage(4))
	s.ResetUIDValidity(t, "INBOX")
	st2, l2, ids2 := list()
	if st2.UIDValidity == st1.UIDValidity {
		t.Fatalf("UIDVALIDITY stayed %d", st1.UIDValidity)
	}
	if got, want := ids2, []string{"2@e2e", "3@e2e", "4@e2e"}; !slices.Equal(got, want) {
		t.Errorf("Since(0) after the reset = %v, want %v", got, want)
	}
	if got := uidsOf(l2); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("UIDs after the reset = %v, want renumbered [1 2 3]", got)
	}
	// Stale state: a caller that kept its old high-water mark and ignored UIDVALIDITY
	// would miss message 4 (UID 3 now, below the old mark 3+1): hence the check of
	// UIDVALIDITY, which is the caller's.
	if old := l1[len(l1)-1].UID; old != 3 {
		t.Errorf("old high-water mark %d", old)
	}
	if st2.UIDNext != 4 {
		t.Errorf("UIDNext after the reset = %d, want 4", st2.UIDNext)
	}
}

// TestDovecotStall: the server is stopped (SIGSTOP-like: we pause the connection with
// the proxy) in the middle of a fetch.
func TestDovecotStall(t *testing.T) {
	s := dovecottest.Start(t)
	s.Append(t, "INBOX", []byte(message("big@e2e", strings.Repeat("x", 2<<20))))
	p := testkit.StartProxy(t, s.Plain)
	o := dovecotOptions(s, p.Addr, TLSNone, AuthLogin)
	o.Timeout = 300 * time.Millisecond
	c := dial(t, o)
	ctx := context.Background()
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	p.StallAfter(64 << 10)
	if _, err := c.Fetch(ctx, 1); !errors.Is(err, ErrTimeout) || !Temporary(err) {
		t.Errorf("Fetch through a stalled connection = %v, want ErrTimeout, temporary", err)
	}
}

// TestDovecotFigures measures the poll path on 10,000 messages.
func TestDovecotFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 messages")
	}
	const n = 10000
	s := dovecottest.Start(t)
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = []byte(message(fmt.Sprintf("%d@figures", i), strings.Repeat("本文の行です。\r\n", 40)))
	}
	start := time.Now()
	s.Append(t, "INBOX", msgs...)
	appendTook := time.Since(start)

	ctx := context.Background()
	c := dial(t, dovecotOptions(s, s.Plain, TLSNone, AuthLogin))
	start = time.Now()
	st, err := c.Select(ctx, "INBOX")
	firstSelect := time.Since(start)
	if err != nil || st.Messages != n {
		t.Fatalf("Select = %+v, %v", st, err)
	}
	start = time.Now()
	l, err := c.Since(ctx, 0)
	sinceTook := time.Since(start)
	if err != nil || len(l) != n {
		t.Fatalf("Since(0) = %d, %v", len(l), err)
	}
	start = time.Now()
	l2, err := c.Since(ctx, 0)
	sinceAgain := time.Since(start)
	if err != nil || len(l2) != n {
		t.Fatalf("Since(0) = %d, %v", len(l2), err)
	}
	start = time.Now()
	var bytes int
	for _, i := range l {
		raw, err := c.Fetch(ctx, i.UID)
		if err != nil {
			t.Fatal(err)
		}
		bytes += len(raw)
	}
	fetchTook := time.Since(start)
	start = time.Now()
	var pipelined int
	for batch := range slices.Chunk(uidsOf(l), 500) {
		if err := c.FetchEach(ctx, batch, func(uid uint32, raw []byte) error { pipelined++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	eachTook := time.Since(start)
	if pipelined != n {
		t.Errorf("FetchEach fetched %d, want %d", pipelined, n)
	}

	// An idle poll: SELECT only (what the caller does when UIDNext is what it expects).
	c.Close()
	c = dial(t, dovecotOptions(s, s.Plain, TLSNone, AuthLogin))
	start = time.Now()
	const polls = 20
	for range polls {
		if _, err := c.Select(ctx, "INBOX"); err != nil {
			t.Fatal(err)
		}
	}
	idle := time.Since(start) / polls
	start = time.Now()
	if err := c.Move(ctx, uidsOf(l[:1000]), "処理済み"); err != nil {
		t.Fatal(err)
	}
	moveTook := time.Since(start)

	t.Logf("Append %d messages (maildir files): %v", n, appendTook.Round(time.Millisecond))
	t.Logf("first SELECT (Dovecot indexes the new mail): %v", firstSelect.Round(time.Millisecond))
	t.Logf("Since(0) over %d: %v (again, cached: %v)", n, sinceTook.Round(time.Millisecond), sinceAgain.Round(time.Millisecond))
	t.Logf("Fetch one by one: %d messages, %.1f MB in %v: %.0f messages/s", n, float64(bytes)/1e6, fetchTook.Round(time.Millisecond), n/fetchTook.Seconds())
	t.Logf("FetchEach in batches of 500: %v: %.0f messages/s", eachTook.Round(time.Millisecond), n/eachTook.Seconds())
	t.Logf("idle poll (SELECT): %v", idle.Round(time.Microsecond))
	t.Logf("Move of 1,000 UIDs to a new folder in one UID MOVE: %v", moveTook.Round(time.Millisecond))
}

func TestDovecotFlag(t *testing.T) {
	s := dovecottest.Start(t)
	s.Append(t, "INBOX", dovecotMessage(1), dovecotMessage(2))
	ctx := context.Background()
	c := dial(t, dovecotOptions(s, s.IMAPS, TLSImplicit, AuthLogin))
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := c.Flag(ctx, []uint32{2}, `\Seen`, "$Hosho-Processed"); err != nil {
		t.Fatalf("Flag = %v", err)
	}
	if got := flagsOf(t, c, 2); !slices.Contains(got, `\Seen`) || !slices.Contains(got, "$Hosho-Processed") {
		t.Errorf("flags of UID 2 = %v, want \\Seen and $Hosho-Processed (Dovecot keeps the case)", got)
	}
	if got := flagsOf(t, c, 1); slices.Contains(got, `\Seen`) || slices.Contains(got, "$Hosho-Processed") {
		t.Errorf("flags of UID 1 = %v, want neither", got)
	}
}
