package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hosho-intake/intake/samplemail"
	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/parser/ocr"
	"hosho-intake/parser/testkit"
)

// TestInspectCorpus: for every sample mail, inspect says whether it would be answered
// exactly as the truth's should_reply does, and judges every notice it read.
func TestInspectCorpus(t *testing.T) {
	dir := testkit.Samples(t)
	truths, _ := filepath.Glob(filepath.Join(dir, "eml", "*.truth.json"))
	if len(truths) == 0 {
		t.Fatal("no sample mails")
	}
	for _, tp := range truths {
		var tr struct {
			File        string            `json:"file"`
			ShouldReply bool              `json:"should_reply"`
			Notices     []json.RawMessage `json:"notices"`
			Unread      []json.RawMessage `json:"unread_notices"`
		}
		b, _ := os.ReadFile(tp)
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		t.Run(tr.File, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runCode(context.Background(), env{args: []string{"inspect", "--json", "--preset", "shimane", filepath.Join(dir, "eml", tr.File)},
				getenv: noEnv, stdout: &out, stderr: &errOut})
			if code != 0 {
				t.Fatalf("inspect exit %d: %s", code, errOut.String())
			}
			var got struct {
				Notices []struct {
					Source   string   `json:"source"`
					Decision string   `json:"decision"`
					Reasons  []string `json:"reasons"`
				} `json:"notices"`
				Reply struct {
					Send bool   `json:"send"`
					Why  string `json:"why"`
					Body string `json:"body"`
				} `json:"reply"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("bad JSON %s: %v", out.String(), err)
			}
			if got.Reply.Send != tr.ShouldReply {
				t.Errorf("reply.send = %v (%s), want %v", got.Reply.Send, got.Reply.Why, tr.ShouldReply)
			}
			if got.Reply.Send && got.Reply.Body == "" {
				t.Error("a reply with no body")
			}
			// Notices read by OCR are the truth's unread ones (image-only), at most.
			ocr := 0
			for _, n := range got.Notices {
				if n.Source == "ocr" {
					ocr++
				}
			}
			if len(got.Notices)-ocr != len(tr.Notices) || ocr > len(tr.Unread) {
				t.Fatalf("%d notices judged (%d by OCR), want %d (and at most %d by OCR)", len(got.Notices), ocr, len(tr.Notices), len(tr.Unread))
			}
			for i, n := range got.Notices {
				if n.Decision != "queued" && n.Decision != "rejected" && n.Decision != "needs_review" {
					t.Errorf("notice %d: decision %q", i, n.Decision)
				}
			}
		})
	}
}

// TestInspectTypedMails: for every generated mail with notices typed in the body (issue 11),
// `inspect` concludes what a clerk would: each notice read with its number; one that lacks
// the 発注者 or the 保証機関 is never queued as certain (the clerk checks them on the
// certificate); the sender is answered, the answer names each number read, and a notice
// that could not be read is named by what it lacks.
func TestInspectTypedMails(t *testing.T) {
	for _, s := range samplemail.Typed(3) {
		t.Run(s.Name, func(t *testing.T) {
			raw, err := s.Mail.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "m.eml")
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := runCode(context.Background(), env{args: []string{"inspect", "--json", "--preset", "shimane", path}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
				t.Fatalf("inspect: exit %d: %s", code, errOut.String())
			}
			var got struct {
				Notices []struct {
					ContractNumber *string `json:"contract_number"`
					Orderer        *string `json:"orderer"`
					Guarantor      *string `json:"guarantor"`
					Decision       string  `json:"decision"`
				} `json:"notices"`
				Problems []struct{ Code string } `json:"problems"`
				Reply    struct {
					Send bool
					Body string
				} `json:"reply"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("inspect --json: %v\n%s", err, out.String())
			}
			if len(got.Notices) != len(s.Notices) || len(got.Problems) != len(s.Problems) {
				t.Fatalf("%d notices, %d problems; want %d, %d:\n%s", len(got.Notices), len(got.Problems), len(s.Notices), len(s.Problems), out.String())
			}
			if !got.Reply.Send {
				t.Fatalf("the sender is not answered:\n%s", out.String())
			}
			for i, n := range got.Notices {
				if n.ContractNumber == nil || *n.ContractNumber != s.Notices[i].ContractNumber {
					t.Errorf("notice %d: number %v, want %s", i, n.ContractNumber, s.Notices[i].ContractNumber)
					continue
				}
				if (n.Orderer == nil || n.Guarantor == nil) && n.Decision == "queued" {
					t.Errorf("notice %s lacks the 発注者 or 保証機関 yet is queued as certain", *n.ContractNumber)
				}
				if !strings.Contains(got.Reply.Body, *n.ContractNumber) {
					t.Errorf("the reply does not name %s:\n%s", *n.ContractNumber, got.Reply.Body)
				}
			}
			if len(s.Problems) > 0 && !strings.Contains(got.Reply.Body, "見当たりませんでした") && !strings.Contains(got.Reply.Body, "読み取れませんでした") {
				t.Errorf("the reply does not say what could not be read:\n%s", got.Reply.Body)
			}
		})
	}
}

// TestInspectPPAPPair: the shared samples' PPAP pair yields its notice in `inspect` of the
// pair (issue 13); the password ZIP alone yields none, and a wrong password mail none.
func TestInspectPPAPPair(t *testing.T) {
	dir := testkit.Samples(t)
	zip, key := filepath.Join(dir, "eml", "se08-ppap-password-zip.eml"), filepath.Join(dir, "eml", "se09-ppap-password-followup.eml")
	var tr struct {
		Unread []struct {
			ContractNumber string `json:"contract_number"`
		} `json:"unread_notices"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "eml", "se08-ppap-password-zip.truth.json"))
	if err != nil || json.Unmarshal(b, &tr) != nil || len(tr.Unread) != 1 {
		t.Fatalf("truth of se08: %v", err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong.eml")
	if err := os.WriteFile(wrong, []byte("From: a@b.example\r\nSubject: PW\r\n\r\nパスワード：wrong-one\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		files []string
		want  []string
	}{
		{"the pair", []string{zip, key}, []string{tr.Unread[0].ContractNumber}},
		{"the ZIP alone", []string{zip}, nil},
		{"a wrong password", []string{zip, wrong}, nil},
	} {
		var out, errOut bytes.Buffer
		if code := runCode(context.Background(), env{args: append([]string{"inspect", "--json", "--preset", "shimane"}, tt.files...), getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
			t.Fatalf("%s: exit %d: %s", tt.name, code, errOut.String())
		}
		var got struct {
			Notices []struct {
				ContractNumber string `json:"contract_number"`
			} `json:"notices"`
		}
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var numbers []string
		for _, n := range got.Notices {
			numbers = append(numbers, n.ContractNumber)
		}
		if strings.Join(numbers, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: notices %v, want %v", tt.name, numbers, tt.want)
		}
	}
}

// TestInspectOCROrdererSettled: `inspect` judges a notice read from an image as the daemon
// does (intake.Judge): a 発注者 one glyph away from exactly one of the agency's names is
// shown as that name, with a remark saying what the image gave, and is not unsure.
func TestInspectOCROrdererSettled(t *testing.T) {
	needOCRTools(t)
	n := noticepdf.Samples()[0]
	n.Orderer = "島根県和事" // one glyph from shimane's 島根県知事 (the 知 read as 和)
	jpg := scanJPEG(t, n)
	dir := t.TempDir()
	eml := filepath.Join(dir, "scan.eml")
	if err := os.WriteFile(eml, scanMail(jpg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"inspect", "--json", "--preset", "shimane", eml}, getenv: noEnv,
		stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("inspect exit %d: %s", code, errOut.String())
	}
	var got struct {
		Notices []struct {
			Source   string   `json:"source"`
			Orderer  string   `json:"orderer"`
			Remark   string   `json:"remark"`
			Unsure   []string `json:"unsure"`
			Decision string   `json:"decision"`
			Reasons  []string `json:"reasons"`
		} `json:"notices"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("bad JSON %s: %v", out.String(), err)
	}
	if len(got.Notices) != 1 || got.Notices[0].Source != "ocr" {
		t.Fatalf("notices = %s, want one read by OCR", out.String())
	}
	g := got.Notices[0]
	if g.Orderer != "島根県知事" || !strings.Contains(g.Remark, "島根県和事") || slices.Contains(g.Unsure, "orderer") {
		t.Errorf("orderer %q remark %q unsure %v, want 島根県知事, a remark naming 島根県和事, not unsure", g.Orderer, g.Remark, g.Unsure)
	}
	if slices.Contains(g.Reasons, "orderer_mismatch") {
		t.Errorf("reasons %v: the settled 発注者 is the agency's", g.Reasons)
	}
}

// needOCRTools fails under CI=true, and skips elsewhere, without tesseract (jpn) and pdftoppm.
func needOCRTools(t *testing.T) {
	t.Helper()
	err := ocr.Check(context.Background(), ocr.Options{})
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip(err)
}

// scanJPEG renders a generated notice as a contractor's scan: 200 dpi grey JPEG (pdftoppm).
func scanJPEG(t *testing.T, n parser.Notice) []byte {
	t.Helper()
	jpg, err := noticepdf.ScanJPEG([]parser.Notice{n}, 200, 0)
	if err != nil {
		t.Fatal(err)
	}
	return jpg
}

// scanMail is a contractor's mail with a scanned notice attached as a JPEG.
func scanMail(jpg []byte) []byte {
	return attachmentMail("scan.jpg", "image/jpeg", jpg, "<scan-1@yamada-kensetsu.example>")
}

// attachmentMail is a contractor's mail with one attachment, data named name, of type ctype.
func attachmentMail(name, ctype string, data []byte, messageID string) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	b.WriteString("From: koumu@yamada-kensetsu.example\r\nTo: keiyaku@pref.example.lg.jp\r\nSubject: scan\r\n" +
		"Date: Mon, 07 Apr 2025 10:00:00 +0900\r\nMessage-ID: " + messageID + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nscan attached\r\n" +
		"--b\r\nContent-Type: " + ctype + "; name=\"" + name + "\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"" + name + "\"\r\n\r\n")
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b--\r\n")
	return []byte(b.String())
}
