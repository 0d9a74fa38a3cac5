package main

import (
	"bytes"
	"context"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs the README's first command and checks its summary: every mail accounted
// for, the robots never answered, the digest sent, and only the folder it names left.
func TestDemo(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"demo"}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("demo exit %d: %s", code, errOut.String())
	}
	s := out.String()
	for _, want := range []struct {
		what string
		n    int
	}{{"reply sent:", 10}, {"never answered", 2}, {"→ queued", 4}, {"→ rejected", 2}, {"→ needs_review", 1},
		{"problem: wrong_document", 1}, {"problem: no_text", 1}, {"problem: zip_attachment", 1}, {"inquiry: acknowledged", 1},
		// The digest: the inquiry with its first line, the refusals at intake under their own
		// name, every mail that filed nothing, ages from the mailbox's arrival.
		{"■ 問い合わせ 1件", 1}, {"  | 保証会社から届いたPDFをそのまま送ればよいのでしょうか。", 1},
		{"■ 対象外（自動判定） 2件", 1}, {"■ 受付できなかったメール 2件", 1}, {"■ 返信しなかったメール 2件", 1},
		{"（受付から0日）", 5}, {"D-Sure（発注者用保証確認サービス）: https://", 1},
		// Each code with its Japanese label beside it (issue 11).
		{"→ queued 確認待ち: start_date_unconfirmed 契約日等が未確認", 4}, {"→ rejected 対象外（自動判定）: ", 2},
		{"problem: wrong_document 認証キーのお知らせでなく電子証書そのもの", 1}} {
		if got := strings.Count(s, want.what); got != want.n {
			t.Errorf("%q appears %d times, want %d:\n%s", want.what, got, want.n, s)
		}
	}
	if !strings.Contains(s, "digest to the clerks (keiyaku@pref.shimane.example): 【電子証書】確認待ち4件・要確認1件・問い合わせ1件・対象外（自動判定）2件・受付できなかったメール2件 (") {
		t.Errorf("no digest, or a subject that does not count its sections, in the summary:\n%s", s)
	}
	if strings.Contains(s, "差戻し:") || strings.Contains(s, "■ 新着") {
		t.Errorf("the digest calls refusals at intake 差戻し, or repeats the cards in a 新着 list:\n%s", s)
	}
	// The page's address and a clerk's one-time sign-in link on it, for a newcomer to click.
	pg := regexp.MustCompile(`The clerks' page: (http://127\.0\.0\.1:\d+/)\nSign in as keiyaku@pref\.shimane\.example with this one-time link \(valid \d+m0s\): (\S+)\n`).FindStringSubmatch(s)
	if pg == nil || !strings.HasPrefix(pg[2], pg[1]+"signin/link?t=") || len(pg[2]) < len(pg[1])+len("signin/link?t=")+20 {
		t.Errorf("the demo prints no page address and sign-in link on it:\n%s", s)
	}
	m := regexp.MustCompile(`Remove (\S+) when done`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("the demo does not name its folder:\n%s", s)
	}
	defer os.RemoveAll(m[1])
	sent, _ := os.ReadDir(m[1] + "/sent")
	if len(sent) != 12 { // ten replies, the inquiry forwarded to the clerk, and the digest
		t.Errorf("the SMTP server received %d messages, want 12", len(sent))
	}
	// The inquiry is acknowledged, not refused.
	for _, f := range sent {
		if !strings.Contains(f.Name(), "ishihara@") {
			continue
		}
		b, err := os.ReadFile(m[1] + "/sent/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		text := bodyText(t, msg)
		if !strings.Contains(text, "担当職員が確認のうえ") || strings.Contains(text, "受け付けることができませんでした") {
			t.Errorf("the inquiry's reply:\n%s", text)
		}
	}
}
