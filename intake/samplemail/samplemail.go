// Package samplemail builds realistic contractor mails: the project's own fixtures for
// tests, benchmarks and the demo (the shared corpus is read in place, never copied). Each
// Mail is rendered as an RFC 5322 message the way common mail programs shape it.
package samplemail

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// Mail is one message as a contractor's mail program would send it.
type Mail struct {
	From, To, Subject string
	Date              time.Time
	MessageID         string
	Body              string
	// HTML is an HTML body: the only body when Body is empty (as some webmail and
	// Outlook configurations send), else the alternative to Body.
	HTML        string
	ISO2022JP   bool              // body and subject in ISO-2022-JP, as Becky! and Outlook send them
	Header      map[string]string // extra header fields (Auto-Submitted, List-Id, Return-Path...)
	Attachments []Attachment
}

// Attachment is a file attached to a Mail.
type Attachment struct {
	Name        string
	ContentType string // default application/pdf
	Data        []byte
}

// Bytes renders the message with CRLF line ends: multipart/mixed when it has attachments,
// base64 attachments with RFC 2047 encoded names (what most Japanese mail programs send).
func (m Mail) Bytes() ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	date := m.Date
	if date.IsZero() {
		date = time.Date(2026, 6, 15, 10, 0, 0, 0, time.FixedZone("JST", 9*3600))
	}
	id := m.MessageID
	if id == "" {
		id = fmt.Sprintf("<%d.%s>", date.UnixNano(), strings.ReplaceAll(m.From, "@", ".sample@"))
	}
	h("Return-Path", "<"+m.From+">")
	h("From", m.From)
	h("To", m.To)
	h("Subject", m.encodeWord(m.Subject))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", id)
	for k, v := range m.Header {
		h(k, v)
	}
	h("MIME-Version", "1.0")
	body, charset, cte, err := m.body()
	if err != nil {
		return nil, err
	}
	if m.HTML != "" && len(m.Attachments) == 0 {
		html, err := qp(strings.ReplaceAll(strings.ReplaceAll(m.HTML, "\r\n", "\n"), "\n", "\r\n"))
		if err != nil {
			return nil, err
		}
		if m.Body == "" {
			h("Content-Type", "text/html; charset=UTF-8")
			h("Content-Transfer-Encoding", "quoted-printable")
			b.WriteString("\r\n" + html)
			return b.Bytes(), nil
		}
		boundary := fmt.Sprintf("=_alt_%x", date.UnixNano())
		h("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
		fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n%s\r\n", boundary, charset, cte, body)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n--%s--\r\n", boundary, html, boundary)
		return b.Bytes(), nil
	}
	if len(m.Attachments) == 0 {
		h("Content-Type", "text/plain; charset="+charset)
		h("Content-Transfer-Encoding", cte)
		b.WriteString("\r\n" + body)
		return b.Bytes(), nil
	}
	boundary := fmt.Sprintf("=_sample_%x", date.UnixNano())
	h("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	b.WriteString("\r\nThis is a multi-part message in MIME format.\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n%s\r\n", boundary, charset, cte, body)
	for _, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/pdf"
		}
		name := mime.BEncoding.Encode("UTF-8", a.Name)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"%s\"\r\n\r\n",
			boundary, ct, name, name)
		b.WriteString(base64Lines(a.Data))
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}

func (m Mail) encodeWord(s string) string {
	if !m.ISO2022JP {
		return mime.BEncoding.Encode("UTF-8", s)
	}
	jis, err := toJIS(s)
	if err != nil {
		return mime.BEncoding.Encode("UTF-8", s)
	}
	return mime.BEncoding.Encode("ISO-2022-JP", jis)
}

func (m Mail) body() (text, charset, cte string, err error) {
	text = strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if m.ISO2022JP {
		jis, err := toJIS(text)
		if err != nil {
			return "", "", "", err
		}
		return jis, "ISO-2022-JP", "7bit", nil
	}
	q, err := qp(text)
	return q, "UTF-8", "quoted-printable", err
}

func qp(text string) (string, error) {
	var q bytes.Buffer
	w := quotedprintable.NewWriter(&q)
	if _, err := w.Write([]byte(text)); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return q.String(), nil
}

func toJIS(s string) (string, error) {
	out, _, err := transform.String(japanese.ISO2022JP.NewEncoder(), s)
	if err != nil {
		return "", fmt.Errorf("encoding %q as ISO-2022-JP: %w", s, err)
	}
	return out, nil
}

func base64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	b.Grow(len(enc) + len(enc)/38 + 2)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.String()
}

// Zip packs files into a plain ZIP archive, as a contractor's "compress" menu does.
func Zip(files []Attachment) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Flags: 0x800})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
