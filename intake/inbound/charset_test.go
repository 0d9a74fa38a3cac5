package inbound

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
)

// cp932 encodes s as Windows does (x/text's encoder writes CP932, IBM extensions for 髙 﨑 德 as Windows does).
func cp932(s string) []byte {
	b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(fmt.Sprintf("cp932(%q): %v", s, err))
	}
	return b
}

// necSelected maps the runes of the IBM extensions (CP932 0xFA40-0xFC4B, no JIS code) to the CP932 code that
// has a JIS code: the NEC-selected copy (rows 89-92), or row 2 or 13. CP50220 and CP50221 write them so.
var necSelected = func() map[rune][2]byte {
	m := map[rune][2]byte{}
	dec := japanese.ShiftJIS.NewDecoder()
	for _, lead := range []byte{0x81, 0x82, 0x83, 0x84, 0x87, 0xed, 0xee} {
		for trail := 0x40; trail <= 0xfc; trail++ {
			out, _ := dec.Bytes([]byte{lead, byte(trail)})
			r, _ := utf8.DecodeRune(out)
			if _, ok := m[r]; !ok && r != utf8.RuneError {
				m[r] = [2]byte{lead, byte(trail)}
			}
		}
	}
	return m
}()

// cp5022x encodes s as Outlook and Becky! write ISO-2022-JP: the CP932 repertoire in JIS codes (RFC 1468
// framing), half-width katakana by ESC ( I (CP50221) or, with so, by ESC ( J SO ... SI (CP50222).
func cp5022x(s string, so bool) []byte {
	var out []byte
	const ascii, kanji, kana = 0, 1, 2
	state := ascii
	to := func(st int) {
		if st == state {
			return
		}
		if so && state == kana {
			out = append(out, 0x0f)
		}
		switch {
		case st == ascii:
			out = append(out, "\x1b(B"...)
		case st == kanji:
			out = append(out, "\x1b$B"...)
		case so:
			out = append(out, "\x1b(J\x0e"...)
		default:
			out = append(out, "\x1b(I"...)
		}
		state = st
	}
	for _, r := range s {
		switch {
		case r < 0x80:
			to(ascii)
			out = append(out, byte(r))
		case r >= 0xff61 && r <= 0xff9f:
			to(kana)
			out = append(out, byte(r-0xff61+0x21))
		default:
			sj := cp932(string(r))
			if sj[0] >= 0xfa {
				p := necSelected[r]
				sj = p[:]
			}
			to(kanji)
			s1, s2 := sj[0], sj[1]
			if s1 >= 0xe0 {
				s1 -= 0xb0
			} else {
				s1 -= 0x70
			}
			j1 := s1 * 2
			var j2 byte
			if s2 >= 0x9f {
				j2 = s2 - 0x7e
			} else {
				j1--
				j2 = s2 - 0x1f
				if s2 >= 0x80 {
					j2--
				}
			}
			out = append(out, j1, j2)
		}
	}
	to(ascii)
	return out
}

// A character class, as the Windows code pages write it, and the text it must read as.
var charClasses = []struct {
	name string
	text string
}{
	{"JIS X 0208 with full-width digits", "保証契約番号：２０７０００４４２６"},
	{"NEC special characters (row 13)", "①②㈱№Ⅲ㍻"},
	{"NEC-selected and IBM extensions", "髙﨑德"},
	{"CP932 mappings where JIS differs", "～－∥￠￡￢"},
	{"half-width katakana", "ｶﾌﾞｼｷｶﾞｲｼｬ"},
	{"mixed with ASCII", "認証キー：ABCD1234 ㈱髙橋建設ｺｳｼﾞ"},
}

// The encodings Japanese mail programs write, each with the charset label they put on it.
var mailEncodings = []struct {
	name, label string
	encode      func(string) []byte
}{
	{"ISO-2022-JP as CP50221 (Outlook, Becky!, Thunderbird, Shuriken: ESC ( I)", "ISO-2022-JP", func(s string) []byte { return cp5022x(s, false) }},
	{"ISO-2022-JP as CP50222 (SO/SI katakana)", "iso-2022-jp", func(s string) []byte { return cp5022x(s, true) }},
	{"Shift_JIS label on CP932 (Outlook, Becky!)", "Shift_JIS", cp932},
	{"CP932 label", "CP932", cp932},
	{"UTF-8 (Gmail, iPhone Mail, Thunderbird)", "UTF-8", func(s string) []byte { return []byte(s) }},
}

// TestCharClasses reads every character class in every Japanese mail encoding, in each place a message
// carries text: the body, the Subject (RFC 2047 B and Q), the sender's name, attachment names (RFC 2231, RFC
// 2047 inside the parameter, raw bytes in the quoted value).
func TestCharClasses(t *testing.T) {
	shapes := []struct {
		name string
		// build returns a message with the encoded text in one place; got returns what was read there.
		build func(label string, enc []byte) string
		got   func(m *Message) string
	}{
		{"body 7bit/8bit", func(label string, enc []byte) string {
			return crlf("From: a@b.example\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset="+label+"\n\n") + string(enc) + "\r\n"
		}, func(m *Message) string { return strings.TrimSuffix(strings.Join(m.Texts, "|"), "\n") }},
		{"body base64", func(label string, enc []byte) string {
			return crlf("From: a@b.example\nSubject: x\nContent-Type: text/plain; charset=\""+label+"\"\nContent-Transfer-Encoding: base64\n\n"+base64.StdEncoding.EncodeToString(enc)) + "\r\n"
		}, func(m *Message) string { return strings.Join(m.Texts, "|") }},
		{"Subject RFC 2047 B", func(label string, enc []byte) string {
			return crlf("From: a@b.example\nSubject: =?" + label + "?B?" + base64.StdEncoding.EncodeToString(enc) + "?=\n\nbody\n")
		}, func(m *Message) string { return m.Subject }},
		{"Subject RFC 2047 Q", func(label string, enc []byte) string {
			return crlf("From: a@b.example\nSubject: =?" + label + "?Q?" + strings.ReplaceAll(pctEncode(string(enc)), "%", "=") + "?=\n\nbody\n")
		}, func(m *Message) string { return m.Subject }},
		{"Subject split into encoded words inside a character", func(label string, enc []byte) string {
			cut := len(enc)/2 | 1 // odd: inside a two-byte character, or inside an escape sequence
			return crlf("From: a@b.example\nSubject: =?" + label + "?B?" + base64.StdEncoding.EncodeToString(enc[:cut]) + "?=\n =?" + label + "?B?" + base64.StdEncoding.EncodeToString(enc[cut:]) + "?=\n\nbody\n")
		}, func(m *Message) string { return m.Subject }},
		{"From display name RFC 2047", func(label string, enc []byte) string {
			return crlf("From: =?" + label + "?B?" + base64.StdEncoding.EncodeToString(enc) + "?= <a@b.example>\n\nbody\n")
		}, func(m *Message) string { return m.FromName }},
		{"From display name raw in quotes", func(label string, enc []byte) string {
			return crlf("From: \"") + string(enc) + crlf("\" <a@b.example>\n\nbody\n")
		}, func(m *Message) string { return m.FromName }},
		{"filename RFC 2231", func(label string, enc []byte) string {
			return mixed("", "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename*="+label+"''"+pctEncode(string(enc)+".pdf"), b64w(fakePDF))
		}, attName},
		{"filename RFC 2231 continuations", func(label string, enc []byte) string {
			// Sections split by octets, here inside a character (RFC 2231 §4.1 allows it).
			cut := len(enc)/2 | 1
			return mixed("", "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment;\n filename*0*="+label+"''"+pctEncode(string(enc[:cut]))+";\n filename*1*="+pctEncode(string(enc[cut:])+".pdf"), b64w(fakePDF))
		}, attName},
		{"name RFC 2047 inside the parameter (Outlook)", func(label string, enc []byte) string {
			w := "=?" + label + "?B?" + base64.StdEncoding.EncodeToString(append(append([]byte(nil), enc...), ".pdf"...)) + "?="
			return mixed("", "Content-Type: application/pdf; name=\""+w+"\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\""+w+"\"", b64w(fakePDF))
		}, attName},
		{"filename raw in quotes (Becky!, Shuriken)", func(label string, enc []byte) string {
			return mixed("", "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\""+string(enc)+".pdf\"", b64w(fakePDF))
		}, attName},
	}
	for _, cc := range charClasses {
		for _, me := range mailEncodings {
			enc := me.encode(cc.text)
			for _, sh := range shapes {
				t.Run(cc.name+"/"+me.name+"/"+sh.name, func(t *testing.T) {
					raw := sh.build(me.label, enc)
					m := mustRead(t, raw, Limits{})
					want := cc.text
					if sh.got == nil || strings.HasPrefix(sh.name, "filename") || strings.HasPrefix(sh.name, "name") {
						want += ".pdf"
					}
					if got := sh.got(m); got != want {
						t.Errorf("read %q (% x) = %q, want %q; defects %v", me.label, enc, got, want, m.Defects)
					}
				})
			}
		}
	}
}

func attName(m *Message) string {
	if len(m.Attachments) != 1 {
		return fmt.Sprintf("%d attachments %q", len(m.Attachments), names(m.Attachments))
	}
	return m.Attachments[0].Name
}

// TestDecodeISO2022JP holds the byte sequences Japanese mailers write in ISO-2022-JP, spelled out, and the
// damaged ones: a bad sequence becomes U+FFFD and everything around it is kept.
func TestDecodeISO2022JP(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"JIS X 0208 (ESC $ B)", "\x1b$BG'>Z%-!<\x1b(B", "認証キー"},
		{"JIS C 6226-1978 (ESC $ @)", "\x1b$@0!\x1b(B", "亜"},
		{"long form ESC $ ( B", "\x1b$(B0!\x1b(B", "亜"},
		{"JIS X 0208-1990 announcer ESC & @ ESC $ B", "\x1b&@\x1b$B0!\x1b(B", "亜"},
		{"JIS X 0201 Roman (ESC ( J) read as ASCII", "\x1b$B0!\x1b(JABC", "亜ABC"},
		{"NEC special characters ① ㈱ № (row 13)", "\x1b$B-!-j-b\x1b(B", "①㈱№"},
		{"NEC-selected IBM extension 髙 (row 92)", "\x1b$B|b\x1b(B", "髙"},
		{"CP932 mappings: ～ － ∥ ￠ ￡ ￢ (JIS 0x2141 0x215D 0x2142 0x2171 0x2172 0x224C)", "\x1b$B!A!]!B!q!r\"L\x1b(B", "～－∥￠￡￢"},
		{"half-width katakana by ESC ( I (CP50221)", "\x1b(I6L^<7\x1b(B", "ｶﾌﾞｼｷ"},
		{"half-width katakana by SO/SI (CP50222)", "\x1b(J\x0e6L^\x0f ABC", "ｶﾌﾞ ABC"},
		{"8-bit katakana inside SO/SI", "\x0e\xb6\x0f", "ｶ"},
		{"JIS X 0212 (ESC $ ( D)", "\x1b$(D0!\x1b(B", "丂"},
		{"JIS X 0213 plane 1 where it agrees with JIS X 0208", "\x1b$(Q0!\x1b(B", "亜"},
		{"JIS X 0213 row 13 is not CP932's", "\x1b$(Q-!0!\x1b(B", "\uFFFD亜"},
		{"line end inside a two-byte run", "\x1b$B0!\r\nabc", "亜\r\nabc"},
		{"space and tab inside a two-byte run", "\x1b$B0! 0!\t0!\x1b(B", "亜 亜\t亜"},
		{"undefined code (user-defined row 85)", "\x1b$B0!u!0!\x1b(B", "亜\uFFFD亜"},
		{"undefined code (row 9)", "\x1b$B0!)!0!\x1b(B", "亜\uFFFD亜"},
		{"truncated pair at the end", "\x1b$B0!0", "亜\uFFFD"},
		{"pair cut by a control character", "\x1b$B0\x010!\x1b(B", "\uFFFD\x01亜"},
		{"unknown two-byte escape: the rest read as JIS X 0208", "a\x1b$(Z0!\x1b(Bb", "a\uFFFD亜b"},
		{"damaged ESC $ B (one bit flipped)", "a\x1b$b0!\x1b(Bb", "a\uFFFD亜b"},
		{"GB 2312 (ISO-2022-JP-2) is not read as JIS", "\x1b$A0!\x1b(B", "\uFFFD"},
		{"unknown one-byte escape", "a\x1b(Zb", "a\uFFFDb"},
		{"ESC with no sequence", "a\x1b\x1bb", "a\uFFFD\uFFFDb"},
		{"ESC at the end", "abc\x1b", "abc\uFFFD"},
		{"8-bit byte inside a two-byte run", "\x1b$B0!\x800!\x1b(B", "亜\uFFFD亜"},
		{"CP932 bytes after ESC ( B", "\x1b$B0!\x1b(B" + string(cp932("①表")), "亜①表"},
		{"UTF-8 bytes after ESC ( B", "\x1b$B0!\x1b(B" + "①表", "亜①表"},
		{"katakana out of range", "\x1b(I6\x7e7\x1b(B", "ｶ\uFFFDｷ"},
	}
	for _, tt := range tests {
		if got := decodeISO2022JP([]byte(tt.in)); got != tt.want {
			t.Errorf("%s: decodeISO2022JP(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// TestDecodeCharset: declared charsets that are wrong, and damaged bytes, as they arrive.
func TestDecodeCharset(t *testing.T) {
	tests := []struct {
		name, label string
		in          []byte
		want        string
	}{
		{"CP932 bytes labelled ISO-2022-JP", "ISO-2022-JP", cp932("大山開発㈱　①髙"), "大山開発㈱　①髙"},
		{"CP932 bytes labelled us-ascii", "us-ascii", cp932("認証キー：ｶﾌﾞｼｷ"), "認証キー：ｶﾌﾞｼｷ"},
		{"CP932 bytes with no label", "", cp932("保証契約番号～"), "保証契約番号～"},
		{"CP932 bytes labelled UTF-8", "utf-8", cp932("認証キーの送付"), "認証キーの送付"},
		{"UTF-8 labelled Shift_JIS (read as CP932 it has no error)", "Shift_JIS", []byte("認証キー"), "認証キー"},
		{"UTF-8 labelled ISO-2022-JP", "iso-2022-jp", []byte("保証契約番号"), "保証契約番号"},
		{"UTF-8 labelled EUC-JP", "euc-jp", []byte("認証キーの送付"), "認証キーの送付"},
		{"ISO-2022-JP labelled Shift_JIS", "shift_jis", cp5022x("認証キー①", false), "認証キー①"},
		{"ISO-2022-JP labelled us-ascii", "us-ascii", cp5022x("認証キー①ｱ", false), "認証キー①ｱ"},
		{"EUC-JP labelled ISO-2022-JP", "iso-2022-jp", []byte(eucjp("保証契約番号と認証キー")), "保証契約番号と認証キー"},
		{"two CP932 half-width katakana stay under their label though they make one UTF-8 character", "Shift_JIS", cp932("ﾃｽ"), "ﾃｽ"},
		{"Shift_JIS with a lone lead byte", "Shift_JIS", append(append(cp932("認証"), 0x81, ' '), cp932("キー")...), "認証\uFFFD キー"},
		{"Shift_JIS with an undefined code", "Shift_JIS", append(append(cp932("認証"), 0x85, 0x40), cp932("キー")...), "認証\uFFFDキー"},
		{"Shift_JIS with a gaiji (user-defined area)", "Shift_JIS", append(append(cp932("髙橋"), 0xf0, 0x40), cp932("建設")...), "髙橋\uFFFD建設"},
		{"UTF-8 with one damaged sequence", "utf-8", []byte("認証キー\xe3\x81：ABCD1234"), "認証キー\uFFFD：ABCD1234"},
		{"UTF-8 cut in the middle of a character", "", []byte("保証契約番号\xe7\x95"), "保証契約番号\uFFFD"},
		{"ISO-2022-JP with one undefined code", "ISO-2022-JP", []byte("\x1b$BG'>Z\x75\x21%-!<\x1b(B"), "認証\uFFFDキー"},
		{"ISO-2022-JP with a damaged escape", "ISO-2022-JP", []byte("\x1b$BG'>Z\x1b(B:\x1b$b%-!<\x1b(B"), ""},
		{"unknown label", "x-no-such-charset", cp932("認証キー"), "認証キー"},
		{"Latin-1 through go-message", "iso-8859-1", []byte("caf\xe9"), "café"},
	}
	for _, tt := range tests {
		got := decodeCharset(tt.label, tt.in)
		if tt.want == "" {
			// Only the damaged character may go: the text before and after it is kept.
			if !strings.HasPrefix(got, "認証") || !strings.Contains(got, "キー") || !strings.Contains(got, "\uFFFD") {
				t.Errorf("%s: decodeCharset(%q, %q) = %q, want 認証…\uFFFD…キー", tt.name, tt.label, tt.in, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s: decodeCharset(%q, %q) = %q, want %q", tt.name, tt.label, tt.in, got, tt.want)
		}
	}
}

// TestHeaderWords: RFC 2047 shapes that real mailers write, and damaged ones.
func TestHeaderWords(t *testing.T) {
	j := cp5022x("認証キー①のお知らせ", false)
	b := func(label string, p []byte) string {
		return "=?" + label + "?B?" + base64.StdEncoding.EncodeToString(p) + "?="
	}
	tests := []struct{ name, in, want string }{
		{"ISO-2022-JP split between the two bytes of a character, no escape repeated", b("ISO-2022-JP", j[:6]) + " " + b("ISO-2022-JP", j[6:]), "認証キー①のお知らせ"},
		{"ISO-2022-JP split inside an escape sequence", b("ISO-2022-JP", j[:2]) + "\t" + b("ISO-2022-JP", j[2:]), "認証キー①のお知らせ"},
		{"adjacent words, no whitespace between", b("ISO-2022-JP", cp5022x("認証", false)) + b("ISO-2022-JP", cp5022x("キー", false)), "認証キー"},
		{"adjacent words, folded", b("UTF-8", []byte("認証")) + "\r\n " + b("UTF-8", []byte("キー")), "認証キー"},
		{"CP932 split inside a character, label spelt two ways", b("Shift_JIS", cp932("髙橋")[:3]) + " " + b("CP932", cp932("髙橋")[3:]), "髙橋"},
		{"UTF-8 split inside a character, Q", "=?utf-8?Q?=E8=AA?= =?utf-8?Q?=8D=E8=A8=BC?=", "認証"},
		{"word with a language (RFC 2231 §5)", b("ISO-2022-JP*ja", cp5022x("認証", false)), "認証"},
		{"words in two charsets", b("ISO-2022-JP", cp5022x("認証", false)) + " " + b("UTF-8", []byte("キー")), "認証キー"},
		{"text between words kept", b("UTF-8", []byte("【提出】")) + " 2070004426 " + b("UTF-8", []byte("認証キー")), "【提出】 2070004426 認証キー"},
		{"a damaged word keeps the others", b("UTF-8", []byte("認証")) + " " + b("UTF-8", []byte("\xe3\x82キー")) + " " + b("UTF-8", []byte("送付")), "認証\uFFFDキー送付"},
		{"an undefined JIS code keeps the rest of the word", b("ISO-2022-JP", []byte("\x1b$BG'>Z\x75\x21%-!<\x1b(B")), "認証\uFFFDキー"},
		{"raw ISO-2022-JP with an encoded word after it", string(cp5022x("認証", false)) + " " + b("UTF-8", []byte("キー")), "認証 キー"},
		{"raw CP932", string(cp932("認証キー①")), "認証キー①"},
		{"raw UTF-8", "認証キー①", "認証キー①"},
		{"not a word: unknown encoding", "=?utf-8?X?abc?= 認証", "=?utf-8?X?abc?= 認証"},
		{"past maxWords the rest is kept as sent", strings.Repeat("=?utf-8?Q?a?=", maxWords) + " =?utf-8?Q?b?=", strings.Repeat("a", maxWords) + " =?utf-8?Q?b?="},
	}
	for _, tt := range tests {
		if got := decodeText(tt.in); got != tt.want {
			t.Errorf("%s: decodeText(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// TestRawJISNames: names written as raw ISO-2022-JP, whose two-byte runs hold bytes that are delimiters in
// ASCII: あ is 0x24 0x22 (a quote), せ 0x24 0x3B (a semicolon), ＼ 0x21 0x40 and ソ 0x25 0x3D (an equals sign).
func TestRawJISNames(t *testing.T) {
	const name = "あせソ①髙.pdf"
	enc := string(cp5022x(name, false))
	for _, c := range []string{`"`, ";", "="} {
		if !strings.Contains(enc, c) {
			t.Fatalf("test name %q has no %q in ISO-2022-JP", name, c)
		}
	}
	tests := []struct{ name, hdr string }{
		{"quoted filename", "Content-Type: application/pdf\nContent-Disposition: attachment; filename=\"" + enc + "\"; size=42"},
		{"unquoted filename", "Content-Type: application/pdf\nContent-Disposition: attachment; filename=" + enc},
		{"quoted name on Content-Type only", "Content-Type: application/pdf; name=\"" + enc + "\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustRead(t, mixed("", tt.hdr+"\nContent-Transfer-Encoding: base64", b64w(fakePDF)), Limits{})
			if got := attName(m); got != name {
				t.Errorf("name = %q, want %q", got, name)
			}
		})
	}
	if addr, got := parseAddress(`"` + string(cp5022x("あせ<ソ>", false)) + `" <a@b.example>`); addr != "a@b.example" || got != "あせ<ソ>" {
		t.Errorf("parseAddress(raw JIS name) = %q, %q", addr, got)
	}
}

// TestDamagedNames: one bad sequence in a name costs that character, never the file.
func TestDamagedNames(t *testing.T) {
	bad := append(append(cp932("認証キー"), 0x85, 0x40), cp932(".pdf")...)
	tests := []struct{ name, hdr string }{
		{"RFC 2231 Shift_JIS", "Content-Disposition: attachment; filename*=shift_jis''" + pctEncode(string(bad))},
		{"RFC 2231 ISO-2022-JP", "Content-Disposition: attachment; filename*=iso-2022-jp''" + pctEncode("\x1b$BG'>Z%-!<\x75\x21\x1b(B.pdf")},
		{"RFC 2047 in the parameter", "Content-Disposition: attachment; filename=\"=?UTF-8?B?" + b64w("認証キー\xe3\x81.pdf") + "?=\""},
		{"raw CP932", "Content-Disposition: attachment; filename=\"" + string(bad) + "\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustRead(t, mixed("", "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n"+tt.hdr, b64w(fakePDF)), Limits{})
			if got := attName(m); got != "認証キー\uFFFD.pdf" {
				t.Errorf("name = %q, want 認証キー\uFFFD.pdf", got)
			}
			if len(m.Attachments) == 1 && (!m.Attachments[0].PDF || string(m.Attachments[0].Data) != fakePDF) {
				t.Errorf("attachment = %+v", m.Attachments[0])
			}
		})
	}
}

// TestDamagedBody: one bad sequence in a body costs that character, never the text around it.
func TestDamagedBody(t *testing.T) {
	body := "保証契約番号：2070004426\n認証キー：T2RFT6PKGQ\n"
	tests := []struct {
		name, label string
		enc         []byte
	}{
		{"ISO-2022-JP, undefined code in the first line", "ISO-2022-JP", bytes.Replace(cp5022x(body, false), []byte("\x1b$B"), []byte("\x1b$Bu!"), 1)},
		{"ISO-2022-JP, unknown escape", "ISO-2022-JP", append([]byte("\x1b$(Z"), cp5022x(body, false)...)},
		{"Shift_JIS, an undefined code", "Shift_JIS", append([]byte{0x85, 0x40}, cp932(body)...)},
		{"UTF-8, a truncated character", "UTF-8", append([]byte{0xe8, 0xaa}, body...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := crlf("From: a@b.example\nContent-Type: text/plain; charset="+tt.label+"\n\n") + string(tt.enc)
			m := mustRead(t, raw, Limits{})
			got := strings.Join(m.Texts, "")
			if !strings.Contains(got, "\uFFFD") || !strings.HasSuffix(got, body) {
				t.Errorf("texts %q, want U+FFFD then %q", got, body)
			}
		})
	}
}

// TestRawHeaderContinuation: a raw ISO-2022-JP or CP932 value folded without the leading whitespace continues
// its field; go-message rejects the whole message for it.
func TestRawHeaderContinuation(t *testing.T) {
	tests := []struct{ name, subject, want string }{
		{"ISO-2022-JP", "Subject: " + string(cp5022x("【提出】", false)) + "\r\n" + string(cp5022x("認証キー①", false)), "【提出】認証キー①"},
		{"CP932", "Subject: " + string(cp932("【提出】")) + "\r\n" + string(cp932("認証キー①")), "【提出】認証キー①"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustRead(t, "From: a@b.example\r\nX-Mailer: Becky! ver. 2.81\r\n"+tt.subject+"\r\nMessage-ID: <x@b.example>\r\n\r\nbody\r\n", Limits{})
			if m.Subject != tt.want || m.MessageID != "<x@b.example>" || len(m.Texts) != 1 {
				t.Errorf("Subject %q, Message-ID %q, texts %q; want %q", m.Subject, m.MessageID, m.Texts, tt.want)
			}
		})
	}
}

// TestZipMemberNames: member names as Windows' Explorer and Japanese archivers (Lhaplus, 7-Zip with its
// default) write them, in CP932 without the UTF-8 flag, and as macOS and 7-Zip write them in UTF-8.
func TestZipMemberNames(t *testing.T) {
	const name = "①髙﨑ｶﾌﾞｼｷｶﾞｲｼｬ～認証キー.pdf"
	tests := []struct {
		name   string
		member zipMember
		want   string
	}{
		{"CP932, no flag", zipMember{name: string(cp932(name)), data: []byte(fakePDF)}, name},
		{"CP932 in a folder", zipMember{name: string(cp932(`保証\` + name)), data: []byte(fakePDF)}, "保証/" + name},
		{"UTF-8 with the flag", zipMember{name: name, data: []byte(fakePDF), flags: 0x800}, name},
		{"UTF-8 without the flag", zipMember{name: name, data: []byte(fakePDF)}, name},
		{"CP932 with an undefined code", zipMember{name: string(cp932("認証キー")) + "\x85\x40.pdf", data: []byte(fakePDF)}, "認証キー\uFFFD.pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustRead(t, zipMail(zipRaw(t, tt.member)), Limits{})
			if len(m.Attachments) != 2 || m.Attachments[1].Path != "z.zip/"+tt.want || !m.Attachments[1].PDF {
				t.Errorf("paths %q, want z.zip/%s", paths(m.Attachments), tt.want)
			}
		})
	}
}
