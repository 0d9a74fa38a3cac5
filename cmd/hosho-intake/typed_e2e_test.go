package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"hosho-intake/intake/dovecottest"
)

// TestTypedNumberNeverDropped is issue 18's two-line body through Dovecot and the SMTP peer:
// the good line is queued, the line whose key cannot be read is named in the reply by its
// number, and the clerks' digest shows the mail as partly taken in.
func TestTypedNumberNeverDropped(t *testing.T) {
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	cfg := writeConfigSMTP(t, srv, "implicit", filepath.Join(t.TempDir(), "state"), peer.addr)
	srv.Append(t, "INBOX", trustMail(t, "typed1@kensetsu.example", "山田 <"+contractor+">", "保証番号の送付",
		"いつもお世話になっております。\r\n保証番号:2070000401 認証キー:ab12-cd34-ef\r\n保証番号:2070000402 認証キー:ZZ99YY88XX\r\n", nil))
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("once: %s", errOut.String())
	}
	sent := peer.messages(t)
	if len(sent) != 1 {
		t.Fatalf("%d mails sent, want the one reply", len(sent))
	}
	reply := bodyText(t, sent[0])
	for _, want := range []string{"保証契約番号 2070000401 の認証キーを読み取れませんでした", "2070000402"} {
		if !strings.Contains(reply, want) {
			t.Errorf("the reply does not say %q:\n%s", want, reply)
		}
	}
	if code := runCode(context.Background(), env{args: []string{"digest", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("digest: %s", errOut.String())
	}
	all := peer.messages(t)
	if len(all) != 2 {
		t.Fatalf("%d mails after the digest, want 2", len(all))
	}
	if digest := bodyText(t, all[1]); !strings.Contains(digest, "一部を受付") || !strings.Contains(digest, "2070000402") {
		t.Errorf("the digest does not show the mail as partly taken in:\n%s", digest)
	}
}
