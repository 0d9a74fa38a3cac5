package parser

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"

	"hosho-intake/parser/pdftext"
)

// Kinds of PDF that hold no notice. They are reported so that a clerk sees what else the
// contractor sent, and are not errors of the mail.
const (
	KindNotice      = "notice"
	KindCertificate = "certificate"       // the 保証証書 itself (wrong_document)
	KindInvoice     = "advance_claim"     // 前払金請求書
	KindCoverLetter = "cover_letter"      // 送付状, 提出書
	KindGuarantee   = "other_certificate" // a bank's or an insurer's guarantee
	KindOther       = "other"
)

// ReadPDF reads the notices in one PDF file. It never panics; a file it cannot read is
// reported as a problem (not_pdf, encrypted, corrupt, no_text, wrong_document). The
// Attachment of the problems and notices is left for the caller to fill in.
func ReadPDF(data []byte) (doc Document) {
	return ReadLockedPDF(data, nil)
}

// ReadLockedPDF is ReadPDF for a PDF that may need a user password: each of passwords is
// tried after the empty one. A PDF none of them opens is encrypted, as with ReadPDF.
func ReadLockedPDF(data []byte, passwords []string) (doc Document) {
	defer func() {
		if r := recover(); r != nil {
			doc = Document{Problems: []Problem{{Code: CodeCorrupt, Detail: fmt.Sprintf("reader failed: %v", r)}}}
		}
	}()
	pages, err := pdftext.ReadLocked(data, pdftext.DefaultLimits(), passwords)
	switch {
	case errors.Is(err, pdftext.ErrNotPDF):
		return Document{Problems: []Problem{{Code: CodeNotPDF, Detail: sniff(data)}}}
	case errors.Is(err, pdftext.ErrEncrypted):
		return Document{Problems: []Problem{{Code: CodeEncrypted, Detail: "the PDF needs a password to open"}}}
	case err != nil:
		return Document{Problems: []Problem{{Code: CodeCorrupt, Detail: err.Error()}}}
	}
	return fromPages(pages)
}

// sniff names what a file that is not a PDF looks like, for the reply to its sender.
func sniff(data []byte) string {
	head := strings.ToLower(string(data[:min(len(data), 512)]))
	switch {
	case strings.Contains(head, "<html") || strings.Contains(head, "<!doctype"):
		return "an HTML page, not a PDF"
	case strings.HasPrefix(head, "\x89png"):
		return "a PNG image, not a PDF"
	case strings.HasPrefix(head, "\xff\xd8"):
		return "a JPEG image, not a PDF"
	case strings.HasPrefix(head, "pk\x03\x04"):
		return "a ZIP or Office file, not a PDF"
	case len(data) == 0:
		return "an empty file"
	}
	return "not a PDF file"
}

// fromPages finds the notices on the pages of one PDF, one notice per page or per repeated
// set of labels.
func fromPages(pages []pdftext.Page) Document {
	doc := Document{Pages: len(pages), Notices: []Notice{}, Problems: []Problem{}}
	var glyphs, undecodable, doubtful, images int
	// pageRowsAll keeps the rows of every page for the text of the whole file, which only
	// a file without a notice needs (to say what it is), so it is joined only then.
	pageRowsAll := make([][]row, 0, len(pages))
	var bad, damaged []string
	certificate := false
	for i := range pages {
		p := &pages[i]
		glyphs += p.Glyphs
		undecodable += p.Undecodable
		doubtful += p.Doubtful
		images += p.Images
		rows := pageRows(p)
		pageRowsAll = append(pageRowsAll, rows)
		notices, problems, cert := pageNotices(rows, false)
		certificate = certificate || cert
		if p.Damaged > 0 {
			// A stream that did not decode cleanly may have changed any text of the page,
			// digits and letters included, with nothing left to check them against.
			damaged = append(damaged, fmt.Sprintf("page %d: %d streams or fonts that do not decode", p.Number, p.Damaged))
			continue
		}
		for _, n := range notices {
			n.Source, n.Page = "pdf", p.Number
			doc.Notices = append(doc.Notices, n)
		}
		for _, b := range problems {
			bad = append(bad, fmt.Sprintf("page %d: %s", p.Number, b))
		}
	}
	all := sync.OnceValue(func() string {
		var text strings.Builder
		for _, rows := range pageRowsAll {
			for _, r := range rows {
				text.WriteString(compact(r.text))
			}
		}
		return text.String()
	})
	if len(damaged) > 0 {
		doc.Problems = append(doc.Problems, Problem{Code: CodeCorrupt, Detail: "damaged: " + strings.Join(damaged, "; ")})
		if len(doc.Notices) == 0 {
			return doc
		}
	}
	switch {
	case len(doc.Notices) > 0:
		doc.Kind = KindNotice
	case len(bad) > 0:
		// Labels of a notice are there but a value fails its self-check: a font decoded
		// wrongly. Saying so beats showing a clerk a wrong key.
		doc.Problems = append(doc.Problems, Problem{Code: CodeNoText, Detail: strings.Join(bad, "; ")})
		return doc
	case certificate:
		doc.Kind = KindCertificate
		doc.Problems = append(doc.Problems, Problem{Code: CodeWrongDocument,
			Detail: "this is the guarantee certificate (保証証書), not the 「認証キー」等のお知らせ"})
		return doc
	case glyphs == 0 && images > 0:
		// A scan (ImageMagick, img2pdf, a scanner driver): it opens and shows its images.
		doc.Problems = append(doc.Problems, Problem{Code: CodeNoText,
			Detail: fmt.Sprintf("image-only: %d images and no text layer", images)})
		return doc
	case glyphs-undecodable < 8 || undecodable*2 > glyphs || unreadable(all()):
		doc.Problems = append(doc.Problems, Problem{Code: CodeNoText,
			Detail: fmt.Sprintf("no usable text layer (%d glyphs, %d undecodable)", glyphs, undecodable)})
		return doc
	case doubtful*4 > glyphs-undecodable:
		// Mostly guessed text (a font whose encoding or map was lost) hides a notice's
		// labels as well as its values: no notice found says nothing about the file.
		doc.Problems = append(doc.Problems, Problem{Code: CodeNoText,
			Detail: fmt.Sprintf("text decoded by a guess (%d of %d glyphs): the fonts' maps are damaged or missing", doubtful, glyphs)})
		return doc
	default:
		doc.Kind = classify(all())
	}
	if len(bad) > 0 {
		doc.Problems = append(doc.Problems, Problem{Code: CodeNoText, Detail: strings.Join(bad, "; ")})
	}
	return doc
}

// classify names a readable PDF that holds no notice.
func classify(text string) string {
	switch {
	case strings.Contains(text, "請求書"):
		return KindInvoice
	case strings.Contains(text, "保証書") || strings.Contains(text, "保険証券") || strings.Contains(text, "証書"):
		return KindGuarantee
	case strings.Contains(text, "送付") || strings.Contains(text, "提出"):
		return KindCoverLetter
	}
	return KindOther
}

// unreadable reports a text layer made mostly of characters no Japanese document is
// written in: what a font without a usable encoding decodes to.
func unreadable(text string) bool {
	var good, all int
	for _, r := range text {
		all++
		if r < 0x7F && unicode.IsPrint(r) || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) ||
			r >= 0x3000 && r <= 0x303F || r >= 0xFF00 && r <= 0xFFEF {
			good++
		}
	}
	return all > 0 && good*10 < all*7
}

// row is one line of a page as the notice reader sees it: normalised text whose spans are
// joined by a tab, so that a label and its value in the next cell stay apart.
type row struct {
	y, x0, size float64
	text        string
	raw         string // the text before Normalize, for values shown as written
	doubt       bool   // some glyph's text is a guess (pdftext.Span.Doubtful)
	// spanDoubt is doubt per span, the cells of text between tabs: a damaged label's own
	// guessed glyph says nothing about the value beside it (damaged.go).
	spanDoubt []bool
}

func pageRows(p *pdftext.Page) []row {
	rows := make([]row, 0, len(p.Lines))
	for _, l := range p.Lines {
		if len(l.Spans) == 0 {
			continue
		}
		parts := make([]string, len(l.Spans))
		sizes := make([]float64, len(l.Spans))
		doubt := false
		spanDoubt := make([]bool, len(l.Spans))
		for i, s := range l.Spans {
			parts[i], sizes[i] = s.Text, s.Size
			spanDoubt[i] = s.Doubtful > 0
			doubt = doubt || spanDoubt[i]
		}
		sort.Float64s(sizes)
		size := sizes[len(sizes)/2]
		if size <= 0 {
			size = 10
		}
		raw := strings.Join(parts, "\t")
		t := Normalize(raw)
		if strings.TrimSpace(t) == "" {
			continue
		}
		rows = append(rows, row{y: l.Y, x0: l.Spans[0].X0, size: size, text: t, raw: raw, doubt: doubt, spanDoubt: spanDoubt})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].y < rows[j].y })
	return rows
}

// anchor is a row that opens with a label.
type anchor struct {
	row   int
	field field
	rest  string   // the value on the label's own line
	above []string // value lines above the label's baseline (a vertically centred cell)
	below []string // value lines below it (a value that wraps)
	// written holds the same lines as the page wrote them: above, rest, below.
	written [][]string
	doubt   bool   // one of its lines has glyphs whose text is a guess
	damaged string // the label as read, when it is a label with a damaged glyph (damaged.go)
}

// pageNotices reads the label | value table of one page. Values are found on the label's
// own line, or, for a cell whose text wraps or is vertically centred, on lines of the value
// column just above or below it; lines that start at the left margin (prose) end a table.
// From an image (fromImage), a notice whose 認証キー alone fails its surety's shape or holds
// a glyph that is not a letter or digit is kept, the failure in its Remark: a glyph dropped,
// doubled or misread by OCR, not a wrong document; the key's own pass reads it again and it
// stays unsure (SettleKey).
func pageNotices(rows []row, fromImage bool) (notices []Notice, problems []string, certificate bool) {
	var anchors []anchor
	if len(rows) == 0 {
		return nil, nil, false
	}
	labelX := math.Inf(1)
	certificate = false
	for i, r := range rows {
		// Both words start with 保: a row without it holds neither, spaced out or not.
		if !certificate && strings.Contains(r.text, "保") {
			c := compact(r.text)
			certificate = strings.Contains(c, "保証金額") || strings.Contains(c, "保証証書")
		}
		for text := r.text; ; {
			f, rest, ok := matchLabel(text)
			if !ok {
				break
			}
			if text == r.text {
				labelX = math.Min(labelX, r.x0)
			}
			// A grid of two label | value pairs per line: the next pair starts in a later cell.
			next := ""
			if cells := strings.Split(rest, "\t"); len(cells) > 1 {
				for k := 1; k < len(cells); k++ {
					if _, _, ok := matchLabel(cells[k]); ok {
						rest, next = strings.Join(cells[:k], "\t"), strings.Join(cells[k:], "\t")
						break
					}
				}
			}
			rest = trimSeparators(rest)
			anchors = append(anchors, anchor{row: i, field: f, rest: rest, doubt: r.doubt,
				written: [][]string{nil, {written(r.raw, rest)}, nil}})
			if next == "" {
				break
			}
			text = next
		}
	}
	if len(anchors) == 0 {
		return nil, nil, false
	}
	anchors = recoverLabels(rows, anchors, labelX)
	isAnchor := make(map[int]int, len(anchors))
	for i := len(anchors) - 1; i >= 0; i-- {
		isAnchor[anchors[i].row] = i // the first label of a row holds its continuation lines
	}
	for i, r := range rows {
		if _, ok := isAnchor[i]; ok || r.x0 < labelX+1.5*r.size {
			continue
		}
		if a := nearestAnchor(rows, anchors, isAnchor, i); a >= 0 {
			anchors[a].doubt = anchors[a].doubt || r.doubt
			if rows[i].y < rows[anchors[a].row].y {
				anchors[a].above = append(anchors[a].above, r.text)
				anchors[a].written[0] = append(anchors[a].written[0], r.raw)
			} else {
				anchors[a].below = append(anchors[a].below, r.text)
				anchors[a].written[2] = append(anchors[a].written[2], r.raw)
			}
		}
	}
	d := draft{image: fromImage}
	sawKey, sawNumber := false, false
	flush := func() {
		if d.n == 0 {
			return
		}
		if !d.has(fieldGuarantor) {
			// Some notices (東日本建設業保証's) have no 保証機関 row: the issuer is the
			// letterhead or the footer.
			if g := issuer(rows); g != "" {
				d.put(fieldGuarantor, g)
			}
		}
		sawKey = sawKey || d.has(fieldKey)
		sawNumber = sawNumber || d.has(fieldNumber)
		if d.has(fieldNumber) || d.has(fieldKey) {
			n, bad := d.printedNotice()
			switch {
			case bad == "":
				notices = append(notices, n)
			case fromImage && bad == d.keyShape:
				n.Remark = strings.TrimPrefix(n.Remark+"; ", "; ") + bad
				n.OCR = &OCRMarks{keyMisread: bad}
				notices = append(notices, n)
			case d.has(fieldNumber) && d.has(fieldKey):
				problems = append(problems, bad)
			}
		}
		d = draft{image: fromImage}
	}
	for _, a := range anchors {
		if d.has(a.field) {
			flush()
		}
		parts := append(append(append([]string{}, a.above...), a.rest), a.below...)
		d.putWritten(a.field, strings.Join(parts, ""), strings.Join(slices.Concat(a.written...), ""))
		d.doubt[a.field] = a.doubt
		if a.damaged != "" {
			d.remarks = append(d.remarks, fmt.Sprintf("%s read from a row whose label is damaged (「%s」), by its place in the table and its value's shape",
				fieldNames[a.field], a.damaged))
		}
	}
	flush()
	// The certificate saved at STEP 3 states a 保証契約番号 and a 保証金額 but no 認証キー.
	return notices, problems, certificate && sawNumber && !sawKey
}

// issuer finds the surety company that a page names outside its table, by the full stems
// only, so that prose cannot pass for an issuer.
func issuer(rows []row) string {
	for _, r := range rows {
		c := compact(r.text)
		for _, a := range suretyAliases {
			if a.full && strings.Contains(c, a.stem) {
				return a.official
			}
		}
	}
	return ""
}

// nearestAnchor picks the label whose cell the value-column row i belongs to: the nearest
// label above or below it whose value may wrap, with no prose line in between; on a tie a
// label that has no value on its own line wins, then the label above (cells wrap downwards).
func nearestAnchor(rows []row, anchors []anchor, isAnchor map[int]int, i int) int {
	size := rows[i].size
	labelX := math.Inf(1)
	for _, a := range anchors {
		labelX = math.Min(labelX, rows[a.row].x0)
	}
	find := func(step int) (int, float64) {
		for j := i + step; j >= 0 && j < len(rows); j += step {
			if a, ok := isAnchor[j]; ok {
				return a, math.Abs(rows[j].y - rows[i].y)
			}
			if rows[j].x0 < labelX+1.5*rows[j].size {
				return -1, 0 // prose in between
			}
		}
		return -1, 0
	}
	up, du := find(-1)
	down, dd := find(1)
	ok := func(a int, d float64) bool { return a >= 0 && anchors[a].field.wraps() && d <= 2.5*size }
	switch okUp, okDown := ok(up, du), ok(down, dd); {
	case okUp && okDown:
		if math.Abs(du-dd) < 0.25*size {
			if anchors[down].rest == "" && anchors[up].rest != "" {
				return down
			}
			return up
		}
		if dd < du {
			return down
		}
		return up
	case okUp:
		return up
	case okDown:
		return down
	}
	return -1
}
