package reply

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hosho-intake/intake/inbound"
	"hosho-intake/parser"
	"hosho-intake/parser/testkit"
	"hosho-intake/verifier"
)

var noNotice = []parser.Problem{{Code: parser.CodeNoNotice}}

func TestInquiry(t *testing.T) {
	for _, tt := range []struct {
		name     string
		texts    []string
		attached bool
		problems []parser.Problem
		want     bool
	}{
		{"se13's question", []string{"前払金保証の電子証書について、保証会社から届いたPDFをそのまま送ればよいのでしょうか。\n紙の保証証書も別途郵送が必要か教えてください。\n\n--\n株式会社三刀屋建設\nTEL 0854-45-0707 / FAX 0854-45-0708\n"}, false, noNotice, true},
		{"a question on the start date", []string{"令和5年5月契約の工事は電子証書の対象でしょうか。"}, false, noNotice, true},
		{"se09's password after a PPAP ZIP", []string{"先ほどお送りしたファイルのパスワードをお知らせします。\n\n　パスワード：Hirose0611\n"}, false, noNotice, false},
		{"a labelled number the reader could not pair", []string{"保証番号:2070000401 よろしくお願いします"}, false, noNotice, false},
		{"a full-width labelled key", []string{"認証キー：ＡＢ１２ＣＤ３４"}, false, noNotice, false},
		{"a number as notices print it", []string{"2070-004426 の件です"}, false, noNotice, false},
		{"a PDF a gateway stripped", []string{"認証キーのお知らせを送付します。"}, false, noNotice, false},
		{"an attachment that is not a notice", []string{"ご確認ください。"}, true, noNotice, false},
		{"an empty mail", []string{"", " \n"}, false, noNotice, false},
		{"another problem", []string{"質問です。"}, false, []parser.Problem{{Code: parser.CodeTooLarge}}, false},
	} {
		m := &inbound.Message{Texts: tt.texts}
		if tt.attached {
			m.Attachments = []inbound.Attachment{{Name: "請求書.xlsx"}}
		}
		if got := Inquiry(m, tt.problems); got != tt.want {
			t.Errorf("Inquiry(%s %q) = %v, want %v", tt.name, tt.texts, got, tt.want)
		}
	}
}

// TestInquirySamples: of the shared corpus' mails, se13 (a question) is an inquiry and se09
// (a PPAP password) is not.
func TestInquirySamples(t *testing.T) {
	dir := testkit.Samples(t)
	for name, want := range map[string]bool{"se13-question-no-notice.eml": true, "se09-ppap-password-followup.eml": false,
		"se11-swaks-body-only-ascii.eml": false, "se25-wrong-document-certificate.eml": false} {
		f, err := os.Open(filepath.Join(dir, "eml", name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := inbound.Read(f, inbound.Limits{})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		problems := m.Problems
		if len(m.Attachments) == 0 && len(problems) == 0 {
			problems = noNotice // what the parser adds when nothing is found
		}
		if got := Inquiry(m, problems); got != want {
			t.Errorf("Inquiry(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestComposeInquiry(t *testing.T) {
	c := composer(t, Options{})
	in := input("電子証書の提出方法について（質問）", nil, noNotice...)
	in.Received.Texts = []string{"紙の保証証書も別途郵送が必要か教えてください。"}
	in.Tracking = "M-000013"
	r, err := c.Compose(in)
	if err != nil {
		t.Fatal(err)
	}
	text := unwrap(r.Text)
	for _, w := range []string{"受信いたしました", "受付番号：M-000013", "担当職員が確認のうえ、改めてご連絡いたします"} {
		if !strings.Contains(text, w) {
			t.Errorf("inquiry reply lacks %q:\n%s", w, r.Text)
		}
	}
	for _, w := range []string{"受け付けることができませんでした", "見当たりませんでした", "PDFが削除される場合"} {
		if strings.Contains(text, w) {
			t.Errorf("inquiry reply says %q:\n%s", w, r.Text)
		}
	}
}

// TestComposeTokyoTime: the case, on a server whose zone is UTC: a mail sent at
// 09:01 +0900 is answered 「9時01分」, and the reply's Date is in +0900 too.
func TestComposeTokyoTime(t *testing.T) {
	saved := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = saved })

	c := composer(t, Options{})
	in := input("認証キー", []Item{{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued}})
	in.Received.Date = time.Date(2026, 6, 15, 9, 1, 0, 0, time.FixedZone("", 9*3600))
	in.Now = time.Time{} // the server's clock, in its UTC zone
	r, err := c.Compose(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(unwrap(r.Text), "2026年6月15日 9時01分にお送りいただいたメール") {
		t.Errorf("reply does not say 9時01分:\n%s", r.Text)
	}
	p := parseReply(t, r.Raw)
	if d := p.msg.Header.Get("Date"); !strings.HasSuffix(d, "+0900") {
		t.Errorf("Date: %s, want +0900", d)
	}
	// The same instant given in UTC reads the same.
	in.Received.Date = time.Date(2026, 6, 15, 0, 1, 0, 0, time.UTC)
	if r, err = c.Compose(in); err != nil || !strings.Contains(unwrap(r.Text), "9時01分") {
		t.Errorf("UTC Date: %v\n%s", err, r.Text)
	}
}

// TestComposeDateNoteOnce: the ※ 契約日 paragraph is said once for all the notices it
// concerns, naming them, and not for a notice refused anyway.
func TestComposeDateNoteOnce(t *testing.T) {
	c := composer(t, Options{})
	unconfirmed := []string{verifier.ReasonStartDateUnconfirmed}
	for _, tt := range []struct {
		name  string
		items []Item
		want  string // the note's beginning; "" when none
	}{
		{"one notice", []Item{{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued, Reasons: unconfirmed}}, "※ 契約日"},
		{"three notices", []Item{
			{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued, Reasons: unconfirmed},
			{Notice: notice(2), Tracking: "R-2", Outcome: OutcomeNeedsReview, Reasons: unconfirmed},
			{Notice: notice(3), Tracking: "R-3", Outcome: OutcomeRejected, Reasons: append([]string{verifier.ReasonGuarantorNotEligible}, unconfirmed...)},
		}, "※ 受付番号 R-1・R-2 について、契約日"},
		{"dates known", []Item{{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued}, {Notice: notice(2), Tracking: "R-2", Outcome: OutcomeQueued}}, ""},
	} {
		r, err := c.Compose(input("送付", tt.items))
		if err != nil {
			t.Fatal(err)
		}
		text := unwrap(r.Text)
		n := strings.Count(text, "契約日（または入札公告日）を確認できなかった")
		if tt.want == "" && n != 0 || tt.want != "" && (n != 1 || !strings.Contains(text, tt.want)) {
			t.Errorf("%s: the note appears %d times, want it once as %q:\n%s", tt.name, n, tt.want, r.Text)
		}
	}
}

// TestForward: an inquiry passed on goes from the agency address to the configured address
// only, with the original attached whole as message/rfc822 and marked auto-generated.
func TestForward(t *testing.T) {
	c := composer(t, Options{})
	raw := []byte("From: ishihara@mitoya-kensetsu.example\nSubject: =?UTF-8?B?6LOq5ZWP?=\n\n紙の保証証書も郵送が必要ですか。\n")
	msg := received("電子証書の提出方法について（質問） https://evil.example/x")
	r, err := c.Forward(ForwardInput{Received: msg, Raw: raw, To: "keiyaku@pref.shimane.example", Tracking: "M-000013",
		ReceivedAt: time.Date(2026, 6, 17, 3, 10, 0, 0, time.UTC), AgencyName: agencyName, AgencyAddress: agencyAddr,
		Now: time.Date(2026, 6, 17, 12, 11, 0, 0, jst)})
	if err != nil {
		t.Fatal(err)
	}
	if r.From != agencyAddr || r.To != "keiyaku@pref.shimane.example" {
		t.Errorf("envelope %s -> %s", r.From, r.To)
	}
	m, err := mail.ReadMessage(bytes.NewReader(r.Raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("Auto-Submitted"); got != "auto-generated" || m.Header.Get("In-Reply-To") != "" {
		t.Errorf("Auto-Submitted %q, In-Reply-To %q", got, m.Header.Get("In-Reply-To"))
	}
	if strings.Contains(r.Subject, "evil.example") || !strings.HasPrefix(r.Subject, "【問い合わせ】電子証書の提出方法について（質問）") {
		t.Errorf("Subject %q", r.Subject)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Type"))
		if p.Header.Get("Content-Type") == "message/rfc822" && string(b) != strings.ReplaceAll(strings.TrimSuffix(string(raw), "\n"), "\n", "\r\n") {
			t.Errorf("attached original %q", b)
		}
	}
	if len(parts) != 2 || parts[1] != "message/rfc822" {
		t.Errorf("parts %q, want the text and message/rfc822", parts)
	}
	for _, w := range []string{"受付番号：M-000013", "2026年6月17日 12時10分", "原本を添付します"} {
		if !strings.Contains(r.Text, w) {
			t.Errorf("forward lacks %q:\n%s", w, r.Text)
		}
	}
}
