// hosho-intake: AES-256 (the standard security handler's V 5, R 5 and R 6; ISO 32000-2
// §7.6.4.3.3-4), which upstream refuses. Acrobat, qpdf and iPhones write it for every
// "256-bit" password; without it each such file went through pdfcpu's full parse and
// re-write, and its key derivation ran twice (3-5 ms a file).

package pdf

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
)

// aes256KeyLen is the file key's length under V 5. Keys of V 1-4 are at most 16 bytes
// (maxKeyBits), so the length alone tells cryptKey that objects share the file key.
const aes256KeyLen = 32

// initEncryptV5 derives the file key from password, tried as the user password and then as
// the owner password (either opens the file).
func (r *Reader) initEncryptV5(encrypt dict, password string) error {
	R, _ := encrypt["R"].(int64)
	if R != 5 && R != 6 {
		return fmt.Errorf("unsupported PDF: encryption revision R=%d with V=5", R)
	}
	if !okayV5(encrypt) {
		return fmt.Errorf("unsupported PDF: encryption V=5; %v", objfmt(encrypt))
	}
	O, _ := encrypt["O"].(string)
	U, _ := encrypt["U"].(string)
	OE, _ := encrypt["OE"].(string)
	UE, _ := encrypt["UE"].(string)
	if len(O) < 48 || len(U) < 48 || len(OE) < 32 || len(UE) < 32 {
		return fmt.Errorf("malformed PDF: missing O, U, OE or UE encryption parameters")
	}
	perms, _ := encrypt["Perms"].(string)
	p, _ := encrypt["P"].(int64)
	hash := hashR6
	if R == 5 {
		hash = hashR5
	}
	// R 6 wants the password SASLprep'd as UTF-8; the passwords contractors mail are ASCII,
	// which SASLprep leaves as they are. At most 127 bytes count.
	pw := []byte(password)
	pw = pw[:min(len(pw), 127)]
	u := []byte(U[:48])
	try := func(hashed, validation, salt, udata []byte, wrapped string) bool {
		// The key first, then /Perms to check it: one derivation (64 rounds or more of
		// AES and SHA-2 under R 6, 1.3 ms here) where checking the password first and
		// deriving the key after costs two. For the empty password /Perms decides alone,
		// as pdfcpu (the pre-pass) decided: most encrypted files open with it, and a
		// locked one is refused in one derivation too. A password the sender mailed is
		// also checked the long way, so a damaged /Perms does not hide the right one.
		key := unwrapFileKey(hash(pw, salt, udata), []byte(wrapped[:32]))
		if permsMatch(key, perms, uint32(p)) ||
			(password != "" || len(perms) < aes.BlockSize) && bytes.Equal(hash(pw, validation, udata), hashed) {
			r.key, r.useAES = key, true
			return true
		}
		return false
	}
	if try(u[:32], u[32:40], u[40:48], nil, UE) {
		return nil
	}
	// The owner password opens the file too. No writer we know lets it be empty (pdfcpu
	// and Acrobat refuse), so the empty password is not tried as one.
	o := []byte(O[:48])
	if password != "" && try(o[:32], o[32:40], o[40:48], u, OE) {
		return nil
	}
	return ErrInvalidPassword
}

// okayV5 accepts the crypt filters every writer of AES-256 uses: one filter with AESV3 for
// both strings and streams, opened with the document.
func okayV5(encrypt dict) bool {
	cf, ok := encrypt["CF"].(dict)
	if !ok {
		return false
	}
	stmf, _ := encrypt["StmF"].(name)
	strf, _ := encrypt["StrF"].(name)
	if stmf == "" || stmf != strf {
		return false
	}
	param, ok := cf[stmf].(dict)
	if !ok || param["CFM"] != name("AESV3") {
		return false
	}
	if param["AuthEvent"] != nil && param["AuthEvent"] != name("DocOpen") {
		return false
	}
	// /Length is 32 (bytes) in the standard; some writers put 256 (bits).
	if n, ok := param["Length"].(int64); ok && n != 32 && n != 256 {
		return false
	}
	return true
}

// unwrapFileKey is the file key from /UE or /OE: AES-256 in CBC mode with a zero IV and no
// padding, keyed by the intermediate hash.
func unwrapFileKey(intermediate, wrapped []byte) []byte {
	block, err := aes.NewCipher(intermediate)
	if err != nil {
		return nil
	}
	key := make([]byte, aes256KeyLen)
	cipher.NewCBCDecrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(key, wrapped)
	return key
}

// permsMatch reports that /Perms, decrypted with key (AES-256, one block), holds the
// marker "adb" and the permissions /P states: the key is right.
func permsMatch(key []byte, perms string, p uint32) bool {
	if len(key) != aes256KeyLen || len(perms) < aes.BlockSize {
		return false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return false
	}
	var plain [aes.BlockSize]byte
	block.Decrypt(plain[:], []byte(perms[:aes.BlockSize]))
	return string(plain[9:12]) == "adb" && binary.LittleEndian.Uint32(plain[:4]) == p
}

// hashR5 is revision 5's hash (Adobe's extension level 3): one SHA-256.
func hashR5(pw, salt, udata []byte) []byte {
	h := sha256.New()
	h.Write(pw)
	h.Write(salt)
	h.Write(udata)
	return h.Sum(nil)
}

// hashR6 is ISO 32000-2's Algorithm 2.B: SHA-256 of the input, then at least 64 rounds of
// AES-128-CBC over 64 repeats of password, hash and user data, each hashed again with
// SHA-256, -384 or -512 as the round's output chooses, until a round's last byte allows
// the end.
func hashR6(pw, salt, udata []byte) []byte {
	k := hashR5(pw, salt, udata)
	var k1 []byte
	for round := 0; ; round++ {
		k1 = k1[:0]
		for range 64 {
			k1 = append(append(append(k1, pw...), k...), udata...)
		}
		block, err := aes.NewCipher(k[:16])
		if err != nil {
			return nil
		}
		cipher.NewCBCEncrypter(block, k[16:32]).CryptBlocks(k1, k1)
		e := k1
		// The first 16 bytes as a big-endian number, modulo 3: 256 ≡ 1 (mod 3), so the
		// sum of the bytes has the same remainder.
		sum := 0
		for _, b := range e[:16] {
			sum += int(b)
		}
		switch sum % 3 {
		case 0:
			s := sha256.Sum256(e)
			k = s[:]
		case 1:
			s := sha512.Sum384(e)
			k = s[:]
		default:
			s := sha512.Sum512(e)
			k = s[:]
		}
		if round >= 63 && int(e[len(e)-1]) <= round-31 {
			return k[:32]
		}
	}
}
