// Package intake takes in the agency mailbox: it reads each received message, finds the
// notices in it (PDF attachments, ZIPs, forwarded messages, text typed in the body) and
// says what is wrong with what cannot be read.
package intake

import (
	"context"
	"fmt"
	"io"
	"time"

	"hosho-intake/intake/inbound"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// PDFReader reads one PDF. The daemon and `parse` use a sandbox.Pool, which reads it in a
// child process; tests may read in-process with InProcess.
type PDFReader interface {
	ReadPDF(ctx context.Context, data []byte) (parser.Document, error)
}

// InProcess reads PDFs in the calling process, for tests and tools that trust their input.
type InProcess struct{}

// ReadPDF implements PDFReader.
func (InProcess) ReadPDF(_ context.Context, data []byte) (parser.Document, error) {
	return parser.ReadPDF(data), nil
}

// Contents is what one message was found to hold.
type Contents struct {
	Message  *inbound.Message
	Notices  []parser.Notice
	Problems []parser.Problem
	// Documents lists each PDF attachment and what it turned out to be, so that other
	// papers in the same mail (a 前払金請求書, a bank's guarantee) are reported, not lost.
	Documents []Document

	// Received is when the agency's server received the message (its INTERNALDATE), which
	// the start-date rule compares with; the sender's Date header can be anything.
	Received time.Time
	// DecisionMail: a clerk's 確認済 / 差戻し reply to a digest link, not a submission.
	DecisionMail bool

	// What recording the message caused (Effects): the notices filed in the queue, and why
	// the sender was not answered ("" when answered).
	Filed      []verifier.Filed
	NoReplyWhy string
	// Bounce is the raw message when it is a delivery status notification: it may
	// concern one of our replies.
	Bounce []byte
}

// Document is one PDF attachment of a message.
type Document struct {
	Attachment string `json:"attachment"`
	Kind       string `json:"kind"`
	Pages      int    `json:"pages"`
}

// NoReply reports a message that must never be answered (auto-reply, bounce, list mail).
func (c *Contents) NoReply() bool { return len(c.Message.Classes) > 0 }

// Read reads one message and finds its notices. An error is returned only when the message
// cannot be read at all (I/O) or ctx ends; everything wrong with the message itself is a
// Problem.
func Read(ctx context.Context, raw io.Reader, lim inbound.Limits, pdfs PDFReader) (*Contents, error) {
	msg, err := inbound.Read(raw, lim)
	if err != nil {
		return nil, fmt.Errorf("reading message: %w", err)
	}
	c := &Contents{Message: msg, Notices: []parser.Notice{}, Problems: []parser.Problem{}}
	// Mail that must not be answered is not mined either: a bounce quoting a reply, or a
	// newsletter quoting a sample number, must not become a submission.
	for _, class := range msg.Classes {
		c.Problems = append(c.Problems, parser.Problem{Code: class, Detail: "not answered: machine-generated or list mail"})
	}
	if len(msg.Classes) > 0 {
		return c, nil
	}
	c.Problems = append(c.Problems, msg.Problems...)
	for _, a := range msg.Attachments {
		if !a.PDF {
			continue
		}
		doc, err := pdfs.ReadPDF(ctx, a.Data)
		if err != nil {
			return nil, fmt.Errorf("reading attachment %q: %w", a.Path, err)
		}
		c.Documents = append(c.Documents, Document{Attachment: a.Path, Kind: doc.Kind, Pages: doc.Pages})
		for _, n := range doc.Notices {
			n.Attachment = a.Path
			c.Notices = append(c.Notices, n)
		}
		for _, p := range doc.Problems {
			p.Attachment = a.Path
			c.Problems = append(c.Problems, p)
		}
	}
	c.Notices = append(bodyNotices(msg.Texts, c.Notices), c.Notices...)
	if len(c.Notices) == 0 && len(c.Problems) == 0 {
		c.Problems = append(c.Problems, parser.Problem{Code: parser.CodeNoNotice,
			Detail: "no 「認証キー」等のお知らせ PDF attached and no 保証契約番号 and 認証キー in the text"})
	}
	return c, nil
}

// bodyNotices reads notices typed in the message's text parts, leaving out those that only
// repeat a number already read from an attachment (contractors often type the number and
// key in the covering text as well) or from another text part (plain and HTML alternatives).
func bodyNotices(texts []string, fromPDF []parser.Notice) []parser.Notice {
	seen := make(map[string]bool, len(fromPDF))
	for _, n := range fromPDF {
		seen[n.ContractNumber] = true
	}
	var out []parser.Notice
	for _, t := range texts {
		for _, n := range parser.ReadBody(t) {
			if seen[n.ContractNumber] {
				continue
			}
			seen[n.ContractNumber] = true
			out = append(out, n)
		}
	}
	return out
}
