package noticepdf

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strconv"
)

// Encrypt protects a PDF written by this package with the standard security handler's
// AES-256 (revision 6, ISO 32000-2 §7.6.4), as qpdf --encrypt ... 256 and current Acrobat do.
// An empty userPassword gives a file that opens without a password (only the owner password
// restricts it, like sp10); an empty ownerPassword takes the user password, as qpdf does.
//
// It is written with the standard library rather than pdfcpu, whose own dependencies the
// module does not carry; the input must be this package's output (a classic xref table, no
// object streams, direct /Length values), which it re-reads object by object.
func Encrypt(pdf []byte, userPassword, ownerPassword string) ([]byte, error) {
	if ownerPassword == "" {
		ownerPassword = userPassword
	}
	doc, err := readOwn(pdf)
	if err != nil {
		return nil, fmt.Errorf("noticepdf: encrypt: %w", err)
	}
	var fileKey [32]byte
	if _, err := rand.Read(fileKey[:]); err != nil {
		return nil, fmt.Errorf("noticepdf: encrypt: %w", err)
	}
	sec, err := newSecurity(fileKey[:], []byte(userPassword), []byte(ownerPassword))
	if err != nil {
		return nil, fmt.Errorf("noticepdf: encrypt: %w", err)
	}

	w := &objWriter{offsets: make([]int, len(doc.objects)+1), buf: make([]byte, 0, len(pdf)+1024)}
	w.buf = append(w.buf, pdf[:doc.headerLen]...)
	for n, body := range doc.objects {
		if n == 0 {
			continue
		}
		enc, err := encryptObject(body, sec)
		if err != nil {
			return nil, fmt.Errorf("noticepdf: encrypt: object %d: %w", n, err)
		}
		w.begin(n)
		w.buf = append(w.buf, enc...)
		w.buf = append(w.buf, "endobj\n"...)
	}
	encObj := len(doc.objects)
	w.object(encObj, sec.dict())

	xref := len(w.buf)
	w.buf = fmt.Appendf(w.buf, "xref\n0 %d\n0000000000 65535 f \n", len(w.offsets))
	for _, off := range w.offsets[1:] {
		w.buf = fmt.Appendf(w.buf, "%010d 00000 n \n", off)
	}
	w.buf = fmt.Appendf(w.buf, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Encrypt %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n",
		len(w.offsets), doc.root, doc.info, encObj, doc.id, doc.id, xref)
	return w.buf, nil
}

// ownDoc is a file as this package writes it, split into objects.
type ownDoc struct {
	headerLen  int
	objects    [][]byte // objects[n] is object n's body after "n 0 obj\n", up to "endobj"
	root, info int
	id         string
}

var errNotOwn = errors.New("not a PDF written by noticepdf")

func readOwn(pdf []byte) (*ownDoc, error) {
	i := bytes.LastIndex(pdf, []byte("startxref\n"))
	if i < 0 || bytes.IndexByte(pdf[i+10:], '\n') < 0 {
		return nil, errNotOwn
	}
	xref, err := strconv.Atoi(string(pdf[i+10 : i+10+bytes.IndexByte(pdf[i+10:], '\n')]))
	if err != nil || xref <= 0 || xref >= len(pdf) || !bytes.HasPrefix(pdf[xref:], []byte("xref\n0 ")) {
		return nil, errNotOwn
	}
	p := pdf[xref+7:]
	nl := bytes.IndexByte(p, '\n')
	count, err := strconv.Atoi(string(p[:max(nl, 0)]))
	if err != nil || count < 1 || len(p) < nl+1+20*count {
		return nil, errNotOwn
	}
	entries := p[nl+1 : nl+1+20*count]
	trailer := p[nl+1+20*count:]
	doc := &ownDoc{objects: make([][]byte, count), headerLen: bytes.IndexByte(pdf, '\n') + 1}
	doc.headerLen += bytes.IndexByte(pdf[doc.headerLen:], '\n') + 1
	for n := 1; n < count; n++ {
		off, err := strconv.Atoi(string(entries[20*n : 20*n+10]))
		if err != nil || off <= 0 || off >= xref {
			return nil, errNotOwn
		}
		hdr := strconv.Itoa(n) + " 0 obj\n"
		if !bytes.HasPrefix(pdf[off:], []byte(hdr)) {
			return nil, errNotOwn
		}
		body := pdf[off+len(hdr):]
		// A stream's data may contain "endobj"; skip it by its /Length.
		end := 0
		if s := bytes.Index(body, []byte(">>\nstream\n")); s >= 0 && s < bytes.Index(body, []byte("endobj")) {
			length, err := directLength(body[:s+2])
			if err != nil {
				return nil, err
			}
			end = s + 10 + length
		}
		e := bytes.Index(body[end:], []byte("endobj\n"))
		if e < 0 {
			return nil, errNotOwn
		}
		doc.objects[n] = body[:end+e]
	}
	doc.root, _ = refAfter(trailer, "/Root ")
	doc.info, _ = refAfter(trailer, "/Info ")
	if doc.root == 0 {
		return nil, errNotOwn
	}
	if j := bytes.Index(trailer, []byte("/ID [<")); j >= 0 {
		k := bytes.IndexByte(trailer[j+6:], '>')
		doc.id = string(trailer[j+6 : j+6+k])
	} else {
		var id [16]byte
		rand.Read(id[:])
		doc.id = fmt.Sprintf("%x", id)
	}
	return doc, nil
}

func refAfter(b []byte, key string) (int, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, ' ')
	n, err := strconv.Atoi(string(b[:max(j, 0)]))
	return n, err == nil
}

// directLength finds /Length N in a stream dictionary this package wrote.
func directLength(dict []byte) (int, error) {
	i := bytes.LastIndex(dict, []byte("/Length "))
	if i < 0 {
		return 0, errNotOwn
	}
	d := dict[i+8:]
	j := 0
	for j < len(d) && d[j] >= '0' && d[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(string(d[:j]))
	if err != nil || bytes.HasPrefix(bytes.TrimLeft(d[j:], " "), []byte("0 R")) {
		return 0, errNotOwn
	}
	return n, nil
}

// encryptObject returns an object body with every string and the stream data encrypted
// (strings are rewritten as hex strings; the stream's /Length is updated).
func encryptObject(body []byte, sec *security) ([]byte, error) {
	s := bytes.Index(body, []byte(">>\nstream\n"))
	if s < 0 {
		return encryptStrings(body, sec)
	}
	dict, err := encryptStrings(body[:s+2], sec)
	if err != nil {
		return nil, err
	}
	length, err := directLength(body[:s+2])
	if err != nil {
		return nil, err
	}
	data := sec.encrypt(body[s+10 : s+10+length])
	i := bytes.LastIndex(dict, []byte("/Length "))
	j := i + 8
	for j < len(dict) && dict[j] >= '0' && dict[j] <= '9' {
		j++
	}
	out := append([]byte(nil), dict[:i+8]...)
	out = strconv.AppendInt(out, int64(len(data)), 10)
	out = append(out, dict[j:]...)
	out = append(out, "\nstream\n"...)
	out = append(out, data...)
	return append(out, "\nendstream\n"...), nil
}

// encryptStrings copies b, replacing each literal or hex string by its encryption.
func encryptStrings(b []byte, sec *security) ([]byte, error) {
	out := make([]byte, 0, len(b)+64)
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '<' && i+1 < len(b) && b[i+1] == '<':
			out = append(out, "<<"...)
			i += 2
		case c == '<':
			j := bytes.IndexByte(b[i:], '>')
			if j < 0 {
				return nil, errNotOwn
			}
			raw, err := decodeHex(b[i+1 : i+j])
			if err != nil {
				return nil, err
			}
			out = appendHexString(out, sec.encrypt(raw))
			i += j + 1
		case c == '(':
			raw, n, err := decodeLiteral(b[i:])
			if err != nil {
				return nil, err
			}
			out = appendHexString(out, sec.encrypt(raw))
			i += n
		default:
			out = append(out, c)
			i++
		}
	}
	return out, nil
}

func decodeHex(h []byte) ([]byte, error) {
	raw := make([]byte, 0, len(h)/2+1)
	var v byte
	odd := false
	for _, c := range h {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
			continue
		default:
			return nil, errNotOwn
		}
		if odd {
			raw = append(raw, v<<4|d)
		} else {
			v = d
		}
		odd = !odd
	}
	if odd {
		raw = append(raw, v<<4) // a missing final digit is 0 (§7.3.4.3)
	}
	return raw, nil
}

// decodeLiteral reads the literal string at the start of b (§7.3.4.2) and returns its bytes
// and the length it took.
func decodeLiteral(b []byte) ([]byte, int, error) {
	var raw []byte
	depth := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case '(':
			if depth > 0 {
				raw = append(raw, c)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				return raw, i + 1, nil
			}
			raw = append(raw, c)
		case '\\':
			i++
			if i >= len(b) {
				return nil, 0, errNotOwn
			}
			switch e := b[i]; e {
			case 'n':
				raw = append(raw, '\n')
			case 'r':
				raw = append(raw, '\r')
			case 't':
				raw = append(raw, '\t')
			case 'b':
				raw = append(raw, '\b')
			case 'f':
				raw = append(raw, '\f')
			case '\n':
			case '\r':
				if i+1 < len(b) && b[i+1] == '\n' {
					i++
				}
			default:
				if e >= '0' && e <= '7' {
					v := 0
					for k := 0; k < 3 && i < len(b) && b[i] >= '0' && b[i] <= '7'; k++ {
						v = v*8 + int(b[i]-'0')
						i++
					}
					i--
					raw = append(raw, byte(v))
				} else {
					raw = append(raw, e)
				}
			}
		default:
			raw = append(raw, c)
		}
	}
	return nil, 0, errNotOwn
}

// security is the standard security handler state for AES-256 (/V 5 /R 6).
type security struct {
	block        cipher.Block
	u, o, ue, oe []byte
	perms        []byte
	p            int32
}

// permissions grants printing, copying and accessibility but not editing: what an owner
// password usually protects on a notice (sp10). Bits 7-8 and 13-32 must be 1 (Table 22).
const permissions = int32(-1<<12) | 1<<11 | 1<<9 | 1<<7 | 1<<6 | 1<<4 | 1<<2

func newSecurity(fileKey, userPW, ownerPW []byte) (*security, error) {
	// Passwords are SASLprep'd UTF-8 truncated to 127 bytes (§7.6.4.3.3); the ASCII ones
	// tests use need no preparation.
	userPW, ownerPW = userPW[:min(len(userPW), 127)], ownerPW[:min(len(ownerPW), 127)]
	var salts [32]byte
	if _, err := rand.Read(salts[:]); err != nil {
		return nil, err
	}
	uvs, uks, ovs, oks := salts[0:8], salts[8:16], salts[16:24], salts[24:32]
	s := &security{p: permissions}
	s.u = append(hash2B(userPW, uvs, nil), append(append([]byte(nil), uvs...), uks...)...)
	s.ue = cbcNoPad(hash2B(userPW, uks, nil), fileKey)
	s.o = append(hash2B(ownerPW, ovs, s.u), append(append([]byte(nil), ovs...), oks...)...)
	s.oe = cbcNoPad(hash2B(ownerPW, oks, s.u), fileKey)
	var err error
	if s.block, err = aes.NewCipher(fileKey); err != nil {
		return nil, err
	}
	// Perms (Algorithm 10): P little-endian, 0xFFFFFFFF, 'T' (metadata encrypted), "adb",
	// four random bytes; one AES-256 block in ECB mode.
	perms := make([]byte, 16)
	p := uint32(s.p)
	perms[0], perms[1], perms[2], perms[3] = byte(p), byte(p>>8), byte(p>>16), byte(p>>24)
	perms[4], perms[5], perms[6], perms[7] = 0xff, 0xff, 0xff, 0xff
	copy(perms[8:], "Tadb")
	if _, err := rand.Read(perms[12:]); err != nil {
		return nil, err
	}
	s.perms = make([]byte, 16)
	s.block.Encrypt(s.perms, perms)
	return s, nil
}

// encrypt is AESV3 for strings and streams: a random IV, then AES-256-CBC of the data with
// PKCS#5 padding, under the file key itself (no per-object key in revision 6).
func (s *security) encrypt(data []byte) []byte {
	pad := aes.BlockSize - len(data)%aes.BlockSize
	out := make([]byte, aes.BlockSize+len(data)+pad)
	rand.Read(out[:aes.BlockSize]) // crypto/rand.Read does not fail on supported platforms
	copy(out[aes.BlockSize:], data)
	for i := len(out) - pad; i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(s.block, out[:aes.BlockSize]).CryptBlocks(out[aes.BlockSize:], out[aes.BlockSize:])
	return out
}

func (s *security) dict() []byte {
	b := append([]byte(nil), "<< /Filter /Standard /V 5 /R 6 /Length 256 /CF << /StdCF << /AuthEvent /DocOpen /CFM /AESV3 /Length 32 >> >> /StmF /StdCF /StrF /StdCF /O "...)
	b = appendHexString(b, s.o)
	b = append(b, " /U "...)
	b = appendHexString(b, s.u)
	b = append(b, " /OE "...)
	b = appendHexString(b, s.oe)
	b = append(b, " /UE "...)
	b = appendHexString(b, s.ue)
	b = append(b, " /Perms "...)
	b = appendHexString(b, s.perms)
	b = append(b, " /P "...)
	b = strconv.AppendInt(b, int64(s.p), 10)
	return append(b, " /EncryptMetadata true >>"...)
}

// cbcNoPad encrypts 32 bytes with AES-256-CBC, a zero IV and no padding (Algorithms 8 and 9).
func cbcNoPad(key, data []byte) []byte {
	block, _ := aes.NewCipher(key) // a 32-byte key cannot fail
	out := make([]byte, len(data))
	cipher.NewCBCEncrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(out, data)
	return out
}

// hash2B is Algorithm 2.B of ISO 32000-2 (§7.6.4.3.4): SHA-256 of password, salt and user
// data, then at least 64 rounds of AES-128-CBC and a SHA-2 chosen by the round's output.
// Rounds are counted from 1 after the initial hash, as qpdf and Acrobat count them.
func hash2B(pw, salt, udata []byte) []byte {
	h := sha256.New()
	h.Write(pw)
	h.Write(salt)
	h.Write(udata)
	k := h.Sum(nil)
	var k1, e []byte
	hashes := [3]hash.Hash{sha256.New(), sha512.New384(), sha512.New()}
	for round := 1; ; round++ {
		k1 = k1[:0]
		for range 64 {
			k1 = append(k1, pw...)
			k1 = append(k1, k...)
			k1 = append(k1, udata...)
		}
		block, _ := aes.NewCipher(k[:16])
		e = append(e[:0], k1...)
		cipher.NewCBCEncrypter(block, k[16:32]).CryptBlocks(e, e)
		// The first 16 bytes of E as a big-endian number mod 3 equals their byte sum mod 3,
		// because 256 ≡ 1 (mod 3).
		sum := 0
		for _, c := range e[:16] {
			sum += int(c)
		}
		hh := hashes[sum%3]
		hh.Reset()
		hh.Write(e)
		k = hh.Sum(k[:0])
		if round >= 64 && int(e[len(e)-1]) <= round-32 {
			return k[:32]
		}
	}
}
