// Package inbound reads one received mail message (RFC 5322, MIME RFC 2045-2049) for hosho-intake: its
// headers, whether it is mail that must never be answered, its text bodies, and its attachments, including
// those inside a forwarded message/rfc822 and inside ZIP files.
//
// The contract:
//
//   - Read returns an error only when the io.Reader fails. Everything wrong with the message itself is
//     tolerated with a best effort (a bad header line, a missing closing boundary, stray characters in
//     base64, unknown or missing charsets, all listed in Message.Defects) or reported as a parser.Problem
//     (too_large, zip_attachment, password_zip, corrupt).
//   - A message larger than Limits.MaxMessageBytes keeps its headers, so that a reply can be addressed, and
//     nothing else: no texts, no attachments, Problem too_large.
//   - Mail that must never be answered (auto_submitted, bounce, mailing_list in Message.Classes) keeps its
//     headers and nothing that could be mined for notices: a bounce quoting a reply, or a newsletter quoting
//     a sample number, must not become a submission.
//   - Every size, count and nesting depth is bounded by Limits; a panic inside Read is recovered and
//     becomes Problem corrupt, with what was read so far.
//
// It keeps no state and writes nothing to disk; Attachment.Data is in memory.
//
// go-message v0.18 is not used for the MIME structure because of measured gaps: one malformed header line
// rejects the whole message (parseHeader has the example), RFC 2231 names in Shift_JIS or ISO-2022-JP are
// dropped silently, the CP932 label is unknown ("unknown charset: htmlindex: invalid encoding name", the body
// left undecoded), SO/SI katakana in ISO-2022-JP come out as control characters, and a missing closing
// boundary or stray base64 characters fail the part. Its charset package decodes the charsets other than the
// Japanese ones, which this package decodes as the Windows code pages do (charset.go).
package inbound

import (
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"hosho-intake/intake/msgbuf"
	"hosho-intake/parser"
)

// Limits bound what Read spends on one message. A zero field takes its DefaultLimits value.
type Limits struct {
	MaxMessageBytes    int64 // the whole message as received; past it only headers are read (too_large)
	MaxAttachmentBytes int64 // one decoded attachment or ZIP member
	MaxParts           int   // MIME entities in the whole tree, forwarded messages included
	MaxDepth           int   // nesting of multiparts, message/rfc822 and ZIPs inside ZIPs
	MaxZipEntries      int   // entries read from one ZIP
	MaxZipBytes        int64 // total uncompressed bytes read from one ZIP attachment, nested ZIPs included
	// SevenZip opens 7z archives, bounded (sevenzip.go says why not here); nil: a 7z
	// attachment is kept as it is, not opened.
	SevenZip SevenZipOpener `json:"-"`
}

// DefaultLimits are generous for a contractor's mail (a one-page notice PDF is about 50 KB) and small
// enough that a hostile message cannot bloat the daemon. 10 MiB for the message is DESIGN.md's default.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageBytes:    10 << 20,
		MaxAttachmentBytes: 10 << 20,
		MaxParts:           200,
		MaxDepth:           12,
		MaxZipEntries:      100,
		MaxZipBytes:        32 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = d.MaxMessageBytes
	}
	if l.MaxAttachmentBytes <= 0 {
		l.MaxAttachmentBytes = d.MaxAttachmentBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxZipEntries <= 0 {
		l.MaxZipEntries = d.MaxZipEntries
	}
	if l.MaxZipBytes <= 0 {
		l.MaxZipBytes = d.MaxZipBytes
	}
	return l
}

// Message is what Read found in one message.
type Message struct {
	MessageID  string // first "<...>" of Message-ID, brackets kept
	Subject    string // decoded
	From       string // address of the first mailbox in From
	FromName   string // its display name, decoded
	ReturnPath string // first Return-Path without brackets; "" when absent, "<>" when null (RFC 5321 §4.5.5)
	Date       time.Time
	InReplyTo  string   // first "<...>" of In-Reply-To
	References []string // "<...>" identifiers of References
	Header     Header   // the top-level header fields, raw (Authentication-Results, Auto-Submitted, ...)
	Size       int64    // bytes read from r

	// Classes holds parser.CodeAutoSubmitted, parser.CodeBounce and parser.CodeMailingList: mail that must
	// never be answered, nor mined for notices. When it is not empty, Texts and Attachments are empty.
	Classes []string

	// Texts are the decoded text bodies in UTF-8 with "\n" line ends, in order: text/plain as is,
	// text/html as plain text; of a multipart/alternative the plain part unless it is empty. Texts of a
	// forwarded message/rfc822 follow in their place in the tree.
	Texts []string

	Attachments []Attachment
	// Locked are the password ZIPs and 7z archives among the attachments (password_zip), kept whole for Unlock.
	Locked []Locked

	// Problems: too_large (the message, an attachment or a ZIP member past its limit, or too many parts),
	// zip_attachment, password_zip, corrupt (an unreadable ZIP or member, nesting past MaxDepth, a recovered
	// panic). Problem.Attachment is an Attachment.Path, or "" for the message.
	Problems []parser.Problem

	// Defects lists what was wrong with the message and tolerated, for the log: they need no answer.
	Defects []string

	// buffers are the msgbuf buffers its parts were decoded into, whole, for Release.
	buffers [][]byte
}

// Attachment is one attached file.
type Attachment struct {
	Name        string // decoded file name, without directories (RFC 2183 §2.3)
	ContentType string // type/subtype as sent, without parameters; for a ZIP member, by its extension
	// Path says where it came from: "NAME" at the top level, "ZIP/MEMBER" inside a ZIP,
	// "forwarded:SUBJECT/attachment:NAME" inside a forwarded message/rfc822 (SUBJECT decoded);
	// the forms nest ("forwarded:S/attachment:Z.zip/M.pdf").
	Path string
	Data []byte
	// PDF: application/pdf, or any type with a .pdf name, or content that starts with "%PDF-" within
	// its first 1024 bytes (where PDF readers look for the header).
	PDF bool
	// Image: a JPEG, PNG or TIFF by its magic, whatever its type or name says (a phone's photo or a
	// scan of the notice, for OCR).
	Image bool
	// Inline: a part the sender's mail program shows in the text rather than as a file: its
	// Content-Disposition is inline (RFC 2183 §2.1), or the HTML body refers to its Content-ID with a
	// "cid:" URL (RFC 2392), as signature logos in Japanese business mail are sent.
	Inline bool
}

// Read reads one message from r, to its end: a message past lim.MaxMessageBytes is counted to its end but
// not kept, so that Size is true and the caller's stream is consumed. The error is only ever r's; r bounds
// the time (an IMAP literal ends, a file ends).
func Read(r io.Reader, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	var bb bytes.Buffer
	if l, ok := r.(interface{ Len() int }); ok {
		bb.Grow(int(min(int64(l.Len()), lim.MaxMessageBytes) + 1))
	}
	_, err := bb.ReadFrom(io.LimitReader(r, lim.MaxMessageBytes+1))
	buf := bb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("reading message: %w", err)
	}
	size := int64(len(buf))
	tooLarge := size > lim.MaxMessageBytes
	if tooLarge {
		// Count the rest without keeping it, so that Size is the real size and the caller's stream is consumed.
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return nil, fmt.Errorf("reading message: %w", err)
		}
		size += n
		buf = buf[:lim.MaxMessageBytes]
	}
	return parse(buf, size, tooLarge, lim, nil), nil
}

// ReadBytes is Read of a message held in memory, parsed where it lies instead of copied first
// (the poll holds every message it downloads so, and the copy was a fifth of its allocation):
// raw is not modified, and the Message does not refer to it (an attachment sent unencoded is
// copied), so that the poll can reuse raw once the message is recorded.
func ReadBytes(raw []byte, lim Limits) *Message {
	lim = lim.withDefaults()
	size := int64(len(raw))
	tooLarge := size > lim.MaxMessageBytes
	if tooLarge {
		raw = raw[:lim.MaxMessageBytes]
	}
	return parse(raw[:len(raw):len(raw)], size, tooLarge, lim, nil)
}

// ReadHeader reads the header of a message held in memory and nothing of its body: what Read
// takes from the header (From, Subject, Message-ID, Date, Header, Classes). It is for a
// message whose body is not to be read: one set aside after failed readings, or the
// Message-ID a log line names. Like ReadBytes, it does not refer to raw.
func ReadHeader(raw []byte) *Message {
	hdr, _ := splitEntity(raw[:len(raw):len(raw)])
	msg := ReadBytes(hdr, DefaultLimits())
	msg.Size = int64(len(raw))
	return msg
}

// parse reads a message held in buf. onPart, when not nil, is called for every MIME entity (a test uses it
// to check that a panic is contained).
func parse(buf []byte, size int64, tooLarge bool, lim Limits, onPart func()) (msg *Message) {
	msg = &Message{Size: size}
	rd := &reader{lim: lim, msg: msg, onPart: onPart}
	defer func() {
		// A panic never crosses the API (STYLE.md habit 5): what was read so far is returned, marked corrupt.
		if p := recover(); p != nil {
			rd.problem(parser.CodeCorrupt, "", fmt.Sprintf("MIME reader failed: %v", p))
			rd.msg.Defects = append(rd.msg.Defects, fmt.Sprintf("panic: %v\n%s", p, firstLines(debug.Stack(), 16)))
		}
	}()
	rd.read(buf, tooLarge)
	return msg
}

func firstLines(b []byte, n int) []byte {
	for i, c := range b {
		if c == '\n' {
			n--
			if n == 0 {
				return b[:i]
			}
		}
	}
	return b
}

// reader holds the state of one Read.
type reader struct {
	lim    Limits
	msg    *Message
	parts  int
	onPart func()
	// passwords, when not nil, open encrypted ZIP members (Unlock); nil leaves them locked.
	passwords []string
	// cids are the Content-IDs the HTML bodies refer to ("cid:" URLs, RFC 2392) and
	// contentIDs each attachment's own, by its index, to mark the referred ones Inline at the end.
	cids       map[string]bool
	contentIDs map[int]string
}

func (rd *reader) problem(code, attachment, detail string) {
	for _, p := range rd.msg.Problems {
		if p.Code == code && p.Attachment == attachment {
			return
		}
	}
	rd.msg.Problems = append(rd.msg.Problems, parser.Problem{Code: code, Attachment: attachment, Detail: detail})
}

func (rd *reader) defect(format string, args ...any) {
	const maxDefects = 50
	if len(rd.msg.Defects) < maxDefects {
		rd.msg.Defects = append(rd.msg.Defects, fmt.Sprintf(format, args...))
	}
}

func (rd *reader) read(buf []byte, tooLarge bool) {
	hb, body := splitEntity(buf)
	h, bad := parseHeader(hb)
	if bad > 0 {
		rd.defect("%d malformed header lines skipped", bad)
	}
	m := rd.msg
	m.Header = h
	m.Subject = h.Text("Subject")
	m.From, m.FromName = parseAddress(h.Get("From"))
	if h.Has("Return-Path") {
		rp := strings.TrimSpace(h.Get("Return-Path"))
		if a, _ := parseAddress(rp); a == "" || rp == "<>" {
			m.ReturnPath = "<>"
		} else {
			m.ReturnPath = a
		}
	}
	if ids := msgIDs(h.Get("Message-ID")); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	if ids := msgIDs(h.Get("In-Reply-To")); len(ids) > 0 {
		m.InReplyTo = ids[0]
	}
	m.References = msgIDs(h.Get("References"))
	m.Date = parseDate(h.Get("Date"))
	if tooLarge {
		rd.problem(parser.CodeTooLarge, "", fmt.Sprintf("message is %d bytes, limit %d", m.Size, rd.lim.MaxMessageBytes))
		return
	}
	m.Classes = classify(h, m.From, m.ReturnPath)
	if len(m.Classes) > 0 {
		return
	}
	for _, t := range rd.walk(h, body, 0, "", "", "text/plain") {
		if strings.TrimSpace(t.text) != "" {
			m.Texts = append(m.Texts, t.text)
		}
	}
	// The HTML may come before or after the parts it shows (RFC 2387 does not order them).
	for i, id := range rd.contentIDs {
		if rd.cids[id] {
			m.Attachments[i].Inline = true
		}
	}
}

// cidURL is a "cid:" URL in HTML (RFC 2392 §2): src="cid:logo@example.co.jp".
var cidURL = regexp.MustCompile(`(?i)cid:([^"'\s<>)]+)`)

// cidURLs are the cid URLs in s and their ids (cidURL's submatches).
func cidURLs(s string) [][]string {
	if !hasCID(s) {
		return nil
	}
	return cidURL.FindAllStringSubmatch(s, -1)
}

// hasCID reports whether s may hold a cid URL: the regular expression's scan of an HTML body
// that holds none was 1% of the poll's CPU.
func hasCID(s string) bool {
	for i := 3; i < len(s); i++ {
		j := strings.IndexByte(s[i:], ':')
		if j < 0 {
			return false
		}
		i += j
		if strings.EqualFold(s[i-3:i], "cid") {
			return true
		}
	}
	return false
}

// contentID is a Content-ID header's value without its angle brackets, for comparing with a cid URL.
func contentID(h Header) string {
	id := strings.TrimSpace(h.Get("Content-ID"))
	return strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
}

// commonDate is RFC 5322 §3.3's date-time with a day of week, seconds and a numeric zone.
const commonDate = "Mon, 2 Jan 2006 15:04:05 -0700"

// parseDate reads an RFC 5322 §3.3 date, also with a trailing comment or a missing day of week, as
// net/mail does; a date it cannot read is left zero.
func parseDate(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	// The form nearly every mail program writes, tried first: mail.ParseDate gets to it after
	// 24 layouts without a day of week, each failure an allocation (2% of the poll's). What
	// this layout reads whole, ParseDate reads the same, with this same layout.
	if t, err := time.Parse(commonDate, v); err == nil {
		return t
	}
	if t, err := mail.ParseDate(v); err == nil {
		return t
	}
	if i := strings.IndexByte(v, '('); i > 0 {
		if t, err := mail.ParseDate(strings.TrimSpace(v[:i])); err == nil {
			return t
		}
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05 -0700", "2006/01/02 15:04:05 -0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

// classify decides whether the message must never be answered.
//
//   - auto_submitted: RFC 3834 §5 Auto-Submitted other than "no"; Precedence auto_reply, bulk or junk (the
//     older convention RFC 3834 §2 tells responders to honour; bulk and junk only when the message is not
//     list traffic, where list servers add them); X-Auto-Response-Suppress naming All, OOF or AutoReply
//     (Microsoft's [MS-OXCMAIL] 2.1.3.2.20: Exchange sets it on its own automatic replies); X-Autoreply and
//     X-Autorespond (vacation programs).
//   - bounce: a multipart/report (RFC 6522: DSNs and MDNs), a null reverse path "<>" (RFC 5321 §4.5.5: what
//     notifications are sent with), From MAILER-DAEMON or postmaster.
//   - mailing_list: List-Id (RFC 2919), List-Unsubscribe or List-Post (RFC 2369), Precedence list.
func classify(h Header, from, returnPath string) []string {
	var classes []string
	add := func(c string) {
		for _, x := range classes {
			if x == c {
				return
			}
		}
		classes = append(classes, c)
	}
	prec := strings.ToLower(strings.TrimSpace(stripComment(h.Get("Precedence"))))
	list := h.Get("List-Id") != "" || h.Get("List-Unsubscribe") != "" || h.Get("List-Post") != "" || prec == "list"

	ct := parseMediaType(h.Get("Content-Type"))
	local, _, _ := strings.Cut(strings.ToLower(from), "@")
	if ct.value == "multipart/report" || returnPath == "<>" || local == "mailer-daemon" || local == "postmaster" {
		add(parser.CodeBounce)
	}
	for _, v := range h.Values("Auto-Submitted") {
		kw := strings.ToLower(strings.TrimSpace(stripComment(v)))
		if i := strings.IndexAny(kw, "; \t"); i >= 0 {
			kw = kw[:i]
		}
		if kw != "" && kw != "no" {
			add(parser.CodeAutoSubmitted)
		}
	}
	switch prec {
	case "auto_reply", "auto-reply":
		add(parser.CodeAutoSubmitted)
	case "bulk", "junk":
		if !list {
			add(parser.CodeAutoSubmitted)
		}
	}
	for _, v := range h.Values("X-Auto-Response-Suppress") {
		for _, w := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if w == "all" || w == "oof" || w == "autoreply" {
				add(parser.CodeAutoSubmitted)
			}
		}
	}
	for _, name := range []string{"X-Autoreply", "X-Autorespond"} {
		if v := strings.ToLower(strings.TrimSpace(h.Get(name))); h.Has(name) && v != "no" && v != "false" {
			add(parser.CodeAutoSubmitted)
		}
	}
	if list {
		add(parser.CodeMailingList)
	}
	return classes
}

// stripComment drops "(...)" comments (RFC 5322 §3.2.2), e.g. "auto-replied (vacation)".
func stripComment(v string) string {
	if !strings.Contains(v, "(") {
		return v
	}
	var b strings.Builder
	depth := 0
	for _, c := range v {
		switch {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// textPart is a decoded text body found by walk.
type textPart struct {
	text  string
	plain bool // from text/plain (not converted from HTML)
}

// walk reads one entity. prefix is the Path prefix of a forwarded message ("forwarded:S/"), sect the MIME
// section ("1.2") used to name a nameless attachment, defType the Content-Type when none is given
// (RFC 2046 §5.1.5: message/rfc822 inside multipart/digest, else text/plain).
func (rd *reader) walk(h Header, body []byte, depth int, prefix, sect, defType string) []textPart {
	rd.parts++
	if rd.onPart != nil {
		rd.onPart()
	}
	if rd.parts > rd.lim.MaxParts {
		rd.problem(parser.CodeTooLarge, "", fmt.Sprintf("more than %d MIME parts, the rest is not read", rd.lim.MaxParts))
		return nil
	}
	if depth > rd.lim.MaxDepth {
		rd.problem(parser.CodeCorrupt, "", fmt.Sprintf("MIME nesting deeper than %d, not read", rd.lim.MaxDepth))
		return nil
	}
	ctv := h.Get("Content-Type")
	ct := parseMediaType(ctv)
	if ct.value == "" || !strings.Contains(ct.value, "/") {
		if ctv != "" {
			rd.defect("part %s: invalid Content-Type %q, read as %s", sectName(sect), ctv, defType)
		}
		ct = parseMediaType(defType)
	}
	cte := h.Get("Content-Transfer-Encoding")
	switch {
	case strings.HasPrefix(ct.value, "multipart/"):
		boundary := strings.TrimRight(ct.params["boundary"], " \t")
		parts, closed := splitMultipart(body, boundary, rd.lim.MaxParts+1)
		if len(parts) == 0 {
			// A boundary parameter that does not match the body (or none): take the first "--" line.
			if b := guessBoundary(body); b != "" && b != boundary {
				rd.defect("part %s: boundary %q not in the body, using %q", sectName(sect), boundary, b)
				parts, closed = splitMultipart(body, b, rd.lim.MaxParts+1)
			}
		}
		if len(parts) == 0 {
			// RFC 2045 §5.2 reads a multipart without a usable boundary as text/plain.
			rd.defect("part %s: %s without usable boundary, read as text", sectName(sect), ct.value)
			return rd.leaf(Header{{Name: "Content-Transfer-Encoding", Value: cte}}, parseMediaType("text/plain"), body, depth, prefix, sect)
		}
		if !closed {
			rd.defect("part %s: closing boundary missing", sectName(sect))
		}
		childType := "text/plain"
		if ct.value == "multipart/digest" {
			childType = "message/rfc822"
		}
		var kids [][]textPart
		for i, p := range parts {
			ph, pb := splitEntity(p)
			phdr, bad := parseHeader(ph)
			if bad > 0 {
				rd.defect("part %s: %d malformed header lines skipped", sectName(subSect(sect, i+1)), bad)
			}
			kids = append(kids, rd.walk(phdr, pb, depth+1, prefix, subSect(sect, i+1), childType))
		}
		if ct.value == "multipart/alternative" {
			return chooseAlternative(kids)
		}
		var all []textPart
		for _, k := range kids {
			all = append(all, k...)
		}
		return all
	case ct.value == "message/rfc822" || ct.value == "message/global":
		inner, bad := decodeTransfer(cte, body)
		if decodes(cte) {
			inner = rd.keep(inner) // its parts are decoded or copied out of it
		}
		if bad {
			rd.defect("part %s: damaged %s", sectName(sect), cte)
		}
		ih, ib := splitEntity(inner)
		ihdr, nbad := parseHeader(ih)
		if nbad > 0 {
			rd.defect("forwarded message %s: %d malformed header lines skipped", sectName(sect), nbad)
		}
		// The subject is kept as sent, "/" included, so that Paths match the corpus' notice sources.
		subj := ihdr.Text("Subject")
		return rd.walk(ihdr, ib, depth+1, prefix+"forwarded:"+subj+"/", subSect(sect, 0), "text/plain")
	}
	return rd.leaf(h, ct, body, depth, prefix, sect)
}

func subSect(sect string, i int) string {
	if i == 0 {
		return sect
	}
	if sect == "" {
		return fmt.Sprint(i)
	}
	return sect + "." + fmt.Sprint(i)
}

func sectName(sect string) string {
	if sect == "" {
		return "body"
	}
	return sect
}

// chooseAlternative keeps the texts of one alternative (RFC 2046 §5.1.4): the plain one unless it is empty,
// else the last that has text (the richest, by the RFC's order).
func chooseAlternative(kids [][]textPart) []textPart {
	nonEmpty := func(k []textPart) bool {
		for _, t := range k {
			if strings.TrimSpace(t.text) != "" {
				return true
			}
		}
		return false
	}
	for _, k := range kids {
		if len(k) > 0 && k[0].plain && nonEmpty(k) {
			return k
		}
	}
	for i := len(kids) - 1; i >= 0; i-- {
		if nonEmpty(kids[i]) {
			return kids[i]
		}
	}
	return nil
}

// leaf reads a part that is not a multipart nor a message: a text body or an attachment.
func (rd *reader) leaf(h Header, ct mediaType, body []byte, depth int, prefix, sect string) []textPart {
	disp := parseMediaType(h.Get("Content-Disposition"))
	name := disp.params["filename"]
	if name == "" {
		name = ct.params["name"]
	}
	name = baseName(name)
	cte := h.Get("Content-Transfer-Encoding")
	isText := ct.value == "text/plain" || ct.value == "text/html" || ct.value == "text/enriched"
	if isText && disp.value != "attachment" && name == "" {
		data, bad := decodeTransfer(cte, body)
		if bad {
			rd.defect("part %s: damaged %s", sectName(sect), cte)
		}
		label := ct.params["charset"]
		if ct.value == "text/html" && label == "" {
			label = htmlMetaCharset(data)
		}
		s := decodeCharset(label, data)
		if decodes(cte) {
			msgbuf.Release(data) // the text is a string of its own
		}
		s = strings.TrimPrefix(s, "\uFEFF")
		s = strings.ReplaceAll(s, "\r\n", "\n")
		if ct.value == "text/html" {
			for _, m := range cidURLs(s) {
				if rd.cids == nil {
					rd.cids = map[string]bool{}
				}
				id, err := url.PathUnescape(m[1]) // RFC 2392: the URL's id is %-encoded
				if err != nil {
					id = m[1]
				}
				rd.cids[id] = true
			}
			s = htmlText(s)
		}
		return []textPart{{text: s, plain: ct.value != "text/html"}}
	}
	switch ct.value {
	case "message/delivery-status", "message/disposition-notification", "text/rfc822-headers",
		"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature":
		if name == "" {
			return nil // machine parts and signatures carry nothing to read
		}
	}
	if strings.HasPrefix(ct.value, "text/") && name == "" && disp.value != "attachment" {
		return nil // text/calendar, text/x-vcard and the like, shown inline, are no files
	}
	data, bad := decodeTransfer(cte, body)
	if bad {
		rd.defect("part %s: damaged %s", sectName(sect), cte)
	}
	if name == "" {
		name = "part-" + sectName(sect) + extFor(ct.value, data)
	}
	p := name
	if prefix != "" {
		p = prefix + "attachment:" + name
	}
	if int64(len(data)) > rd.lim.MaxAttachmentBytes {
		rd.problem(parser.CodeTooLarge, p, fmt.Sprintf("attachment is %d bytes, limit %d", len(data), rd.lim.MaxAttachmentBytes))
		return nil
	}
	if decodes(cte) {
		data = rd.keep(data)
	} else {
		data = bytes.Clone(data) // do not pin the whole message buffer, nor share it (msgbuf)
	}
	if id := contentID(h); id != "" {
		if rd.contentIDs == nil {
			rd.contentIDs = map[int]string{}
		}
		rd.contentIDs[len(rd.msg.Attachments)] = id
	}
	rd.add(Attachment{Name: name, ContentType: ct.raw, Path: p, Data: data, Inline: disp.value == "inline"}, depth, nil)
	return nil
}

// add appends an attachment and, when it is a ZIP, its members. budget is the uncompressed bytes left to
// the outermost ZIP this one is in, nil for an attachment of the message.
func (rd *reader) add(a Attachment, depth int, budget *int64) {
	a.PDF = looksPDF(a.ContentType, a.Name, a.Data)
	a.Image = !a.PDF && looksImage(a.Data)
	rd.msg.Attachments = append(rd.msg.Attachments, a)
	zipped, sevenZipped := false, false
	if !a.PDF {
		zipped = isZip(a.ContentType, a.Name, a.Data)
		sevenZipped = !zipped && isSevenZip(a.ContentType, a.Name, a.Data)
	}
	if zipped || sevenZipped {
		if depth > rd.lim.MaxDepth {
			rd.problem(parser.CodeCorrupt, a.Path, fmt.Sprintf("archive nesting deeper than %d, not read", rd.lim.MaxDepth))
			return
		}
		if budget == nil {
			b := rd.lim.MaxZipBytes
			budget = &b
		}
		if zipped {
			rd.readZip(a.Path, a.Data, depth+1, budget)
		} else {
			rd.readSevenZip(a.Path, a.Data, depth+1, budget)
		}
	}
}

// keep notes a buffer the message's bytes were decoded into (msgbuf's, or grown from one)
// for Message.Release and returns it clipped to its length: the rest of a recycled buffer
// is an earlier message's. Only such buffers may be noted: a part sent as it is, is the
// message's own memory, and an empty one's capacity runs on into the rest of the message;
// told by its address, it was once noted, and the pool would have handed the message's own
// memory to the next download.
func (rd *reader) keep(decoded []byte) []byte {
	if cap(decoded) == 0 {
		return decoded
	}
	rd.msg.buffers = append(rd.msg.buffers, decoded)
	return decoded[:len(decoded):len(decoded)]
}

// Release gives the buffers the message's parts were decoded into back for the next
// message (msgbuf), except the ones its Locked archives and PDFs are, and drops the
// attachments' Data. The caller promises that nothing else refers to an attachment's Data
// any more; without Release the buffers are the collector's, as any.
func (m *Message) Release() {
	for _, b := range m.buffers {
		if !m.locks(b) {
			msgbuf.Release(b)
		}
	}
	m.buffers = nil
	for i := range m.Attachments {
		m.Attachments[i].Data = nil
	}
}

// locks reports whether one of m.Locked is b (a Locked is always a whole attachment).
func (m *Message) locks(b []byte) bool {
	for _, l := range m.Locked {
		if len(l.Data) > 0 && len(b) > 0 && &l.Data[0] == &b[0] {
			return true
		}
	}
	return false
}

func looksPDF(contentType, name string, data []byte) bool {
	switch strings.ToLower(contentType) {
	case "application/pdf", "application/x-pdf", "application/acrobat", "applications/vnd.pdf", "text/pdf", "text/x-pdf":
		return true
	}
	if strings.HasSuffix(strings.ToLower(name), ".pdf") {
		return true
	}
	// PDF readers accept the header anywhere in the first 1024 bytes (ISO 32000-1 annex H.3 note 3); a
	// ZIP that stores a PDF uncompressed has it there too, and is no PDF.
	head := data[:min(len(data), 1024)]
	return !bytes.HasPrefix(data, []byte("PK")) && bytes.Contains(head, []byte("%PDF-"))
}

// looksImage reports a JPEG, PNG or TIFF by its magic (what the OCR reader decodes).
func looksImage(data []byte) bool {
	return bytes.HasPrefix(data, []byte("\xff\xd8\xff")) || bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) ||
		bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*"))
}

func extFor(mediaType string, data []byte) string {
	switch {
	case mediaType == "application/pdf" || bytes.HasPrefix(data, []byte("%PDF-")):
		return ".pdf"
	case mediaType == "application/zip" || mediaType == "application/x-zip-compressed" || bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return ".zip"
	}
	return ""
}

// baseName drops directories from a file name (RFC 2183 §2.3: the receiver must not trust them) and
// control characters.
func baseName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSpace(name)
}

// htmlMetaCharset finds <meta charset=...> or <meta http-equiv content="...; charset=..."> near the top.
func htmlMetaCharset(b []byte) string {
	head := strings.ToLower(string(b[:min(len(b), 2048)]))
	i := strings.Index(head, "charset=")
	if i < 0 {
		return ""
	}
	v := strings.TrimLeft(head[i+len("charset="):], `"' `)
	end := strings.IndexAny(v, `"'; />`)
	if end < 0 {
		return ""
	}
	return v[:end]
}

// guessBoundary returns the boundary of the first line that looks like a delimiter ("--" and at least one
// more character, no spaces inside), within the first 64 KiB.
func guessBoundary(body []byte) string {
	head := body[:min(len(body), 64<<10)]
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) > 2 && len(line) <= 74 && bytes.HasPrefix(line, []byte("--")) && !bytes.ContainsAny(line, " \t") {
			return string(bytes.TrimSuffix(line[2:], []byte("--")))
		}
	}
	return ""
}

// splitMultipart splits a multipart body at its delimiter lines (RFC 2046 §5.1.1): "--" boundary at the start
// of a line, optionally "--" to close, then only whitespace. The line break before a delimiter belongs to it.
// A body that ends without the closing delimiter ends its last part (closed false). At most max parts.
func splitMultipart(body []byte, boundary string, max int) (parts [][]byte, closed bool) {
	if boundary == "" {
		return nil, false
	}
	delim := []byte("--" + boundary)
	start := -1 // start of the current part's content
	for i := 0; i < len(body); {
		j := bytes.Index(body[i:], delim)
		if j < 0 {
			break
		}
		at := i + j
		i = at + 1
		if at > 0 && body[at-1] != '\n' {
			continue
		}
		rest := body[at+len(delim):]
		isClose := bytes.HasPrefix(rest, []byte("--"))
		if isClose {
			rest = rest[2:]
		}
		eol := bytes.IndexByte(rest, '\n')
		line := rest
		if eol >= 0 {
			line = rest[:eol]
		}
		if len(bytes.Trim(line, " \t\r")) != 0 {
			continue // a longer boundary that starts with this one, or text
		}
		if start >= 0 {
			end := at
			if end > 0 && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			if end < start {
				end = start
			}
			parts = append(parts, body[start:end])
			if len(parts) >= max {
				return parts, true
			}
		}
		if isClose {
			return parts, true
		}
		if eol < 0 {
			start = len(body)
		} else {
			start = len(body) - len(rest) + eol + 1
		}
		i = start
	}
	if start >= 0 && start <= len(body) {
		parts = append(parts, body[start:])
	}
	return parts, false
}
