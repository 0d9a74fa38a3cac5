package inbound

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"hosho-intake/intake/ppapzip"
	"hosho-intake/parser"
	"hosho-intake/parser/testkit"
)

var pdfBytes = []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + strings.Repeat("filler ", 200))

func TestUnlockKinds(t *testing.T) {
	for _, kind := range []string{ppapzip.ZipCrypto, ppapzip.AES128, ppapzip.AES256} {
		for _, cp932 := range []bool{false, true} {
			name := "認証キー等のお知らせ.pdf"
			z, err := ppapzip.Write(kind, "Hirose0611", ppapzip.Member{Name: name, Data: pdfBytes, CP932: cp932})
			if err != nil {
				t.Fatal(err)
			}
			// Read keeps it locked.
			m := readZipMessage(t, z)
			if len(m.Locked) != 1 || !hasCode(m.Problems, parser.CodePasswordZip) {
				t.Fatalf("%s cp932=%v: Read locked %d, problems %v", kind, cp932, len(m.Locked), m.Problems)
			}
			for _, c := range []struct {
				pws  []string
				want bool
			}{
				{[]string{"Hirose0611"}, true},
				{[]string{"wrong", "Hirose0611"}, true},
				{[]string{"hirose0611"}, false},
				{nil, false},
			} {
				u := Unlock(m.Locked[0], c.pws, Limits{})
				got := len(u.Attachments) == 1 && bytes.Equal(u.Attachments[0].Data, pdfBytes) && u.Attachments[0].PDF
				if got != c.want {
					t.Errorf("%s cp932=%v: Unlock(%q) opened %v, want %v (problems %v)", kind, cp932, c.pws, got, c.want, u.Problems)
				}
				if got && u.Attachments[0].Name != name {
					t.Errorf("%s cp932=%v: member name %q, want %q", kind, cp932, u.Attachments[0].Name, name)
				}
				if !c.want && !hasCode(u.Problems, CodeWrongPassword) {
					t.Errorf("%s: Unlock(%q) problems %v, want %s", kind, c.pws, u.Problems, CodeWrongPassword)
				}
			}
		}
	}
}

// TestUnlockTools opens ZIPs written by Info-ZIP's zip -P (ZipCrypto) and 7-Zip (AES-256),
// where they are installed: the reader is not tested only against the package's own writer.
func TestUnlockTools(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "n.pdf"), pdfBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	tools := []struct {
		bin  string
		args []string
	}{
		{"zip", []string{"-q", "-P", "パス0611", "zc.zip", "n.pdf"}},
		{"7z", []string{"a", "-bd", "-tzip", "-mem=AES256", "-pPass0611", "aes.zip", "n.pdf"}},
		{"7z", []string{"a", "-bd", "-tzip", "-mem=AES128", "-pHirose0611", "aes128.zip", "n.pdf"}},
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool.bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed (CI installs zip and p7zip-full)", tool.bin)
			}
			t.Logf("%s not installed: skipped", tool.bin)
			continue
		}
		cmd := exec.Command(tool.bin, tool.args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", tool.bin, err, out)
		}
		var out string
		for _, a := range tool.args {
			if strings.HasSuffix(a, ".zip") {
				out = a
			}
		}
		z, err := os.ReadFile(filepath.Join(dir, out))
		if err != nil {
			t.Fatal(err)
		}
		m := readZipMessage(t, z)
		if len(m.Locked) != 1 {
			t.Fatalf("%s: not locked: %v", out, m.Problems)
		}
		pw := strings.TrimPrefix(tool.args[slicesIndex(tool.args, out)-1], "-p")
		if tool.bin == "zip" {
			pw = "パス0611"
		}
		u := Unlock(m.Locked[0], []string{"nope", pw}, Limits{})
		if len(u.Attachments) != 1 || !bytes.Equal(u.Attachments[0].Data, pdfBytes) {
			t.Errorf("%s: Unlock = %d attachments, problems %v", out, len(u.Attachments), u.Problems)
		}
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestUnlockSample opens the shared PPAP pair's ZIP (Info-ZIP zip -P, a CP932 member name)
// with the password its truth file gives.
func TestUnlockSample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testkit.Samples(t, "eml"), "se08-ppap-password-zip.eml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Read(bytes.NewReader(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Locked) != 1 {
		t.Fatalf("Locked = %d, want 1 (problems %v)", len(m.Locked), m.Problems)
	}
	u := Unlock(m.Locked[0], []string{"Hirose0611"}, Limits{})
	if len(u.Attachments) != 1 || !u.Attachments[0].PDF || u.Attachments[0].Name != "認証キー等のお知らせ.pdf" {
		t.Fatalf("Unlock = %+v, problems %v", u.Attachments, u.Problems)
	}
	if u := Unlock(m.Locked[0], []string{"Hirose0612"}, Limits{}); len(u.Attachments) != 0 || !hasCode(u.Problems, CodeWrongPassword) {
		t.Errorf("wrong password: %d attachments, problems %v", len(u.Attachments), u.Problems)
	}
}

// TestUnlockBomb: a password does not lift the bounds: a member expanding past the limit is too_large.
func TestUnlockBomb(t *testing.T) {
	big := bytes.Repeat([]byte{0}, 4<<20)
	z, err := ppapzip.Write(ppapzip.AES256, "pw", ppapzip.Member{Name: "bomb.pdf", Data: big})
	if err != nil {
		t.Fatal(err)
	}
	u := Unlock(Locked{Path: "a.zip", Data: z}, []string{"pw"}, Limits{MaxAttachmentBytes: 1 << 20})
	if len(u.Attachments) != 0 || !hasCode(u.Problems, parser.CodeTooLarge) {
		t.Errorf("bomb: %d attachments, problems %v", len(u.Attachments), u.Problems)
	}
}

func readZipMessage(t *testing.T, z []byte) *Message {
	t.Helper()
	return readArchiveMessage(t, "application/zip", "a.zip", z)
}

// readArchiveMessage reads a message with a covering text and one attachment of type contentType.
func readArchiveMessage(t *testing.T, contentType, name string, z []byte) *Message {
	t.Helper()
	m, err := Read(strings.NewReader(archiveMailOf(contentType, name, z)), Limits{SevenZip: viaWorker})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// archiveMail is a message with one attachment, name, holding z.
func archiveMail(name string, z []byte) string {
	return archiveMailOf("application/octet-stream", name, z)
}

func archiveMailOf(contentType, name string, z []byte) string {
	var b strings.Builder
	b.WriteString("From: a@example.jp\r\nSubject: zip\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nzip\r\n--B\r\n")
	b.WriteString("Content-Type: " + contentType + "; name=\"" + name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(b64w(string(z)))
	b.WriteString("\r\n--B--\r\n")
	return b.String()
}

func hasCode(ps []parser.Problem, code string) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}

// TestReadAtMost: whatever size a member declares, what comes out is its bytes up to one
// past the limit, as io.ReadAll of a LimitReader gave.
func TestReadAtMost(t *testing.T) {
	data := bytes.Repeat([]byte("認証キー"), 1000) // 12,000 bytes
	for _, c := range []struct {
		name        string
		size, limit int64
		want        int
	}{
		{"declared true", 12000, 20000, 12000},
		{"declared small", 10, 20000, 12000},
		{"declared zero", 0, 20000, 12000},
		{"declared large", 1 << 30, 20000, 12000},
		{"at the limit", 12000, 12000, 12000},
		{"past the limit", 12000, 11999, 12000},
		{"far past the limit", 12000, 100, 101},
		{"limit zero", 12000, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAtMost(iotest.HalfReader(bytes.NewReader(data)), c.size, c.limit)
			if err != nil || !bytes.Equal(got, data[:c.want]) {
				t.Fatalf("readAtMost(size %d, limit %d) = %d bytes, %v; want the first %d", c.size, c.limit, len(got), err, c.want)
			}
		})
	}
	if _, err := readAtMost(iotest.TimeoutReader(bytes.NewReader(data)), 100, 20000); err == nil {
		t.Fatal("a failing reader's error was lost")
	}
}

// TestReleaseKeepsLocked: Release gives back the buffers of what was read (the recycled
// buffers are overwritten by the next message here) but not a password ZIP's, which waits
// for its password; each attachment's Data ends at its own bytes, never in an earlier
// message's left in a recycled buffer.
func TestReleaseKeepsLocked(t *testing.T) {
	// Of one buffer class (msgbuf's 18 to 20 KiB), so that the second takes the first's.
	pdf := append(bytes.Clone(pdfBytes), make([]byte, 20000)...)
	rand.NewChaCha8([32]byte{}).Read(pdf[len(pdfBytes):])
	z, err := ppapzip.Write(ppapzip.ZipCrypto, "Hirose0611", ppapzip.Member{Name: "n.pdf", Data: pdf})
	if err != nil {
		t.Fatal(err)
	}
	plain := zipRaw(t, zipMember{name: "p.pdf", data: pdf[:19000]})
	for round := range 3 {
		m := ReadBytes([]byte(archiveMail("locked.zip", z)), Limits{})
		if len(m.Locked) != 1 || !bytes.Equal(m.Locked[0].Data, z) {
			t.Fatalf("round %d: locked %d, want the ZIP", round, len(m.Locked))
		}
		m.Release()
		for _, a := range m.Attachments {
			if a.Data != nil {
				t.Fatalf("round %d: %s keeps its data after Release", round, a.Path)
			}
		}
		// The next message decodes into what was released, and is written over it.
		next := ReadBytes([]byte(archiveMail("plain.zip", plain)), Limits{})
		for _, a := range next.Attachments {
			if cap(a.Data) != len(a.Data) {
				t.Fatalf("round %d: %s is %d bytes in a slice of %d", round, a.Path, len(a.Data), cap(a.Data))
			}
			for i := range a.Data {
				a.Data[i] = '#'
			}
		}
		next.Release()
		if !bytes.Equal(m.Locked[0].Data, z) {
			t.Fatalf("round %d: the password ZIP changed after Release", round)
		}
	}
}
