package inbound

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"hosho-intake/parser"
)

// crlf turns a readable test message into wire form.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

func sjis(s string) string {
	b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func jis(s string) string {
	b, err := japanese.ISO2022JP.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func eucjp(s string) string {
	b, err := japanese.EUCJP.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c < 0x20 || strings.IndexByte(`%'"*;()= ?_\\`, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func b64w(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// fakePDF is enough of a PDF for this package, which only looks at the header.
const fakePDF = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

// mixed builds a multipart/mixed message with a text part and one attachment given by its raw headers.
func mixed(extraHeaders, attHeaders, attBody string) string {
	return crlf(`From: =?utf-8?B?` + b64w("田中 太郎") + `?= <tanaka@contractor.example>
To: denshi@agency.example
Subject: test
Date: Tue, 02 Jun 2026 09:14:07 +0900
Message-ID: <t1@contractor.example>
MIME-Version: 1.0
` + extraHeaders + `Content-Type: multipart/mixed; boundary="BOUND"

--BOUND
Content-Type: text/plain; charset=utf-8

本文です。
--BOUND
` + attHeaders + `

` + attBody + `
--BOUND--
`)
}

func pdfPart(disposition string) (string, string) {
	return "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n" + disposition, b64w(fakePDF)
}

func mustRead(t *testing.T, raw string, lim Limits) *Message {
	t.Helper()
	m, err := Read(strings.NewReader(raw), lim)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return m
}

func hasProblem(m *Message, code string) bool {
	for _, p := range m.Problems {
		if p.Code == code {
			return true
		}
	}
	return false
}

func TestAttachmentNames(t *testing.T) {
	const want = "認証キー表①.pdf" // 表 is 0x95 0x5C in Shift_JIS: a backslash as trail byte
	tests := []struct {
		name, disposition string
	}{
		{"raw 8-bit Shift_JIS in quoted filename", `Content-Disposition: attachment; filename="` + sjis(want) + `"`},
		{"raw 8-bit UTF-8 in quoted filename", `Content-Disposition: attachment; filename="` + want + `"`},
		{"raw Shift_JIS in unquoted filename", "Content-Disposition: attachment; filename=" + sjis(want) + " ; size=42"},
		{"encoded word in quoted filename (Outlook)", `Content-Disposition: attachment; filename="=?utf-8?B?` + b64w(want) + `?="`},
		{"encoded word CP932 label", `Content-Disposition: attachment; filename="=?CP932?B?` + b64w(sjis(want)) + `?="`},
		{"encoded word windows-31j label", `Content-Disposition: attachment; filename="=?windows-31j?B?` + b64w(sjis(want)) + `?="`},
		{"encoded word x-sjis label, Q", `Content-Disposition: attachment; filename="=?x-sjis?Q?` + strings.ReplaceAll(pctEncode(sjis(want)), "%", "=") + `?="`},
		{"encoded words split inside a character", `Content-Disposition: attachment; filename="=?utf-8?B?` + b64w(want[:4]) + `?= =?utf-8?B?` + b64w(want[4:]) + `?="`},
		{"Shift_JIS encoded words split inside a character", `Content-Disposition: attachment; filename="=?Shift_JIS?B?` + b64w(sjis(want)[:3]) + `?=` + "\n " + `=?Shift_JIS?B?` + b64w(sjis(want)[3:]) + `?="`},
		{"RFC 2231 UTF-8", `Content-Disposition: attachment; filename*=utf-8''` + pctEncode(want)},
		{"RFC 2231 ISO-2022-JP", `Content-Disposition: attachment; filename*=ISO-2022-JP''` + pctEncode(jis(want))},
		{"RFC 2231 Shift_JIS with language", `Content-Disposition: attachment; filename*=Shift_JIS'ja'` + pctEncode(sjis(want))},
		{"RFC 2231 EUC-JP", `Content-Disposition: attachment; filename*=euc-jp''` + pctEncode(eucjp("認証キー表.pdf"))},
		{"RFC 2231 continuation ISO-2022-JP", func() string {
			e := pctEncode(jis(want))
			cut := strings.Index(e, "%1B%28B") // split before the return to ASCII
			return "Content-Disposition: attachment;\n\tfilename*0*=iso-2022-jp''" + e[:cut-6] + ";\n\tfilename*1*=" + e[cut-6:]
		}()},
		{"RFC 2231 continuation, sections out of order, mixed plain", "Content-Disposition: attachment;\n filename*1=\".pdf\";\n filename*0*=utf-8''" + pctEncode("認証キー表①")},
		{"RFC 2231 wins over plain", `Content-Disposition: attachment; filename="fallback.pdf"; filename*=utf-8''` + pctEncode(want)},
		{"name on Content-Type only", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr, body := pdfPart(tt.disposition)
			if tt.disposition == "" {
				hdr = "Content-Type: application/pdf; name=\"=?ISO-2022-JP?B?" + b64w(jis(want)) + "?=\"\nContent-Transfer-Encoding: base64"
			}
			m := mustRead(t, mixed("", hdr, body), Limits{})
			wantName := want
			if strings.Contains(tt.name, "EUC-JP") {
				wantName = "認証キー表.pdf"
			}
			if len(m.Attachments) != 1 || m.Attachments[0].Name != wantName {
				t.Fatalf("attachments %q, want one named %q", names(m.Attachments), wantName)
			}
			if a := m.Attachments[0]; !a.PDF || a.Path != wantName || string(a.Data) != fakePDF {
				t.Errorf("attachment = %+v", a)
			}
		})
	}
}

func TestBodies(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string // substrings of the joined texts
		not  []string
	}{
		{"CP932 label with NEC and IBM extensions",
			crlf("From: a@b.example\nSubject: x\nContent-Type: text/plain; charset=CP932\nContent-Transfer-Encoding: 8bit\n\n") + sjis("①㈱～髙﨑"),
			[]string{"①㈱～髙﨑"}, nil},
		{"Shift_JIS label on CP932 text",
			crlf("From: a@b.example\nContent-Type: text/plain; charset=\"Shift_JIS\"\n\n") + sjis("大山開発㈱　①"),
			[]string{"大山開発㈱　①"}, nil},
		{"x-sjis label", crlf("From: a@b.example\nContent-Type: text/plain; charset=x-sjis\n\n") + sjis("認証キー"), []string{"認証キー"}, nil},
		{"windows-31j label", crlf("From: a@b.example\nContent-Type: text/plain; charset=windows-31j\n\n") + sjis("認証キー"), []string{"認証キー"}, nil},
		{"EUC-JP label", crlf("From: a@b.example\nContent-Type: text/plain; charset=euc-jp\n\n") + eucjp("保証契約番号"), []string{"保証契約番号"}, nil},
		{"ISO-2022-JP without a label (Outlook)",
			crlf("From: a@b.example\nMIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: 7bit\n\n" + jis("認証キー：ABCD123456") + "\n"),
			[]string{"認証キー：ABCD123456"}, nil},
		{"ISO-2022-JP without any MIME header",
			crlf("From: a@b.example\nSubject: x\n\n" + jis("保証契約番号：2070004426") + "\n"),
			[]string{"保証契約番号：2070004426"}, nil},
		{"undeclared 8-bit UTF-8 (swaks)", crlf("From: a@b.example\nSubject: x\n\n認証キー：T2RFT6PKGQ\n"), []string{"認証キー：T2RFT6PKGQ\n"}, nil},
		{"undeclared 8-bit Shift_JIS", crlf("From: a@b.example\n\n") + sjis("認証キー：ひらがなカタカナ"), []string{"認証キー：ひらがなカタカナ"}, nil},
		{"us-ascii label on UTF-8", crlf("From: a@b.example\nContent-Type: text/plain; charset=us-ascii\n\niPhoneから送信\n"), []string{"iPhoneから送信"}, nil},
		{"ISO-2022-JP label on Shift_JIS bytes", crlf("From: a@b.example\nContent-Type: text/plain; charset=iso-2022-jp\n\n") + sjis("保証契約番号"), []string{"保証契約番号"}, nil},
		{"quoted-printable with soft breaks, bad escape, trailing space",
			crlf("From: a@b.example\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n=E8=AA=8D=E8=A8=BC=\n=E3=82=AD=E3=83=BC =3d =ZZ x  \nnext=\n"),
			[]string{"認証キー = =ZZ x\nnext"}, nil},
		{"HTML table", crlf("From: a@b.example\nContent-Type: text/html; charset=utf-8\n\n<html><head><style>td{}</style><title>t</title></head><body><p>前文</p><table>\n<tr>\n <td>区分</td>\n <td>前払金保証</td></tr><tr><td>認証キー<td>ABC&amp;DEF</tr></table><div>a<br>b</div><!-- 隠し 9999999999 --><script>x=1</script></body></html>"),
			[]string{"前文\n区分\t前払金保証\n認証キー\tABC&DEF\na\nb"}, []string{"9999999999", "x=1", "td{}"}},
		{"HTML charset from meta", crlf("From: a@b.example\nContent-Type: text/html\n\n<meta charset=\"shift_jis\"><p>") + sjis("認証キー") + "</p>", []string{"認証キー"}, nil},
		{"alternative prefers plain", crlf("From: a@b.example\nContent-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain; charset=utf-8\n\nplain text\n--A\nContent-Type: text/html\n\n<p>html text</p>\n--A--\n"),
			[]string{"plain text"}, []string{"html text"}},
		{"alternative with empty plain takes html", crlf("From: a@b.example\nContent-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain; charset=utf-8\n\n \n--A\nContent-Type: text/html\n\n<p>html text</p>\n--A--\n"),
			[]string{"html text"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustRead(t, tt.raw, Limits{})
			all := strings.Join(m.Texts, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("texts %q do not contain %q", all, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(all, w) {
					t.Errorf("texts %q contain %q", all, w)
				}
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	raw := "Return-Path: <bounce+x@sender.example>\r\n" +
		"From: \"" + sjis("森 里美") + "\" <Mori@Daisen.example>\r\n" +
		"This line is no header field\r\n" +
		"Bad Name: the name has a space\r\n" +
		"Subject : =?ISO-2022-JP?B?" + b64w(jis("認証キーの提出")) + "?=\r\n" +
		"\t=?utf-8?Q?=E2=91=A0?= plain\r\n" +
		": empty name\r\n" +
		"Date: Tue, 2 Jun 2026 09:14:07 +0900 (JST)\r\n" +
		"Message-ID: <id1@x.example>\r\n" +
		"In-Reply-To: <id0@agency.example> (ours)\r\n" +
		"References: <a@x> <b@y>\r\n" +
		"  <id0@agency.example>\r\n" +
		"Authentication-Results: mx.agency.example; spf=pass\r\n" +
		"Content-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: application/octet-stream; name=\"notice.PDF\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64w(fakePDF) + "\r\n--B--\r\n"
	m := mustRead(t, raw, Limits{})
	if m.Subject != "認証キーの提出① plain" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if m.From != "Mori@Daisen.example" || m.FromName != "森 里美" {
		t.Errorf("From = %q, %q", m.From, m.FromName)
	}
	if m.ReturnPath != "bounce+x@sender.example" {
		t.Errorf("ReturnPath = %q", m.ReturnPath)
	}
	if m.MessageID != "<id1@x.example>" || m.InReplyTo != "<id0@agency.example>" {
		t.Errorf("MessageID %q InReplyTo %q", m.MessageID, m.InReplyTo)
	}
	if !slices.Equal(m.References, []string{"<a@x>", "<b@y>", "<id0@agency.example>"}) {
		t.Errorf("References = %q", m.References)
	}
	if want := time.Date(2026, 6, 2, 9, 14, 7, 0, time.FixedZone("", 9*3600)); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
	if m.Header.Get("authentication-results") != "mx.agency.example; spf=pass" {
		t.Errorf("Header.Get(Authentication-Results) = %q", m.Header.Get("authentication-results"))
	}
	if len(m.Attachments) != 1 || !m.Attachments[0].PDF || m.Attachments[0].Name != "notice.PDF" {
		t.Errorf("attachments = %v", names(m.Attachments))
	}
	if len(m.Defects) == 0 {
		t.Errorf("no defect recorded for the bad header lines")
	}
	for _, f := range m.Header {
		if strings.Contains(f.Name, " ") || f.Name == "" {
			t.Errorf("bad field kept: %+v", f)
		}
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct{ in, addr, name string }{
		{"MAILER-DAEMON@mx1.agency.example (Mail Delivery System)", "MAILER-DAEMON@mx1.agency.example", "Mail Delivery System"},
		{`"Tanaka, Taro" <t@x.example>, other <o@x.example>`, "t@x.example", "Tanaka, Taro"},
		{"=?utf-8?B?" + b64w("岡田") + "?= =?utf-8?B?" + b64w(" 直子") + "?= <okada@x.example>", "okada@x.example", "岡田 直子"},
		{"plain@x.example", "plain@x.example", ""},
		{"<@route.example:user@x.example>", "user@x.example", ""},
		{"Broken <b@x.example", "b@x.example", "Broken"},
		{"", "", ""},
	}
	for _, tt := range tests {
		addr, name := parseAddress(tt.in)
		if addr != tt.addr || name != tt.name {
			t.Errorf("parseAddress(%q) = %q, %q, want %q, %q", tt.in, addr, name, tt.addr, tt.name)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		headers string
		want    []string
	}{
		{"plain", "From: a@b.example\n", nil},
		{"Auto-Submitted no", "From: a@b.example\nAuto-Submitted: no\n", nil},
		{"Auto-Submitted auto-replied (comment)", "From: a@b.example\nAuto-Submitted: auto-replied (vacation)\n", []string{parser.CodeAutoSubmitted}},
		{"Auto-Submitted auto-generated", "From: a@b.example\nAuto-Submitted: Auto-Generated\n", []string{parser.CodeAutoSubmitted}},
		{"Precedence auto_reply", "From: a@b.example\nPrecedence: auto_reply\n", []string{parser.CodeAutoSubmitted}},
		{"Precedence bulk", "From: a@b.example\nPrecedence: bulk\n", []string{parser.CodeAutoSubmitted}},
		{"Precedence junk", "From: a@b.example\nPrecedence: junk\n", []string{parser.CodeAutoSubmitted}},
		{"X-Auto-Response-Suppress All", "From: a@b.example\nX-Auto-Response-Suppress: All\n", []string{parser.CodeAutoSubmitted}},
		{"X-Auto-Response-Suppress DR, OOF", "From: a@b.example\nX-Auto-Response-Suppress: DR, OOF\n", []string{parser.CodeAutoSubmitted}},
		{"X-Auto-Response-Suppress DR only", "From: a@b.example\nX-Auto-Response-Suppress: DR\n", nil},
		{"X-Autoreply", "From: a@b.example\nX-Autoreply: yes\n", []string{parser.CodeAutoSubmitted}},
		{"X-Autorespond", "From: a@b.example\nX-Autorespond: 1\n", []string{parser.CodeAutoSubmitted}},
		{"null return path", "Return-Path: <>\nFrom: a@b.example\n", []string{parser.CodeBounce}},
		{"MAILER-DAEMON", "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example>\n", []string{parser.CodeBounce}},
		{"postmaster", "From: postmaster@mx.example\n", []string{parser.CodeBounce}},
		{"multipart/report", "From: a@b.example\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\n", []string{parser.CodeBounce}},
		{"Postfix DSN", "Return-Path: <>\nFrom: MAILER-DAEMON@mx (Mail Delivery System)\nAuto-Submitted: auto-replied\nContent-Type: multipart/report; boundary=x\n", []string{parser.CodeBounce, parser.CodeAutoSubmitted}},
		{"List-Id", "From: a@b.example\nList-Id: <news.example>\n", []string{parser.CodeMailingList}},
		{"List-Unsubscribe", "From: a@b.example\nList-Unsubscribe: <mailto:u@x>\n", []string{parser.CodeMailingList}},
		{"list with Precedence bulk", "From: a@b.example\nList-Id: <n.example>\nPrecedence: bulk\n", []string{parser.CodeMailingList}},
		{"Precedence list", "From: a@b.example\nPrecedence: list\n", []string{parser.CodeMailingList}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := crlf(tt.headers+"Subject: 認証キー\n\n") + "保証契約番号：2070004426 認証キー：ABCDEFGH12\r\n"
			if strings.Contains(tt.headers, "multipart") {
				raw = crlf(tt.headers + "Subject: x\n\n--x\nContent-Type: text/plain\n\n保証契約番号：2070004426\n--x--\n")
			}
			m := mustRead(t, raw, Limits{})
			if !slices.Equal(m.Classes, tt.want) {
				t.Errorf("Classes = %v, want %v", m.Classes, tt.want)
			}
			if len(tt.want) > 0 && (len(m.Texts) > 0 || len(m.Attachments) > 0) {
				t.Errorf("classified mail was mined: texts %q", m.Texts)
			}
			if len(tt.want) == 0 && len(m.Texts) == 0 {
				t.Errorf("no texts")
			}
			if m.From == "" {
				t.Errorf("From not filled")
			}
		})
	}
}

func TestMalformedMIME(t *testing.T) {
	pdf64 := b64w(fakePDF)
	// Stray characters inside the base64, as se20 has them: RFC 2045 §6.8 says to ignore them.
	dirty := pdf64[:10] + "!*#~\t%?" + pdf64[10:20] + "\r\n" + pdf64[20:]
	tests := []struct {
		name string
		raw  string
	}{
		{"missing closing boundary", crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=\"X\"\n\npreamble\n--X\nContent-Type: text/plain\n\nbody\n--X\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\nContent-Transfer-Encoding: base64\n\n" + pdf64 + "\n")},
		{"inner multipart not closed, outer closed", crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=\"O\"\n\n--O\nContent-Type: multipart/alternative; boundary=\"I\"\n\n--I\nContent-Type: text/plain\n\nbody\n--O\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n" + pdf64 + "\n--O--\n")},
		{"base64 with characters outside the alphabet", crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/plain\n\nbody\n--X\nContent-Type: application/pdf; name=\"a.pdf\"\nContent-Transfer-Encoding: BASE64\n\n" + dirty + "\n--X--\n")},
		{"boundary with transport padding and LF line ends", strings.ReplaceAll("From: a@b.example\nContent-Type: multipart/mixed; boundary=X\n\n--X  \nContent-Type: text/plain\n\nbody\n--X\t\nContent-Type: application/octet-stream; name=a.pdf\nContent-Transfer-Encoding: base64\n\n"+pdf64+"\n--X--  \n", "\r\n", "\n")},
		{"a longer boundary that starts with the boundary is no delimiter", crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/plain\n\nbody\n--XY not a delimiter\n--X\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"a.pdf\"\n\n" + fakePDF + "--X--\n")},
		{"nameless PDF found by content", crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/plain\n\nbody\n--X\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + pdf64 + "\n--X--\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustRead(t, tt.raw, Limits{})
			var pdfs []Attachment
			for _, a := range m.Attachments {
				if a.PDF {
					pdfs = append(pdfs, a)
				}
			}
			if len(pdfs) != 1 || !strings.HasPrefix(string(pdfs[0].Data), "%PDF-1.4") || !strings.Contains(string(pdfs[0].Data), "%%EOF") {
				t.Fatalf("PDF attachments %v (%d), want one intact; defects %v", names(m.Attachments), len(pdfs), m.Defects)
			}
			if !strings.Contains(strings.Join(m.Texts, ""), "body") {
				t.Errorf("texts %q, want the body", m.Texts)
			}
			if strings.Contains(strings.Join(m.Texts, ""), "not a delimiter") == false && strings.Contains(tt.name, "longer boundary") {
				t.Errorf("texts %q lost the line that is no delimiter", m.Texts)
			}
		})
	}
}

func TestForwardedAndZip(t *testing.T) {
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	// A CP932 member name without the UTF-8 flag, as Windows' Explorer writes it.
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: sjis("認証キー等のお知らせ.pdf"), Method: zip.Deflate})
	w.Write([]byte(fakePDF))
	zw.CreateHeader(&zip.FileHeader{Name: "dir/", Method: zip.Store}) // a directory entry: no data
	zw.Close()
	raw := crlf(`From: a@b.example
Subject: Fwd: x
Content-Type: multipart/mixed; boundary=O

--O
Content-Type: text/plain; charset=utf-8

転送します。
--O
Content-Type: message/rfc822

From: =?utf-8?B?` + b64w("東日本建設業保証株式会社") + `?= <noreply@x.example>
Subject: =?utf-8?B?` + b64w("【東日本】電子証書/発行") + `?=
Content-Type: multipart/mixed; boundary=I

--I
Content-Type: text/plain; charset=iso-2022-jp

` + jis("転送元の本文") + `
--I
Content-Type: application/zip
Content-Disposition: attachment; filename="k.zip"
Content-Transfer-Encoding: base64

` + base64.StdEncoding.EncodeToString(zbuf.Bytes()) + `
--I--

--O--
`)
	m := mustRead(t, raw, Limits{})
	want := []string{"forwarded:【東日本】電子証書/発行/attachment:k.zip", "forwarded:【東日本】電子証書/発行/attachment:k.zip/認証キー等のお知らせ.pdf"}
	if got := paths(m.Attachments); !slices.Equal(got, want) {
		t.Errorf("paths = %q, want %q", got, want)
	}
	if len(m.Attachments) == 2 && (!m.Attachments[1].PDF || string(m.Attachments[1].Data) != fakePDF || m.Attachments[1].Name != "認証キー等のお知らせ.pdf") {
		t.Errorf("member = %+v", m.Attachments[1])
	}
	if !hasProblem(m, parser.CodeZipAttachment) || m.Problems[0].Attachment != want[0] {
		t.Errorf("problems = %+v, want zip_attachment on %q", m.Problems, want[0])
	}
	if got := strings.Join(m.Texts, "|"); got != "転送します。|転送元の本文" {
		t.Errorf("texts = %q", got)
	}
}

// zipRaw builds a ZIP with members written raw, so that headers can lie.
func zipRaw(t testing.TB, members ...zipMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		data := m.data
		method := zip.Store
		if m.deflate {
			var c bytes.Buffer
			w := zip.NewWriter(&c)
			f, _ := w.CreateHeader(&zip.FileHeader{Name: "x", Method: zip.Deflate})
			f.Write(m.data)
			w.Close()
			r, _ := zip.NewReader(bytes.NewReader(c.Bytes()), int64(c.Len()))
			rc, _ := r.File[0].OpenRaw()
			var err error
			if data, err = io.ReadAll(rc); err != nil {
				t.Fatal(err)
			}
			method = zip.Deflate
		}
		size := uint64(len(m.data))
		if m.declared != 0 {
			size = m.declared
		}
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: m.name, Method: method, Flags: m.flags,
			CRC32: crc32.ChecksumIEEE(m.data), CompressedSize64: uint64(len(data)), UncompressedSize64: size,
		})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return buf.Bytes()
}

type zipMember struct {
	name     string
	data     []byte
	deflate  bool
	declared uint64 // a lie about the uncompressed size, 0 for the truth
	flags    uint16
}

func zipMail(z []byte) string {
	return mixed("", "Content-Type: application/x-zip-compressed; name=\"z.zip\"\nContent-Transfer-Encoding: base64", base64.StdEncoding.EncodeToString(z))
}

func TestZipLimits(t *testing.T) {
	big := bytes.Repeat([]byte{0}, 4<<20)
	lim := Limits{MaxZipBytes: 1 << 20, MaxZipEntries: 3}
	tests := []struct {
		name    string
		zip     []byte
		lim     Limits
		members []string // paths of members read
		codes   []string
	}{
		{"plain", zipRaw(t, zipMember{name: "a.pdf", data: []byte(fakePDF), deflate: true}), lim, []string{"z.zip/a.pdf"}, []string{parser.CodeZipAttachment}},
		{"bomb declared honestly", zipRaw(t, zipMember{name: "bomb.pdf", data: big, deflate: true}), lim, nil, []string{parser.CodeTooLarge}},
		// archive/zip stops at the declared size and calls the rest a format error.
		{"bomb that lies about its size", zipRaw(t, zipMember{name: "bomb.pdf", data: big, deflate: true, declared: 1000}), lim, nil, []string{parser.CodeCorrupt}},
		{"total past MaxZipBytes", zipRaw(t,
			zipMember{name: "1.pdf", data: big[:600<<10], deflate: true},
			zipMember{name: "2.pdf", data: big[:600<<10], deflate: true}), lim,
			[]string{"z.zip/1.pdf"}, []string{parser.CodeZipAttachment, parser.CodeTooLarge}},
		{"too many entries", zipRaw(t,
			zipMember{name: "1.pdf", data: []byte(fakePDF)}, zipMember{name: "2.pdf", data: []byte(fakePDF)},
			zipMember{name: "3.pdf", data: []byte(fakePDF)}, zipMember{name: "4.pdf", data: []byte(fakePDF)}), lim,
			[]string{"z.zip/1.pdf", "z.zip/2.pdf", "z.zip/3.pdf"}, []string{parser.CodeTooLarge, parser.CodeZipAttachment}},
		{"encrypted (PPAP)", zipRaw(t, zipMember{name: sjis("認証キー.pdf"), data: []byte("encrypted bytes"), flags: 0x1}), lim, nil, []string{parser.CodePasswordZip}},
		{"UTF-8 flag", zipRaw(t, zipMember{name: "認証キー.pdf", data: []byte(fakePDF), flags: 0x800}), lim, []string{"z.zip/認証キー.pdf"}, []string{parser.CodeZipAttachment}},
		{"zip in zip shares the budget", zipRaw(t, zipMember{name: "inner.zip", data: zipRaw(t,
			zipMember{name: "1.pdf", data: big[:700<<10], deflate: true},
			zipMember{name: "2.pdf", data: big[:700<<10], deflate: true})}), lim,
			[]string{"z.zip/inner.zip", "z.zip/inner.zip/1.pdf"}, []string{parser.CodeZipAttachment, parser.CodeTooLarge}},
		{"ZIP of photos: no zip_attachment", zipRaw(t, zipMember{name: "site.jpg", data: []byte("\xff\xd8\xff")}), lim, []string{"z.zip/site.jpg"}, nil},
		{"not a zip at all", []byte("PK\x03\x04 garbage"), lim, nil, []string{parser.CodeCorrupt}},
		{"CRC mismatch", func() []byte {
			z := zipRaw(t, zipMember{name: "a.pdf", data: []byte(fakePDF)})
			i := bytes.Index(z, []byte("%PDF"))
			z[i+5] ^= 1
			return z
		}(), lim, nil, []string{parser.CodeCorrupt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustRead(t, zipMail(tt.zip), tt.lim)
			var got []string
			for _, a := range m.Attachments {
				if strings.HasPrefix(a.Path, "z.zip/") {
					got = append(got, a.Path)
				}
			}
			if !slices.Equal(got, tt.members) {
				t.Errorf("members %q, want %q", got, tt.members)
			}
			var codes []string
			for _, p := range m.Problems {
				if !slices.Contains(codes, p.Code) {
					codes = append(codes, p.Code)
				}
			}
			slices.Sort(codes)
			want := slices.Clone(tt.codes)
			slices.Sort(want)
			if !slices.Equal(codes, want) {
				t.Errorf("problems %+v, want codes %v", m.Problems, want)
			}
			var total int
			for _, a := range m.Attachments {
				total += len(a.Data)
			}
			if total > 3<<20 {
				t.Errorf("kept %d bytes", total)
			}
		})
	}
}

func TestNotZip(t *testing.T) {
	// A DOCX is a ZIP inside; it is a document, not an archive to open.
	z := base64.StdEncoding.EncodeToString(zipRaw(t, zipMember{name: "[Content_Types].xml", data: []byte("<x/>")}))
	m := mustRead(t, mixed("", "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name=\"a.docx\"\nContent-Transfer-Encoding: base64", z), Limits{})
	if len(m.Attachments) != 1 || m.Attachments[0].PDF || len(m.Problems) != 0 {
		t.Errorf("attachments %q problems %+v", paths(m.Attachments), m.Problems)
	}
	// A nameless ZIP is found by its signature.
	m = mustRead(t, mixed("", "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64", base64.StdEncoding.EncodeToString(zipRaw(t, zipMember{name: "a.pdf", data: []byte(fakePDF)}))), Limits{})
	if got := paths(m.Attachments); !slices.Equal(got, []string{"part-2.zip", "part-2.zip/a.pdf"}) {
		t.Errorf("paths %q", got)
	}
}

func TestBoundaryMismatch(t *testing.T) {
	raw := crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=\"WRONG\"\n\n--RIGHT\nContent-Type: text/plain\n\nbody\n--RIGHT\nContent-Type: application/pdf; name=a.pdf\n\n%PDF-1.4\n--RIGHT--\n")
	m := mustRead(t, raw, Limits{})
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "a.pdf" || len(m.Texts) != 1 || m.Texts[0] != "body" {
		t.Errorf("attachments %q texts %q defects %q", names(m.Attachments), m.Texts, m.Defects)
	}
}

func TestBounds(t *testing.T) {
	t.Run("depth bomb of multiparts", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("From: a@b.example\r\n")
		const n = 5000
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
		}
		b.WriteString("Content-Type: text/plain\r\n\r\ndeep\r\n")
		start := time.Now()
		m := mustRead(t, b.String(), Limits{})
		if !hasProblem(m, parser.CodeCorrupt) || len(m.Texts) != 0 {
			t.Errorf("problems %+v texts %q", m.Problems, m.Texts)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("depth bomb of forwarded messages", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("From: a@b.example\r\n")
		for i := 0; i < 5000; i++ {
			b.WriteString("Content-Type: message/rfc822\r\n\r\nSubject: s\r\n")
		}
		b.WriteString("\r\ndeep\r\n")
		m := mustRead(t, b.String(), Limits{})
		if !hasProblem(m, parser.CodeCorrupt) {
			t.Errorf("problems %+v", m.Problems)
		}
	})
	t.Run("too many parts", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n")
		for i := 0; i < 1000; i++ {
			fmt.Fprintf(&b, "--x\r\nContent-Type: application/pdf; name=%d.pdf\r\n\r\n%%PDF-1.4\r\n", i)
		}
		m := mustRead(t, b.String(), Limits{MaxParts: 50})
		if !hasProblem(m, parser.CodeTooLarge) || len(m.Attachments) > 50 {
			t.Errorf("problems %+v, %d attachments", m.Problems, len(m.Attachments))
		}
	})
	t.Run("message too large keeps headers", func(t *testing.T) {
		hdr, body := pdfPart(`Content-Disposition: attachment; filename="a.pdf"`)
		raw := mixed("", hdr, body+"\r\n"+strings.Repeat("QUFB", 5000))
		m := mustRead(t, raw, Limits{MaxMessageBytes: 2000})
		if m.Size != int64(len(raw)) || m.From != "tanaka@contractor.example" || m.FromName != "田中 太郎" || m.Subject != "test" || m.MessageID == "" {
			t.Errorf("headers lost: size %d from %q %q subject %q", m.Size, m.From, m.FromName, m.Subject)
		}
		if !hasProblem(m, parser.CodeTooLarge) || len(m.Texts) > 0 || len(m.Attachments) > 0 {
			t.Errorf("problems %+v, texts %d, attachments %d", m.Problems, len(m.Texts), len(m.Attachments))
		}
	})
	t.Run("attachment too large", func(t *testing.T) {
		hdr, body := pdfPart(`Content-Disposition: attachment; filename="a.pdf"`)
		m := mustRead(t, mixed("", hdr, body), Limits{MaxAttachmentBytes: 10})
		if len(m.Attachments) != 0 || len(m.Problems) != 1 || m.Problems[0].Code != parser.CodeTooLarge || m.Problems[0].Attachment != "a.pdf" {
			t.Errorf("attachments %v problems %+v", names(m.Attachments), m.Problems)
		}
	})
	t.Run("a panic is contained", func(t *testing.T) {
		hdr, body := pdfPart(`Content-Disposition: attachment; filename="a.pdf"`)
		raw := mixed("", hdr, body)
		n := 0
		m := parse([]byte(raw), int64(len(raw)), false, DefaultLimits(), func() {
			if n++; n == 3 {
				panic("boom")
			}
		})
		if m == nil || m.From == "" || !hasProblem(m, parser.CodeCorrupt) || !strings.Contains(m.Problems[0].Detail, "boom") {
			t.Fatalf("message %+v", m)
		}
	})
	t.Run("no quadratic input", func(t *testing.T) {
		const n = 1 << 20
		bodies := map[string]string{
			"open encoded words":      "From: a@b.example\r\nSubject: " + strings.Repeat("=?a?b?x ", n/8) + "?=\r\n\r\nx",
			"encoded words, no end":   "From: a@b.example\r\nSubject: " + strings.Repeat("=?", n/2) + "\r\n\r\nx",
			"tags that never end":     "Content-Type: text/html\r\n\r\n" + strings.Repeat("<a", n/2),
			"quotes that never close": "Content-Type: text/html\r\n\r\n" + strings.Repeat("<a '>", n/10) + strings.Repeat("<a \">", n/10),
			"unclosed styles":         "Content-Type: text/html\r\n\r\n" + strings.Repeat("<style>", n/7),
			"cells and rows":          "Content-Type: text/html\r\n\r\n" + strings.Repeat("<td></tr>", n/9),
			"boundary prefixes":       "Content-Type: multipart/mixed; boundary=a\r\n\r\n" + strings.Repeat("x--a", n/4),
			"boundary lookalikes":     "Content-Type: multipart/mixed; boundary=a\r\n\r\n" + strings.Repeat("\n--ab", n/5),
			"header lines":            strings.Repeat("X: y\r\n", n/6) + "\r\nx",
			"bad header lines":        strings.Repeat("bad\r\n \r\n", n/8) + "\r\nx",
			"parameters":              "Content-Type: text/plain" + strings.Repeat("; a*0*=x", n/8) + "\r\n\r\nx",
			"quoted-printable":        "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Repeat("=", n),
			"base64 garbage":          "Content-Transfer-Encoding: base64\r\n\r\n" + strings.Repeat("=!", n/2),
			"address":                 "From: " + strings.Repeat("(<\"", n/3) + "\r\n\r\nx",
			"message ids":             "References: " + strings.Repeat("<", n) + "\r\n\r\nx",
		}
		for name, raw := range bodies {
			start := time.Now()
			mustRead(t, raw, Limits{})
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("%s: took %v", name, d)
			}
		}
	})
	t.Run("reader error", func(t *testing.T) {
		if _, err := Read(errReader{}, Limits{}); err == nil {
			t.Errorf("Read(failing reader) = nil error")
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("connection reset") }
