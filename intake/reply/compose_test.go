package reply

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"hosho-intake/intake/inbound"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var jst = time.FixedZone("JST", 9*3600)

const (
	agencyName = "島根県 土木部 技術管理課"
	agencyAddr = "hosho@pref.shimane.example"
	signature  = "島根県 土木部 技術管理課 電子証書受付担当\n　電話 0852-00-0000\n　hosho@pref.shimane.example"
)

func composer(t testing.TB, o Options) *Composer {
	t.Helper()
	c, err := NewComposer(o)
	if err != nil {
		t.Fatalf("NewComposer(%+v): %v", o, err)
	}
	return c
}

func received(subject string) *inbound.Message {
	return &inbound.Message{
		MessageID:  "<20251001085900.1234@kensetsu.example>",
		References: []string{"<root@kensetsu.example>"},
		Subject:    subject,
		From:       "yamada@kensetsu.example",
		FromName:   "株式会社山陰建設 山田太郎",
		Date:       time.Date(2025, 10, 1, 8, 59, 0, 0, jst),
	}
}

func notice(n int) parser.Notice {
	return parser.Notice{
		Category:       "前払金保証",
		ContractNumber: fmt.Sprintf("207000442%d", n),
		AuthKey:        fmt.Sprintf("Kx7Qp%dm2Zt", n),
		ProjectName:    fmt.Sprintf("県道玉湯吾妻山線道路改良工事（その%d）", n),
		Orderer:        "島根県知事",
		Guarantor:      "西日本建設業保証株式会社",
		Source:         "pdf",
		Attachment:     fmt.Sprintf("notice%d.pdf", n),
	}
}

func input(subject string, items []Item, problems ...parser.Problem) Input {
	return Input{
		Received: received(subject), Items: items, Problems: problems,
		AgencyName: agencyName, AgencyAddress: agencyAddr, Signature: signature,
		Now: time.Date(2025, 10, 1, 9, 0, 5, 0, jst), MessageIDDomain: "pref.shimane.example",
	}
}

// parsed is a reply as a mail client reads it.
type parsed struct {
	msg     *mail.Message
	header  map[string]string // decoded
	body    string            // decoded to UTF-8, "\n" line ends
	charset string
}

func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-2022-jp":
		return transform.NewReader(r, japanese.ISO2022JP.NewDecoder()), nil
	case "utf-8":
		return r, nil
	}
	return nil, fmt.Errorf("unexpected charset %q", charset)
}

// parseReply reads Raw with net/mail and mime, checking the framing on the way.
func parseReply(t testing.TB, raw []byte) parsed {
	t.Helper()
	for i, c := range raw {
		if c == '\n' && (i == 0 || raw[i-1] != '\r') {
			t.Fatalf("bare LF at %d", i)
		}
		if c == '\r' && (i+1 >= len(raw) || raw[i+1] != '\n') {
			t.Fatalf("bare CR at %d", i)
		}
		if c >= 0x80 {
			t.Fatalf("8-bit byte %#x at %d: the message must be 7-bit", c, i)
		}
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line of %d characters (RFC 5322 §2.1.1 allows 998)", len(line))
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v", err)
	}
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	p := parsed{msg: m, header: map[string]string{}}
	for name, vs := range m.Header {
		if len(vs) != 1 {
			t.Errorf("header %s appears %d times", name, len(vs))
		}
		v, err := dec.DecodeHeader(vs[0])
		if err != nil {
			t.Errorf("decoding %s: %v", name, err)
		}
		p.header[name] = v
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "text/plain" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	p.charset = strings.ToLower(params["charset"])
	body, err := io.ReadAll(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	switch cte := strings.ToLower(m.Header.Get("Content-Transfer-Encoding")); cte {
	case "base64":
		body, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\r\n", ""))
		if err != nil {
			t.Fatalf("base64 body: %v", err)
		}
	case "7bit":
	default:
		t.Fatalf("Content-Transfer-Encoding %q", cte)
	}
	r, err := charsetReader(p.charset, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s body: %v", p.charset, err)
	}
	p.body = strings.ReplaceAll(string(text), "\r\n", "\n")
	return p
}

func TestComposeHeaders(t *testing.T) {
	for _, tt := range []struct {
		charset, wantCharset, wantCTE string
	}{
		{"", "utf-8", "base64"},
		{"UTF-8", "utf-8", "base64"},
		{"iso-2022-jp", "iso-2022-jp", "7bit"},
	} {
		t.Run(tt.wantCharset+"/"+tt.charset, func(t *testing.T) {
			c := composer(t, Options{Charset: tt.charset})
			in := input("電子証書の認証キーを送付します", []Item{{Notice: notice(1), Tracking: "R-000123", Outcome: OutcomeQueued}})
			r, err := c.Compose(in)
			if err != nil {
				t.Fatal(err)
			}
			p := parseReply(t, r.Raw)
			want := map[string]string{
				"From":                      agencyName + " <" + agencyAddr + ">",
				"To":                        "株式会社山陰建設 山田太郎 <yamada@kensetsu.example>",
				"Subject":                   "Re: 電子証書の認証キーを送付します",
				"In-Reply-To":               "<20251001085900.1234@kensetsu.example>",
				"References":                "<root@kensetsu.example> <20251001085900.1234@kensetsu.example>",
				"Auto-Submitted":            "auto-replied",
				"X-Auto-Response-Suppress":  "OOF, AutoReply",
				"Mime-Version":              "1.0",
				"Content-Transfer-Encoding": tt.wantCTE,
				"Date":                      "Wed, 01 Oct 2025 09:00:05 +0900",
			}
			for name, v := range want {
				if got := p.header[name]; got != v {
					t.Errorf("%s = %q, want %q", name, got, v)
				}
			}
			from, err := (&mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charsetReader}}).Parse(p.msg.Header.Get("From"))
			if err != nil || from.Address != agencyAddr || from.Name != agencyName {
				t.Errorf("From parses to %v, %v", from, err)
			}
			if p.charset != tt.wantCharset {
				t.Errorf("charset = %q, want %q", p.charset, tt.wantCharset)
			}
			id := p.header["Message-Id"]
			if id != r.MessageID || !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@pref.shimane.example>") {
				t.Errorf("Message-ID = %q (Reply.MessageID %q), want <...@pref.shimane.example>", id, r.MessageID)
			}
			if d, err := p.msg.Header.Date(); err != nil || !d.Equal(in.Now) {
				t.Errorf("Date = %v, %v, want %v", d, err, in.Now)
			}
			if p.body != r.Text {
				t.Errorf("decoded body differs from Text:\n%s\n---\n%s", p.body, r.Text)
			}
			if r.To != "yamada@kensetsu.example" || r.From != agencyAddr || r.Subject != want["Subject"] {
				t.Errorf("Reply To, From, Subject = %q, %q, %q", r.To, r.From, r.Subject)
			}
		})
	}
}

func TestComposeMessageIDUnique(t *testing.T) {
	c := composer(t, Options{})
	in := input("x", []Item{{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued}})
	a, _ := c.Compose(in)
	b, _ := c.Compose(in)
	if a.MessageID == b.MessageID {
		t.Errorf("two replies share Message-ID %s", a.MessageID)
	}
	// Without a configured domain, the agency address's.
	in.MessageIDDomain = ""
	r, err := c.Compose(in)
	if err != nil || !strings.HasSuffix(r.MessageID, "@pref.shimane.example>") {
		t.Errorf("Message-ID %q, %v: want the agency address's domain", r.MessageID, err)
	}
}

func TestComposeSubject(t *testing.T) {
	c := composer(t, Options{})
	cj := composer(t, Options{Charset: "iso-2022-jp"})
	long := strings.Repeat("長い件名", 60)
	for _, tt := range []struct{ subject, want string }{
		{"認証キーの送付", "Re: 認証キーの送付"},
		{"Re: 認証キーの送付", "Re: 認証キーの送付"},
		{"RE: Re: re:認証キーの送付", "Re: 認証キーの送付"},
		{"Re[2]: 認証キーの送付", "Re: 認証キーの送付"},
		{"Ｒｅ：認証キーの送付", "Re: 認証キーの送付"},
		{"Notice of auth key", "Re: Notice of auth key"},
		{"Re: Notice", "Re: Notice"},
		{"Reminder", "Re: Reminder"},
		{"=?UTF-8?B?not-a-word?=", "Re: =?UTF-8?B?not-a-word?="},
		{"", "Re: （件名なし）"},
		{"①工事 ㈱山陰 ～ ｶﾞｲﾄﾞ", "Re: ①工事 ㈱山陰 ～ ｶﾞｲﾄﾞ"},
		{long, ""}, // cut, see below
	} {
		r, err := c.Compose(input(tt.subject, []Item{{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued}}))
		if err != nil {
			t.Fatal(err)
		}
		p := parseReply(t, r.Raw)
		want := tt.want
		if tt.subject == long {
			want = "Re: " + string([]rune(long)[:maxSubject]) + "…"
		}
		if p.header["Subject"] != want {
			t.Errorf("Compose(subject %q): Subject %q, want %q", tt.subject, p.header["Subject"], want)
		}
		if strings.Contains(strings.ToLower(p.header["Subject"]), "re: re:") {
			t.Errorf("Compose(subject %q): doubled Re: in %q", tt.subject, p.header["Subject"])
		}
		// RFC 1468 has no half-width kana: they become full-width. ①, ㈱ and ～ survive: x/text
		// writes the NEC and IBM rows of CP50220, as Outlook does.
		rj, err := cj.Compose(input(tt.subject, []Item{{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued}}))
		if err != nil {
			t.Fatal(err)
		}
		pj := parseReply(t, rj.Raw)
		wantJ := want
		if strings.HasPrefix(tt.subject, "①") {
			wantJ = "Re: ①工事 ㈱山陰 ～ ガイド"
		}
		if pj.header["Subject"] != wantJ {
			t.Errorf("Compose(subject %q) in ISO-2022-JP: Subject %q, want %q", tt.subject, pj.header["Subject"], wantJ)
		}
	}
}

func TestComposeMasksKey(t *testing.T) {
	for _, cs := range []string{"utf-8", "iso-2022-jp"} {
		c := composer(t, Options{Charset: cs})
		items := []Item{
			{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued},
			{Notice: notice(2), Tracking: "R-2", Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonOrdererMismatch}},
			{Notice: notice(3), Tracking: "R-3", Outcome: OutcomeDuplicate, CurrentState: OutcomeVerified},
		}
		// A sender who typed the key into the subject and the display name.
		in := input("認証キー "+notice(1).AuthKey+" を送ります", items)
		in.Received.FromName = "山田 " + notice(2).AuthKey
		r, err := c.Compose(in)
		if err != nil {
			t.Fatal(err)
		}
		p := parseReply(t, r.Raw)
		var all strings.Builder
		for _, v := range p.header {
			all.WriteString(v + "\n")
		}
		all.WriteString(p.body)
		all.WriteString(r.Text + r.Subject)
		all.Write(r.Raw)
		for _, it := range items {
			k := it.Notice.AuthKey
			if strings.Contains(all.String(), k) {
				t.Errorf("%s: key %s appears unmasked", cs, k)
			}
			if !strings.Contains(p.body, Mask(k)) {
				t.Errorf("%s: masked key %s not in the body", cs, Mask(k))
			}
		}
		if !strings.Contains(p.header["Subject"], Mask(notice(1).AuthKey)) {
			t.Errorf("%s: Subject %q: want the key masked", cs, p.header["Subject"])
		}
	}
}

func TestMask(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ABCDEFGHEF", "AB******EF"},
		{"abcd1234", "ab****34"},
		{"ABCDEFGHIJKLMNOP", "AB************OP"},
		{"ABCDE", "AB*DE"},
		{"ABCD", "****"},
		{"", ""},
	} {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Each problem code asks for exactly what to send instead.
func TestComposeProblems(t *testing.T) {
	c := composer(t, Options{})
	for _, tt := range []struct {
		code string
		want []string
	}{
		{parser.CodeWrongDocument, []string{"STEP4", "「電子証書閲覧用「認証キー」等のお知らせ」", "STEP3", "保証証書", "ではありません"}},
		{parser.CodeZipAttachment, []string{"ZIPファイルの中身を読み取りました", "ZIPに圧縮せず", "PDFファイルそのもの"}},
		{parser.CodePasswordZip, []string{"パスワード付きのZIPファイルは、開くことができません", "PDFファイルそのもの"}},
		{parser.CodeNoText, []string{"画像やスキャン", "ダウンロードしたPDFを、加工せずそのまま", "本文に保証契約番号と認証キー"}},
		{parser.CodeEncrypted, []string{"パスワードが設定されている", "パスワードを設定していないPDF"}},
		{parser.CodeCorrupt, []string{"壊れた状態で届いた", "もう一度"}},
		{parser.CodeNotPDF, []string{"PDFではありませんでした", "お知らせのPDFを添付"}},
		{parser.CodeNoNotice, []string{"見当たりませんでした", "PDFを添付するか", "本文に保証契約番号と認証キー"}},
		{parser.CodeTooLarge, []string{"容量が上限を超えていた", "お知らせのPDFだけを添付"}},
	} {
		t.Run(tt.code, func(t *testing.T) {
			r, err := c.Compose(input("送付", nil, parser.Problem{Code: tt.code, Attachment: "保証.pdf"}))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(unwrap(r.Text), w) {
					t.Errorf("problem %s: reply lacks %q:\n%s", tt.code, w, r.Text)
				}
			}
			// Every request to resend says how to type the number and key if PDFs are stripped.
			fallback := strings.Contains(unwrap(r.Text), "PDFが削除される場合")
			if fallback == (tt.code == parser.CodeZipAttachment) {
				t.Errorf("problem %s: body fallback shown = %v", tt.code, fallback)
			}
		})
	}
	// Mail never answered carries no text of its own; an unknown code gets the generic one.
	r, err := c.Compose(input("x", nil, parser.Problem{Code: parser.CodeBounce}, parser.Problem{Code: "new_code"}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "ファイルを読み取ることができませんでした") {
		t.Errorf("unknown problem code: generic text missing:\n%s", r.Text)
	}
}

// unwrap joins wrapped lines, so that phrases can be searched across line breaks.
func unwrap(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		b.WriteString(strings.TrimLeft(line, "\u3000"))
	}
	return b.String()
}

// Each rejection reason, and each other outcome, says its own thing.
func TestComposeOutcomes(t *testing.T) {
	c := composer(t, Options{})
	gyomu := notice(1)
	gyomu.ProjectName = "県道玉湯吾妻山線測量設計業務委託"
	gyomu.Category = "契約保証"
	yoyaku := notice(1)
	yoyaku.Category = "契約保証予約"
	bank := notice(1)
	bank.Guarantor = "株式会社山陰銀行"
	other := notice(1)
	other.Orderer = "松江市長"
	for _, tt := range []struct {
		name string
		item Item
		want []string
	}{
		{"orderer_mismatch", Item{Notice: other, Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonOrdererMismatch}},
			[]string{"受け付けることができませんでした", "「松江市長」", agencyName + "あてのものではありません"}},
		{"guarantor_not_eligible", Item{Notice: bank, Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonGuarantorNotEligible}},
			[]string{"「株式会社山陰銀行」", "保証事業会社3社", "北海道建設業信用保証株式会社", "銀行・保険会社", "紙の保証証書"}},
		{"category 契約保証予約", Item{Notice: yoyaku, Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonCategoryNotEligible}},
			[]string{"「契約保証予約」は、電子証書での受付の対象ではありません", "「契約保証」の「認証キー」等のお知らせ"}},
		{"category 業務", Item{Notice: gyomu, Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonCategoryNotEligible}, Accepted: []string{"前払金保証"}},
			[]string{"区分「契約保証」は、業務", "業務について電子証書でお受けできる区分は、前払金保証です", "業務名"}},
		{"before_start_date", Item{Notice: notice(1), Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonBeforeStartDate}, StartDate: "2023年6月1日", StartDateLabel: "当初契約日"},
			[]string{"当初契約日が2023年6月1日以降の契約に限られます", "紙の保証証書"}},
		{"before_start_date without date", Item{Notice: notice(1), Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonBeforeStartDate}},
			[]string{"受付開始日以降の契約に限られます"}},
		{"queued", Item{Notice: notice(1), Outcome: OutcomeQueued, Reasons: []string{verifier.ReasonStartDateUnconfirmed}},
			[]string{"受付いたしました", "D-Sure", "改めてメールでお知らせ", "契約日（または入札公告日）を確認できなかった"}},
		{"needs_review", Item{Notice: notice(1), Outcome: OutcomeNeedsReview, Missing: []string{verifier.MissingOrderer, verifier.MissingGuarantor}},
			[]string{"内容確認中", "発注者・保証機関を読み取ることができなかった"}},
		{"duplicate", Item{Notice: notice(1), Outcome: OutcomeDuplicate, CurrentState: OutcomeVerified, Reasons: []string{verifier.ReasonDuplicate}},
			[]string{"既に受け付けております", "現在の状況：確認済み", "必要はございません"}},
		{"duplicate queued", Item{Notice: notice(1), Outcome: OutcomeDuplicate, CurrentState: OutcomeQueued},
			[]string{"現在の状況：担当職員の確認待ち"}},
		{"resubmission", Item{Notice: notice(1), Outcome: OutcomeResubmission, Reasons: []string{verifier.ReasonResubmission}},
			[]string{"認証キーを差し替えました", "新しい認証キーで"}},
		{"unknown reason", Item{Notice: notice(1), Outcome: OutcomeRejected, Reasons: []string{"new_reason"}},
			[]string{"受付の条件を満たしていません（new_reason）"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.item.Tracking = "R-000777"
			r, err := c.Compose(input("送付", []Item{tt.item}))
			if err != nil {
				t.Fatal(err)
			}
			text := unwrap(r.Text)
			for _, w := range append(tt.want, "受付番号　　：R-000777", "保証契約番号：2070004421", "区分　　　　："+tt.item.Notice.Category,
				tt.item.Notice.ProjectName, Mask(tt.item.Notice.AuthKey)) {
				if !strings.Contains(text, w) {
					t.Errorf("%s: reply lacks %q:\n%s", tt.name, w, r.Text)
				}
			}
		})
	}
}

func TestComposeThreeNotices(t *testing.T) {
	c := composer(t, Options{})
	items := []Item{
		{Notice: notice(1), Tracking: "R-000101", Outcome: OutcomeQueued},
		{Notice: notice(2), Tracking: "R-000102", Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonCategoryNotEligible}},
		{Notice: notice(3), Tracking: "R-000103", Outcome: OutcomeDuplicate, CurrentState: OutcomeQueued},
	}
	r, err := c.Compose(input("3件送付", items, parser.Problem{Code: parser.CodeZipAttachment, Attachment: "notices.zip"}))
	if err != nil {
		t.Fatal(err)
	}
	p := parseReply(t, r.Raw)
	if n := strings.Count(p.body, "受付番号　　："); n != 3 {
		t.Errorf("reply lists %d 受付番号, want 3:\n%s", n, p.body)
	}
	for _, it := range items {
		for _, w := range []string{it.Tracking, it.Notice.ContractNumber, it.Notice.ProjectName, Mask(it.Notice.AuthKey)} {
			if !strings.Contains(p.body, w) {
				t.Errorf("reply lacks %q", w)
			}
		}
	}
	if !strings.Contains(p.body, "お知らせ3件") {
		t.Errorf("reply does not say 3件:\n%s", p.body)
	}
}

func TestComposeErrors(t *testing.T) {
	c := composer(t, Options{})
	ok := Item{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued}
	for _, tt := range []struct {
		name string
		mod  func(*Input)
	}{
		{"no received message", func(in *Input) { in.Received = nil }},
		{"no sender", func(in *Input) { in.Received.From = "" }},
		{"sender not an address", func(in *Input) { in.Received.From = "yamada" }},
		{"sender with CRLF", func(in *Input) { in.Received.From = "a@b.example\r\nBcc: x@y.example" }},
		{"no tracking number", func(in *Input) { in.Items[0].Tracking = "" }},
		{"unknown outcome", func(in *Input) { in.Items[0].Outcome = "lost" }},
		{"no agency address", func(in *Input) { in.AgencyAddress = "" }},
		{"no agency name", func(in *Input) { in.AgencyName = "\r\n" }},
		{"bad message-id domain", func(in *Input) { in.MessageIDDomain = "x>\r\nBcc: y" }},
	} {
		in := input("x", []Item{ok})
		tt.mod(&in)
		if r, err := c.Compose(in); err == nil {
			t.Errorf("%s: Compose = %q, want an error", tt.name, r.Raw)
		}
	}
	if _, err := NewComposer(Options{Charset: "shift_jis"}); err == nil {
		t.Error("NewComposer(shift_jis): no error")
	}
}

func TestOutcomeMail(t *testing.T) {
	c := composer(t, Options{Charset: "iso-2022-jp"})
	in := OutcomeInput{
		To: "yamada@kensetsu.example", ToName: "山田太郎", Subject: "認証キー送付",
		InReplyTo: "<20251001085900.1234@kensetsu.example>", References: []string{"<root@kensetsu.example>"},
		Items: []Item{
			{Notice: notice(1), Tracking: "R-000101", Outcome: OutcomeVerified},
			{Notice: notice(2), Tracking: "R-000102", Outcome: OutcomeRejectedByClerk, ClerkReason: "保証金額が契約書と一致しません。\r\nBcc: evil@example"},
		},
		AgencyName: agencyName, AgencyAddress: agencyAddr, Signature: signature,
		Now: time.Date(2025, 10, 2, 10, 0, 0, 0, jst),
	}
	r, err := c.Outcome(in)
	if err != nil {
		t.Fatal(err)
	}
	p := parseReply(t, r.Raw)
	if got, want := p.header["Subject"], "電子証書の確認結果のお知らせ（受付番号 R-000101 ほか1件）"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if p.header["In-Reply-To"] != in.InReplyTo || p.header["Auto-Submitted"] != "auto-replied" {
		t.Errorf("In-Reply-To %q, Auto-Submitted %q", p.header["In-Reply-To"], p.header["Auto-Submitted"])
	}
	for _, w := range []string{"確認が完了しました", "お受けすることができませんでした", "理由：保証金額が契約書と一致しません。", "R-000101", "R-000102"} {
		if !strings.Contains(p.body, w) {
			t.Errorf("decision mail lacks %q:\n%s", w, p.body)
		}
	}
	if _, ok := p.msg.Header["Bcc"]; ok {
		t.Error("the clerk's reason made a header line")
	}
	in.Items = []Item{{Notice: notice(1), Tracking: "R-1", Outcome: OutcomeQueued}}
	if _, err := c.Outcome(in); err == nil {
		t.Error("Outcome with a queued item: no error")
	}
}

func TestConfirmation(t *testing.T) {
	c := composer(t, Options{})
	clerk := &inbound.Message{From: "tanaka@pref.shimane.example", FromName: "田中", Subject: "Re: 確認待ち一覧", MessageID: "<c1@pref.shimane.example>"}
	r, err := c.Confirmation(ConfirmationInput{
		Received: clerk,
		Items: []Item{
			{Notice: notice(1), Tracking: "R-000101", Outcome: OutcomeVerified},
			{Notice: notice(2), Tracking: "R-000102", Outcome: OutcomeRejectedByClerk, ClerkReason: "金額相違"},
		},
		Refused:    []Refusal{{Line: "R-009999 確認済", Why: "この受付番号はありません"}},
		AgencyName: agencyName, AgencyAddress: agencyAddr, Signature: signature,
		Now: time.Date(2025, 10, 2, 10, 0, 0, 0, jst),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := parseReply(t, r.Raw)
	// The subject is ours, never the clerk's mail's: a forged decision mail's subject is a stranger's.
	if p.header["Subject"] != "確認結果を記録しました" || p.header["In-Reply-To"] != clerk.MessageID || r.To != clerk.From {
		t.Errorf("Subject %q, In-Reply-To %q, To %q", p.header["Subject"], p.header["In-Reply-To"], r.To)
	}
	for _, w := range []string{"2件を記録いたしました", "R-000101：確認済み", "R-000102：確認の結果、お受けできませんでした（理由：金額相違）",
		"R-009999 確認済", "この受付番号はありません"} {
		if !strings.Contains(p.body, w) {
			t.Errorf("confirmation lacks %q:\n%s", w, p.body)
		}
	}
	if strings.Contains(p.body, notice(1).AuthKey) {
		t.Error("confirmation shows the key unmasked")
	}
}

func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("queued.tmpl", "【受付済】{{.Tracking}} {{.ContractNumber}} キー{{.MaskedKey}} 生キー{{.Notice}}\n")
	write("README.txt", "not a template")
	_, err := NewComposer(Options{TemplatesDir: dir})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "queued.tmpl")) {
		t.Fatalf("override naming a missing field: err = %v, want one naming queued.tmpl", err)
	}
	write("queued.tmpl", "【受付済】{{.Tracking}} {{.ContractNumber}} キー{{.MaskedKey}}\n")
	write("footer.tmpl", "問合せ先：{{.AgencyName}}\n{{.Signature}}\n")
	c := composer(t, Options{TemplatesDir: dir})
	r, err := c.Compose(input("x", []Item{{Notice: notice(1), Tracking: "R-42", Outcome: OutcomeQueued}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"【受付済】R-42 2070004421 キー" + Mask(notice(1).AuthKey), "問合せ先：" + agencyName} {
		if !strings.Contains(r.Text, w) {
			t.Errorf("overridden reply lacks %q:\n%s", w, r.Text)
		}
	}
	if strings.Contains(r.Text, "このメールはシステムから自動で") {
		t.Error("built-in footer used despite the override")
	}
	write("queud.tmpl", "typo")
	if _, err := NewComposer(Options{TemplatesDir: dir}); err == nil || !strings.Contains(err.Error(), "queud.tmpl") {
		t.Errorf("unknown template file: err = %v, want one naming queud.tmpl", err)
	}
	os.Remove(filepath.Join(dir, "queud.tmpl"))
	write("notice.tmpl", "{{.Tracking")
	if _, err := NewComposer(Options{TemplatesDir: dir}); err == nil {
		t.Error("unparsable override: no error")
	}
	if _, err := NewComposer(Options{TemplatesDir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing templates dir: no error")
	}
}

func TestTemplateNamesEmbedded(t *testing.T) {
	entries, err := builtin.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	names := TemplateNames()
	if len(entries) != len(names) {
		t.Errorf("%d embedded templates, %d names", len(entries), len(names))
	}
}

// Golden texts of the main templates; go test -update rewrites them.
func TestGolden(t *testing.T) {
	c := composer(t, Options{})
	now := time.Date(2025, 10, 2, 10, 0, 0, 0, jst)
	gyomu := notice(2)
	gyomu.ProjectName = "県道玉湯吾妻山線測量設計業務委託"
	gyomu.Category = "中間前払金保証"
	cases := map[string]func() (Reply, error){
		"queued": func() (Reply, error) {
			return c.Compose(input("認証キーの送付", []Item{{Notice: notice(1), Tracking: "R-000123", Outcome: OutcomeQueued, Reasons: []string{verifier.ReasonStartDateUnconfirmed}}}))
		},
		"needs_review": func() (Reply, error) {
			n := notice(1)
			n.Orderer, n.Category = "", ""
			return c.Compose(input("認証キーの送付", []Item{{Notice: n, Tracking: "R-000124", Outcome: OutcomeNeedsReview, Missing: []string{verifier.MissingOrderer, verifier.MissingCategory}}}))
		},
		"rejected": func() (Reply, error) {
			n := notice(1)
			n.Guarantor, n.Orderer = "株式会社山陰銀行", "松江市長"
			return c.Compose(input("認証キーの送付", []Item{
				{Notice: n, Tracking: "R-000125", Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonOrdererMismatch, verifier.ReasonGuarantorNotEligible}},
				{Notice: gyomu, Tracking: "R-000126", Outcome: OutcomeRejected, Reasons: []string{verifier.ReasonCategoryNotEligible, verifier.ReasonBeforeStartDate},
					Accepted: []string{"前払金保証"}, StartDate: "2023年6月1日", StartDateLabel: "当初契約日"},
			}))
		},
		"three_notices": func() (Reply, error) {
			return c.Compose(input("Re: 3件送付", []Item{
				{Notice: notice(1), Tracking: "R-000201", Outcome: OutcomeQueued},
				{Notice: notice(2), Tracking: "R-000202", Outcome: OutcomeDuplicate, CurrentState: OutcomeVerified},
				{Notice: notice(3), Tracking: "R-000203", Outcome: OutcomeResubmission},
			}, parser.Problem{Code: parser.CodeZipAttachment, Attachment: "認証キー.zip"}))
		},
		"problems": func() (Reply, error) {
			in := input("保証証書", nil,
				parser.Problem{Code: parser.CodeWrongDocument, Attachment: "保証証書.pdf"},
				parser.Problem{Code: parser.CodePasswordZip, Attachment: "証書.zip"})
			in.Tracking = "R-000300"
			return c.Compose(in)
		},
		"no_notice": func() (Reply, error) { return c.Compose(input("質問です", nil)) },
		"outcome": func() (Reply, error) {
			return c.Outcome(OutcomeInput{To: "yamada@kensetsu.example", ToName: "山田太郎", Subject: "認証キーの送付",
				Items: []Item{
					{Notice: notice(1), Tracking: "R-000123", Outcome: OutcomeVerified},
					{Notice: notice(2), Tracking: "R-000124", Outcome: OutcomeRejectedByClerk, ClerkReason: "電子証書の保証金額が契約書の金額と一致しません。"},
				},
				AgencyName: agencyName, AgencyAddress: agencyAddr, Signature: signature, Now: now})
		},
		"confirmation": func() (Reply, error) {
			return c.Confirmation(ConfirmationInput{
				Received:   &inbound.Message{From: "tanaka@pref.shimane.example", FromName: "田中", Subject: "確認待ち一覧", MessageID: "<c1@x.example>"},
				Items:      []Item{{Notice: notice(1), Tracking: "R-000123", Outcome: OutcomeVerified}},
				Refused:    []Refusal{{Line: "R-009999 確認済", Why: "この受付番号はありません"}},
				AgencyName: agencyName, AgencyAddress: agencyAddr, Signature: signature, Now: now})
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := f()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".txt")
			got := "Subject: " + r.Subject + "\n\n" + r.Text
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, got)
			}
			for _, line := range strings.Split(r.Text, "\n") {
				if columns(line) > lineWidth+2 && !strings.Contains(line, "@") {
					t.Errorf("line of %d columns: %q", columns(line), line)
				}
			}
		})
	}
}

// TestComposeNamesUnreadNumber: a number the body reader saw and could not use is named in
// the reply (issue 18), beside the notice that was read.
func TestComposeNamesUnreadNumber(t *testing.T) {
	c := composer(t, Options{})
	n := notice(2)
	n.Source = "body"
	in := input("電子証書", []Item{{Notice: n, Tracking: "R-000002", Outcome: OutcomeQueued}},
		parser.Problem{Code: parser.CodeInvalidKey, ContractNumber: "2070000401", Detail: "認証キー is not made of ASCII letters and digits"})
	r, err := c.Compose(in)
	if err != nil {
		t.Fatal(err)
	}
	body := parseReply(t, r.Raw).body
	if !strings.Contains(body, "保証契約番号 2070000401 の認証キーを読み取れませんでした") || !strings.Contains(body, "R-000002") {
		t.Errorf("the reply does not name the number it could not use beside the one it read:\n%s", body)
	}
}

// TestComposeNamesIncompleteNotice: a notice typed in the body without its key, or without
// its number, is named in the reply by what is there (the key masked) and what is missing.
func TestComposeNamesIncompleteNotice(t *testing.T) {
	c := composer(t, Options{})
	tests := []struct {
		name    string
		problem parser.Problem
		want    []string
	}{
		{"a number without its key", parser.Problem{Code: parser.CodeInvalidKey, ContractNumber: "2070000401", Missing: parser.MissingKey},
			[]string{"保証契約番号 2070000401 はありましたが、その認証キーが見当たりませんでした"}},
		{"a key without its number", parser.Problem{Code: parser.CodeInvalidKey, AuthKey: "QZ12CD34EF", Missing: parser.MissingNumber},
			[]string{"認証キー QZ******EF はありましたが、その保証契約番号（数字10桁）が見当たりませんでした"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Compose(input("電子証書", nil, tt.problem))
			if err != nil {
				t.Fatal(err)
			}
			body := strings.NewReplacer("\n\u3000", "", "\n", "").Replace(parseReply(t, r.Raw).body) // the reply wraps its lines
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("the reply does not say %q:\n%s", w, body)
				}
			}
			if strings.Contains(body, "QZ12CD34EF") {
				t.Errorf("the reply shows the whole key:\n%s", body)
			}
		})
	}
}

// TestWrapKeepsWords: replies break lines between phrases, never inside a word (電子証 / 書,
// 契 / 約, as a fixed-width cut did), never before 、。」 (kinsoku); checked on every golden
// reply and on the lines the issue quotes.
func TestWrapKeepsWords(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden replies: %v", err)
	}
	texts := []string{tidy("お送りいただいた電子証書閲覧用「認証キー」等のお知らせの保証契約番号と認証キーを確認いたしました。契約保証の電子証書を確認いたします。")}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	for i, text := range texts {
		lines := strings.Split(text, "\n")
		for j := 1; j < len(lines); j++ {
			before, after := []rune(lines[j-1]), []rune(strings.TrimLeft(lines[j], " \u3000"))
			if len(before) == 0 || len(after) == 0 || columns(lines[j-1]) < lineWidth-4 {
				continue // not a wrapped line
			}
			a, b := before[len(before)-1], after[0]
			inWord := unicode.Is(unicode.Han, a) && (unicode.Is(unicode.Han, b) || unicode.Is(unicode.Hiragana, b)) ||
				unicode.Is(unicode.Katakana, a) && unicode.Is(unicode.Katakana, b)
			if inWord || noBreakBefore(string(b)) {
				t.Errorf("text %d breaks %q / %q inside a word or before closing punctuation", i, string(before[max(0, len(before)-4):]), string(after[:min(4, len(after))]))
			}
		}
	}
}

// TestComposeFromImage: a notice read by OCR is acknowledged as received and being checked,
// never as unreadable.
func TestComposeFromImage(t *testing.T) {
	c := composer(t, Options{})
	n := notice(1)
	n.Source = "ocr"
	n.OCR = &parser.OCRMarks{Confidence: map[string]float64{"auth_key": 0.7}, Unsure: []string{"auth_key"}}
	r, err := c.Compose(input("スキャン", []Item{{Notice: n, Tracking: "R-000009", Outcome: OutcomeNeedsReview}}))
	if err != nil {
		t.Fatal(err)
	}
	body := parseReply(t, r.Raw).body
	if !strings.Contains(body, "画像のPDFから読み取りました") || strings.Contains(body, "読み取ることができませんでした") {
		t.Errorf("the reply to an OCR notice:\n%s", body)
	}
}
