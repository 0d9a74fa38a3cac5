package web_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/ledger"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// fileOCR records a contractor's scan whose notice n was read by OCR from page 1 of scan.jpg,
// with its page image kept beside the raw message, as the poll does, and files it.
func (f *fixture) fileOCR(uid int, n parser.Notice, pagePNG []byte, received time.Time) verifier.Submission {
	f.t.Helper()
	raw := fmt.Sprintf("From: scan%d@kensetsu.example\r\nTo: %s\r\nSubject: scan\r\nMessage-ID: <scan%d@kensetsu.example>\r\n\r\nscan\r\n", uid, agency, uid)
	msg := []byte(raw)
	e := &ledger.Entry{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(uid), MessageID: fmt.Sprintf("<scan%d@kensetsu.example>", uid),
		Digest: ledger.Digest([]byte(raw)), From: fmt.Sprintf("scan%d@kensetsu.example", uid), TakenAt: received, Outcome: "notices", Notices: 1}
	var filed verifier.Filed
	items := []ledger.Item{{Entry: e, Raw: msg, Images: []ledger.Image{{Attachment: n.Attachment, Page: n.Page, PNG: pagePNG}}}}
	err := f.svc.Ledger.RecordBatch(items, func(tx *bolt.Tx, e *ledger.Entry) error {
		var err error
		filed, err = f.svc.Queue.Submit(tx, n, verifier.Decision{Outcome: verifier.OutcomeQueued, Policy: "shimane", PolicyVersion: "2023-06"},
			verifier.Meta{Entry: e.ID, Sender: e.From, MessageID: e.MessageID, Received: received})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return filed.Submission
}

// TestPageImage: the item page of a notice read by OCR links the page it was read from; a
// signed-in clerk gets it as a PNG under a CSP that lets nothing run, recorded as a key
// shown; without a session, or for an item not read by OCR, there is no image.
func TestPageImage(t *testing.T) {
	f := newFixture(t)
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 120, 170))); err != nil {
		t.Fatal(err)
	}
	n := parser.Notice{Category: "前払金保証", ContractNumber: "2094591510", AuthKey: "HR0E4FWKFQ", ProjectName: "県道松江木次線道路改良工事",
		Orderer: "島根県知事", Guarantor: "西日本建設業保証株式会社", Source: parser.SourceOCR, Attachment: "scan.jpg", Page: 1,
		OCR: &parser.OCRMarks{Confidence: map[string]float64{"auth_key": 0.97}, Unsure: []string{}}}
	sub := f.fileOCR(10, n, img.Bytes(), time.Date(2026, 6, 29, 1, 0, 0, 0, time.UTC))
	path := fmt.Sprintf("/items/%d/page-image", sub.ID)

	stranger := f.browser()
	if p := f.get(stranger, path); p.status != http.StatusSeeOther || strings.Contains(p.body, "PNG") {
		t.Errorf("without a session: %d %q, want a redirect to sign in and no image", p.status, p.header.Get("Content-Type"))
	}

	c, _ := f.signIn(clerk)
	item := f.get(c, fmt.Sprintf("/items/%d", sub.ID))
	if item.status != http.StatusOK || !strings.Contains(item.body, path) || !strings.Contains(item.body, "scan.jpg 1ページ") {
		t.Errorf("item page %d does not link its page image %s:\n%s", item.status, path, item.body)
	}
	p := f.get(c, path)
	if p.status != http.StatusOK || p.header.Get("Content-Type") != "image/png" || p.body != img.String() {
		t.Fatalf("page image: %d %q, %d bytes; want the %d bytes kept, as image/png", p.status, p.header.Get("Content-Type"), len(p.body), img.Len())
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("page image CSP %q, want default-src 'none' and no script", csp)
	}
	if p.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("page image without nosniff")
	}
	shown := 0
	for _, ch := range f.item(sub.ID).History {
		if ch.How == verifier.HowKeyShown && ch.By == clerk {
			shown++
		}
	}
	if shown != 1 {
		t.Errorf("%d key-shown records after the image was opened, want 1", shown)
	}
	// An item read from a PDF's text has no page image.
	if p := f.get(c, fmt.Sprintf("/items/%d/page-image", f.items[0].ID)); p.status != http.StatusNotFound {
		t.Errorf("page image of a text-layer item: %d, want 404", p.status)
	}
}
