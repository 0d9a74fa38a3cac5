// Package ppapzip writes password ZIPs as Japanese senders' tools do (PPAP: a password ZIP
// mailed first, its password in the next mail), for tests and the demo: ZipCrypto as Info-ZIP
// `zip -P` and Windows' Explorer write it, WinZip AES-128/256 (AE-2) as 7-Zip and Lhaplus do,
// member names in UTF-8 or CP932. Reading them is intake/inbound's job; this package only
// writes, so that the reader is tested against bytes it did not make itself (and, where the
// tools are installed, against `zip` and `7z`: see intake/inbound's tests).
package ppapzip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"golang.org/x/text/encoding/japanese"
)

// Encryption kinds.
const (
	ZipCrypto = "zipcrypto"
	AES128    = "aes128"
	AES256    = "aes256"
)

// Member is one file of the archive.
type Member struct {
	Name  string
	Data  []byte
	CP932 bool // the name is written in CP932 without the UTF-8 flag, as Explorer does
}

// Write returns a ZIP of members, each encrypted with password by kind.
func Write(kind, password string, members ...Member) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.DefaultCompression)
		fw.Write(m.Data)
		fw.Close()
		crc := crc32.ChecksumIEEE(m.Data)
		fh := &zip.FileHeader{Name: m.Name, Method: zip.Deflate, CRC32: crc, UncompressedSize64: uint64(len(m.Data)), Flags: 0x1}
		if m.CP932 {
			s, err := japanese.ShiftJIS.NewEncoder().String(m.Name)
			if err != nil {
				return nil, err
			}
			fh.Name, fh.NonUTF8 = s, true
		}
		var raw []byte
		switch kind {
		case ZipCrypto:
			raw = zipCrypto([]byte(password), crc, comp.Bytes())
		case AES128, AES256:
			strength, keyLen := byte(1), 16
			if kind == AES256 {
				strength, keyLen = 3, 32
			}
			var err error
			if raw, err = winzipAES([]byte(password), keyLen, comp.Bytes()); err != nil {
				return nil, err
			}
			fh.Method, fh.CRC32 = 99, 0 // AE-2: no CRC, the HMAC checks
			fh.Extra = []byte{0x01, 0x99, 7, 0, 2, 0, 'A', 'E', strength, byte(zip.Deflate), 0}
		default:
			return nil, fmt.Errorf("unknown kind %q", kind)
		}
		fh.CompressedSize64 = uint64(len(raw))
		w, err := zw.CreateRaw(fh)
		if err != nil {
			return nil, err
		}
		w.Write(raw)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type keys struct{ k0, k1, k2 uint32 }

func crcByte(crc uint32, b byte) uint32 { return crc32.IEEETable[byte(crc)^b] ^ crc>>8 }

func (k *keys) update(c byte) {
	k.k0 = crcByte(k.k0, c)
	k.k1 = (k.k1+k.k0&0xff)*134775813 + 1
	k.k2 = crcByte(k.k2, byte(k.k1>>24))
}

// zipCrypto encrypts data after the 12-byte header whose last byte is the CRC's high byte
// (APPNOTE 6.1.6).
func zipCrypto(pw []byte, crc uint32, data []byte) []byte {
	k := &keys{0x12345678, 0x23456789, 0x34567890}
	for _, c := range pw {
		k.update(c)
	}
	head := make([]byte, 12)
	rand.Read(head[:11])
	head[11] = byte(crc >> 24)
	out := append(head, data...)
	for i, p := range out {
		t := k.k2 | 2
		out[i] = p ^ byte((t*(t^1))>>8)
		k.update(p)
	}
	return out
}

func winzipAES(pw []byte, keyLen int, data []byte) ([]byte, error) {
	salt := make([]byte, keyLen/2)
	rand.Read(salt)
	dk, err := pbkdf2.Key(sha1.New, string(pw), salt, 1000, 2*keyLen+2)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(dk[:keyLen])
	if err != nil {
		return nil, err
	}
	enc := make([]byte, len(data))
	var ctr, ks [aes.BlockSize]byte
	for i := 0; i < len(data); i += aes.BlockSize {
		binary.LittleEndian.PutUint64(ctr[:], uint64(i/aes.BlockSize+1))
		block.Encrypt(ks[:], ctr[:])
		subtle.XORBytes(enc[i:], data[i:], ks[:])
	}
	mac := hmac.New(sha1.New, dk[keyLen:2*keyLen])
	mac.Write(enc)
	out := append(append(append(salt, dk[2*keyLen:]...), enc...), mac.Sum(nil)[:10]...)
	return out, nil
}
