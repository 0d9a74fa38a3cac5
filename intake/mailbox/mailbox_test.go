package mailbox

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"hosho-intake/parser/testkit"
)

// flagsOf returns the flags of a message of the selected mailbox.
func flagsOf(t *testing.T, s *Session, uid uint32) []string {
	t.Helper()
	bufs, err := s.c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(bufs) != 1 {
		t.Fatalf("fetching flags of %d: %v", uid, err)
	}
	var l []string
	for _, f := range bufs[0].Flags {
		l = append(l, string(f))
	}
	return l
}

func uidsOf(l []Info) []uint32 {
	var u []uint32
	for _, i := range l {
		u = append(u, i.UID)
	}
	return u
}

func TestSince(t *testing.T) {
	ms := startMem(t, memOptions{})
	ms.user.Create("Empty", nil)
	ms.append(t, "INBOX", message("a@x", "one"), message("b@x", "two"), message("c@x", "three"))
	s := dial(t, loginOptions(ms.Addr))

	st, err := s.Select(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 3 || st.UIDNext != 4 || st.UIDValidity == 0 {
		t.Fatalf("Select(INBOX) = %+v, want 3 messages, UIDNext 4", st)
	}
	for _, tc := range []struct {
		after uint32
		want  []uint32
	}{
		{0, []uint32{1, 2, 3}},
		{1, []uint32{2, 3}},
		{2, []uint32{3}},
		{3, nil},   // "4:*" names UID 3, the highest: dropped
		{100, nil}, // likewise
	} {
		l, err := s.Since(context.Background(), tc.after)
		if err != nil {
			t.Fatalf("Since(%d) = %v", tc.after, err)
		}
		if got := uidsOf(l); !slices.Equal(got, tc.want) {
			t.Errorf("Since(%d) = %v, want %v", tc.after, got, tc.want)
		}
	}
	l, _ := s.Since(context.Background(), 0)
	want := Info{UID: 1, Size: int64(len(message("a@x", "one"))), InternalDate: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}
	if got := l[0]; got.UID != want.UID || got.Size != want.Size || !got.InternalDate.Equal(want.InternalDate) {
		t.Errorf("Since(0)[0] = %+v, want %+v", got, want)
	}

	if _, err := s.Select(context.Background(), "Empty"); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Since(context.Background(), 0); err != nil || len(l) != 0 {
		t.Errorf("Since(0) on an empty mailbox = %v, %v; want none", uidsOf(l), err)
	}
}

func TestSelectMissing(t *testing.T) {
	ms := startMem(t, memOptions{})
	s := dial(t, loginOptions(ms.Addr))
	_, err := s.Select(context.Background(), "Nope")
	if !errors.Is(err, ErrNoMailbox) || Temporary(err) {
		t.Fatalf("Select(Nope) = %v, want ErrNoMailbox, permanent", err)
	}
	// The session goes on.
	if _, err := s.Select(context.Background(), "INBOX"); err != nil {
		t.Fatalf("Select(INBOX) after a failed one = %v", err)
	}
}

func TestFetch(t *testing.T) {
	ms := startMem(t, memOptions{})
	big := strings.Repeat("0123456789abcdef\r\n", 1<<16) // 1.1 MiB
	ms.append(t, "INBOX", message("a@x", "one"), message("big@x", big))
	s := dial(t, loginOptions(ms.Addr))
	if _, err := s.Select(context.Background(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		uid  uint32
		want string
	}{
		{1, message("a@x", "one")},
		{2, message("big@x", big)},
	} {
		got, err := s.Fetch(context.Background(), tc.uid)
		if err != nil || string(got) != tc.want {
			t.Errorf("Fetch(%d) = %d bytes, %v; want %d bytes", tc.uid, len(got), err, len(tc.want))
		}
	}
	h, err := s.FetchHeader(context.Background(), 2)
	if want, _, _ := strings.Cut(message("big@x", big), "\r\n\r\n"); err != nil || string(h) != want+"\r\n\r\n" {
		t.Errorf("FetchHeader(2) = %q, %v", h, err)
	}
	if _, err := s.Fetch(context.Background(), 99); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Fetch(99) = %v, want ErrNoMessage", err)
	}
	// BODY.PEEK: nothing became \Seen.
	if f := flagsOf(t, s, 1); slices.Contains(f, `\Seen`) {
		t.Errorf("flags of UID 1 after Fetch = %v, want no \\Seen", f)
	}

	small := loginOptions(ms.Addr)
	small.MaxSize = 1 << 20
	s2 := dial(t, small)
	s2.Select(context.Background(), "INBOX")
	if _, err := s2.Fetch(context.Background(), 2); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Fetch(2) with MaxSize 1 MiB = %v, want ErrTooLarge", err)
	}
	if got, err := s2.Fetch(context.Background(), 1); err != nil || string(got) != message("a@x", "one") {
		t.Errorf("Fetch(1) after a refused one = %q, %v", got, err)
	}
}

func TestFetchEach(t *testing.T) {
	ms := startMem(t, memOptions{})
	ms.append(t, "INBOX", message("1@x", "1"), message("2@x", "2"), message("3@x", "3"))
	o := loginOptions(ms.Addr)
	o.Timeout = 200 * time.Millisecond
	s := dial(t, o)
	ctx := context.Background()
	if _, err := s.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	var got []uint32
	err := s.FetchEach(ctx, []uint32{3, 1, 2, 99}, func(uid uint32, raw []byte) error {
		if want := message(fmt.Sprintf("%d@x", uid), fmt.Sprint(uid)); string(raw) != want {
			t.Errorf("FetchEach gave UID %d %q, want %q", uid, raw, want)
		}
		got = append(got, uid)
		// Slower than the timeout: the caller's time is not the server's silence.
		time.Sleep(300 * time.Millisecond)
		return nil
	})
	if err != nil || !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("FetchEach([3 1 2 99]) = %v, %v; want [1 2 3] (99 does not exist)", got, err)
	}
	stop := errors.New("stop")
	got = nil
	err = s.FetchEach(ctx, []uint32{1, 2, 3}, func(uid uint32, raw []byte) error {
		got = append(got, uid)
		return stop
	})
	if err != stop || len(got) != 1 {
		t.Errorf("FetchEach stopped by fn = %v after %v, want the fn's error after one", err, got)
	}
	// The session goes on after the drained rest.
	if raw, err := s.Fetch(ctx, 3); err != nil || string(raw) != message("3@x", "3") {
		t.Errorf("Fetch(3) after a stopped FetchEach = %q, %v", raw, err)
	}
}

func TestMove(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts memOptions
	}{
		{"MOVE", memOptions{}},
		{"COPY+UID EXPUNGE", memOptions{noMove: true}},
		{"COPY+EXPUNGE", memOptions{noMove: true, noUIDPlus: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := startMem(t, tc.opts)
			ms.append(t, "INBOX", message("1@x", "1"), message("2@x", "2"), message("3@x", "3"), message("4@x", "4"))
			s := dial(t, loginOptions(ms.Addr))
			ctx := context.Background()
			if _, err := s.Select(ctx, "INBOX"); err != nil {
				t.Fatal(err)
			}
			// Japanese, absent: created on the way (TRYCREATE).
			if err := s.Move(ctx, []uint32{1, 3}, "処理済み"); err != nil {
				t.Fatalf("Move([1 3], 処理済み) = %v", err)
			}
			if got := ms.count(t, "処理済み"); got != 2 {
				t.Errorf("処理済み holds %d, want 2", got)
			}
			if got := ms.count(t, "INBOX"); got != 2 {
				t.Errorf("INBOX holds %d, want 2", got)
			}
			// Again, now that it exists; plus a UID that is gone.
			if err := s.Move(ctx, []uint32{2, 3}, "処理済み"); err != nil {
				t.Fatalf("Move([2 3], 処理済み) = %v", err)
			}
			if got := ms.count(t, "処理済み"); got != 3 {
				t.Errorf("処理済み holds %d, want 3", got)
			}
			l, err := s.Since(ctx, 0)
			if err != nil || !slices.Equal(uidsOf(l), []uint32{4}) {
				t.Errorf("Since(0) after moves = %v, %v; want [4]", uidsOf(l), err)
			}

			// A refused COPY (or MOVE) must leave everything in place.
			ms.failCopy.Store(true)
			if tc.opts.noMove {
				err := s.Move(ctx, []uint32{4}, "処理済み")
				if err == nil {
					t.Fatal("Move with a failing COPY = nil, want an error")
				}
				if got := ms.count(t, "INBOX"); got != 1 {
					t.Errorf("INBOX holds %d after a failed COPY, want 1", got)
				}
				if l, _ := s.Since(ctx, 0); !slices.Equal(uidsOf(l), []uint32{4}) {
					t.Errorf("Since(0) after a failed COPY = %v, want [4]", uidsOf(l))
				}
			}
		})
	}
}

// TestMoveKeepsOthersDeleted: without UIDPLUS, messages another client flagged \Deleted
// must survive our move.
func TestMoveKeepsOthersDeleted(t *testing.T) {
	ms := startMem(t, memOptions{noMove: true, noUIDPlus: true})
	ms.append(t, "INBOX", message("1@x", "1"), message("2@x", "2"))
	ms.user.Create("Done", nil)
	s := dial(t, loginOptions(ms.Addr))
	ctx := context.Background()
	s.Select(ctx, "INBOX")
	if err := s.store(ctx, uidSet([]uint32{2}), []imap.Flag{imap.FlagDeleted}); err != nil {
		t.Fatal(err)
	}
	if err := s.Move(ctx, []uint32{1}, "Done"); err != nil {
		t.Fatalf("Move = %v", err)
	}
	if got := ms.count(t, "INBOX"); got != 2 {
		t.Errorf("INBOX holds %d, want 2 (ours left \\Deleted, theirs untouched)", got)
	}
	if got := ms.count(t, "Done"); got != 1 {
		t.Errorf("Done holds %d, want 1", got)
	}
}

func TestFlag(t *testing.T) {
	ms := startMem(t, memOptions{})
	ms.append(t, "INBOX", message("1@x", "1"), message("2@x", "2"))
	s := dial(t, loginOptions(ms.Addr))
	ctx := context.Background()
	if _, err := s.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := s.Flag(ctx, []uint32{1, 2}, `\Seen`, "$Hosho-Processed"); err != nil {
		t.Fatalf("Flag = %v", err)
	}
	if err := s.Flag(ctx, []uint32{1}, "bad flag"); !errors.Is(err, ErrConfig) {
		t.Errorf(`Flag("bad flag") = %v, want ErrConfig`, err)
	}
	// The memory server lower-cases keywords: compare as the protocol does, ignoring case.
	got := flagsOf(t, s, 2)
	if !slices.ContainsFunc(got, func(f string) bool { return strings.EqualFold(f, "$Hosho-Processed") }) || !slices.Contains(got, `\Seen`) {
		t.Errorf("flags of UID 2 = %v, want \\Seen and $Hosho-Processed", got)
	}
}

func TestPermanent(t *testing.T) {
	list := func(s string) []imap.Flag {
		var l []imap.Flag
		for _, f := range strings.Fields(s) {
			l = append(l, imap.Flag(f))
		}
		return l
	}
	for _, tc := range []struct {
		flags, perm, flag string
		want              bool
	}{
		{`\Seen \Deleted`, ``, `$Hosho-Processed`, true}, // no PERMANENTFLAGS: all are kept
		{`\Seen \Deleted`, `\Seen \*`, `$Hosho-Processed`, true},
		{`\Seen \Flagged`, `\Seen \*`, `\Flagged`, false}, // \* is for keywords only
		{`\Seen \Deleted`, `\Seen \Deleted`, `$Hosho-Processed`, false},
		{`\Seen $hosho-processed`, `\Seen $hosho-processed`, `$Hosho-Processed`, true},
		{`\Seen`, `\seen`, `\Seen`, true},
		{``, `\*`, `\Seen`, true}, // go-imap's memory server: FLAGS lists only flags in use
		{`\Seen \Deleted`, `\Deleted`, `\Seen`, false},
	} {
		if got := permanent(list(tc.flags), list(tc.perm), imap.Flag(tc.flag)); got != tc.want {
			t.Errorf("permanent(FLAGS (%s), PERMANENTFLAGS (%s), %s) = %v, want %v", tc.flags, tc.perm, tc.flag, got, tc.want)
		}
	}
}

func TestAuth(t *testing.T) {
	ms := startMem(t, memOptions{})
	for _, tc := range []struct {
		auth, secret string
		wantMech     string
		wantErr      error
	}{
		{AuthLogin, testPassword, "LOGIN", nil},
		{AuthPlain, testPassword, "PLAIN", nil},
		{AuthXOAuth2, testToken, XOAuth2, nil},
		{AuthOAuthBearer, testToken, "OAUTHBEARER", nil},
		{AuthLogin, "wrong", "LOGIN", ErrAuth},
		{AuthPlain, "wrong", "PLAIN", ErrAuth},
		{AuthXOAuth2, "expired", XOAuth2, ErrAuth},
		{AuthOAuthBearer, "expired", "OAUTHBEARER", ErrAuth},
	} {
		t.Run(tc.auth+"/"+tc.secret, func(t *testing.T) {
			o := loginOptions(ms.Addr)
			o.Auth = tc.auth
			o.Secret = func(context.Context) (string, error) { return tc.secret, nil }
			n := len(ms.used())
			s, err := Dial(context.Background(), o)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Dial = %v", err)
				}
				if _, err := s.Select(context.Background(), "INBOX"); err != nil {
					t.Errorf("Select after %s = %v", tc.auth, err)
				}
				s.Close()
			} else if !errors.Is(err, tc.wantErr) || Temporary(err) {
				t.Fatalf("Dial = %v, want %v, permanent", err, tc.wantErr)
			}
			if used := ms.used()[n:]; len(used) != 1 || used[0] != tc.wantMech {
				t.Errorf("server saw %v, want [%s]", used, tc.wantMech)
			}
		})
	}
}

func TestSASLClients(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mech   string
		ir     string
		client func() (string, []byte, error)
	}{
		{"xoauth2", "XOAUTH2", "user=agency@example.jp\x01auth=Bearer tok\x01\x01",
			NewXOAuth2Client("agency@example.jp", "tok").Start},
		// RFC 7628 section 3.1: gs2 header with authzid, then host, port, auth.
		{"oauthbearer", "OAUTHBEARER", "n,a=agency@example.jp,\x01host=imap.example.jp\x01port=993\x01auth=Bearer tok\x01\x01",
			newOAuthBearerClient("agency@example.jp", "tok", "imap.example.jp:993").Start},
	} {
		mech, ir, err := tc.client()
		if err != nil || mech != tc.mech || string(ir) != tc.ir {
			t.Errorf("%s Start() = %q, %q, %v; want %q, %q", tc.name, mech, ir, err, tc.mech, tc.ir)
		}
	}
	var refused *tokenRefused
	_, err := NewXOAuth2Client("u", "t").Next([]byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`))
	if !errors.As(err, &refused) || refused.status != "401" {
		t.Errorf("XOAUTH2 Next(error JSON) = %v, want a refusal with status 401", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
	}{
		{"unknown auth", func(o *Options) { o.Auth = "cram-md5" }},
		{"unknown tls", func(o *Options) { o.TLS = "ssl" }},
		{"no port", func(o *Options) { o.Addr = "127.0.0.1" }},
		{"no secret", func(o *Options) { o.Secret = nil }},
	} {
		o := loginOptions("127.0.0.1:1")
		tc.edit(&o)
		if _, err := Dial(context.Background(), o); !errors.Is(err, ErrConfig) || Temporary(err) {
			t.Errorf("Dial with %s = %v, want ErrConfig", tc.name, err)
		}
	}
}

func TestTLSNoneOnlyLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:1", true},
		{"[::1]:1", true},
		{"localhost:1", true},
		{"192.0.2.1:143", false},
		{"[2001:db8::1]:143", false},
	} {
		o := loginOptions(tc.addr)
		o.Timeout = 200 * time.Millisecond
		_, err := Dial(context.Background(), o)
		if refused := errors.Is(err, ErrConfig); refused == tc.ok {
			t.Errorf("Dial(%s, tls none) = %v; want refused %v", tc.addr, err, !tc.ok)
		}
	}
}

// TestSilentServer: a server that accepts the connection and never greets must not hang
// Dial.
func TestSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, mode := range []string{TLSNone, TLSImplicit, TLSStartTLS} {
		o := loginOptions(ln.Addr().String())
		o.TLS = mode
		o.Timeout = 300 * time.Millisecond
		start := time.Now()
		_, err := Dial(context.Background(), o)
		took := time.Since(start)
		if !errors.Is(err, ErrTimeout) || !Temporary(err) {
			t.Errorf("Dial(%s) to a silent server = %v, want ErrTimeout, temporary", mode, err)
		}
		if took > o.Timeout+time.Second {
			t.Errorf("Dial(%s) to a silent server took %v, timeout %v", mode, took, o.Timeout)
		}
	}
}

// TestStallMidFetch: the server stops sending in the middle of a message; the watchdog
// closes the connection and the error is temporary.
func TestStallMidFetch(t *testing.T) {
	ms := startMem(t, memOptions{})
	ms.append(t, "INBOX", message("big@x", strings.Repeat("x", 1<<20)))
	p := testkit.StartProxy(t, ms.Addr)
	o := loginOptions(p.Addr)
	o.Timeout = 300 * time.Millisecond
	s := dial(t, o)
	ctx := context.Background()
	if _, err := s.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	p.StallAfter(100 << 10)
	start := time.Now()
	_, err := s.Fetch(ctx, 1)
	if !errors.Is(err, ErrTimeout) || !Temporary(err) {
		t.Fatalf("Fetch through a stalled server = %v, want ErrTimeout, temporary", err)
	}
	if took := time.Since(start); took > o.Timeout+time.Second {
		t.Errorf("Fetch through a stalled server took %v", took)
	}
	// The session is dead and says so at once.
	if _, err := s.Since(ctx, 0); !errors.Is(err, ErrTimeout) {
		t.Errorf("Since after the watchdog fired = %v, want ErrTimeout", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after the watchdog fired = %v", err)
	}
}

// TestSlowButAlive: a FETCH that keeps streaming for longer than Timeout is not cut.
func TestSlowButAlive(t *testing.T) {
	ms := startMem(t, memOptions{})
	body := strings.Repeat("y", 3<<20)
	ms.append(t, "INBOX", message("slow@x", body))
	p := testkit.StartProxy(t, ms.Addr)
	o := loginOptions(p.Addr)
	o.Timeout = 300 * time.Millisecond
	s := dial(t, o)
	s.Select(context.Background(), "INBOX")
	// Feed the response in slices spaced below the timeout, for about 3 timeouts.
	p.StallAfter(0)
	go func() {
		for i := 0; i < 8; i++ {
			time.Sleep(120 * time.Millisecond)
			p.StallAfter(1 << 20)
		}
		p.Resume()
	}()
	got, err := s.Fetch(context.Background(), 1)
	if err != nil || len(got) != len(message("slow@x", body)) {
		t.Fatalf("Fetch of a slow stream = %d bytes, %v", len(got), err)
	}
}

func TestContextCancel(t *testing.T) {
	ms := startMem(t, memOptions{})
	ms.append(t, "INBOX", message("1@x", "1"))
	p := testkit.StartProxy(t, ms.Addr)
	o := loginOptions(p.Addr)
	o.Timeout = time.Minute
	s := dial(t, o)
	s.Select(context.Background(), "INBOX")
	p.StallAfter(0)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Since(ctx, 0)
	if !errors.Is(err, context.DeadlineExceeded) || !Temporary(err) {
		t.Errorf("Since with an expiring context = %v, want DeadlineExceeded, temporary", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Since with a 200ms context took %v", took)
	}
}

func TestDebugTranscriptRedacts(t *testing.T) {
	ms := startMem(t, memOptions{})
	for _, tc := range []struct{ auth, secret string }{
		{AuthLogin, testPassword},
		{AuthPlain, testPassword},
		{AuthXOAuth2, testToken},
		{AuthOAuthBearer, testToken},
		{AuthXOAuth2, "expired-token"},
	} {
		log, buf := debugLog()
		o := loginOptions(ms.Addr)
		o.Auth, o.Logger, o.Debug = tc.auth, log, true
		o.Secret = func(context.Context) (string, error) { return tc.secret, nil }
		s, err := Dial(context.Background(), o)
		if err == nil {
			s.Select(context.Background(), "INBOX")
			s.Close()
		}
		out := buf.String()
		if !strings.Contains(out, "SELECT INBOX") && err == nil {
			t.Errorf("%s: transcript lacks the SELECT:\n%s", tc.auth, out)
		}
		for _, secret := range []string{tc.secret, `pa\"ss\\word`, "秘密", base64.StdEncoding.EncodeToString([]byte(tc.secret))[:8], tokenB64(tc.secret)} {
			if strings.Contains(out, secret) {
				t.Errorf("%s: transcript contains %q:\n%s", tc.auth, secret, out)
			}
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("%s: transcript shows no redaction:\n%s", tc.auth, out)
		}
	}
}

// tokenB64 is a stretch of the base64 of an XOAUTH2 response that holds the token.
func tokenB64(token string) string {
	b := base64.StdEncoding.EncodeToString([]byte("user=" + testUser + "\x01auth=Bearer " + token + "\x01\x01"))
	return b[len(b)/2 : len(b)/2+8]
}

func TestTranscriptLines(t *testing.T) {
	log, buf := debugLog()
	tr := newTranscript(log)
	tr.secret("s3cret")
	// Chunks as go-imap writes them: a command in two flushes, a literal, a long line.
	for _, chunk := range []string{
		"* OK ready\r\nT1 LOG", "IN agency s3cret\r\n",
		"T2 AUTHENTICATE PLAIN AGFnZW5jeQBzM2NyZXQ=\r\n",
		"T3 login {6}\r\n", "s3cret\r\n",
		"T4 SELECT INBOX\r\n",
	} {
		tr.Write([]byte(chunk))
	}
	tr.Write(bytes.Repeat([]byte("z"), transcriptMaxLine+10))
	out := buf.String()
	for _, want := range []string{"* OK ready", "T1 LOGIN " + redacted, "T2 AUTHENTICATE PLAIN " + redacted, "T3 login " + redacted, "T4 SELECT INBOX", "zzz..."} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"s3cret", "AGFnZW5jeQBzM2NyZXQ="} {
		if strings.Contains(out, bad) {
			t.Errorf("transcript contains %q:\n%s", bad, out)
		}
	}
}

func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&Error{Op: "x", Kind: ErrTimeout, temp: true}, true},
		{fmt.Errorf("wrapped: %w", &Error{Op: "x", Kind: ErrAuth}), false},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{net.ErrClosed, true},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestScriptedServer: answers only a scripted server gives, classified.
func TestScriptedServer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		greeting  string
		login     string // the answer to LOGIN, after the tag
		temporary bool
		kind      error
	}{
		{"BYE greeting", "* BYE Too many connections, try later", "", true, nil},
		{"auth unavailable", "* OK [CAPABILITY IMAP4rev1] hi", "NO [UNAVAILABLE] Temporary authentication failure", true, nil},
		{"auth failed, no code", "* OK [CAPABILITY IMAP4rev1] hi", "NO Login failed", false, ErrAuth},
		{"LOGINDISABLED", "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi", "", false, ErrAuth},
		{"hang up after LOGIN", "* OK [CAPABILITY IMAP4rev1] hi", "-", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				fmt.Fprintf(c, "%s\r\n", tc.greeting)
				buf := make([]byte, 4096)
				n, _ := c.Read(buf)
				tag, _, _ := strings.Cut(string(buf[:n]), " ")
				switch tc.login {
				case "":
				case "-":
					return
				default:
					fmt.Fprintf(c, "%s %s\r\n", tag, tc.login)
				}
				c.Read(buf)
			}()
			_, err = Dial(context.Background(), loginOptions(ln.Addr().String()))
			if err == nil || Temporary(err) != tc.temporary || (tc.kind != nil && !errors.Is(err, tc.kind)) {
				t.Errorf("Dial = %v (temporary %v); want temporary %v, kind %v", err, Temporary(err), tc.temporary, tc.kind)
			}
		})
	}
}

// TestMailboxNameOnTheWire: a Japanese name goes out in modified UTF-7 (RFC 3501 section
// 5.1.3) to a server without UTF8=ACCEPT enabled.
func TestMailboxNameOnTheWire(t *testing.T) {
	ms := startMem(t, memOptions{})
	ms.append(t, "INBOX", message("1@x", "1"))
	log, buf := debugLog()
	o := loginOptions(ms.Addr)
	o.Logger, o.Debug = log, true
	s := dial(t, o)
	s.Select(context.Background(), "INBOX")
	if err := s.Move(context.Background(), []uint32{1}, "処理済み/2025年"); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, `CREATE \"&UeZ0Bm4IMH8-/2025&XnQ-\"`) || strings.Contains(out, "処理済み") {
		t.Errorf("transcript lacks the modified UTF-7 name or shows UTF-8:\n%s", out)
	}
	if n := ms.count(t, "処理済み/2025年"); n != 1 {
		t.Errorf("処理済み/2025年 holds %d, want 1", n)
	}
}
