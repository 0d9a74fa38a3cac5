package inbound

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are small messages that reach every branch: the alternative, HTML, forwarded, ZIP, RFC 2231,
// encoded words, charsets, malformed MIME, classification.
func fuzzSeeds(t testing.TB) []string {
	zipped := base64.StdEncoding.EncodeToString(zipRaw(t, zipMember{name: sjis("認証.pdf"), data: []byte(fakePDF), deflate: true}))
	return []string{
		mixed("", "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename*0*=iso-2022-jp''%1B$BG'>Z%1B%28B;\n filename*1=.pdf", b64w(fakePDF)),
		mixed("", "Content-Type: application/zip; name=\"=?utf-8?B?"+b64w("認証.zip")+"?=\"\nContent-Transfer-Encoding: base64", zipped),
		crlf("From: a@b.example\nSubject: =?ISO-2022-JP?B?" + b64w(jis("件名")) + "?=\nContent-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain; charset=Shift_JIS\n\n" + sjis("本文①") + "\n--A\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<table><tr><td>=E8=AA=8D</td><td>x</td></tr></table>=\n<br>\n--A--\n"),
		crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=O\n\n--O\nContent-Type: message/rfc822\n\nSubject: fwd\nContent-Type: multipart/mixed; boundary=I\n\n--I\nContent-Type: application/octet-stream; name=a.pdf\n\n%PDF-1.4\n--I--\n--O\nContent-Type: text/plain\n\n" + jis("本文") + "\n"),
		crlf("Return-Path: <>\nFrom: MAILER-DAEMON@x\nAuto-Submitted: auto-replied\nContent-Type: multipart/report; boundary=R\n\n--R\n\nx\n--R--\n"),
		crlf("From: a@b.example\nBad header\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n5p2+!!5pys*\n"),
	}
}

func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s))
	}
	lim := Limits{MaxMessageBytes: 1 << 20, MaxAttachmentBytes: 256 << 10, MaxParts: 50, MaxDepth: 8, MaxZipEntries: 10, MaxZipBytes: 512 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data), lim)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for _, p := range m.Problems {
			if strings.Contains(p.Detail, "MIME reader failed") {
				t.Fatalf("panic: %s", p.Detail)
			}
		}
		if len(m.Classes) > 0 && (len(m.Texts) > 0 || len(m.Attachments) > 0) {
			t.Fatalf("classified %v but mined", m.Classes)
		}
		if m.Size != int64(len(data)) {
			t.Fatalf("Size %d, want %d", m.Size, len(data))
		}
		for _, s := range append([]string{m.Subject, m.FromName}, m.Texts...) {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
		}
		total := 0
		for _, a := range m.Attachments {
			if !utf8.ValidString(a.Name) || !utf8.ValidString(a.Path) {
				t.Fatalf("invalid UTF-8 name %q", a.Name)
			}
			if int64(len(a.Data)) > lim.MaxAttachmentBytes {
				t.Fatalf("attachment %q is %d bytes", a.Path, len(a.Data))
			}
			total += len(a.Data)
		}
		if total > len(data)+20*int(lim.MaxZipBytes) {
			t.Fatalf("kept %d bytes from %d", total, len(data))
		}
	})
}

// BenchmarkRead reads a typical submission: multipart/mixed > multipart/alternative (plain + HTML, UTF-8)
// and one 45 KB notice PDF in base64 with an encoded-word name, like se01.
func BenchmarkRead(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	pdf := make([]byte, 45000)
	for i := range pdf {
		pdf[i] = byte(r.Uint32())
	}
	copy(pdf, "%PDF-1.4\n")
	var enc strings.Builder
	s := base64.StdEncoding.EncodeToString(pdf)
	for len(s) > 76 {
		enc.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	enc.WriteString(s)
	body := strings.Repeat("いつも大変お世話になっております。認証キー等のお知らせを添付いたします。\n", 8)
	raw := crlf(`Return-Path: <tanaka@contractor.example>
Received: from mx1.agency.example by mbox.agency.example; Tue, 02 Jun 2026 09:14:07 +0900
From: =?utf-8?b?55Sw5LitIOeUsee+jg==?= <tanaka@contractor.example>
To: denshi@agency.example
Subject: =?utf-8?b?44CQ5o+Q5Ye644CR6Zu75a2Q6Ki85pu46Zay6Kan55So6KqN6Ki844Kt44O877yI?=
Date: Tue, 02 Jun 2026 09:14:07 +0900
Message-ID: <bench@contractor.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="M"

--M
Content-Type: multipart/alternative; boundary="A"

--A
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: base64

`+b64w(body)+`
--A
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">`+strings.ReplaceAll(body, "\n", "<br>")+`</div>
--A--

--M
Content-Type: application/pdf; name="=?utf-8?B?6Zu75a2Q6Ki85pu4LnBkZg==?="
Content-Disposition: attachment; filename="=?utf-8?B?6Zu75a2Q6Ki85pu4LnBkZg==?="
Content-Transfer-Encoding: base64

`) + enc.String() + "\r\n--M--\r\n"
	m, err := Read(strings.NewReader(raw), Limits{})
	if err != nil || len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, pdf) || len(m.Texts) != 1 {
		b.Fatalf("benchmark message misread: %v %+v", err, m)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(strings.NewReader(raw), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
