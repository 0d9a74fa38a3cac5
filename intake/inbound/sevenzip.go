package inbound

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"

	"github.com/bodgit/sevenzip"

	"hosho-intake/parser"
)

// 7z archives (7-Zip's format, https://www.7-zip.org/7z.html): Japanese tools (Lhaplus, Explzh, 7-Zip itself)
// write AES-256 7z archives for PPAP, often with the header encrypted too (-mhe), so that even the member
// names need the password. github.com/bodgit/sevenzip reads them, the AES coder and LZMA/LZMA2/PPMd/BZip2/
// Deflate included; it is maintained, pure Go and served by the module proxy. It does not say which folder
// is encrypted, only hints so on a failed read (ReadError.Encrypted), and that hint is what tells a locked
// archive from a damaged one. 7-Zip derives the key from the password's UTF-16LE form whatever the locale,
// so unlike ZipCrypto no CP932 form of the password is tried.

// sevenZipMagic is the signature header's first six bytes (7zFormat.txt, "SignatureHeader").
var sevenZipMagic = []byte{'7', 'z', 0xBC, 0xAF, 0x27, 0x1C}

func isSevenZip(contentType, name string, data []byte) bool {
	switch strings.ToLower(contentType) {
	case "application/x-7z-compressed", "application/x-7z":
		return true
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".7z":
		return true
	case "":
		return bytes.HasPrefix(data, sevenZipMagic)
	}
	return false
}

// errLocked7z: a member (or the header) needs a password the reader was not given or that does not fit.
var errLocked7z = errors.New("7z archive needs a password")

// sevenZipMember is one member read from a 7z archive, or the problem that kept it from being read.
type sevenZipMember struct {
	name    string
	data    []byte
	code    string // a problem code, "" when data was read
	detail  string
	tooMuch bool // the member passed its limit
}

// readSevenZip reads a 7z attachment at zpath as readZip reads a ZIP: its members become attachments
// "ZPATH/MEMBER"; an encrypted archive gets password_zip and is kept in Message.Locked until Unlock gives it
// passwords. budget is shared with archives nested inside this one.
func (rd *reader) readSevenZip(zpath string, data []byte, depth int, budget *int64) {
	pws := []string{""}
	if rd.passwords != nil {
		pws = nil
		for _, pw := range rd.passwords {
			if pw != "" {
				pws = append(pws, pw)
			}
		}
	}
	var members []sevenZipMember
	err := errLocked7z // no candidates open nothing
	for _, pw := range pws {
		b := *budget
		members, err = rd.openSevenZip(zpath, data, pw, &b)
		if errors.Is(err, errLocked7z) {
			continue
		}
		*budget = b
		break
	}
	switch {
	case errors.Is(err, errLocked7z) && rd.passwords == nil:
		rd.problem(parser.CodePasswordZip, zpath, "encrypted 7z archive")
		rd.msg.Locked = append(rd.msg.Locked, Locked{Path: zpath, Data: data})
		return
	case errors.Is(err, errLocked7z):
		rd.problem(CodeWrongPassword, zpath, "no stated password opens the 7z archive")
		return
	case err != nil:
		rd.problem(parser.CodeCorrupt, zpath, fmt.Sprintf("unreadable 7z archive: %v", err))
		return
	}
	pdfs := 0
	for _, m := range members {
		mpath := zpath + "/" + m.name
		if m.code != "" {
			rd.problem(m.code, mpath, m.detail)
			continue
		}
		a := Attachment{Name: path.Base(m.name), ContentType: typeByName(m.name), Path: mpath, Data: m.data}
		if looksPDF(a.ContentType, a.Name, a.Data) {
			pdfs++
		}
		rd.add(a, depth, budget)
	}
	if pdfs > 0 {
		rd.problem(parser.CodeZipAttachment, zpath, fmt.Sprintf("%d PDF files read from the 7z archive", pdfs))
	}
}

// openSevenZip reads the members of a 7z archive with password pw ("" for none) within the entry count, the
// member size and *budget. errLocked7z says the password does not open it; a member that fails otherwise is
// returned with its problem.
func (rd *reader) openSevenZip(zpath string, data []byte, pw string, budget *int64) ([]sevenZipMember, error) {
	zr, err := sevenzip.NewReaderWithPassword(bytes.NewReader(data), int64(len(data)), pw)
	if err != nil {
		if encryptedHint(err) {
			return nil, errLocked7z // the header is encrypted (-mhe) and pw is not its password
		}
		return nil, err
	}
	files := zr.File
	if len(files) > rd.lim.MaxZipEntries {
		rd.problem(parser.CodeTooLarge, zpath, fmt.Sprintf("7z archive has %d entries, only the first %d are read", len(files), rd.lim.MaxZipEntries))
		files = files[:rd.lim.MaxZipEntries]
	}
	var out []sevenZipMember
	// A solid archive packs members into one stream; reading a later member decompresses the ones before
	// it. Once a member of a stream passes its limit, the rest of that stream is not read, so that a bomb
	// in front of a small member is not decompressed behind the bounds' back.
	cut := map[int]bool{}
	for _, f := range files {
		if f.FileInfo().IsDir() {
			continue
		}
		name := strings.TrimLeft(strings.ReplaceAll(f.Name, "\\", "/"), "/")
		if name == "" {
			name = "noname"
		}
		limit := min(rd.lim.MaxAttachmentBytes, *budget)
		if cut[f.Stream] {
			out = append(out, sevenZipMember{name: name, code: parser.CodeTooLarge, detail: "7z member follows one past its limit in a solid stream"})
			continue
		}
		if f.UncompressedSize > uint64(limit) {
			cut[f.Stream] = true
			out = append(out, sevenZipMember{name: name, code: parser.CodeTooLarge, detail: fmt.Sprintf("7z member declares %d bytes, limit %d", f.UncompressedSize, limit)})
			continue
		}
		b, err := readSevenZipFile(f, limit)
		*budget -= int64(len(b))
		switch {
		case err != nil && encryptedHint(err):
			return nil, errLocked7z
		case int64(len(b)) > limit:
			cut[f.Stream] = true
			out = append(out, sevenZipMember{name: name, code: parser.CodeTooLarge, detail: fmt.Sprintf("7z member expands past %d bytes (declared %d)", limit, f.UncompressedSize)})
		case err != nil:
			out = append(out, sevenZipMember{name: name, code: parser.CodeCorrupt, detail: fmt.Sprintf("unreadable 7z member: %v", err)})
		case f.CRC32 != 0 && crc32.ChecksumIEEE(b) != f.CRC32:
			// A stored (-mx0) member decrypted with a wrong password is noise no decompressor rejects.
			if pw != "" {
				return nil, errLocked7z
			}
			out = append(out, sevenZipMember{name: name, code: parser.CodeCorrupt, detail: "7z member: CRC mismatch"})
		default:
			out = append(out, sevenZipMember{name: name, data: b})
		}
	}
	return out, nil
}

// readSevenZipFile reads at most limit+1 bytes of f (one past the limit says it was passed).
func readSevenZipFile(f *sevenzip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit+1))
}

func encryptedHint(err error) bool {
	var re *sevenzip.ReadError
	return errors.As(err, &re) && re.Encrypted
}
