package inbound

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"hosho-intake/intake/msgbuf"
	"hosho-intake/parser"
)

// isZip: a ZIP by its type or its name; by its local file header signature (APPNOTE 4.3.7) only when the
// name has no extension, because DOCX, XLSX, ODT and JAR files are ZIPs too and are no archive a sender meant.
func isZip(contentType, name string, data []byte) bool {
	switch strings.ToLower(contentType) {
	case "application/zip", "application/x-zip-compressed", "application/x-zip", "multipart/x-zip":
		return true
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".zip":
		return true
	case "":
		return bytes.HasPrefix(data, []byte("PK\x03\x04"))
	}
	return false
}

// readZip opens a ZIP attachment at zpath and adds its members as attachments "ZPATH/MEMBER".
//
// Contractors zip the notice; some encrypt the ZIP and mail the password separately (PPAP): Read
// gives such a ZIP password_zip and keeps it in Message.Locked, and Unlock opens it later with the
// passwords of the sender's next mail. A plain ZIP that held a PDF gets zip_attachment
// (the sender is asked for the bare PDF next time). Entries, each member's size and the total expanded size are bounded,
// by the declared sizes first and by counting what actually comes out, so that a ZIP bomb is cut off.
// budget is shared with ZIPs nested inside this one.
func (rd *reader) readZip(zpath string, data []byte, depth int, budget *int64) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		rd.problem(parser.CodeCorrupt, zpath, fmt.Sprintf("unreadable ZIP: %v", err))
		return
	}
	files := zr.File
	if len(files) > rd.lim.MaxZipEntries {
		rd.problem(parser.CodeTooLarge, zpath, fmt.Sprintf("ZIP has %d entries, only the first %d are read", len(files), rd.lim.MaxZipEntries))
		files = files[:rd.lim.MaxZipEntries]
	}
	pdfs := 0
	locked := false
	for _, f := range files {
		if strings.HasSuffix(f.Name, "/") || f.FileInfo().IsDir() {
			continue
		}
		name := zipName(f)
		mpath := zpath + "/" + name
		encrypted := f.Flags&flagEncrypted != 0
		if encrypted && rd.passwords == nil {
			// General purpose bit 0: the member is encrypted (APPNOTE 4.4.4), ZipCrypto or AES alike.
			// The ZIP is kept (Message.Locked) for the password the sender may mail next.
			rd.problem(parser.CodePasswordZip, zpath, "encrypted ZIP member "+name)
			if !locked {
				locked = true
				rd.msg.Locked = append(rd.msg.Locked, Locked{Path: zpath, Data: data})
			}
			continue
		}
		limit := min(rd.lim.MaxAttachmentBytes, *budget)
		if f.UncompressedSize64 > uint64(limit) {
			rd.problem(parser.CodeTooLarge, mpath, fmt.Sprintf("ZIP member declares %d bytes, limit %d", f.UncompressedSize64, limit))
			continue
		}
		var b []byte
		if encrypted {
			b, err = decryptMember(f, rd.passwords, limit)
			if errors.Is(err, ErrWrongPassword) {
				rd.problem(CodeWrongPassword, zpath, "no stated password opens ZIP member "+name)
				continue
			}
		} else {
			var rc io.ReadCloser
			rc, err = f.Open()
			if err != nil {
				rd.problem(parser.CodeCorrupt, mpath, fmt.Sprintf("unreadable ZIP member: %v", err))
				continue
			}
			// The declared size can lie; read at most one byte past the limit to know it was passed.
			b, err = readMember(rc, f, limit)
			rc.Close()
		}
		*budget -= int64(len(b))
		if int64(len(b)) > limit {
			rd.problem(parser.CodeTooLarge, mpath, fmt.Sprintf("ZIP member expands past %d bytes (declared %d)", limit, f.UncompressedSize64))
			continue
		}
		if err != nil {
			rd.problem(parser.CodeCorrupt, mpath, fmt.Sprintf("unreadable ZIP member: %v", err))
			continue
		}
		a := Attachment{Name: path.Base(name), ContentType: typeByName(name), Path: mpath, Data: rd.keep(b)}
		if looksPDF(a.ContentType, a.Name, a.Data) {
			pdfs++
		}
		rd.add(a, depth, budget)
	}
	if pdfs > 0 {
		// Only a ZIP that held a PDF: a ZIP of site photos is no notice sent the wrong way.
		rd.problem(parser.CodeZipAttachment, zpath, fmt.Sprintf("%d PDF files read from the ZIP", pdfs))
	}
}

// readMember reads a member's uncompressed bytes from r to their end, or to one byte past limit
// (which says it was passed), into a buffer of the size f declares: io.ReadAll's doubling
// from 512 bytes allocated a member twice over. The declared size is trusted no further than
// deflate can expand the compressed bytes (1032 to 1) and limit: a lie costs a regrowth.
func readMember(r io.Reader, f *zip.File, limit int64) ([]byte, error) {
	hint := min(f.UncompressedSize64, f.CompressedSize64*1032+1024, uint64(limit))
	return readAtMost(r, int64(hint), limit)
}

// readAtMost is io.ReadAll(io.LimitReader(r, limit+1)) into a buffer of size+1 at first, a
// msgbuf one.
func readAtMost(r io.Reader, size, limit int64) ([]byte, error) {
	r = io.LimitReader(r, limit+1)
	b := msgbuf.Get(int(min(size, limit) + 1))[:0] // +1: room to read the EOF without a regrowth
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// typeByName is a fixed table rather than mime.TypeByExtension, whose answer depends on the host's files.
func typeByName(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".pdf":
		return "application/pdf"
	case ".zip":
		return "application/zip"
	case ".txt":
		return "text/plain"
	}
	return "application/octet-stream"
}

// zipName decodes a member name: UTF-8 when general purpose bit 11 says so (APPNOTE 4.4.4), else the Info-ZIP
// Unicode Path extra field (0x7075, APPNOTE 4.6.9) when its CRC matches, else detection, which reads the CP932
// names Windows' Explorer and Japanese archivers write. Backslashes left after decoding are Windows path
// separators.
func zipName(f *zip.File) string {
	raw := f.Name
	var name string
	switch {
	case f.Flags&0x800 != 0 && utf8.ValidString(raw):
		name = raw
	default:
		if u, ok := unicodePath(f.Extra, raw); ok {
			name = u
		} else {
			name = detect([]byte(raw))
		}
	}
	name = strings.ReplaceAll(name, "\\", "/")
	name = strings.TrimLeft(name, "/")
	if name == "" {
		name = "noname"
	}
	return name
}

func unicodePath(extra []byte, raw string) (string, bool) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return "", false
		}
		field := extra[4 : 4+n]
		extra = extra[4+n:]
		if id != 0x7075 || len(field) < 5 || field[0] != 1 {
			continue
		}
		if binary.LittleEndian.Uint32(field[1:]) != crc32.ChecksumIEEE([]byte(raw)) {
			continue
		}
		if u := string(field[5:]); utf8.ValidString(u) {
			return u, true
		}
	}
	return "", false
}

// CodeWrongPassword: none of the passwords the sender stated opens the ZIP.
const CodeWrongPassword = "wrong_password"

// Locked is a password ZIP or 7z archive of a message, or a PDF that needs a user password
// (intake finds those when it reads the PDF), kept whole for its password.
type Locked struct {
	Path string // the ZIP's Attachment.Path
	Data []byte
	PDF  bool `json:",omitempty"` // a PDF: Unlock does not open it, the PDF reader does with the passwords
}

// Unlock opens the password ZIP (or 7z archive) l with the first of passwords that fits each member, and reads it as
// Read reads any ZIP attachment: the same bounds (entries, sizes, expansion, nesting), the same member
// names. Members no password opens are CodeWrongPassword problems. The result holds only Attachments
// and Problems.
func Unlock(l Locked, passwords []string, lim Limits) *Message {
	lim = lim.withDefaults()
	msg := &Message{}
	if len(passwords) == 0 {
		passwords = []string{}
	}
	rd := &reader{lim: lim, msg: msg, passwords: passwords}
	defer func() {
		if p := recover(); p != nil {
			rd.problem(parser.CodeCorrupt, l.Path, fmt.Sprintf("ZIP reader failed: %v", p))
		}
	}()
	budget := lim.MaxZipBytes
	if bytes.HasPrefix(l.Data, sevenZipMagic) {
		rd.readSevenZip(l.Path, l.Data, 1, &budget)
	} else {
		rd.readZip(l.Path, l.Data, 1, &budget)
	}
	return msg
}
