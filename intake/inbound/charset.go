package inbound

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// Japanese mail arrives in three encodings, all written by Windows code pages more often than by the standards
// their labels name, and this file decodes them as Windows does:
//
//   - Shift_JIS is CP932 (Windows-31J): NEC special characters (① ㈱ №, row 13), NEC-selected and IBM
//     extensions (髙 﨑 德), and CP932's own mappings of the JIS characters that Unicode has twice (0x8160 ～
//     U+FF5E, not the JIS WAVE DASH U+301C; 0x817C － U+FF0D; 0x8161 ∥ U+2225; ￠ ￡ ￢ U+FFE0-U+FFE2).
//     x/text's japanese.ShiftJIS follows the WHATWG index, which is CP932's, and is used as it is.
//   - ISO-2022-JP is CP50220/CP50221/CP50222 (Outlook, Becky!, Thunderbird, Shuriken, iPhone Mail): the same
//     CP932 repertoire in JIS rows 13 and 89-92, half-width katakana by ESC ( I or by SO/SI. x/text's
//     japanese.ISO2022JP has the characters but not the framing real mail uses, so decodeISO2022JP below
//     frames by hand and leaves the characters to x/text's table (through japanese.EUCJP, whose bytes are the
//     same JIS codes with the high bit set).
//   - EUC-JP: x/text's japanese.EUCJP.
//
// A byte sequence that cannot be decoded becomes U+FFFD and the rest is kept: one bad character never costs
// a part, a header or a file name.

// japaneseEncoding maps the labels Japanese mailers actually write to an x/text encoding. ISO-2022-JP labels
// map to x/text's encoding for identity only: decodeLabel decodes them with decodeISO2022JP.
// go-message's charset package does not know the CP932, windows-31j or x-sjis labels at all.
func japaneseEncoding(label string) encoding.Encoding {
	switch label {
	case "shift_jis", "shift-jis", "sjis", "x-sjis", "s-jis", "ms_kanji", "csshiftjis",
		"cp932", "ms932", "windows-31j", "cswindows31j", "x-ms-cp932", "ibm-943", "ibm943", "windows-932":
		return japanese.ShiftJIS
	case "iso-2022-jp", "csiso2022jp", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3",
		"iso-2022-jp-2004", "iso-2022-jp-ms", "cp50220", "cp50221", "cp50222", "jis", "x-windows-iso2022jp":
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

// sameCharset reports whether two labels name one charset, so that encoded words split inside a character
// are joined even when a mailer spells the label two ways ("Shift_JIS" and "CP932").
func sameCharset(a, b string) bool {
	if a == b {
		return true
	}
	a, b = normLabel(a), normLabel(b)
	if a == b {
		return true
	}
	ea, eb := japaneseEncoding(a), japaneseEncoding(b)
	return ea != nil && ea == eb
}

// decodeCharset converts b from the charset named by label to UTF-8. It never fails.
//
// A missing, US-ASCII, UTF-8 or unknown label falls back to detection: Outlook sends ISO-2022-JP bodies with
// no label, swaks sends 8-bit UTF-8 with no MIME headers, iPhone Mail labels UTF-8 names us-ascii. A declared
// charset loses to UTF-8 when the bytes are UTF-8 (web forms and gateways label UTF-8 text Shift_JIS; read as
// CP932 it decodes without a single error, into mojibake), and to detection when detection decodes with fewer
// errors (old gateways label CP932 text ISO-2022-JP).
func decodeCharset(label string, b []byte) string {
	label = normLabel(label)
	if plain7bit(b) && asciiCompatible(label) {
		return string(b)
	}
	switch label {
	case "utf-8", "utf8", "unicode-1-1-utf-8":
		// Declared and mostly valid: a damaged character costs itself only, where detection could take the
		// whole text for CP932.
		if valid, _, invalid := utf8Score(b); valid > 0 && valid >= invalid && !hasISO2022(b) {
			return strings.ToValidUTF8(string(b), "\uFFFD")
		}
		return detect(b)
	case "", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "x-unknown", "unknown-8bit":
		return detect(b)
	}
	if asciiCompatible(label) && overridesLabel(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	if japaneseEncoding(label) != japanese.ISO2022JP && asciiCompatible(label) && hasISO2022(b) {
		// ISO-2022-JP labelled Shift_JIS or EUC-JP: their decoders pass the escapes through as text.
		return decodeISO2022JP(b)
	}
	s, ok := decodeLabel(label, b)
	if !ok {
		return detect(b)
	}
	if japaneseEncoding(label) == japanese.ISO2022JP && hasISO2022(b) {
		return s // detection would decode it the same way
	}
	if n := strings.Count(s, "\uFFFD"); n > 0 {
		if d := detect(b); strings.Count(d, "\uFFFD") < n {
			return d
		}
	}
	return s
}

// decodeLabel decodes b in the charset label names; ok is false when the label is unknown. go-message's charset
// package serves the charsets that are not Japanese (ISO-8859-x, Windows-125x, GB2312, Big5, EUC-KR).
func decodeLabel(label string, b []byte) (string, bool) {
	switch enc := japaneseEncoding(label); enc {
	case nil:
	case japanese.ISO2022JP:
		return decodeISO2022JP(b), true
	default:
		out, err := enc.NewDecoder().Bytes(b)
		if err != nil {
			return "", false
		}
		return string(out), true
	}
	r, err := charset.Reader(label, bytes.NewReader(b))
	if err != nil {
		return "", false
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return "", false
	}
	return strings.ToValidUTF8(string(out), "\uFFFD"), true
}

// asciiCompatible: the label's charset writes US-ASCII as US-ASCII bytes (UTF-16, UTF-32 and UTF-7 do not).
func asciiCompatible(label string) bool {
	for _, p := range []string{"utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs-4", "utf-7", "utf7", "unicode-1-1-utf-7", "csunicode"} {
		if strings.HasPrefix(label, p) {
			return false
		}
	}
	return true
}

// plain7bit: US-ASCII with no ESC, SO or SI, so that every ASCII-compatible charset reads it as it is.
func plain7bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == 0x1b || c == 0x0e || c == 0x0f {
			return false
		}
	}
	return true
}

// utf8Score counts the multi-byte UTF-8 sequences in b that are valid (long: of three bytes or more, as
// Japanese characters are) and the runs of bytes that start none (one damaged character is one run).
func utf8Score(b []byte) (valid, long, invalid int) {
	inBad := false
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			inBad = false
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			if !inBad {
				invalid++
			}
			inBad = true
			i++
			continue
		case n >= 3:
			long++
		}
		valid++
		inBad = false
		i += n
	}
	return valid, long, invalid
}

// looksUTF8 reports whether 8-bit text is UTF-8, allowing one damaged character in five. Text in CP932 or
// EUC-JP is almost never valid UTF-8: hiragana, katakana and the common kanji start with bytes (0x82, 0x83,
// 0x88-0x9F in CP932; 0xA4, 0xA5, 0xB0-0xCF in EUC-JP) that cannot start a UTF-8 sequence.
func looksUTF8(b []byte) bool {
	valid, _, invalid := utf8Score(b)
	return valid > 0 && valid >= 4*invalid
}

// overridesLabel: the bytes are UTF-8 whatever their label says. Stricter than looksUTF8: two CP932 half-width
// katakana can make one valid two-byte UTF-8 sequence ("ﾃｽ" is 0xC3 0xBD, "ý"), so a declared charset loses
// only to text that has a three-byte sequence too.
func overridesLabel(b []byte) bool {
	valid, long, invalid := utf8Score(b)
	return long > 0 && valid >= 4*invalid
}

// detect decodes bytes whose charset is unknown or wrong: ISO-2022-JP when they carry its escape sequences
// (RFC 1468) or SO, else detect8.
func detect(b []byte) string {
	if plain7bit(b) {
		return string(b)
	}
	if hasISO2022(b) {
		return decodeISO2022JP(b)
	}
	return detect8(b)
}

// hasISO2022: an ISO-2022-JP designation (ESC $ or ESC ( I/J/B, ESC & @) or a shift-out.
func hasISO2022(b []byte) bool {
	if bytes.IndexByte(b, 0x0e) >= 0 {
		return true
	}
	for i := bytes.IndexByte(b, 0x1b); i >= 0 && i+1 < len(b); {
		switch b[i+1] {
		case '$', '(', '&':
			return true
		}
		j := bytes.IndexByte(b[i+1:], 0x1b)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// detect8 decodes 8-bit text of unknown charset: UTF-8 when it looks like UTF-8 (damaged sequences become
// U+FFFD), else whichever of CP932 and EUC-JP reads it better (pick8).
func detect8(b []byte) string {
	cs, decoded := pick8(b)
	if decoded != nil {
		return string(decoded)
	}
	return decode8(cs, b)
}

// The charsets detect8 chooses between.
const (
	cs8UTF8 = iota
	cs8CP932
	cs8EUCJP
)

// pick8 chooses the charset of 8-bit text, and returns b decoded in it when choosing needed that: UTF-8 when
// it looks like UTF-8, else whichever of CP932 and EUC-JP decodes with fewer errors; on a tie CP932 when a
// byte is a CP932-only lead byte or EUC-JP reads no more kana than CP932.
func pick8(b []byte) (cs int, decoded []byte) {
	if looksUTF8(b) {
		return cs8UTF8, nil
	}
	sj, err := japanese.ShiftJIS.NewDecoder().Bytes(b)
	if err != nil {
		return cs8UTF8, nil // not reached: the decoders report bad bytes as U+FFFD, never as an error
	}
	ns := bytes.Count(sj, []byte("\uFFFD"))
	// 0x81-0x9F (but 0x8E, 0x8F: EUC-JP single shifts) lead most CP932 characters, kana included, and never
	// appear in EUC-JP text: with one of them and no error, EUC-JP cannot do better.
	cp932Only := hasCP932Lead(b)
	if ns == 0 && cp932Only {
		return cs8CP932, sj
	}
	eu, err := japanese.EUCJP.NewDecoder().Bytes(b)
	if err != nil {
		return cs8CP932, sj
	}
	ne := bytes.Count(eu, []byte("\uFFFD"))
	switch {
	case ns < ne:
		return cs8CP932, sj
	case ne < ns:
		return cs8EUCJP, eu
	case cp932Only:
		return cs8CP932, sj
	}
	// Both decode as well: CP932 half-width katakana (0xA1-0xDF) pair up into EUC-JP kanji, and EUC-JP pairs
	// read as CP932 half-width katakana and kanji. EUC-JP text has hiragana or katakana (leads 0xA4, 0xA5),
	// which CP932's reading of it never has (its kana leads 0x82, 0x83 are no EUC-JP bytes); without them,
	// CP932, the charset of Windows, which writes most raw 8-bit Japanese in headers.
	if kana(eu) > kana(sj) {
		return cs8EUCJP, eu
	}
	return cs8CP932, sj
}

func hasCP932Lead(b []byte) bool {
	for _, c := range b {
		if c >= 0x81 && c <= 0x9f && c != 0x8e && c != 0x8f {
			return true
		}
	}
	return false
}

// kana counts the full-width hiragana and katakana in UTF-8 text.
func kana(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r >= 0x3041 && r <= 0x30fe {
			n++
		}
		b = b[size:]
	}
	return n
}

func decode8(cs int, b []byte) string {
	var enc encoding.Encoding
	switch cs {
	case cs8CP932:
		enc = japanese.ShiftJIS
	case cs8EUCJP:
		enc = japanese.EUCJP
	default:
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD") // not reached, as in pick8
	}
	return string(out)
}

// transformTo runs t over all of src into out through scratch, so that many short pieces cost no allocation
// each (x/text's Bytes allocates per call).
func transformTo(out *strings.Builder, t transform.Transformer, scratch, src []byte) {
	t.Reset()
	for {
		nDst, nSrc, err := t.Transform(scratch, src, true)
		out.Write(scratch[:nDst])
		src = src[nSrc:]
		if err != transform.ErrShortDst || nDst+nSrc == 0 {
			if err != nil {
				out.WriteString("\uFFFD") // not reached: the Japanese decoders report bad bytes as U+FFFD
			}
			return
		}
	}
}

// rawJIS decodes raw ISO-2022-JP in a header field before it is parsed: inside a two-byte run every byte from
// 0x21 to 0x7E is half a character, so a quote, a semicolon or a "<" there is no delimiter. Becky! and older
// mailers write names that way: filename="ESC $ B ... ESC ( B.pdf", where あ is 0x24 0x22 and せ 0x24 0x3B.
// Encoded words and RFC 2231 values carry no raw escape and pass through unchanged.
func rawJIS(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 && strings.IndexByte(s, 0x0e) < 0 {
		return s
	}
	if !hasISO2022([]byte(s)) {
		return s
	}
	return decodeISO2022JP([]byte(s))
}

// The character sets an ISO-2022-JP stream switches between.
const (
	jisASCII   = iota // ESC ( B, and JIS X 0201 Roman by ESC ( J (Windows reads both as ASCII)
	jisKana           // JIS X 0201 katakana: ESC ( I, or SO until SI (CP50222)
	jis0208           // JIS X 0208 with CP932's rows 13 and 89-92: ESC $ @, ESC $ B, ESC & @ ESC $ B, ESC $ ( B
	jis0213           // JIS X 0213 plane 1 (ESC $ ( O, ESC $ ( Q): read as JIS X 0208 where the two agree
	jis0212           // JIS X 0212: ESC $ ( D
	jisUnknown        // a set this decoder does not know: its bytes become U+FFFD
)

// badEUC is a byte that x/text's EUC-JP decoder turns into exactly one U+FFFD.
const badEUC = 0xff

// decodeISO2022JP decodes ISO-2022-JP as Windows' CP50221 does, written by hand because x/text's
// japanese.ISO2022JP decoder does not serve real mail (measured with x/text v0.43.0):
//
//   - SO/SI half-width katakana (CP50222) come out as control characters and Latin letters, with no error:
//     "\x0e1\x0f" reads "\x0e1\x0f", not "ｱ".
//   - A CR, space or tab inside a JIS X 0208 run (a mailer that does not return to ASCII before the line
//     break) is taken as the first byte of a character: "ESC $ B 0! CR LF 0!" reads "亜�亜", the line
//     break lost and the next line shifted.
//   - ESC & @ (the JIS X 0208-1990 announcer) and the long form ESC $ ( B are unknown escapes.
//   - CP932 or UTF-8 bytes in the stream (a label on the wrong text, or ISO-2022-JP and raw 8-bit text in one
//     header) become one U+FFFD per byte.
//
// Only the framing is written here: JIS X 0208 and 0212 codes are rewritten to the EUC-JP bytes that carry the
// same codes (RFC 1468 and EUC-JP are two framings of one code table) and decoded by x/text's japanese.EUCJP,
// whose table is CP932's (rows 13 and 89-92 included). 8-bit text in an ASCII run is decoded in the charset
// detect8 would choose for the whole input, chosen once so that many short runs cost no more than one long one.
func decodeISO2022JP(b []byte) string {
	d := jisDecoder{src: b, euc: make([]byte, 0, min(len(b)+8, 64<<10)), scratch: make([]byte, min(4096, 3*len(b)+8))}
	d.out.Grow(len(b) + len(b)/2)
	d.run()
	return d.out.String()
}

// jisDecoder holds one decodeISO2022JP. Two buffers wait to be written, at most one non-empty at a time: euc
// (JIS codes rewritten as EUC-JP, ASCII, and badEUC) and raw (ASCII-state text with 8-bit bytes, decoded as
// cs8). Consecutive ASCII-state text is one piece even across escapes that designate ASCII again, since a
// CP932 character's trail byte may be ASCII.
type jisDecoder struct {
	src      []byte
	out      strings.Builder
	euc, raw []byte
	eight    bool // raw has an 8-bit byte
	cs8      int  // the charset of 8-bit text, chosen once from the whole input; -1 until needed
	scratch  []byte
	eucDec   transform.Transformer
	dec8     transform.Transformer
}

func (d *jisDecoder) addEUC(p ...byte) {
	if len(d.raw) > 0 {
		d.flushRaw()
	}
	d.euc = append(d.euc, p...)
	if len(d.euc) >= 64<<10 {
		d.flushEUC()
	}
}

func (d *jisDecoder) addRaw(p []byte, eight bool) {
	if !eight && !d.eight {
		d.addEUC(p...) // plain ASCII
		return
	}
	if len(d.euc) > 0 {
		d.flushEUC()
	}
	d.raw = append(d.raw, p...)
	d.eight = true
}

func (d *jisDecoder) flushEUC() {
	if len(d.euc) == 0 {
		return
	}
	if d.eucDec == nil {
		d.eucDec = japanese.EUCJP.NewDecoder()
	}
	transformTo(&d.out, d.eucDec, d.scratch, d.euc)
	d.euc = d.euc[:0]
}

func (d *jisDecoder) flushRaw() {
	if len(d.raw) == 0 {
		return
	}
	if d.cs8 < 0 {
		d.cs8, _ = pick8(d.src)
	}
	if d.dec8 == nil {
		switch d.cs8 {
		case cs8CP932:
			d.dec8 = japanese.ShiftJIS.NewDecoder()
		case cs8EUCJP:
			d.dec8 = japanese.EUCJP.NewDecoder()
		}
	}
	if d.dec8 == nil {
		d.out.WriteString(strings.ToValidUTF8(string(d.raw), "\uFFFD"))
	} else {
		transformTo(&d.out, d.dec8, d.scratch, d.raw)
	}
	d.raw, d.eight = d.raw[:0], false
}

func (d *jisDecoder) run() {
	b := d.src
	d.cs8 = -1
	g0, shifted := jisASCII, false
	for i := 0; i < len(b); {
		c := b[i]
		if c == 0x1b {
			set, n := jisEscape(b[i:])
			if n == 0 {
				d.addEUC(badEUC) // a damaged or unknown escape: one bad character
				if set, n = unknownEscape(b[i:]); n == 0 {
					i++ // a lone ESC
					continue
				}
			}
			if set >= 0 {
				g0 = set
			}
			i += n
			continue
		}
		switch c {
		case 0x0e:
			shifted = true
			i++
			continue
		case 0x0f:
			shifted = false
			i++
			continue
		}
		set := g0
		if shifted {
			set = jisKana
		}
		if c == '\n' {
			// RFC 1468 §2 returns to ASCII before every line end; a mailer that forgot must not cost the
			// next line, so every line starts in ASCII.
			g0, shifted = jisASCII, false
			if set == jisASCII {
				d.addRaw(b[i:i+1], false)
			} else {
				d.addEUC(c)
			}
			i++
			continue
		}
		switch {
		case set == jisASCII:
			// A run up to the next escape or shift; with 8-bit bytes in it, it is text in another charset
			// (CP932 labelled ISO-2022-JP).
			j := i
			eight := false
			for j < len(b) && b[j] != 0x1b && b[j] != 0x0e && b[j] != 0x0f {
				if b[j] >= 0x80 {
					eight = true
				}
				j++
			}
			d.addRaw(b[i:j], eight)
			i = j
			continue
		case c < 0x21 || c == 0x7f:
			d.addEUC(c) // CR, space, tab inside a two-byte or katakana run: kept, not paired
			i++
			continue
		case set == jisKana:
			// 0x21-0x5F, or the same with the high bit set (8-bit JIS): U+FF61-U+FF9F.
			if k := c & 0x7f; k >= 0x21 && k <= 0x5f {
				d.addEUC(0x8e, k|0x80)
			} else {
				d.addEUC(badEUC)
			}
			i++
			continue
		}
		// A two-byte set.
		if c >= 0x80 || i+1 >= len(b) || b[i+1] < 0x21 || b[i+1] > 0x7e {
			d.addEUC(badEUC)
			i++
			continue
		}
		c1 := b[i+1]
		switch {
		case set == jis0212:
			d.addEUC(0x8f, c|0x80, c1|0x80)
		case set == jis0208:
			d.addEUC(c|0x80, c1|0x80)
		case set == jis0213 && c != 0x2d && c < 0x75:
			// Row 13 and rows 85-94 of JIS X 0213 hold other characters than CP932's there.
			d.addEUC(c|0x80, c1|0x80)
		default:
			d.addEUC(badEUC)
		}
		i += 2
	}
	d.flushRaw()
	d.flushEUC()
}

// jisEscape reads an escape sequence at the start of b: the set it designates to G0 (-1 for ESC & @, which
// only announces the next one) and its length, or n 0 when it is not one this decoder knows.
func jisEscape(b []byte) (set, n int) {
	if len(b) < 3 {
		return 0, 0
	}
	switch string(b[1:3]) {
	case "(B", "(J", "(H":
		// ESC ( H is Swedish in ISO 2022, but some old Japanese mailers wrote it for ASCII.
		return jisASCII, 3
	case "(I":
		return jisKana, 3
	case "$@", "$B":
		return jis0208, 3
	case "&@":
		return -1, 3
	case "$A":
		return jisUnknown, 3 // GB 2312 (ISO-2022-JP-2): no table here, and read as JIS it would be wrong characters
	case "$(":
		if len(b) < 4 {
			return 0, 0
		}
		switch b[3] {
		case '@', 'B':
			return jis0208, 4
		case 'O', 'Q':
			return jis0213, 4
		case 'D':
			return jis0212, 4
		case 'P', 'C':
			return jisUnknown, 4 // JIS X 0213 plane 2, KS C 5601 (ISO-2022-JP-2): no table
		}
	}
	return 0, 0
}

// unknownEscape reads an escape sequence that jisEscape does not know, damaged in transit or from a mailer
// this decoder has not met: ESC, intermediates 0x20-0x2F and a final byte 0x30-0x7E (ISO 2022 §13.1). The
// sequence is one bad character; what follows is read in the set its first intermediate says the sequence
// designates (ISO 2022 §13.2.2: "$" a two-byte set, which in mail is JIS X 0208; "(" a one-byte set, ASCII),
// so that a damaged ESC $ B costs the escape and not the line behind it. n is 0 when b is no escape sequence.
func unknownEscape(b []byte) (set, n int) {
	i := 1
	for i < len(b) && i < 5 && b[i] >= 0x20 && b[i] <= 0x2f {
		i++
	}
	if i == 1 || i >= len(b) || b[i] < 0x30 || b[i] > 0x7e {
		return 0, 0
	}
	switch b[1] {
	case '$':
		return jis0208, i + 1
	case '(':
		return jisASCII, i + 1
	}
	return -1, i + 1
}
