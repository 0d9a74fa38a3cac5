package inbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"hosho-intake/intake/ppapzip"
	"hosho-intake/parser"
)

// sevenZip writes files into a 7z archive with the real 7z tool (ppapzip.SevenZip). Under
// CI=true a missing 7z fails the test.
func sevenZip(t *testing.T, files map[string][]byte, args ...string) []byte {
	t.Helper()
	z, err := ppapzip.SevenZip(t.TempDir(), files, args...)
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("CI") != "true" {
		t.Skip("7z not installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// viaWorker opens a 7z archive as a sandbox worker does, through the JSON of its request
// and answer (ServeSevenZip), but in this process.
func viaWorker(data []byte, req SevenZipRequest) SevenZipResult {
	args, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	var res SevenZipResult
	if err := json.Unmarshal(ServeSevenZip(data, args), &res); err != nil {
		panic(err)
	}
	return res
}

func readSevenZipMessage(t *testing.T, z []byte) *Message {
	t.Helper()
	return readArchiveMessage(t, "application/octet-stream", "ninsho.7z", z)
}

// TestUnlockSevenZip: AES-256 7z archives as 7-Zip writes them, with and without the header encrypted
// (-mhe=on hides the member names too), stored and compressed, a Japanese password and member name: Read
// keeps them locked (password_zip), Unlock opens them with the right candidate and says wrong_password
// otherwise.
func TestUnlockSevenZip(t *testing.T) {
	const name = "認証キー等のお知らせ.pdf"
	for _, c := range []struct {
		name, pw string
		args     []string
	}{
		{"header encrypted", "ひろせ0611", []string{"-mhe=on"}},
		{"names visible", "Hirose0611", nil},
		{"stored, header encrypted", "Hirose0611", []string{"-mx0", "-mhe=on"}},
	} {
		z := sevenZip(t, map[string][]byte{name: pdfBytes}, append([]string{"-p" + c.pw}, c.args...)...)
		m := readSevenZipMessage(t, z)
		if len(m.Locked) != 1 || !hasCode(m.Problems, parser.CodePasswordZip) {
			t.Fatalf("%s: Read locked %d, problems %v", c.name, len(m.Locked), m.Problems)
		}
		for _, p := range []struct {
			pws  []string
			want bool
		}{
			{[]string{c.pw}, true},
			{[]string{"wrong", c.pw}, true},
			{[]string{"wrong"}, false},
			{nil, false},
		} {
			u := Unlock(m.Locked[0], p.pws, Limits{SevenZip: viaWorker})
			got := len(u.Attachments) == 1 && bytes.Equal(u.Attachments[0].Data, pdfBytes) && u.Attachments[0].PDF
			if got != p.want {
				t.Errorf("%s: Unlock(%q) opened %v, want %v (problems %v)", c.name, p.pws, got, p.want, u.Problems)
			}
			if got && (u.Attachments[0].Name != name || u.Attachments[0].Path != "ninsho.7z/"+name) {
				t.Errorf("%s: member %q at %q, want %q", c.name, u.Attachments[0].Name, u.Attachments[0].Path, name)
			}
			if !p.want && !hasCode(u.Problems, CodeWrongPassword) {
				t.Errorf("%s: Unlock(%q) problems %v, want %s", c.name, p.pws, u.Problems, CodeWrongPassword)
			}
		}
	}
}

// TestSevenZipPlain: a 7z without a password is read like a plain ZIP: its PDF is an attachment, and
// zip_attachment asks for the bare PDF next time.
func TestSevenZipPlain(t *testing.T) {
	m := readSevenZipMessage(t, sevenZip(t, map[string][]byte{"n.pdf": pdfBytes}))
	if len(m.Locked) != 0 || !hasCode(m.Problems, parser.CodeZipAttachment) {
		t.Fatalf("Read: locked %d, problems %v", len(m.Locked), m.Problems)
	}
	var pdfs int
	for _, a := range m.Attachments {
		if a.PDF && bytes.Equal(a.Data, pdfBytes) {
			pdfs++
		}
	}
	if pdfs != 1 {
		t.Errorf("Read: %d PDFs from the 7z, want 1", pdfs)
	}
}

// TestUnlockSevenZipBomb: the password does not lift the bounds: a member that declares or expands past the
// limit is too_large, and so is the small member behind it in the same solid stream; too many entries are
// cut at MaxZipEntries.
func TestUnlockSevenZipBomb(t *testing.T) {
	big := bytes.Repeat([]byte{0}, 4<<20)
	z := sevenZip(t, map[string][]byte{"a-bomb.pdf": big, "b.pdf": pdfBytes}, "-ppw", "-mhe=on", "-ms=on")
	u := Unlock(Locked{Path: "a.7z", Data: append([]byte(nil), z...)}, []string{"pw"}, Limits{MaxAttachmentBytes: 1 << 20, SevenZip: viaWorker})
	if len(u.Attachments) != 0 || !hasCode(u.Problems, parser.CodeTooLarge) {
		t.Errorf("bomb: %d attachments, problems %v", len(u.Attachments), u.Problems)
	}
	files := map[string][]byte{}
	for _, n := range []string{"1.pdf", "2.pdf", "3.pdf"} {
		files[n] = pdfBytes
	}
	z = sevenZip(t, files, "-ppw")
	u = Unlock(Locked{Path: "a.7z", Data: z}, []string{"pw"}, Limits{MaxZipEntries: 2, SevenZip: viaWorker})
	if len(u.Attachments) != 2 || !hasCode(u.Problems, parser.CodeTooLarge) {
		t.Errorf("entries: %d attachments, problems %v", len(u.Attachments), u.Problems)
	}
}

// TestSevenZipNotOpenedHere: without Limits.SevenZip (a bounded reader) Read does not open a 7z
// archive, not even a hostile one that would end the process (ppapzip.HostileSevenZip: 2^32-1
// files): it stays an attachment like any other file.
func TestSevenZipNotOpenedHere(t *testing.T) {
	for _, z := range [][]byte{ppapzip.HostileSevenZip(ppapzip.HostileFiles, 1<<32-1), sevenZip(t, map[string][]byte{"n.pdf": pdfBytes}, "-ppw")} {
		m, err := Read(strings.NewReader(archiveMail("ninsho.7z", z)), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Locked) != 0 || len(m.Problems) != 0 || len(m.Attachments) != 1 || m.Attachments[0].Name != "ninsho.7z" {
			t.Errorf("locked %d, problems %v, %d attachments; want the 7z kept unopened", len(m.Locked), m.Problems, len(m.Attachments))
		}
	}
}

// TestSevenZipHostileFailed: what a bounded reader says of an archive it could not read
// becomes the archive's problem: too_large when it ran out of memory or time, too_slow past the
// message's budget, corrupt otherwise,
// and the message's other attachments are read as ever.
func TestSevenZipHostileFailed(t *testing.T) {
	for _, c := range []struct {
		res  SevenZipResult
		want string
	}{
		{SevenZipResult{Failed: "reader used more than 512 MiB", Code: parser.CodeTooLarge}, parser.CodeTooLarge},
		{SevenZipResult{Failed: "took longer than 10s", Code: parser.CodeTooLarge}, parser.CodeTooLarge},
		{SevenZipResult{Failed: "the message's reading budget was spent", Code: parser.CodeTooSlow}, parser.CodeTooSlow},
		{SevenZipResult{Failed: "reader crashed: exit status 2"}, parser.CodeCorrupt},
	} {
		open := func([]byte, SevenZipRequest) SevenZipResult { return c.res }
		m, err := Read(strings.NewReader(archiveMail("ninsho.7z", ppapzip.HostileSevenZip(ppapzip.HostileCRCs, 1<<30))), Limits{SevenZip: open})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Problems) != 1 || m.Problems[0].Code != c.want || m.Problems[0].Attachment != "ninsho.7z" || len(m.Locked) != 0 {
			t.Errorf("%s: problems %v, want %s on ninsho.7z", c.res.Failed, m.Problems, c.want)
		}
	}
}
