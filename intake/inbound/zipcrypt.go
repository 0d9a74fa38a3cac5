package inbound

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"golang.org/x/text/encoding/japanese"
)

// Password ZIPs (PPAP): ZipCrypto (APPNOTE 6.1) and WinZip AES (AE-1 and AE-2, AES-128/192/256).
//
// The standard archive/zip reads the central directory of an encrypted ZIP but cannot decrypt
// a member (File.Open answers ErrAlgorithm for method 99 and garbage for ZipCrypto), and the
// libraries that add it (github.com/yeka/zip, github.com/alexmullins/zip) are not served by the
// module proxy this project builds from. So archive/zip parses the directory and hands over each
// member's raw bytes (File.OpenRaw), and this file decrypts them: ZipCrypto is 30 lines of the
// APPNOTE, WinZip AES is PBKDF2-HMAC-SHA1 + AES-CTR + HMAC-SHA1 from the standard library. Both
// are checked the way the formats allow: the ZipCrypto header byte, then the CRC-32 of what
// comes out; the AES password verifier, then the HMAC over the encrypted data (AE-2 has no CRC).

// ErrWrongPassword: none of the passwords opens the member.
var ErrWrongPassword = errors.New("wrong password")

// errUnsupportedZip: an encryption the package does not know (PKWARE strong encryption, bit 6).
var errUnsupportedZip = errors.New("unsupported ZIP encryption")

const (
	methodAES      = 99     // APPNOTE 4.4.5: the WinZip AES marker method
	extraAES       = 0x9901 // the WinZip AES extra field
	flagEncrypted  = 0x1
	flagDescriptor = 0x8
	flagStrong     = 0x40
)

// decryptMember returns the uncompressed contents of the encrypted member f, trying each
// password, reading at most limit bytes (one past it says the limit was passed).
func decryptMember(f *zip.File, passwords []string, limit int64) ([]byte, error) {
	if f.Flags&flagStrong != 0 {
		return nil, errUnsupportedZip
	}
	// The raw (encrypted) data is bounded by the member's compressed size, which archive/zip
	// has checked against the archive's own length.
	rr, err := f.OpenRaw()
	if err != nil {
		return nil, err
	}
	raw, err := readAtMost(rr, int64(min(f.CompressedSize64, uint64(limit)+64)), limit+63)
	if err != nil {
		return nil, err
	}
	for _, pw := range passwordForms(passwords) {
		var b []byte
		if f.Method == methodAES {
			b, err = openAES(f, raw, pw, limit)
		} else {
			b, err = openZipCrypto(f, raw, pw, limit)
		}
		if errors.Is(err, ErrWrongPassword) {
			continue
		}
		return b, err
	}
	return nil, ErrWrongPassword
}

// passwordForms are the bytes each password may have been typed in: as UTF-8, and as CP932
// when that differs (Japanese Windows archivers encrypt with the ANSI code page's bytes).
func passwordForms(passwords []string) [][]byte {
	var out [][]byte
	seen := map[string]bool{}
	for _, pw := range passwords {
		forms := []string{pw}
		if s, err := japanese.ShiftJIS.NewEncoder().String(pw); err == nil {
			forms = append(forms, s)
		}
		for _, f := range forms {
			if f != "" && !seen[f] {
				seen[f] = true
				out = append(out, []byte(f))
			}
		}
	}
	return out
}

// zipCrypto is the traditional PKWARE cipher's state (APPNOTE 6.1.5).
type zipCrypto struct{ k0, k1, k2 uint32 }

func newZipCrypto(pw []byte) *zipCrypto {
	z := &zipCrypto{0x12345678, 0x23456789, 0x34567890}
	for _, c := range pw {
		z.update(c)
	}
	return z
}

func crcByte(crc uint32, b byte) uint32 { return crc32.IEEETable[byte(crc)^b] ^ crc>>8 }

func (z *zipCrypto) update(c byte) {
	z.k0 = crcByte(z.k0, c)
	z.k1 = (z.k1+z.k0&0xff)*134775813 + 1
	z.k2 = crcByte(z.k2, byte(z.k1>>24))
}

func (z *zipCrypto) decrypt(b []byte) {
	// The keys are kept in locals: written through z, they are reloaded after every byte
	// stored to b, which the compiler cannot tell apart from z (about 1.3 times as fast).
	k0, k1, k2 := z.k0, z.k1, z.k2
	tab := crc32.IEEETable
	for i, c := range b {
		t := k2 | 2
		p := c ^ byte((t*(t^1))>>8)
		k0 = tab[byte(k0)^p] ^ k0>>8
		k1 = (k1+k0&0xff)*134775813 + 1
		k2 = tab[byte(k2)^byte(k1>>24)] ^ k2>>8
		b[i] = p
	}
	z.k0, z.k1, z.k2 = k0, k1, k2
}

// openZipCrypto: the 12-byte encryption header's last byte is the CRC's high byte, or the
// modification time's with a data descriptor (APPNOTE 6.1.6); it lets 255 of 256 wrong
// passwords be told at once. The CRC-32 of the output settles the rest.
func openZipCrypto(f *zip.File, raw, pw []byte, limit int64) ([]byte, error) {
	if len(raw) < 12 {
		return nil, fmt.Errorf("encrypted member shorter than its header")
	}
	z := newZipCrypto(pw)
	head := bytes.Clone(raw[:12])
	z.decrypt(head)
	check := byte(f.CRC32 >> 24)
	if f.Flags&flagDescriptor != 0 {
		check = byte(f.ModifiedTime >> 8)
	}
	if head[11] != check {
		return nil, ErrWrongPassword
	}
	data := bytes.Clone(raw[12:])
	z.decrypt(data)
	b, err := decompress(f.Method, data, f.UncompressedSize64, limit)
	if err != nil {
		// A wrong password that passed the header check decrypts to noise, which rarely inflates.
		return nil, ErrWrongPassword
	}
	if int64(len(b)) <= limit && crc32.ChecksumIEEE(b) != f.CRC32 {
		return nil, ErrWrongPassword
	}
	return b, nil
}

// openAES opens a WinZip AES member (https://www.winzip.com/en/support/aes-encryption/): salt,
// a 2-byte password verifier, the AES-CTR data (little-endian counter from 1), and a 10-byte
// HMAC-SHA1 of the encrypted data. The key, the HMAC key and the verifier come from
// PBKDF2-HMAC-SHA1 with 1000 iterations.
func openAES(f *zip.File, raw, pw []byte, limit int64) ([]byte, error) {
	strength, method, ok := aesExtra(f.Extra)
	if !ok {
		return nil, fmt.Errorf("AES member without its 0x9901 extra field: %w", errUnsupportedZip)
	}
	keyLen := map[byte]int{1: 16, 2: 24, 3: 32}[strength]
	if keyLen == 0 {
		return nil, fmt.Errorf("AES strength %d: %w", strength, errUnsupportedZip)
	}
	saltLen := keyLen / 2
	if len(raw) < saltLen+2+10 {
		return nil, fmt.Errorf("AES member shorter than its salt and code")
	}
	salt, verify := raw[:saltLen], raw[saltLen:saltLen+2]
	body, code := raw[saltLen+2:len(raw)-10], raw[len(raw)-10:]
	dk, err := pbkdf2.Key(sha1.New, string(pw), salt, 1000, 2*keyLen+2)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(dk[2*keyLen:], verify) != 1 {
		return nil, ErrWrongPassword
	}
	mac := hmac.New(sha1.New, dk[keyLen:2*keyLen])
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil)[:10], code) {
		return nil, ErrWrongPassword
	}
	block, err := aes.NewCipher(dk[:keyLen])
	if err != nil {
		return nil, err
	}
	data := make([]byte, len(body))
	var ctr, ks [aes.BlockSize]byte
	for i := 0; i < len(body); i += aes.BlockSize {
		// The counter is a little-endian integer over the whole block, starting at 1; no
		// cipher.NewCTR, which counts big-endian.
		for j := range ctr {
			ctr[j]++
			if ctr[j] != 0 {
				break
			}
		}
		block.Encrypt(ks[:], ctr[:])
		subtle.XORBytes(data[i:], body[i:], ks[:])
	}
	b, err := decompress(method, data, f.UncompressedSize64, limit)
	if err != nil {
		return nil, fmt.Errorf("AES member: %w", err)
	}
	if f.CRC32 != 0 && int64(len(b)) <= limit && crc32.ChecksumIEEE(b) != f.CRC32 {
		// AE-1 keeps the CRC; the HMAC already vouched for the password, so this is damage.
		return nil, fmt.Errorf("AES member: CRC mismatch")
	}
	return b, nil
}

// aesExtra reads the 0x9901 field: version (2), "AE", strength (1), the real method (2).
func aesExtra(extra []byte) (strength byte, method uint16, ok bool) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return 0, 0, false
		}
		field := extra[4 : 4+n]
		extra = extra[4+n:]
		if id == extraAES && n >= 7 && field[2] == 'A' && field[3] == 'E' {
			return field[4], binary.LittleEndian.Uint16(field[5:]), true
		}
	}
	return 0, 0, false
}

// decompress inflates a member's decrypted data (the caller's to give away), returning at
// most limit+1 bytes; size is what the member declares.
func decompress(method uint16, data []byte, size uint64, limit int64) ([]byte, error) {
	switch method {
	case zip.Store:
		return data[:min(int64(len(data)), limit+1)], nil
	case zip.Deflate:
		fr := flate.NewReader(bytes.NewReader(data))
		defer fr.Close()
		return readAtMost(fr, int64(min(size, uint64(len(data))*1032+1024, uint64(limit))), limit)
	default:
		return nil, fmt.Errorf("compression method %d: %w", method, errUnsupportedZip)
	}
}
