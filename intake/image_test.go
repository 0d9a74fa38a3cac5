package intake_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"strings"
	"testing"

	"hosho-intake/intake"
	"hosho-intake/intake/inbound"
	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
	"hosho-intake/parser/ocr"
)

// needOCR skips without tesseract (jpn), poppler or ImageMagick; under CI=true it fails.
func needOCR(t *testing.T) {
	t.Helper()
	missing := ""
	if err := ocr.Check(context.Background(), ocr.Options{}); err != nil {
		missing = err.Error()
	} else if _, err := exec.LookPath("convert"); err != nil {
		missing = "convert (ImageMagick) is not installed"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI needs: tesseract-ocr tesseract-ocr-jpn poppler-utils imagemagick)", missing)
	}
	t.Skip(missing)
}

// noticeJPEG renders a generated notice as a contractor's scan: 200 dpi grey, JPEG q70.
func noticeJPEG(t *testing.T, n parser.Notice) []byte {
	t.Helper()
	jpg, err := noticepdf.ScanJPEG([]parser.Notice{n}, 200, 70)
	if err != nil {
		t.Fatal(err)
	}
	return jpg
}

// logoPNG is a signature logo: 240×60 pixels.
func logoPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 240, 60))
	for x := range 240 {
		for y := range 60 {
			img.Set(x, y, color.NRGBA{R: uint8(x), G: 80, B: uint8(y * 4), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// imageMail is the way a contractor sends a photographed notice from a business mail program:
// an HTML body with the company logo in the signature (inline, referred to by its Content-ID)
// and the notice as an attached JPEG.
func imageMail(notice, logo []byte) []byte { return imageMailAs(notice, logo, false) }

// imageMailAs is imageMail with the photo sent inline, as Apple Mail sends one taken on an
// iPhone: in the multipart/related part, with a Content-ID the HTML shows.
func imageMailAs(notice, logo []byte, inline bool) []byte {
	b64 := func(d []byte) string {
		s := base64.StdEncoding.EncodeToString(d)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		return out.String() + s + "\r\n"
	}
	var m strings.Builder
	m.WriteString("From: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("山田建設 工務部")) + "?= <koumu@yamada-kensetsu.example.jp>\r\n" +
		"To: keiyaku@pref.example.lg.jp\r\nSubject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("認証キー等のお知らせの送付")) + "?=\r\n" +
		"Date: Mon, 07 Apr 2025 10:00:00 +0900\r\nMessage-ID: <img-1@yamada-kensetsu.example.jp>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n" +
		"--mixed\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n" +
		"--rel\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64([]byte("<html><body><p>お世話になっております。保証証書のお知らせを撮影したものを添付いたします。</p>"+
			"<p>山田建設株式会社 工務部<br><img src=\"cid:logo001@yamada-kensetsu.example.jp\" alt=\"山田建設\"></p></body></html>")) +
		"--rel\r\nContent-Type: image/png; name=\"logo.png\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-ID: <logo001@yamada-kensetsu.example.jp>\r\nContent-Disposition: inline; filename=\"logo.png\"\r\n\r\n" +
		b64(logo) + "--rel--\r\n")
	switch {
	case notice != nil && inline:
		// Put it in the related part, shown by the HTML: cut the closing boundary off and add it.
		related := strings.TrimSuffix(m.String(), "--rel--\r\n")
		m.Reset()
		m.WriteString(related + "--rel\r\nContent-Type: image/jpeg; name=\"IMG_0001.jpg\"\r\nContent-Transfer-Encoding: base64\r\n" +
			"Content-ID: <photo001@icloud.example>\r\nContent-Disposition: inline; filename=\"IMG_0001.jpg\"\r\n\r\n" + b64(notice) + "--rel--\r\n")
	case notice != nil:
		m.WriteString("--mixed\r\nContent-Type: image/jpeg; name=\"notice.jpg\"\r\nContent-Transfer-Encoding: base64\r\n" +
			"Content-Disposition: attachment; filename=\"notice.jpg\"\r\n\r\n" + b64(notice))
	}
	m.WriteString("--mixed--\r\n")
	return []byte(m.String())
}

// TestReadAttachedImage: a photographed notice attached as a JPEG is read by OCR (source
// "ocr", marked), and the inline signature logo beside it is neither read nor reported; with
// OCR off the same mail is read as it was before OCR: the same problems as without the image.
func TestReadAttachedImage(t *testing.T) {
	needOCR(t)
	want := noticepdf.Samples()[0]
	raw := imageMail(noticeJPEG(t, want), logoPNG(t))
	read := func(pdfs intake.PDFReader, raw []byte) *intake.Contents {
		t.Helper()
		c, err := intake.Read(context.Background(), bytes.NewReader(raw), inbound.DefaultLimits(), pdfs)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := read(intake.InProcess{OCR: true}, raw)
	for _, a := range c.Message.Attachments {
		if a.Name == "logo.png" && !a.Inline {
			t.Errorf("logo.png: Inline = false, want true (Content-ID referred to from the HTML)")
		}
	}
	if len(c.Problems) != 0 {
		t.Errorf("problems = %+v, want none (the logo is no notice and no problem)", c.Problems)
	}
	if len(c.Notices) != 1 {
		t.Fatalf("notices = %+v, want one read from notice.jpg", c.Notices)
	}
	n := c.Notices[0]
	if n.Source != parser.SourceOCR || n.OCR == nil || n.Attachment != "notice.jpg" {
		t.Errorf("notice = %+v, want source %q with OCR marks from notice.jpg", n, parser.SourceOCR)
	}
	// Every field is exact or marked unsure: never a wrong value shown as certain.
	fields := map[string][2]string{
		"category": {n.Category, want.Category}, "contract_number": {n.ContractNumber, want.ContractNumber},
		"auth_key": {n.AuthKey, want.AuthKey}, "project_name": {n.ProjectName, want.ProjectName},
		"orderer": {n.Orderer, want.Orderer}, "guarantor": {n.Guarantor, want.Guarantor},
	}
	for f, v := range fields {
		if v[0] != v[1] && !n.UnsureField(f) {
			t.Errorf("%s = %q, want %q or marked unsure (unsure: %v)", f, v[0], v[1], n.OCR.Unsure)
		}
	}
	if len(c.Documents) != 1 || c.Documents[0].Attachment != "notice.jpg" {
		t.Errorf("documents = %+v, want notice.jpg only", c.Documents)
	}

	off := read(intake.InProcess{}, raw)
	before := read(intake.InProcess{}, imageMail(nil, logoPNG(t)))
	if len(off.Notices) != 0 || fmt.Sprint(off.Problems) != fmt.Sprint(before.Problems) || len(off.Documents) != 0 {
		t.Errorf("OCR off: notices %+v, problems %+v, documents %+v; want none, %+v as without the image, none",
			off.Notices, off.Problems, off.Documents, before.Problems)
	}
}

// TestReadInlinePhotoAndSitePhoto: a photo of the notice sent inline (Apple Mail on an
// iPhone) is read like an attached one; a large picture that holds no notice (a site photo)
// is neither a notice nor a problem to tell the sender about.
func TestReadInlinePhotoAndSitePhoto(t *testing.T) {
	needOCR(t)
	want := noticepdf.Samples()[0]
	c, err := intake.Read(context.Background(), bytes.NewReader(imageMailAs(noticeJPEG(t, want), logoPNG(t), true)), inbound.DefaultLimits(), intake.InProcess{OCR: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notices) != 1 || c.Notices[0].Source != parser.SourceOCR {
		t.Errorf("inline photo: notices %+v, problems %+v; want one read by OCR", c.Notices, c.Problems)
	}
	// A site photo: 900×700 of grey noise, as a JPEG well over the size bounds.
	img := image.NewGray(image.Rect(0, 0, 900, 700))
	for i := range img.Pix {
		img.Pix[i] = uint8((i*7919 + i/900*104729) % 251)
	}
	var photo bytes.Buffer
	if err := jpeg.Encode(&photo, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	c, err = intake.Read(context.Background(), bytes.NewReader(imageMail(photo.Bytes(), logoPNG(t))), inbound.DefaultLimits(), intake.InProcess{OCR: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Problems {
		if p.Attachment == "notice.jpg" {
			t.Errorf("a site photo is reported to the sender: %+v", p)
		}
	}
	if len(c.Notices) != 0 {
		t.Errorf("a site photo gave notices %+v", c.Notices)
	}
}
