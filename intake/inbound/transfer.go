package inbound

import (
	"bytes"
	"encoding/base64"
	"strings"

	"hosho-intake/intake/msgbuf"
)

// decodeTransfer undoes a Content-Transfer-Encoding (RFC 2045 §6). It never fails: what cannot be decoded
// is skipped, and bad reports whether anything had to be (the caller records it as a defect). A decoded
// out is in a buffer of msgbuf's, which past len(out) may hold an earlier message's bytes (see reader.keep).
func decodeTransfer(cte string, b []byte) (out []byte, bad bool) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return decodeBase64(b)
	case "quoted-printable":
		return decodeQP(b)
	}
	// 7bit, 8bit, binary, and unknown encodings (RFC 2045 §6.4: treat the body as application/octet-stream;
	// keeping the bytes lets a PDF sent with a misspelt encoding still be read).
	return b, false
}

// decodes reports whether decodeTransfer answers cte with memory of its own (base64 and
// quoted-printable are decoded into msgbuf's buffers) rather than with its input as it is.
func decodes(cte string) bool {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64", "quoted-printable":
		return true
	}
	return false
}

// b64 maps a base64 alphabet byte to its 6-bit value, and every other byte to 0xff.
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeBase64 decodes base64 as RFC 2045 §6.8 asks and encoding/base64 does not: "any characters outside
// of the base64 alphabet are to be ignored". A "=" ends the current quantum; data after it starts a new one,
// so parts that were encoded separately and concatenated still decode.
func decodeBase64(b []byte) (out []byte, bad bool) {
	// Fast path: clean base64 (line breaks are skipped by encoding/base64) is by far the common case.
	out = msgbuf.Get(base64.StdEncoding.DecodedLen(len(b)))
	if n, err := base64.StdEncoding.Decode(out, b); err == nil {
		return out[:n], false
	}
	out = out[:0]
	var q uint32
	n := 0
	flush := func() {
		switch n {
		case 2:
			out = append(out, byte(q>>4))
		case 3:
			out = append(out, byte(q>>10), byte(q>>2))
		case 1:
			bad = true // six bits cannot make a byte
		}
		q, n = 0, 0
	}
	for _, c := range b {
		v := b64[c]
		if v == 0xff {
			switch c {
			case '=':
				flush()
			case '\r', '\n', ' ', '\t':
			default:
				bad = true
			}
			continue
		}
		q = q<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(q>>16), byte(q>>8), byte(q))
			q, n = 0, 0
		}
	}
	flush()
	return out, bad
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeQP decodes quoted-printable (RFC 2045 §6.7) tolerantly: a "=" not followed by two hex digits or a
// line break is kept as it is (§6.7 note 1 recommends exactly that), lower-case hex is accepted, and
// whitespace at the end of a line, which transports add and rule 3 says to drop, is dropped.
func decodeQP(b []byte) (out []byte, bad bool) {
	out = msgbuf.Get(len(b))[:0]
	for len(b) > 0 {
		// One line at a time, line break included.
		line, rest := b, []byte(nil)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, rest = b[:i+1], b[i+1:]
		}
		b = rest
		eol := ""
		body := line
		if n := len(body); n > 0 && body[n-1] == '\n' {
			body, eol = body[:n-1], "\n"
			if n := len(body); n > 0 && body[n-1] == '\r' {
				body, eol = body[:n-1], "\r\n"
			}
		}
		for len(body) > 0 && (body[len(body)-1] == ' ' || body[len(body)-1] == '\t') {
			body = body[:len(body)-1]
		}
		soft := false
		for i := 0; i < len(body); i++ {
			c := body[i]
			if c != '=' {
				out = append(out, c)
				continue
			}
			if i == len(body)-1 {
				soft = true // "=" at the end of a line: a soft line break
				break
			}
			if i+2 < len(body) {
				h, ok1 := unhex(body[i+1])
				l, ok2 := unhex(body[i+2])
				if ok1 && ok2 {
					out = append(out, h<<4|l)
					i += 2
					continue
				}
			}
			bad = true
			out = append(out, c)
		}
		if !soft {
			out = append(out, eol...)
		}
	}
	return out, bad
}
