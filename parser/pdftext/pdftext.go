// Package pdftext extracts text with positions from PDF files, decoding Japanese fonts that
// github.com/ledongthuc/pdf alone gets wrong. It walks the content streams itself over the
// library's object layer and keeps its own text state.
//
// Contract: Read takes the bytes of one file and returns its pages' text as lines of spans,
// top to bottom, in the page's reading frame: origin at the top-left, Y down, in points, after
// /Rotate and the crop box offset, and turned further when most of the page's text runs
// sideways (a portrait notice rotated by /Rotate reads as the portrait notice). Text is what
// the fonts say (ToUnicode first, then the predefined Japanese CMaps, the Adobe-Japan1
// table, the simple encodings), not normalised. Errors are ErrNotPDF, ErrEncrypted (a user
// password is needed) or ErrCorrupt, wrapped; test with errors.Is. Read never panics: a page
// that makes the library panic yields no lines. Work is bounded by Limits, but a file that
// makes ledongthuc loop inside one object lookup can still hang, so callers run Read in a
// process with a deadline (see the isolation design).
package pdftext

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ledongthuc/pdf"
)

// Sentinel errors callers branch on.
var (
	ErrNotPDF    = errors.New("not a PDF file")
	ErrEncrypted = errors.New("PDF needs a password")
	ErrCorrupt   = errors.New("PDF is damaged")
)

// Span is a run of glyphs drawn close together on one baseline, in page space after /Rotate:
// origin at the top-left of the visible page, X to the right, Y downwards, in points.
type Span struct {
	Text   string  // decoded Unicode text (not normalised)
	X0, X1 float64 // left and right edge
	Y      float64 // baseline
	Size   float64 // effective font size (height of an em on the page)
	// Doubtful counts the glyphs of the span whose text is not from a mapping we trust: a
	// ToUnicode map that lacks the code, a subset's unknown built-in encoding read as
	// ASCII, a font map that did not decode cleanly. Such text may look right and be wrong.
	Doubtful int
}

// Line is the spans that share a baseline, left to right.
type Line struct {
	Y     float64
	Spans []Span
}

// Page is the text of one page.
type Page struct {
	Number        int // 1-based
	Width, Height float64
	Lines         []Line // top to bottom
	// Undecodable counts glyphs whose font could not be decoded (no ToUnicode, unknown
	// encoding); a page with mostly undecodable glyphs has no usable text layer.
	Undecodable int
	Glyphs      int
	// Doubtful counts glyphs whose text is a guess or comes from a damaged font map (see
	// Span.Doubtful); Damaged counts the streams of the page (contents, forms, fonts' CMaps)
	// that did not decode cleanly, which may have changed any of its text.
	Doubtful int
	Damaged  int
	// Images counts the images the page paints (image XObjects and inline images): a page
	// with images and no text is a scan, which opens and shows, not a damaged file.
	Images int
}

// Limits bound the work done on one file.
type Limits struct {
	MaxPages       int   // pages read; later pages are ignored
	MaxStreamBytes int64 // decompressed bytes of any one content stream
	MaxFormDepth   int   // nesting of Form XObjects
}

// DefaultLimits are generous for a one-page notice and small enough for a daemon.
func DefaultLimits() Limits {
	return Limits{MaxPages: 50, MaxStreamBytes: 16 << 20, MaxFormDepth: 8}
}

// Bounds on walking the page tree of a hostile file: ledongthuc's own Page(n) follows /Kids
// and /Parent without a visit limit and loops forever on a cycle.
const (
	maxTreeDepth  = 32
	maxTreeVisits = 10_000
)

// Read extracts the text of the first lim.MaxPages pages of a PDF file.
func Read(data []byte, lim Limits) ([]Page, error) {
	return ReadLocked(data, lim, nil)
}

// ReadLocked is Read for a PDF that may need a user password to open (PPAP: the password
// comes in the sender's next mail): after the empty password, each of passwords is tried in
// turn. ErrEncrypted says none opens it.
func ReadLocked(data []byte, lim Limits, passwords []string) ([]Page, error) {
	def := DefaultLimits()
	if lim.MaxPages <= 0 {
		lim.MaxPages = def.MaxPages
	}
	if lim.MaxStreamBytes <= 0 {
		lim.MaxStreamBytes = def.MaxStreamBytes
	}
	if lim.MaxFormDepth <= 0 {
		lim.MaxFormDepth = def.MaxFormDepth
	}
	// Readers accept junk before the header within the first KiB (PDF 32000-1 does not, but
	// mail gateways prepend bytes); offsets then count from the header.
	i := bytes.Index(data[:min(len(data), 1024)], []byte("%PDF-"))
	if i < 0 {
		return nil, ErrNotPDF
	}
	data = openableHeader(data[i:])
	pages, retry, err := readDirect(data, lim, passwords)
	if err == nil && !retry {
		return pages, nil
	}
	if errors.Is(err, pdf.ErrInvalidPassword) && !slices.ContainsFunc(passwords, nonASCII) {
		// ledongthuc ran the standard security handler itself (RC4, AES-128 and AES-256,
		// user and owner passwords) and no password fits: pdfcpu would run the same
		// algorithms again. A non-ASCII password still goes on to pdfcpu, which encodes it
		// as each revision asks (ledongthuc tries the UTF-8 bytes).
		return nil, ErrEncrypted
	}
	// The direct path failed (a broken xref, an unknown filter or security handler): repair with pdfcpu
	// and read again, once.
	fixed, perr := rewrite(data, lim, "")
	for _, pw := range passwords {
		if !errors.Is(perr, ErrEncrypted) {
			break
		}
		if pw != "" {
			fixed, perr = rewrite(data, lim, pw)
		}
	}
	if perr != nil {
		if err == nil && len(pages) > 0 {
			return pages, nil // keep what the direct read found
		}
		return nil, perr
	}
	pages2, _, err2 := readDirect(fixed, lim, nil)
	if err2 != nil {
		return nil, err2
	}
	if err != nil && !strings.Contains(err.Error(), "encrypt") && !scan(pages2, data) {
		// Repaired from a damaged file: if nothing readable came back, it is still damaged.
		glyphs := 0
		for _, p := range pages2 {
			glyphs += p.Glyphs
		}
		if glyphs == 0 {
			return nil, fmt.Errorf("%w: no text after repair: %v", ErrCorrupt, err)
		}
	}
	return pages2, nil
}

// scan reports pages that paint images and have no text and nothing damaged, in a file that
// ends as a whole file does (%%EOF): what a scanner driver writes, whose cross-reference
// table ledongthuc may reject (offsets counted off, bytes after %%EOF) although poppler opens
// it. Such a file is an image-only notice (no_text), not a damaged one; a file cut off in
// transit has lost its %%EOF and stays corrupt.
func scan(pages []Page, data []byte) bool {
	images := 0
	for _, p := range pages {
		if p.Glyphs > 0 || p.Damaged > 0 {
			return false
		}
		images += p.Images
	}
	return images > 0 && bytes.Contains(data[max(0, len(data)-4096):], []byte("%%EOF"))
}

// openableHeader returns data with a header line ledongthuc accepts. It takes only
// "%PDF-1.0" to "%PDF-1.7" followed by an end of line, but producers write more: ImageMagick
// "%PDF-1.3 " (a space before the end of line), others "%PDF-2.0" or a binary comment on the
// header line ("%PDF-1.7%âãÏÓ"), and poppler opens them all (PDF 32000-2 §7.5.2 asks only
// for the version). The copy keeps every byte offset: the version becomes 1.7 and the
// character after it an end of line.
func openableHeader(data []byte) []byte {
	if len(data) < 10 || !isDigit(data[5]) || data[6] != '.' || !isDigit(data[7]) || isDigit(data[8]) {
		return data
	}
	if data[5] == '1' && data[7] <= '7' && (data[8] == '\r' || data[8] == '\n') {
		return data
	}
	fixed := slices.Clone(data)
	if data[5] != '1' || data[7] > '7' {
		copy(fixed[5:8], "1.7")
	}
	if data[8] != '\r' && data[8] != '\n' {
		fixed[8] = '\n'
	}
	return fixed
}

// nonASCII reports a password with a byte outside ASCII.
func nonASCII(pw string) bool {
	for i := range len(pw) {
		if pw[i] >= 0x80 {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// readDirect reads with ledongthuc as the file is, opening an encrypted file with the empty
// password or one of passwords. retry reports that some stream needs the pre-pass.
func readDirect(data []byte, lim Limits, passwords []string) (pages []Page, retry bool, err error) {
	r, err := openReader(data, passwords)
	if err != nil {
		return nil, false, err
	}
	leaves := pageLeaves(r, lim.MaxPages)
	if len(leaves) == 0 {
		return nil, false, fmt.Errorf("%w: no pages", ErrCorrupt)
	}
	for n, pg := range leaves {
		p, filt := readPage(pg, n+1, lim)
		retry = retry || filt
		pages = append(pages, p)
	}
	// Pages the tree counts but that could not be found (a damaged page object or /Kids
	// entry) are there as damaged pages, so that losing one is not silent.
	for n := len(pages); n < min(pageCount(r), lim.MaxPages); n++ {
		pages = append(pages, Page{Number: n + 1, Damaged: 1})
	}
	return pages, retry, nil
}

// pageCount is the root page tree's /Count.
func pageCount(r *pdf.Reader) (n int) {
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	return int(r.Trailer().Key("Root").Key("Pages").Key("Count").Int64())
}

func openReader(data []byte, passwords []string) (r *pdf.Reader, err error) {
	defer func() {
		if x := recover(); x != nil {
			r, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, x)
		}
	}()
	next := func() string {
		for len(passwords) > 0 {
			pw := passwords[0]
			passwords = passwords[1:]
			if pw != "" {
				return pw
			}
		}
		return "" // no more: ledongthuc stops asking
	}
	r, err = pdf.NewReaderBytes(data, next)
	if errors.Is(err, pdf.ErrInvalidPassword) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return r, nil
}

// pageLeaves walks the page tree depth first with depth and visit bounds, so a tree that
// contains itself ends.
func pageLeaves(r *pdf.Reader, maxPages int) (out []pdf.Value) {
	defer func() {
		if recover() != nil {
			// A damaged tree: keep the pages found so far.
		}
	}()
	visits := 0
	var walk func(v pdf.Value, depth int)
	walk = func(v pdf.Value, depth int) {
		visits++
		if depth > maxTreeDepth || visits > maxTreeVisits || len(out) >= maxPages {
			return
		}
		kids := v.Key("Kids")
		if v.Key("Type").Name() == "Page" || (kids.Kind() != pdf.Array && v.Key("Contents").Kind() != pdf.Null) {
			out = append(out, v)
			return
		}
		n := min(kids.Len(), maxTreeVisits)
		for i := 0; i < n && len(out) < maxPages && visits <= maxTreeVisits; i++ {
			walk(kids.Index(i), depth+1)
		}
	}
	walk(r.Trailer().Key("Root").Key("Pages"), 0)
	return out
}

// inherited looks a page attribute up the /Parent chain, at most maxTreeDepth steps (a page
// whose /Parent is itself would otherwise loop).
func inherited(v pdf.Value, key string) pdf.Value {
	for i := 0; i < maxTreeDepth && !v.IsNull(); i++ {
		if x := v.Key(key); !x.IsNull() {
			return x
		}
		v = v.Key("Parent")
	}
	return pdf.Value{}
}

// readPage extracts one page; a panic inside the library leaves the page without lines.
func readPage(v pdf.Value, n int, lim Limits) (p Page, filt bool) {
	p.Number = n
	defer func() {
		if recover() != nil {
			p.Lines = nil
		}
	}()
	box := rect(inherited(v, "CropBox"))
	if box[2]-box[0] <= 0 || box[3]-box[1] <= 0 {
		box = rect(inherited(v, "MediaBox"))
	}
	if box[2]-box[0] <= 0 || box[3]-box[1] <= 0 {
		box = [4]float64{0, 0, 595, 842}
	}
	rot := ((int(inherited(v, "Rotate").Int64())%360 + 360) % 360) / 90
	llx, lly, urx, ury := box[0], box[1], box[2], box[3]
	var base matrix
	w, h := urx-llx, ury-lly
	switch rot {
	case 1:
		base = matrix{0, 1, 1, 0, -lly, -llx}
		w, h = h, w
	case 2:
		base = matrix{-1, 0, 0, 1, urx, -lly}
	case 3:
		base = matrix{0, -1, -1, 0, ury, urx}
		w, h = h, w
	default:
		base = matrix{1, 0, 0, -1, -llx, ury}
	}
	pooled := glyphPool.Get().(*[]placed)
	defer func() {
		clear(*pooled) // the texts
		*pooled = (*pooled)[:0]
		glyphPool.Put(pooled)
	}()
	wk := &walker{lim: lim, glyphs: (*pooled)[:0]}
	res := &resources{v: inherited(v, "Resources"), fonts: map[string]*font{}}
	contents := v.Key("Contents")
	if contents.Kind() == pdf.Null && slices.Contains(v.Keys(), "Contents") {
		p.Damaged++ // the page's contents are an object that does not parse
	}
	buf := getStreamBuf()
	data, err := wk.stream(contents, buf)
	if err != nil {
		// Unreadable as it is: the pre-pass may mend it; if not, the page is damaged.
		p.Damaged = 1
		return p, true
	}
	wk.run(data, res, gstate{ctm: base, th: 1}, 0)
	putStreamBuf(buf, data)
	p.Width, p.Height = upright(wk.glyphs, w, h)
	p.Lines = buildLines(wk.glyphs)
	*pooled = wk.glyphs
	p.Glyphs, p.Undecodable = wk.total, wk.undecodable
	p.Doubtful, p.Damaged = wk.doubtful, p.Damaged+wk.damaged
	p.Images = wk.images
	return p, wk.errFilter
}

// glyphPool keeps the glyph slice of a page read before: a page places hundreds of glyphs,
// and growing a new slice for each page was a quarter of what reading a file allocated.
// Lines copy what they keep.
var glyphPool = sync.Pool{New: func() any { return new([]placed) }}

func rect(v pdf.Value) [4]float64 {
	var b [4]float64
	if v.Kind() != pdf.Array || v.Len() < 4 {
		return b
	}
	for i := range 4 {
		b[i] = num(v.Index(i))
	}
	if b[0] > b[2] {
		b[0], b[2] = b[2], b[0]
	}
	if b[1] > b[3] {
		b[1], b[3] = b[3], b[1]
	}
	return b
}
