package inbound

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// japaneseEncoding maps the labels Japanese mailers actually write to an x/text encoding.
//
// Every Shift_JIS label is decoded as CP932 (Windows-31J): Windows writes "Shift_JIS" for text that uses
// the NEC and IBM extensions (①, ㈱, ～), and x/text's ShiftJIS follows the WHATWG index, which is CP932.
// go-message's charset package does not know the CP932, windows-31j or x-sjis labels at all.
func japaneseEncoding(label string) encoding.Encoding {
	switch label {
	case "shift_jis", "shift-jis", "sjis", "x-sjis", "s-jis", "ms_kanji", "csshiftjis",
		"cp932", "ms932", "windows-31j", "cswindows31j", "x-ms-cp932", "ibm-943", "ibm943", "windows-932":
		return japanese.ShiftJIS
	case "iso-2022-jp", "csiso2022jp", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3",
		"iso-2022-jp-2004", "iso-2022-jp-ms", "cp50220", "cp50221", "cp50222", "jis":
		return japanese.ISO2022JP
	case "euc-jp", "x-euc-jp", "eucjp", "eucjp-ms", "cseucpkdfmtjapanese", "cp51932", "euc-jis-2004":
		return japanese.EUCJP
	}
	return nil
}

// normLabel lower-cases a charset label and drops quotes and an RFC 2231 §5 language suffix ("utf-8*ja").
func normLabel(label string) string {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i]
	}
	return label
}

// decodeCharset converts b from the charset named by label to UTF-8.
//
// A missing, US-ASCII or unknown label, a UTF-8 label on bytes that are not UTF-8, and a label whose decoding
// produces replacement characters all fall back to detection: Outlook sends ISO-2022-JP bodies with no label,
// swaks sends 8-bit UTF-8 with no MIME headers, and old gateways label Shift_JIS text as ISO-2022-JP.
func decodeCharset(label string, b []byte) string {
	label = normLabel(label)
	switch label {
	case "", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "utf-8", "utf8", "unicode-1-1-utf-8", "x-unknown", "unknown-8bit":
		return detect(b)
	}
	var s string
	if enc := japaneseEncoding(label); enc != nil {
		out, err := enc.NewDecoder().Bytes(b)
		if err != nil {
			return detect(b)
		}
		s = string(out)
	} else {
		r, err := charset.Reader(label, bytes.NewReader(b))
		if err != nil {
			return detect(b)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			return detect(b)
		}
		s = string(out)
	}
	if n := strings.Count(s, "\uFFFD"); n > 0 {
		if d := detect(b); strings.Count(d, "\uFFFD") < n {
			return d
		}
	}
	return s
}

// detect decodes bytes whose charset is unknown: ISO-2022-JP when they carry its escape sequences
// (RFC 1468), UTF-8 when they are valid UTF-8, else whichever of CP932 and EUC-JP decodes with fewer
// errors; on a tie CP932 unless no byte is a CP932-only lead byte.
func detect(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 || c == 0x1b {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	if bytes.Contains(b, []byte("\x1b$B")) || bytes.Contains(b, []byte("\x1b$@")) || bytes.Contains(b, []byte("\x1b(I")) || bytes.Contains(b, []byte("\x1b(J")) {
		if out, err := japanese.ISO2022JP.NewDecoder().Bytes(b); err == nil && !bytes.Contains(out, []byte("\uFFFD")) {
			return string(out)
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	sj, err1 := japanese.ShiftJIS.NewDecoder().Bytes(b)
	eu, err2 := japanese.EUCJP.NewDecoder().Bytes(b)
	if err1 != nil || err2 != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	ns, ne := bytes.Count(sj, []byte("\uFFFD")), bytes.Count(eu, []byte("\uFFFD"))
	switch {
	case ns < ne:
		return string(sj)
	case ne < ns:
		return string(eu)
	}
	for _, c := range b {
		// 0x81-0x9F (but 0x8E, 0x8F: EUC-JP single shifts) lead most CP932 characters, kana included,
		// and never appear in EUC-JP text.
		if c >= 0x81 && c <= 0x9f && c != 0x8e && c != 0x8f {
			return string(sj)
		}
	}
	return string(eu)
}
