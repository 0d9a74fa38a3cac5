package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hosho-intake/intake/dovecottest"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/parser/ocr"
)

// pngPart is an image/png part of a mail: its file name and decoded bytes.
type pngPart struct {
	name string
	data []byte
}

// pngParts walks a message's MIME tree and returns its image/png parts.
func pngParts(t *testing.T, ctype, cte string, body io.Reader) []pngPart {
	t.Helper()
	ct, params, _ := mime.ParseMediaType(ctype)
	if strings.HasPrefix(ct, "multipart/") {
		var out []pngPart
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return out
			}
			found := pngParts(t, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if _, disp, err := mime.ParseMediaType(p.Header.Get("Content-Disposition")); err == nil && len(found) == 1 && found[0].name == "" {
				found[0].name = disp["filename"]
			}
			out = append(out, found...)
		}
	}
	if ct != "image/png" {
		return nil
	}
	if !strings.EqualFold(cte, "base64") {
		t.Fatalf("image/png part in %q, want base64", cte)
	}
	data, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, body))
	if err != nil {
		t.Fatal(err)
	}
	return []pngPart{{data: data}}
}

// TestOCRDigestPageImage: a scanned notice taken in by `once` (Dovecot, the real sandbox
// workers with OCR) is listed in the digest with the page it was read from attached as a
// PNG, named as its card says, within the page image's bounds.
func TestOCRDigestPageImage(t *testing.T) {
	needOCRTools(t)
	srv := dovecottest.Start(t)
	peer := startSMTPPeer(t)
	srv.Append(t, "INBOX", scanMail(scanJPEG(t, noticepdf.Samples()[0])))
	cfg := writeConfigSMTP(t, srv, "none", filepath.Join(t.TempDir(), "state"), peer.addr)
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), env{args: []string{"once", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("once: %s", errOut.String())
	}
	before := len(peer.envelopes())
	if code := runCode(context.Background(), env{args: []string{"digest", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("digest: %s", errOut.String())
	}
	all := peer.envelopes()
	if len(all) != before+1 {
		t.Fatalf("digest sent %d messages, want 1", len(all)-before)
	}
	m, err := mail.ReadMessage(bytes.NewReader(all[before].Data))
	if err != nil {
		t.Fatal(err)
	}
	text := bodyText(t, m)
	m, _ = mail.ReadMessage(bytes.NewReader(all[before].Data))
	parts := pngParts(t, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	if len(parts) != 1 {
		t.Fatalf("digest carries %d PNG parts, want the one page image:\n%s", len(parts), text)
	}
	p := parts[0]
	if !strings.HasPrefix(p.name, "R-") || !strings.Contains(text, "画像から読み取り") || !strings.Contains(text, "（"+p.name+"）") {
		t.Errorf("PNG %q is not named by its card:\n%s", p.name, text)
	}
	img, err := png.Decode(bytes.NewReader(p.data))
	if err != nil {
		t.Fatalf("page image does not decode: %v", err)
	}
	b := img.Bounds()
	long := max(b.Dx(), b.Dy())
	if long > ocr.PageImageSide || long < 600 || len(p.data) > ocr.MaxPageImageBytes {
		t.Errorf("page image %dx%d, %d bytes; want the longest side in 600..%d and at most %d bytes",
			b.Dx(), b.Dy(), len(p.data), ocr.PageImageSide, ocr.MaxPageImageBytes)
	}
	t.Logf("page image %s: %dx%d, %d bytes", p.name, b.Dx(), b.Dy(), len(p.data))

	// A digest that masks keys (a shared list) carries no page image: it shows the key whole.
	conf, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	masked := strings.Replace(string(conf), "[digest]\n", "[digest]\nmask_key = true\n", 1)
	if masked == string(conf) || os.WriteFile(cfg, []byte(masked), 0o600) != nil {
		t.Fatal("could not set mask_key")
	}
	before = len(peer.envelopes())
	if code := runCode(context.Background(), env{args: []string{"digest", "--config", cfg}, getenv: noEnv, stdout: &out, stderr: &errOut}); code != 0 {
		t.Fatalf("digest: %s", errOut.String())
	}
	if all = peer.envelopes(); len(all) != before+1 {
		t.Fatalf("masked digest: %d messages, want 1", len(all)-before)
	}
	m, _ = mail.ReadMessage(bytes.NewReader(all[before].Data))
	if parts := pngParts(t, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body); len(parts) != 0 {
		t.Errorf("a digest with masked keys carries %d page images", len(parts))
	}
}
