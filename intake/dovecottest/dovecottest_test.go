package dovecottest_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/intake/mailbox"
)

func msg(i int) []byte {
	return fmt.Appendf(nil, "From: contractor%d@example.jp\r\nTo: agency@example.lg.jp\r\nSubject: test %d\r\n"+
		"Message-ID: <%d@dovecottest>\r\nDate: Sun, 01 Jun 2025 09:00:00 +0900\r\n\r\nbody %d\r\n", i, i, i, i)
}

func options(s *dovecottest.Server, addr, tls, auth string) mailbox.Options {
	return mailbox.Options{
		Addr: addr, TLS: tls, RootCAs: s.CA, Username: s.User, Auth: auth,
		Secret:  func(context.Context) (string, error) { return s.Password, nil },
		Timeout: 5 * time.Second,
	}
}

func TestServer(t *testing.T) {
	s := dovecottest.Start(t)
	s.Append(t, "INBOX", msg(1), msg(2), msg(3))
	if n := s.Messages(t, "INBOX"); n != 3 {
		t.Fatalf("Messages(INBOX) = %d, want 3", n)
	}
	if n := s.Messages(t, "Nope"); n != -1 {
		t.Errorf("Messages(Nope) = %d, want -1", n)
	}
	if ids := s.MessageIDs(t, "INBOX"); !slices.Equal(slices.Sorted(slices.Values(ids)), []string{"<1@dovecottest>", "<2@dovecottest>", "<3@dovecottest>"}) {
		t.Errorf("MessageIDs(INBOX) = %v, want the three appended", ids)
	}
	for _, tc := range []struct {
		name, addr, tls string
	}{
		{"IMAPS", s.IMAPS, mailbox.TLSImplicit},
		{"STARTTLS", s.STARTTLS, mailbox.TLSStartTLS},
		{"Plain", s.Plain, mailbox.TLSNone},
		{"STARTTLS on Plain", s.Plain, mailbox.TLSStartTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c, err := mailbox.Dial(ctx, options(s, tc.addr, tc.tls, mailbox.AuthLogin))
			if err != nil {
				t.Fatalf("Dial = %v", err)
			}
			defer c.Close()
			st, err := c.Select(ctx, "INBOX")
			if err != nil || st.Messages != 3 || st.UIDNext != 4 {
				t.Fatalf("Select(INBOX) = %+v, %v; want 3 messages, UIDNext 4", st, err)
			}
			l, err := c.Since(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, i := range l {
				h, err := c.FetchHeader(ctx, i.UID)
				if err != nil {
					t.Fatal(err)
				}
				if m := messageIDField.FindSubmatch(h); m != nil {
					ids = append(ids, string(m[1]))
				}
			}
			if want := []string{"1@dovecottest", "2@dovecottest", "3@dovecottest"}; !slices.Equal(ids, want) {
				t.Errorf("Since(0) Message-IDs = %v, want %v (append order)", ids, want)
			}
		})
	}
}

var messageIDField = regexp.MustCompile(`(?m)^Message-ID: <([^>]+)>`)

func TestRestartAndUIDValidity(t *testing.T) {
	s := dovecottest.Start(t)
	s.Append(t, "INBOX", msg(1), msg(2))
	ctx := context.Background()
	status := func() mailbox.Status {
		t.Helper()
		c, err := mailbox.Dial(ctx, options(s, s.IMAPS, mailbox.TLSImplicit, mailbox.AuthPlain))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		st, err := c.Select(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	before := status()
	s.Restart(t)
	if after := status(); after != before {
		t.Errorf("after Restart: %+v, want %+v", after, before)
	}
	s.SetUIDValidity(t, "INBOX", 4242)
	if after := status(); after.UIDValidity != 4242 || after.UIDNext != before.UIDNext {
		t.Errorf("after SetUIDValidity(4242): %+v", after)
	}
	s.ResetUIDValidity(t, "INBOX")
	if after := status(); after.UIDValidity == 4242 || after.UIDValidity == before.UIDValidity || after.Messages != 2 {
		t.Errorf("after ResetUIDValidity: %+v, before %+v", after, before)
	}
}

func TestLargeMailbox(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 messages")
	}
	s := dovecottest.Start(t)
	msgs := make([][]byte, 10000)
	for i := range msgs {
		msgs[i] = msg(i)
	}
	start := time.Now()
	s.Append(t, "INBOX", msgs...)
	took := time.Since(start)
	if n := s.Messages(t, "INBOX"); n != len(msgs) {
		t.Fatalf("Messages(INBOX) = %d, want %d", n, len(msgs))
	}
	t.Logf("Append of %d messages: %v (Dovecot's first sync of them: %v)", len(msgs), took, time.Since(start)-took)
	if took > 10*time.Second {
		t.Errorf("Append of %d messages took %v", len(msgs), took)
	}
}
