package inbound

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"net/mail"
	"reflect"
	"strings"
	"testing"
	"time"
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
		// Japanese encodings as Windows writes them, and wrong labels.
		crlf("From: \"") + string(cp5022x("あせ<ソ>", false)) + crlf("\" <a@b.example>\nSubject: =?ISO-2022-JP?B?"+base64.StdEncoding.EncodeToString(cp5022x("①髙", false)[:5])+"?= =?iso-2022-jp?B?"+base64.StdEncoding.EncodeToString(cp5022x("①髙", false)[5:])+"?=\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain; charset=ISO-2022-JP\n\n") + string(cp5022x("ｶﾌﾞｼｷ㈱", true)) + "\x1b$b0!\x1b$(D0!\r\n" + crlf("--B\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"") + string(cp5022x("あせソ.pdf", false)) + crlf("\"\n\n%PDF-1.4\n--B\nContent-Type: text/plain; charset=Shift_JIS\n\n認証キー\n--B--\n"),
		crlf("From: a@b.example\nContent-Type: text/plain; charset=iso-2022-jp\n\n") + string(cp932("大山開発㈱①髙ｶﾌﾞ")),
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
		// ReadBytes reads the same where the bytes lie, and leaves them as they were.
		kept := bytes.Clone(data)
		if mb := ReadBytes(data, lim); !reflect.DeepEqual(mb, m) {
			t.Fatalf("ReadBytes read\n%+v\nRead read\n%+v", mb, m)
		}
		if !bytes.Equal(data, kept) {
			t.Fatalf("ReadBytes changed the message it read")
		}
		// Nor does what it read refer to them: the poll gives the buffer to the next
		// download once the message is recorded (msgbuf.Release).
		mb := ReadBytes(data, lim)
		for i := range data {
			data[i] = '#'
		}
		if !reflect.DeepEqual(mb, m) {
			t.Fatalf("what ReadBytes read changed with the buffer:\n%+v\nRead read\n%+v", mb, m)
		}
		copy(data, kept)
		// What Release would give back is never the message's own memory, up to its
		// capacity: the next download would overwrite the message still being read.
		for _, buf := range ReadBytes(data, lim).buffers {
			buf = buf[:cap(buf)]
			for i := range buf {
				buf[i] = '#'
			}
			if !bytes.Equal(data, kept) {
				t.Fatalf("a buffer noted for Release is the message's own memory")
			}
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

// FuzzDecodeCharset: any label and bytes decode to valid UTF-8; ISO-2022-JP leaves no escape behind; one bad
// sequence never costs the text before or after it (a line end returns ISO-2022-JP to ASCII, and every JIS
// code is rewritten as a self-delimiting unit).
func FuzzDecodeCharset(f *testing.F) {
	for _, s := range []struct{ label, b string }{
		{"ISO-2022-JP", "\x1b$BG'>Z%-!<\x1b(B \x1b(I6L^\x1b(B \x1b(J\x0e6L\x0f \x1b&@\x1b$B-!|b\x1b(B"},
		{"iso-2022-jp", "\x1b$(D0!\x1b$(Q0!\x1b$b0!\x1b$A0!\x1b(Z" + string(cp932("①髙"))},
		{"Shift_JIS", string(cp932("認証キー①髙～－∥￠￡￢ｶﾌﾞ")) + "\x81 \x85\x40\xf0\x40"},
		{"shift_jis", "認証キー"},
		{"utf-8", "認証\xe3\x81キー"},
		{"us-ascii", string(cp932("認証"))},
		{"euc-jp", eucjp("認証キー")},
		{"", "\x1b$B0!\r\n0!"},
		{"iso-8859-1", "caf\xe9"},
		{"utf-16", "\xff\xfe0\x00"},
	} {
		f.Add(s.label, []byte(s.b))
	}
	const tail = "\n\x1b$BG'>Z%-!<\x1b(B" // "\n認証キー"
	head := cp5022x("保証", false)          // ends in ASCII
	f.Fuzz(func(t *testing.T, label string, b []byte) {
		if s := decodeCharset(label, b); !utf8.ValidString(s) {
			t.Fatalf("decodeCharset(%q, %q) = %q: invalid UTF-8", label, b, s)
		}
		s := decodeISO2022JP(b)
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\x1b\x0e\x0f") {
			t.Fatalf("decodeISO2022JP(%q) = %q", b, s)
		}
		if got := decodeISO2022JP(append(append([]byte(nil), b...), tail...)); !strings.HasSuffix(got, "\n認証キー") {
			t.Fatalf("decodeISO2022JP(%q + tail) = %q, lost the line after", b, got)
		}
		if got := decodeISO2022JP(append(append([]byte(nil), head...), b...)); !strings.HasPrefix(got, "保証") {
			t.Fatalf("decodeISO2022JP(head + %q) = %q, lost the text before", b, got)
		}
		if d := decodeText(string(b)); !utf8.ValidString(d) {
			t.Fatalf("decodeText(%q) = %q: invalid UTF-8", b, d)
		}
		mt := parseMediaType("attachment; " + label + "=" + string(b))
		for k, v := range mt.params {
			if !utf8.ValidString(v) && (k == "filename" || k == "name" || strings.HasSuffix(k, "*")) {
				t.Fatalf("parameter %q = %q: invalid UTF-8", k, v)
			}
		}
	})
}

// BenchmarkBody10MiB reads a 10 MiB text body in each Japanese encoding, and hostile shapes built to make a
// charset path costly: the issue asks for well under a second each.
func BenchmarkBody10MiB(b *testing.B) {
	line := "保証契約番号：2070004426　認証キー：T2RFT6PKGQ　大山開発㈱①髙﨑 ～－∥ ｶﾌﾞｼｷｶﾞｲｼｬ 工事名：県道改良工事\n"
	body := strings.Repeat(line, (10<<20)/len(line))
	sj := cp932(body)
	cases := []struct {
		name, label string
		body        []byte
	}{
		{"ISO-2022-JP", "ISO-2022-JP", cp5022x(body, false)},
		{"ISO-2022-JP SO-SI", "ISO-2022-JP", cp5022x(body, true)},
		{"Shift_JIS", "Shift_JIS", sj},
		{"UTF-8", "UTF-8", []byte(body)},
		{"CP932 labelled ISO-2022-JP", "ISO-2022-JP", sj},
		{"UTF-8 labelled Shift_JIS", "Shift_JIS", []byte(body)},
		{"undeclared CP932", "", sj},
		{"ISO-2022-JP with a bad code in every line", "ISO-2022-JP", bytes.ReplaceAll(cp5022x(body, false), []byte("\x1b$B"), []byte("\x1b$Bu!"))},
		{"hostile: an escape and an 8-bit byte every 4 bytes", "ISO-2022-JP", bytes.Repeat([]byte("\x1b(B\x80"), (10<<20)/4)},
		{"hostile: unknown escapes", "ISO-2022-JP", bytes.Repeat([]byte("\x1b$(Z\x1b"), (10<<20)/5)},
		{"hostile: UTF-8 and CP932 interleaved", "", bytes.Repeat(append([]byte("認"), cp932("証")...), (10<<20)/5)},
	}
	for _, c := range cases {
		raw := crlf("From: a@b.example\nSubject: x\nContent-Type: text/plain; charset="+c.label+"\n\n") + string(c.body)
		lim := Limits{MaxMessageBytes: int64(len(raw)) + 1}
		b.Run(c.name, func(b *testing.B) {
			m, err := Read(strings.NewReader(raw), lim)
			if err != nil || len(m.Texts) != 1 {
				b.Fatalf("Read: %v, %d texts", err, len(m.Texts))
			}
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				Read(strings.NewReader(raw), lim)
			}
		})
	}
}

// BenchmarkHeader1MiB decodes a 1 MiB Subject of encoded words split inside characters, and one of "=?" with
// no word in it, the shape that would make a careless scanner quadratic.
func BenchmarkHeader1MiB(b *testing.B) {
	w := cp5022x("認証キー①髙ｶﾌﾞ", false)
	word := "=?ISO-2022-JP?B?" + base64.StdEncoding.EncodeToString(w[:7]) + "?= =?ISO-2022-JP?B?" + base64.StdEncoding.EncodeToString(w[7:]) + "?=\r\n "
	for _, c := range []struct{ name, subject string }{
		{"split encoded words", strings.Repeat(word, (1<<20)/len(word))},
		{"no word, only =?", strings.Repeat("=?x?B?", (1<<20)/6)},
		{"raw ISO-2022-JP", strings.Repeat(string(w), (1<<20)/len(w))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.subject)))
			for b.Loop() {
				decodeText(c.subject)
			}
		})
	}
}

// FuzzParseDate: what parseDate's first layout reads, net/mail's ParseDate (its reading
// of every other date) reads as the same instant in the same zone, so that the shortcut
// changes no Date.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"Tue, 02 Jun 2026 09:14:07 +0900", "Tue, 2 Jun 2026 09:14:07 -0000", "Mon, 29 Feb 2027 25:61:61 +0900",
		"Tue, 02 Jun 26 09:14:07 +0900", "Tue, 02 Jun 2026 09:14 +0900", "Wed, 02 Jun 2026 09:14:07 +0900 (JST)",
		"2 Jun 2026 09:14:07 +0900", "Tue,  2 Jun 2026 09:14:07 +0900", "Tue, 02 Jun 2026 09:14:07 JST", "Tue, 02 jun 2026 09:14:07.5 +0900"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, err := time.Parse(commonDate, s)
		if err != nil {
			return
		}
		want, err := mail.ParseDate(s)
		if err != nil {
			t.Fatalf("%q: the shortcut reads %v, mail.ParseDate fails: %v", s, fast, err)
		}
		_, off1 := fast.Zone()
		_, off2 := want.Zone()
		if !fast.Equal(want) || off1 != off2 {
			t.Fatalf("%q: the shortcut reads %v, mail.ParseDate %v", s, fast, want)
		}
		if got := parseDate(s); !got.Equal(want) {
			t.Fatalf("parseDate(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzHasCID: the shortcut says no only where the cid URL expression finds nothing.
func FuzzHasCID(f *testing.F) {
	for _, s := range []string{`<img src="cid:logo@x">`, `<img src="CID:a">`, "cid:", "ci:d", "http://x", "c:cid:x", "::cid:y", "Cid:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !hasCID(s) && cidURL.MatchString(s) {
			t.Fatalf("hasCID(%q) is false, the expression matches", s)
		}
	})
}
