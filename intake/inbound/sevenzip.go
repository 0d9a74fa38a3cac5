package inbound

import (
	"bytes"
	"encoding/json"
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

// A 7z archive is opened only through Limits.SevenZip, never in the process that calls Read:
// github.com/bodgit/sevenzip allocates by the counts an archive's header declares (up to 2^32-1
// files, CRCs, sizes) while it parses it, before any of our bounds can apply, and decodes an
// LZMA-compressed or AES-encrypted header the same way. Measured: a 43-byte header declaring
// 2^32-1 files ends the process at once ("fatal error: runtime: out of memory", which no
// recover catches), and a 47-byte one declaring 2^30 CRCs takes 1 GiB and 1.3 s. Checking the
// declared sizes ourselves would mean parsing the whole header grammar, and an encoded or
// encrypted header cannot be checked before it is decoded; so the daemon opens 7z archives in
// a sandbox worker (intake: parser/sandbox's Pool.OpenArchive, running ServeSevenZip), bounded in
// memory and time like any PDF, and a hostile archive costs that worker, not the daemon.

// SevenZipRequest asks OpenSevenZip to open one 7z archive within bounds.
type SevenZipRequest struct {
	// Unlock: try Passwords (Unlock); else only the empty password, and an encrypted
	// archive is Locked.
	Unlock    bool     `json:"unlock,omitempty"`
	Passwords []string `json:"passwords,omitempty"`
	// MaxEntries, MaxMember and Budget are Limits.MaxZipEntries, MaxAttachmentBytes and what
	// is left of the archive's MaxZipBytes.
	MaxEntries int   `json:"max_entries"`
	MaxMember  int64 `json:"max_member"`
	Budget     int64 `json:"budget"`
}

// SevenZipResult is what opening a 7z archive gave.
type SevenZipResult struct {
	Members  []SevenZipMember `json:"members,omitempty"`
	Problems []parser.Problem `json:"problems,omitempty"` // about the archive itself (too many entries)
	// Locked: no password given opens it.
	Locked bool `json:"locked,omitempty"`
	// Failed says why the archive could not be read at all, and Code is the archive's
	// problem then: parser.CodeTooLarge when reading it ran past the reader's memory or time
	// (a hostile header), parser.CodeTooSlow past the message's reading budget,
	// parser.CodeCorrupt when "".
	Failed string `json:"failed,omitempty"`
	Code   string `json:"code,omitempty"`
}

// SevenZipMember is one member read from a 7z archive, or the problem that kept it from being read.
type SevenZipMember struct {
	Name   string `json:"name"`
	Data   []byte `json:"data,omitempty"`
	Code   string `json:"code,omitempty"` // a problem code, "" when Data was read
	Detail string `json:"detail,omitempty"`
}

// SevenZipOpener opens a 7z archive where its reading is bounded (see above).
type SevenZipOpener func(data []byte, req SevenZipRequest) SevenZipResult

// ServeSevenZip is a sandbox worker's ArchiveFunc: args is a JSON SevenZipRequest, the answer
// a JSON SevenZipResult.
func ServeSevenZip(data, args []byte) []byte {
	var req SevenZipRequest
	res := SevenZipResult{Failed: "bad request"}
	if json.Unmarshal(args, &req) == nil {
		res = OpenSevenZip(data, req)
	}
	b, err := json.Marshal(res)
	if err != nil {
		b, _ = json.Marshal(SevenZipResult{Failed: err.Error()})
	}
	return b
}

// readSevenZip reads a 7z attachment at zpath as readZip reads a ZIP: its members become attachments
// "ZPATH/MEMBER"; an encrypted archive gets password_zip and is kept in Message.Locked until Unlock gives it
// passwords. budget is shared with archives nested inside this one. Without Limits.SevenZip the
// archive is not opened: it stays an attachment like any other file.
func (rd *reader) readSevenZip(zpath string, data []byte, depth int, budget *int64) {
	open := rd.lim.SevenZip
	if open == nil {
		return
	}
	req := SevenZipRequest{Unlock: rd.passwords != nil, MaxEntries: rd.lim.MaxZipEntries, MaxMember: rd.lim.MaxAttachmentBytes, Budget: *budget}
	for _, pw := range rd.passwords {
		if pw != "" {
			req.Passwords = append(req.Passwords, pw)
		}
	}
	res := open(data, req)
	for _, pr := range res.Problems {
		rd.problem(pr.Code, zpath, pr.Detail)
	}
	switch {
	case res.Failed != "" && res.Code != "":
		rd.problem(res.Code, zpath, "7z archive not read: "+res.Failed)
		return
	case res.Failed != "":
		rd.problem(parser.CodeCorrupt, zpath, "unreadable 7z archive: "+res.Failed)
		return
	case res.Locked && rd.passwords == nil:
		rd.problem(parser.CodePasswordZip, zpath, "encrypted 7z archive")
		rd.msg.Locked = append(rd.msg.Locked, Locked{Path: zpath, Data: data})
		return
	case res.Locked:
		rd.problem(CodeWrongPassword, zpath, "no stated password opens the 7z archive")
		return
	}
	pdfs := 0
	for _, m := range res.Members {
		mpath := zpath + "/" + m.Name
		if m.Code != "" {
			rd.problem(m.Code, mpath, m.Detail)
			continue
		}
		*budget -= int64(len(m.Data))
		a := Attachment{Name: path.Base(m.Name), ContentType: typeByName(m.Name), Path: mpath, Data: m.Data}
		if looksPDF(a.ContentType, a.Name, a.Data) {
			pdfs++
		}
		rd.add(a, depth, budget)
	}
	if pdfs > 0 {
		rd.problem(parser.CodeZipAttachment, zpath, fmt.Sprintf("%d PDF files read from the 7z archive", pdfs))
	}
}

// OpenSevenZip opens a 7z archive in this process, within req's bounds for what it extracts
// but not for what the library allocates while reading the header: only a sandbox worker
// (ServeSevenZip), or a test or tool that trusts its input, calls it.
func OpenSevenZip(data []byte, req SevenZipRequest) (res SevenZipResult) {
	defer func() {
		if p := recover(); p != nil {
			res = SevenZipResult{Failed: fmt.Sprintf("7z reader failed: %v", p)}
		}
	}()
	pws := []string{""}
	if req.Unlock {
		pws = req.Passwords
	}
	err := errLocked7z // no candidates open nothing
	for _, pw := range pws {
		res, err = openSevenZip(data, pw, req)
		if !errors.Is(err, errLocked7z) {
			break
		}
	}
	switch {
	case errors.Is(err, errLocked7z):
		return SevenZipResult{Locked: true}
	case err != nil:
		return SevenZipResult{Failed: err.Error()}
	}
	return res
}

// openSevenZip reads the members of a 7z archive with password pw ("" for none) within the entry count, the
// member size and the budget. errLocked7z says the password does not open it; a member that fails otherwise is
// returned with its problem.
func openSevenZip(data []byte, pw string, req SevenZipRequest) (SevenZipResult, error) {
	var res SevenZipResult
	zr, err := sevenzip.NewReaderWithPassword(bytes.NewReader(data), int64(len(data)), pw)
	if err != nil {
		if encryptedHint(err) {
			return res, errLocked7z // the header is encrypted (-mhe) and pw is not its password
		}
		return res, err
	}
	files := zr.File
	if len(files) > req.MaxEntries {
		res.Problems = append(res.Problems, parser.Problem{Code: parser.CodeTooLarge,
			Detail: fmt.Sprintf("7z archive has %d entries, only the first %d are read", len(files), req.MaxEntries)})
		files = files[:req.MaxEntries]
	}
	budget := req.Budget
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
		limit := min(req.MaxMember, budget)
		if cut[f.Stream] {
			res.Members = append(res.Members, SevenZipMember{Name: name, Code: parser.CodeTooLarge, Detail: "7z member follows one past its limit in a solid stream"})
			continue
		}
		if f.UncompressedSize > uint64(limit) {
			cut[f.Stream] = true
			res.Members = append(res.Members, SevenZipMember{Name: name, Code: parser.CodeTooLarge, Detail: fmt.Sprintf("7z member declares %d bytes, limit %d", f.UncompressedSize, limit)})
			continue
		}
		b, err := readSevenZipFile(f, limit)
		budget -= int64(len(b))
		switch {
		case err != nil && encryptedHint(err):
			return SevenZipResult{}, errLocked7z
		case int64(len(b)) > limit:
			cut[f.Stream] = true
			res.Members = append(res.Members, SevenZipMember{Name: name, Code: parser.CodeTooLarge, Detail: fmt.Sprintf("7z member expands past %d bytes (declared %d)", limit, f.UncompressedSize)})
		case err != nil:
			res.Members = append(res.Members, SevenZipMember{Name: name, Code: parser.CodeCorrupt, Detail: fmt.Sprintf("unreadable 7z member: %v", err)})
		case f.CRC32 != 0 && crc32.ChecksumIEEE(b) != f.CRC32:
			// A stored (-mx0) member decrypted with a wrong password is noise no decompressor rejects.
			if pw != "" {
				return SevenZipResult{}, errLocked7z
			}
			res.Members = append(res.Members, SevenZipMember{Name: name, Code: parser.CodeCorrupt, Detail: "7z member: CRC mismatch"})
		default:
			res.Members = append(res.Members, SevenZipMember{Name: name, Data: b})
		}
	}
	return res, nil
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
