package inbound

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"hosho-intake/parser"
	"hosho-intake/parser/testkit"
)

type truthFile struct {
	Size     int64    `json:"size"`
	Problems []string `json:"problems"`
	From     *string  `json:"from"`
	Subject  *string  `json:"subject"`
	Notices  []struct {
		AuthKey        string `json:"auth_key"`
		ContractNumber string `json:"contract_number"`
		Source         string `json:"source"`
	} `json:"notices"`
	Attachments []struct {
		Filename    string `json:"filename"`
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
		Members     []string
	} `json:"attachments"`
}

// ownedCodes are the problem codes this package decides; the others are the PDF reader's.
var ownedCodes = []string{parser.CodeZipAttachment, parser.CodePasswordZip, parser.CodeTooLarge,
	parser.CodeAutoSubmitted, parser.CodeBounce, parser.CodeMailingList}

func TestSamples(t *testing.T) {
	dir := testkit.Samples(t, "eml")
	files, err := filepath.Glob(filepath.Join(dir, "*.eml*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .eml in %s", dir)
	}
	for _, file := range files {
		base := filepath.Base(file)
		stem := strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".eml")
		t.Run(stem, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(file, ".gz") {
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				if raw, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			tb, err := os.ReadFile(filepath.Join(dir, stem+".truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			var truth truthFile
			if err := json.Unmarshal(tb, &truth); err != nil {
				t.Fatal(err)
			}
			m, err := Read(bytes.NewReader(raw), DefaultLimits())
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			checkSample(t, m, &truth)
			// The poll's way, where the bytes lie: the same message, the bytes untouched.
			kept := bytes.Clone(raw)
			if mb := ReadBytes(raw, DefaultLimits()); !reflect.DeepEqual(mb, m) {
				t.Errorf("ReadBytes read otherwise than Read:\n%+v\n%+v", mb, m)
			}
			if !bytes.Equal(raw, kept) {
				t.Error("ReadBytes changed the message it read")
			}
		})
	}
}

func checkSample(t *testing.T, m *Message, truth *truthFile) {
	t.Helper()
	t.Logf("classes %v problems %v defects %v paths %v texts %d", m.Classes, m.Problems, m.Defects, paths(m.Attachments), len(m.Texts))
	if truth.Size != 0 && m.Size != truth.Size {
		t.Errorf("Size = %d, want %d", m.Size, truth.Size)
	}
	if truth.Subject != nil && m.Subject != *truth.Subject {
		t.Errorf("Subject = %q, want %q", m.Subject, *truth.Subject)
	}
	if truth.From != nil && m.From != *truth.From {
		t.Errorf("From = %q, want %q", m.From, *truth.From)
	}
	if m.Subject == "" || m.From == "" || m.MessageID == "" || m.Date.IsZero() {
		t.Errorf("headers incomplete: subject %q from %q id %q date %v", m.Subject, m.From, m.MessageID, m.Date)
	}
	var want, got []string
	for _, c := range truth.Problems {
		if slices.Contains(ownedCodes, c) {
			want = append(want, c)
		}
	}
	got = append(got, m.Classes...)
	for _, p := range m.Problems {
		if slices.Contains(ownedCodes, p.Code) && !slices.Contains(got, p.Code) {
			got = append(got, p.Code)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("classes+problems = %v, want %v (problems %+v)", got, want, m.Problems)
	}
	for _, p := range m.Problems {
		if p.Code == parser.CodeCorrupt {
			t.Errorf("unexpected problem %+v", p)
		}
	}
	if slices.Contains(truth.Problems, parser.CodeTooLarge) || len(m.Classes) > 0 {
		if len(m.Texts) > 0 || len(m.Attachments) > 0 {
			t.Errorf("texts %d, attachments %d: want none from a message not to be mined", len(m.Texts), len(m.Attachments))
		}
		return
	}
	if len(m.Texts) == 0 && len(truth.Attachments) > 0 {
		t.Errorf("no text body")
	}
	byName := map[string]Attachment{}
	byPath := map[string]Attachment{}
	for _, a := range m.Attachments {
		byName[a.Name] = a
		byPath[a.Path] = a
	}
	for _, ta := range truth.Attachments {
		a, ok := byName[ta.Filename]
		if !ok {
			t.Errorf("attachment %q missing; have %v", ta.Filename, names(m.Attachments))
			continue
		}
		if !strings.EqualFold(a.ContentType, ta.ContentType) {
			t.Errorf("attachment %q: ContentType %q, want %q", ta.Filename, a.ContentType, ta.ContentType)
		}
		if ta.Size != 0 && int64(len(a.Data)) != ta.Size {
			t.Errorf("attachment %q: %d bytes, want %d", ta.Filename, len(a.Data), ta.Size)
		}
		if strings.HasSuffix(ta.Filename, ".pdf") {
			if !a.PDF || !bytes.HasPrefix(a.Data, []byte("%PDF")) {
				t.Errorf("attachment %q: PDF %v, starts %q", ta.Filename, a.PDF, a.Data[:min(8, len(a.Data))])
			}
		}
	}
	texts := norm.NFKC.String(strings.Join(m.Texts, "\n"))
	for _, n := range truth.Notices {
		switch {
		case n.Source == "body":
			if !strings.Contains(texts, n.AuthKey) || !strings.Contains(texts, n.ContractNumber) {
				t.Errorf("body notice %s/%s not in texts:\n%s", n.ContractNumber, n.AuthKey, texts)
			}
		case strings.HasPrefix(n.Source, "attachment:"):
			p := strings.TrimPrefix(n.Source, "attachment:")
			if a, ok := byPath[p]; !ok || !a.PDF || !bytes.HasPrefix(a.Data, []byte("%PDF")) {
				t.Errorf("notice source %q: no PDF at Path %q; have %v", n.Source, p, paths(m.Attachments))
			}
		case strings.HasPrefix(n.Source, "forwarded:"):
			if a, ok := byPath[n.Source]; !ok || !a.PDF {
				t.Errorf("notice source %q: no PDF at that Path; have %v", n.Source, paths(m.Attachments))
			}
		default:
			t.Errorf("unknown notice source %q", n.Source)
		}
	}
}

func names(as []Attachment) []string {
	var s []string
	for _, a := range as {
		s = append(s, a.Name)
	}
	return s
}

func paths(as []Attachment) []string {
	var s []string
	for _, a := range as {
		s = append(s, a.Path)
	}
	return s
}

// BenchmarkReadSamples reads the shared corpus's real producers' mails (*.eml) as the poll
// does (ReadBytes of the downloaded message): B/op and allocs/op are per mail.
func BenchmarkReadSamples(b *testing.B) {
	files, err := filepath.Glob(filepath.Join(testkit.Samples(b, "eml"), "*.eml"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no .eml samples: %v", err)
	}
	var raws [][]byte
	total := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		raws = append(raws, raw)
		total += len(raw)
	}
	b.SetBytes(int64(total / len(raws)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if m := ReadBytes(raws[i%len(raws)], Limits{}); m.Size == 0 {
			b.Fatal("empty read")
		}
		i++
	}
}

// TestReadBytesKeepsNoReference: what ReadBytes reads from the real producers' mails does
// not refer to the buffer it read them from, which the poll reuses for the next download
// once the message is recorded (msgbuf.Release).
func TestReadBytesKeepsNoReference(t *testing.T) {
	eachSampleMail(t, func(name string, raw []byte) {
		want := ReadBytes(bytes.Clone(raw), Limits{})
		got := ReadBytes(raw, Limits{})
		for i := range raw {
			raw[i] = 0
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: what ReadBytes read changed with its buffer", name)
		}
	})
}

// eachSampleMail calls f with each real mail of the shared corpus, read into a buffer of
// its own.
func eachSampleMail(t *testing.T, f func(name string, raw []byte)) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testkit.Samples(t, "eml"), "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .eml samples: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f(filepath.Base(file), raw)
	}
}

// TestReadHeader: ReadHeader reads of each real mail's header what ReadBytes reads of it,
// and nothing of the body; it too keeps no reference to its buffer.
func TestReadHeader(t *testing.T) {
	eachSampleMail(t, func(name string, raw []byte) {
		whole := ReadBytes(bytes.Clone(raw), Limits{})
		h := ReadHeader(raw)
		for i := range raw {
			raw[i] = 0
		}
		got := []any{h.MessageID, h.From, h.FromName, h.Subject, h.Date, h.InReplyTo, h.References, h.ReturnPath, h.Header, h.Size}
		want := []any{whole.MessageID, whole.From, whole.FromName, whole.Subject, whole.Date, whole.InReplyTo, whole.References, whole.ReturnPath, whole.Header, whole.Size}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ReadHeader read %v, want %v", name, got, want)
		}
		if h.MessageID == "" || h.From == "" {
			t.Errorf("%s: ReadHeader found no Message-ID or From", name)
		}
		if len(h.Texts) > 0 || len(h.Attachments) > 0 {
			t.Errorf("%s: ReadHeader read the body: %d texts, %d attachments", name, len(h.Texts), len(h.Attachments))
		}
	})
}
