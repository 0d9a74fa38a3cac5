// Package intake takes in the agency mailbox: it reads each received message, finds the
// notices in it (PDF attachments, ZIPs, forwarded messages, text typed in the body) and
// says what is wrong with what cannot be read.
package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // the sizes of attached photos and scans (noticeImage)
	_ "image/png"
	"io"
	"sync"
	"time"

	_ "golang.org/x/image/tiff" // scanners' TIFF

	"hosho-intake/intake/inbound"
	"hosho-intake/intake/ledger"
	"hosho-intake/parser"
	"hosho-intake/parser/ocr"
	"hosho-intake/parser/sandbox"
	"hosho-intake/verifier"
)

// PDFReader reads one PDF. The daemon and `parse` use a sandbox.Pool, which reads it in a
// child process; tests may read in-process with InProcess.
type PDFReader interface {
	ReadPDF(ctx context.Context, data []byte) (parser.Document, error)
}

// InProcess reads PDFs in the calling process, for tests and tools that trust their input.
type InProcess struct {
	// OCR reads PDFs without a usable text layer, and images, with tesseract (parser/ocr),
	// as a sandbox worker started with --ocr does.
	OCR bool
}

// ReadPDF implements PDFReader.
func (p InProcess) ReadPDF(ctx context.Context, data []byte) (parser.Document, error) {
	doc := parser.ReadPDF(data)
	if p.OCR && ocr.Needs(doc, data) {
		doc = ocr.Read(ctx, data, doc, ocr.Options{})
	}
	return doc, nil
}

// ReadsImages reports whether images are read (by OCR).
func (p InProcess) ReadsImages() bool { return p.OCR }

// OpenArchive opens a 7z archive in this process, as a sandbox worker would (trusted input only).
func (p InProcess) OpenArchive(_ context.Context, data, args []byte, _ time.Duration) (sandbox.ArchiveReading, error) {
	start := time.Now()
	return sandbox.ArchiveReading{Answer: inbound.ServeSevenZip(data, args), Took: time.Since(start)}, nil
}

// archiveOpener is a PDFReader that opens 7z archives in its workers too (sandbox.Pool, whose
// workers run inbound.ServeSevenZip), or in process (InProcess).
type archiveOpener interface {
	OpenArchive(ctx context.Context, data, args []byte, limit time.Duration) (sandbox.ArchiveReading, error)
}

// withSevenZip is lim with its 7z archives opened by pdfs (inbound.Limits.SevenZip says why
// not in this process), each within what is left of the message's reading budget b, whose
// spent time it adds to. A reader that opens no archives leaves them unopened.
func withSevenZip(ctx context.Context, lim inbound.Limits, pdfs PDFReader, b *Budget) inbound.Limits {
	o, ok := pdfs.(archiveOpener)
	if !ok {
		return lim
	}
	lim.SevenZip = func(data []byte, req inbound.SevenZipRequest) inbound.SevenZipResult {
		var left time.Duration // 0: no budget
		if b.Time > 0 {
			if left = b.Time - b.spent; left <= 0 {
				return inbound.SevenZipResult{Failed: "the message's reading budget was spent", Code: parser.CodeTooSlow}
			}
		}
		args, err := json.Marshal(req)
		if err != nil {
			return inbound.SevenZipResult{Failed: err.Error()}
		}
		a, err := o.OpenArchive(ctx, data, args, left)
		b.spent += a.Took
		switch {
		case err != nil:
			return inbound.SevenZipResult{Failed: err.Error()}
		case a.TooSlow:
			return inbound.SevenZipResult{Failed: a.Detail, Code: parser.CodeTooSlow}
		case a.OverLimit:
			return inbound.SevenZipResult{Failed: a.Detail, Code: parser.CodeTooLarge}
		case a.Failed:
			return inbound.SevenZipResult{Failed: a.Detail}
		}
		var res inbound.SevenZipResult
		if err := json.Unmarshal(a.Answer, &res); err != nil {
			return inbound.SevenZipResult{Failed: fmt.Sprintf("the archive reader's answer: %v", err)}
		}
		return res
	}
	return lim
}

// imageReader is a PDFReader that says whether it also reads images: sandbox.Pool with
// Options.OCR, InProcess with OCR. One that does not is given no image, so that with OCR
// off an attached image changes nothing (it was never read before OCR).
type imageReader interface {
	ReadsImages() bool
}

func readsImages(pdfs PDFReader) bool {
	r, ok := pdfs.(imageReader)
	return ok && r.ReadsImages()
}

// The smallest attached image read as a possible notice. A notice is an A4 page whose
// smallest glyphs (10.5 pt) tesseract reads from about 150 dpi (its documentation asks for
// glyphs 20 px high; issue 12 measured exact fields from 110 dpi on up): an A4 page is
// 1240×1754 pixels at 150 dpi and a phone photo 3000 or more on a side, so a shorter side
// under 600 pixels cannot hold a notice's key legibly. Signature logos, banners and
// social-media icons in Japanese business mail are under 600 pixels wide and under 30 KB,
// and a JPEG or PNG of a legible page is well over 30 KB (a 110 dpi grey JPEG of a notice
// at q40 is about 60 KB), so both bounds leave them out even when their mail program sends
// them as attachments rather than inline.
const (
	minImageBytes = 30 << 10
	minImageSide  = 600
)

// noticeImage reports an attached image that could be a photo or scan of a notice: large
// enough in bytes and pixels (above). Inline images count too: Apple Mail sends a photo taken
// on an iPhone inline, with a cid: link from its HTML part, and the bounds already leave the
// logos out. Its size is read from its header only.
func noticeImage(a inbound.Attachment) bool {
	if !a.Image || len(a.Data) < minImageBytes {
		return false
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(a.Data))
	return err == nil && min(cfg.Width, cfg.Height) >= minImageSide
}

// ReadLockedWithin reads a PDF that may need a user password, as sandbox.Pool does in a worker.
func (InProcess) ReadLockedWithin(_ context.Context, data []byte, passwords []string, _ time.Duration) (sandbox.Reading, error) {
	start := time.Now()
	doc := parser.ReadLockedPDF(data, passwords)
	return sandbox.Reading{Doc: doc, Took: time.Since(start)}, nil
}

// Contents is what one message was found to hold.
type Contents struct {
	Message  *inbound.Message
	Notices  []parser.Notice
	Problems []parser.Problem
	// Documents lists each PDF attachment and what it turned out to be, so that other
	// papers in the same mail (a 前払金請求書, a bank's guarantee) are reported, not lost.
	Documents []Document
	// Images are the page images of the notices read by OCR (parser.PageImage), by
	// attachment and page, kept with the raw message for the clerks (at most
	// maxImagesPerMessage).
	Images []ledger.Image

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
	// Raw is the raw message when it has no attachment: it may be an inquiry, which is
	// forwarded whole ([digest] inquiries_to). Nil otherwise.
	Raw []byte

	setAside bool // recorded with set_aside only: nothing else is done with it
}

// Document is one PDF attachment of a message.
type Document struct {
	Attachment string `json:"attachment"`
	Kind       string `json:"kind"`
	Pages      int    `json:"pages"`
}

// NoReply reports a message that must never be answered (auto-reply, bounce, list mail).
func (c *Contents) NoReply() bool { return len(c.Message.Classes) > 0 }

// Budget bounds the reading of one message, so that no message can stop the mailbox
// (DESIGN.md, "Bad input"): a message past it is recorded with parser.CodeTooSlow and what
// was read by then, and the poll goes on to the next.
type Budget struct {
	// Time is the reader time the message may take across all its PDFs, ZIP members and 7z archives.
	// Only time in a reader counts, not the wait for a free one, so that a message is not
	// charged for the hostile one read beside it.
	Time time.Duration
	// MaxPDFs is the most PDFs read from one message.
	MaxPDFs int
	// Parallel is how many of a message's PDFs are read at once: the reader pool's
	// workers. More would only queue behind the pool and ahead of the next message.
	Parallel int

	spent time.Duration // reader time already taken, by the message's 7z archives
}

// DefaultBudget is config.Default's budget, for the offline commands.
func DefaultBudget() Budget { return Budget{Time: time.Minute, MaxPDFs: 20, Parallel: 2} }

// maxImagesPerMessage bounds the page images kept from one message (each at most
// ocr.MaxPageImageBytes): a notice's page is what a clerk needs, not every page of a
// stranger's twenty scans.
const maxImagesPerMessage = 8

// maxReaderFailures is how many readers may crash or time out on one message before the
// rest of its PDFs are left unread: one is a broken file, three are an attack.
const maxReaderFailures = 3

// budgetReader is a PDFReader that can bound one file by what is left of its message's
// budget and say how long the file held a reader (sandbox.Pool does).
type budgetReader interface {
	ReadWithin(ctx context.Context, data []byte, limit time.Duration) (sandbox.Reading, error)
}

// lockedReader is a PDFReader that can read a PDF with the passwords of a PPAP pair
// (sandbox.Pool and InProcess do).
type lockedReader interface {
	ReadLockedWithin(ctx context.Context, data []byte, passwords []string, limit time.Duration) (sandbox.Reading, error)
}

// Read reads one message within DefaultBudget; see ReadWithin.
func Read(ctx context.Context, raw io.Reader, lim inbound.Limits, pdfs PDFReader) (*Contents, error) {
	return ReadWithin(ctx, raw, lim, pdfs, DefaultBudget())
}

// ReadWithin reads one message and finds its notices, its PDFs read in parallel within b.
// An error is returned only when the message cannot be read at all (I/O, no PDF reader can
// be started) or ctx ends; everything wrong with the message itself is a Problem.
func ReadWithin(ctx context.Context, raw io.Reader, lim inbound.Limits, pdfs PDFReader, b Budget) (*Contents, error) {
	msg, err := inbound.Read(raw, withSevenZip(ctx, lim, pdfs, &b))
	if err != nil {
		return nil, fmt.Errorf("reading message: %w", err)
	}
	return readFound(ctx, msg, pdfs, b)
}

// readBytesWithin is ReadWithin of a message held in memory (the poll's), parsed where it
// lies (inbound.ReadBytes).
func readBytesWithin(ctx context.Context, raw []byte, lim inbound.Limits, pdfs PDFReader, b Budget) (*Contents, error) {
	msg := inbound.ReadBytes(raw, withSevenZip(ctx, lim, pdfs, &b))
	return readFound(ctx, msg, pdfs, b)
}

// readFound is ReadWithin's reading of what the message holds, once it is parsed; b is what
// is left of the budget after any archives were opened.
func readFound(ctx context.Context, msg *inbound.Message, pdfs PDFReader, b Budget) (*Contents, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // an archive not opened because ctx ended is no fault of the message
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
	var atts []inbound.Attachment
	images := readsImages(pdfs)
	for _, a := range msg.Attachments {
		if a.PDF || images && noticeImage(a) {
			atts = append(atts, a)
		}
	}
	docs, over, err := readPDFs(ctx, atts, pdfs, b, nil)
	if err != nil {
		return nil, err
	}
	for i, doc := range docs {
		if doc == nil {
			continue // not read: over the budget
		}
		a := atts[i]
		if hasProblem(doc.Problems, parser.CodeEncrypted) {
			// A PDF that needs a user password waits for it like a password ZIP (PPAP).
			msg.Locked = append(msg.Locked, inbound.Locked{Path: a.Path, Data: a.Data, PDF: true})
		}
		c.Documents = append(c.Documents, Document{Attachment: a.Path, Kind: doc.Kind, Pages: doc.Pages})
		for _, n := range doc.Notices {
			n.Attachment = a.Path
			c.Notices = append(c.Notices, n)
		}
		for _, im := range doc.Images {
			if len(c.Images) < maxImagesPerMessage {
				c.Images = append(c.Images, ledger.Image{Attachment: a.Path, Page: im.Page, PNG: im.PNG})
			}
		}
		if a.Image && !a.PDF && len(doc.Notices) == 0 {
			// A large picture that holds no notice (a site photo, a banner) is not a
			// problem of the sender's submission: say nothing of it.
			continue
		}
		for _, p := range doc.Problems {
			p.Attachment = a.Path
			c.Problems = append(c.Problems, p)
		}
	}
	if over != "" {
		c.Problems = append(c.Problems, parser.Problem{Code: parser.CodeTooSlow, Detail: over})
	}
	// Each text is read once for both its notices and its problems.
	typed := make([]typedText, len(msg.Texts))
	for i, t := range msg.Texts {
		typed[i].notices, typed[i].problems = parser.ReadBody(t)
	}
	c.Notices = append(bodyNotices(typed, c.Notices), c.Notices...)
	c.Problems = append(c.Problems, bodyProblems(typed, c.Notices)...)
	if len(c.Notices) == 0 && len(c.Problems) == 0 {
		c.Problems = append(c.Problems, parser.Problem{Code: parser.CodeNoNotice,
			Detail: "no 「認証キー」等のお知らせ PDF attached and no 保証契約番号 and 認証キー in the text"})
	}
	return c, nil
}

// readPDFs reads atts, b.Parallel at a time, until b runs out. It returns each one's
// Document (nil for one not read) and, when b ran out, why. The budget is checked before
// each file starts and bounds each file by what is left, so a message's readers together
// take at most b.Time plus what the files in flight had left when they started.
// passwords, when not empty, are tried on each PDF that needs a user password.
func readPDFs(ctx context.Context, atts []inbound.Attachment, pdfs PDFReader, b Budget, passwords []string) ([]*parser.Document, string, error) {
	docs := make([]*parser.Document, len(atts))
	n := len(atts)
	if b.MaxPDFs > 0 && n > b.MaxPDFs {
		n = b.MaxPDFs
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		spent    = b.spent
		failures int
		read     int
		over     string
		firstErr error
		wg       sync.WaitGroup
	)
	stop := func(why string) { // under mu
		if over == "" {
			over = why
			cancel() // the files in flight are cut off too
		}
	}
	sem := make(chan struct{}, max(b.Parallel, 1))
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-rctx.Done():
		}
		mu.Lock()
		left := b.Time - spent
		if b.Time > 0 && left <= 0 {
			stop(fmt.Sprintf("the message's reading budget of %v was spent", b.Time))
		}
		done := over != "" || firstErr != nil || rctx.Err() != nil
		mu.Unlock()
		if done {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := readOne(rctx, pdfs, atts[i].Data, passwords, left)
			mu.Lock()
			defer mu.Unlock()
			spent += r.Took
			switch {
			case err != nil && rctx.Err() != nil && ctx.Err() == nil:
				return // cut off by stop: not read
			case err != nil:
				if firstErr == nil {
					firstErr = fmt.Errorf("reading attachment %q: %w", atts[i].Path, err)
					cancel()
				}
				return
			case isCutOff(r.Doc):
				stop(fmt.Sprintf("the message's reading budget of %v was spent", b.Time))
				return
			}
			docs[i] = &r.Doc
			read++
			if r.Failed {
				failures++
				if failures >= maxReaderFailures {
					stop(fmt.Sprintf("the PDF reader failed on %d of its PDFs", failures))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if firstErr != nil {
		return nil, "", firstErr
	}
	if over == "" && n < len(atts) {
		over = fmt.Sprintf("the message holds %d PDFs; only %d are read from one message", len(atts), n)
	}
	if over != "" {
		over += fmt.Sprintf(" (%d of %d PDFs read)", read, len(atts))
	}
	return docs, over, nil
}

// readOne reads one PDF (with passwords, when given and the reader takes them) within limit when the reader can be bounded, and otherwise (a
// reader in this process, for tests and trusted input) only counts its time.
func readOne(ctx context.Context, pdfs PDFReader, data []byte, passwords []string, limit time.Duration) (sandbox.Reading, error) {
	if lr, ok := pdfs.(lockedReader); ok && len(passwords) > 0 {
		return lr.ReadLockedWithin(ctx, data, passwords, limit)
	}
	if br, ok := pdfs.(budgetReader); ok {
		return br.ReadWithin(ctx, data, limit)
	}
	start := time.Now()
	doc, err := pdfs.ReadPDF(ctx, data)
	return sandbox.Reading{Doc: doc, Took: time.Since(start)}, err
}

// isCutOff reports a file the sandbox stopped because the message's budget ran out.
func isCutOff(doc parser.Document) bool {
	return len(doc.Problems) == 1 && doc.Problems[0].Code == parser.CodeTooSlow
}

// typedText is what a text part of a message says of notices (parser.ReadBody).
type typedText struct {
	notices  []parser.Notice
	problems []parser.Problem
}

// bodyProblems are the notices typed in the message's text parts that cannot be used, each
// once (the plain and HTML alternatives repeat them): a number or key typed with a mistake,
// or one without the other. The sender is asked to check it, by its number or its masked
// key, rather than told nothing was found or left to believe it was read. A number or key
// also read as a notice (the PDF beside the covering text, the other alternative) is not a
// problem.
func bodyProblems(texts []typedText, read []parser.Notice) []parser.Problem {
	seen := map[string]bool{}
	for _, n := range read {
		seen["n"+n.ContractNumber], seen["k"+n.AuthKey] = true, true
	}
	var out []parser.Problem
	for _, t := range texts {
		for _, p := range t.problems {
			switch {
			case p.ContractNumber != "" && seen["n"+p.ContractNumber]:
			case p.ContractNumber == "" && p.AuthKey != "" && seen["k"+p.AuthKey]:
			case seen["p"+p.Code+p.ContractNumber+"\x00"+p.AuthKey+"\x00"+p.Missing+"\x00"+p.Detail]:
			default:
				seen["p"+p.Code+p.ContractNumber+"\x00"+p.AuthKey+"\x00"+p.Missing+"\x00"+p.Detail] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// bodyNotices reads notices typed in the message's text parts, leaving out those that only
// repeat a number already read from an attachment (contractors often type the number and
// key in the covering text as well) or from another text part (plain and HTML alternatives).
func bodyNotices(texts []typedText, fromPDF []parser.Notice) []parser.Notice {
	seen := make(map[string]bool, len(fromPDF))
	for _, n := range fromPDF {
		seen[n.ContractNumber] = true
	}
	var out []parser.Notice
	for _, t := range texts {
		for _, n := range t.notices {
			if seen[n.ContractNumber] {
				continue
			}
			seen[n.ContractNumber] = true
			out = append(out, n)
		}
	}
	return out
}

func hasProblem(ps []parser.Problem, code string) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}
