// Package ocr reads notices from images: PDF pages without a usable text layer (scans,
// sanitised PDFs rebuilt as page images, glyphs drawn as outlines) and images attached
// directly (JPEG, PNG, TIFF). It runs the real tools: poppler's pdftoppm renders a PDF page
// at 300 dpi (less for a page larger than its paper: renderDPI), tesseract (jpn+eng) reads
// it, and a second tesseract pass restricted to the key alphabet reads the 認証キー's box
// again (parser.SettleKey).
//
// It runs only inside a sandbox worker (parser/sandbox): the tools are children of the
// worker, in its process group, so the pool's timeout kills them with it, and they inherit
// the worker's RLIMIT_DATA, so each is bounded by the pool's memory limit as the worker is.
// The field rules are parser's (parser.ReadOCRPage); this package only runs tools and
// moves pixels.
package ocr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // attached photos and scans
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	_ "golang.org/x/image/tiff" // scanners' TIFF

	"hosho-intake/parser"
)

// Options configure a reader. Zero values take the defaults given.
type Options struct {
	Tesseract string // default "tesseract" from PATH
	Pdftoppm  string // default "pdftoppm" from PATH
	// Pdfinfo gives the page sizes (renderDPI); default "pdfinfo" from PATH (poppler-utils,
	// as pdftoppm). Without it pages are rendered at DPI.
	Pdfinfo string
	// MaxPages bounds the pages rendered and read; default 4 (a notice is one page; a
	// cover letter may come before it).
	MaxPages int
	// MaxPixels bounds an attached image's size before it is decoded; default 60
	// megapixels (a 12 MP phone photo fits; a decompression bomb does not).
	MaxPixels int
}

func (o Options) withDefaults() Options {
	if o.Tesseract == "" {
		o.Tesseract = "tesseract"
	}
	if o.Pdftoppm == "" {
		o.Pdftoppm = "pdftoppm"
	}
	if o.Pdfinfo == "" {
		o.Pdfinfo = "pdfinfo"
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 4
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = 60 << 20
	}
	return o
}

// DPI is the resolution a PDF page is rendered at: tesseract reads best with glyphs 20 to
// 40 pixels high (its documentation's "Improving the quality of the output"), which a
// 10.5 pt notice gives at 300 dpi.
const DPI = 300

// IsImage reports data that is a JPEG, PNG or TIFF image, by its magic.
func IsImage(data []byte) bool {
	return bytes.HasPrefix(data, []byte("\xff\xd8\xff")) || bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) ||
		bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*"))
}

// Needs reports whether a document read from data should be read again from its images:
// a PDF without a usable text layer, or an image attached directly.
func Needs(doc parser.Document, data []byte) bool {
	if IsImage(data) {
		return true
	}
	if len(doc.Notices) > 0 {
		return false
	}
	for _, p := range doc.Problems {
		if p.Code == parser.CodeNoText {
			return true
		}
	}
	return false
}

// ErrMissing is returned by Check when tesseract or its Japanese data is not installed.
var ErrMissing = errors.New("ocr: tesseract or its Japanese data (jpn) is missing")

// Check reports whether the tools OCR needs are installed: tesseract with the jpn and eng
// data, and pdftoppm.
func Check(ctx context.Context, opts Options) error {
	opts = opts.withDefaults()
	out, err := exec.CommandContext(ctx, opts.Tesseract, "--list-langs").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s --list-langs: %v", ErrMissing, opts.Tesseract, err)
	}
	langs := strings.Fields(string(out))
	for _, l := range []string{"jpn", "eng"} {
		if !slices.Contains(langs, l) {
			return fmt.Errorf("%w: tesseract has no %q data (Debian: tesseract-ocr-%s)", ErrMissing, l, l)
		}
	}
	if _, err := exec.LookPath(opts.Pdftoppm); err != nil {
		return fmt.Errorf("ocr: pdftoppm is missing (Debian: poppler-utils): %w", err)
	}
	return nil
}

// Read reads the notices in data (a PDF whose text layer was unusable, or an image) from its
// images. prior is what the text layer gave; it is returned with the OCR's notices added and
// its no_text problem replaced when a notice was read, and kept as it was (with a detail
// saying what OCR found) when none was. A tool that fails is not the file's fault alone: the
// prior document is kept and the failure added to its no_text detail.
func Read(ctx context.Context, data []byte, prior parser.Document, opts Options) parser.Document {
	opts = opts.withDefaults()
	dir, err := os.MkdirTemp("", "hosho-ocr-")
	if err != nil {
		return withDetail(prior, data, "OCR could not start: "+err.Error())
	}
	defer os.RemoveAll(dir)

	var pages []string
	if IsImage(data) {
		p, err := imagePage(data, dir, opts.MaxPixels)
		if err != nil {
			return withDetail(prior, data, "image: "+err.Error())
		}
		pages = []string{p}
	} else {
		pages, err = renderPDF(ctx, data, dir, opts)
		if err != nil {
			return withDetail(prior, data, "rendering for OCR: "+err.Error())
		}
	}
	var notices []parser.Notice
	var images []parser.PageImage
	var problems, texts []string
	for i, page := range pages {
		tsv, err := tesseract(ctx, opts, page)
		if err != nil {
			return withDetail(prior, data, "OCR: "+err.Error())
		}
		r := parser.ReadOCRPage(i+1, parser.ParseTSV(tsv))
		texts = append(texts, r.Text)
		for _, b := range r.Problems {
			problems = append(problems, fmt.Sprintf("page %d: %s", i+1, b))
		}
		if len(r.Notices) == 0 {
			continue
		}
		g, err := readGray(page)
		for k, n := range r.Notices {
			n.Page = i + 1
			if err == nil {
				parser.SettleKey(&n, keyPasses(ctx, opts, g, r.KeyBoxes[k], n.AuthKey, dir))
			} else {
				parser.SettleKey(&n, nil)
			}
			notices = append(notices, n)
		}
		// The clerk checks the reading against the page itself. A page whose image does not
		// fit the bounds goes without one: the attachment is still there to open.
		if err == nil {
			if data, err := pageImage(g); err == nil {
				images = append(images, parser.PageImage{Page: i + 1, PNG: data})
			}
		}
	}
	if len(notices) == 0 {
		detail := "OCR found no notice"
		if len(problems) > 0 {
			detail = "OCR: " + strings.Join(problems, "; ")
		}
		return withDetail(prior, data, detail)
	}
	doc := parser.Document{Notices: notices, Problems: []parser.Problem{}, Kind: parser.KindNotice, Pages: max(prior.Pages, len(pages)),
		Images: images}
	for _, p := range prior.Problems {
		if p.Code != parser.CodeNoText && p.Code != parser.CodeNotPDF {
			doc.Problems = append(doc.Problems, p)
		}
	}
	return doc
}

// withDetail keeps the prior reading and says why OCR did not help. An image that yielded
// no notice becomes no_text: it is an image without a readable notice, not a broken PDF.
func withDetail(prior parser.Document, data []byte, detail string) parser.Document {
	doc := prior
	doc.Problems = slices.Clone(prior.Problems)
	if IsImage(data) {
		return parser.Document{Notices: []parser.Notice{}, Pages: 1,
			Problems: []parser.Problem{{Code: parser.CodeNoText, Detail: "image: " + detail}}}
	}
	for i, p := range doc.Problems {
		if p.Code == parser.CodeNoText {
			doc.Problems[i].Detail = p.Detail + "; " + detail
		}
	}
	return doc
}

// maxLongSide bounds a rendered page's long side in pixels (an A4 page at DPI is 3508): a
// scan wrapped in a page larger than its paper, as img2pdf makes one from a JPEG whose
// density it cannot read (96 dpi assumed: a 300 dpi A4 scan on a 95 cm page), would be
// rendered at three times its pixels, 90 megapixels with glyphs 100 pixels high, which
// tesseract reads worse than 20 to 40 (TestRasterised's scan300 kind found no notice on
// sp04) and slower.
const maxLongSide = 3600

// renderDPI is the resolution the first pages of the PDF in are rendered at: DPI, or less
// when a page is so large that its long side would pass maxLongSide; DPI when pdfinfo
// cannot say.
func renderDPI(ctx context.Context, opts Options, in string) int {
	out, err := exec.CommandContext(ctx, opts.Pdfinfo, "-f", "1", "-l", fmt.Sprint(opts.MaxPages), in).Output()
	if err != nil {
		return DPI
	}
	dpi := DPI
	for line := range strings.SplitSeq(string(out), "\n") {
		var n int
		var w, h float64
		if _, err := fmt.Sscanf(line, "Page %d size: %g x %g", &n, &w, &h); err != nil || max(w, h) <= 0 {
			continue
		}
		dpi = min(dpi, int(maxLongSide*72/max(w, h)))
	}
	return max(dpi, 36) // a page metres long is no notice's; it still renders small
}

// renderPDF renders the first pages of a PDF as 8-bit grey PNGs at renderDPI.
func renderPDF(ctx context.Context, data []byte, dir string, opts Options) ([]string, error) {
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, opts.Pdftoppm, "-r", fmt.Sprint(renderDPI(ctx, opts, in)), "-gray", "-png",
		"-f", "1", "-l", fmt.Sprint(opts.MaxPages), in, filepath.Join(dir, "page"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pdftoppm: %v: %s", err, firstLine(stderr.String()))
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
	slices.Sort(pages) // pdftoppm pads the page numbers to one width
	if len(pages) == 0 {
		return nil, errors.New("pdftoppm rendered no page")
	}
	return pages, nil
}

// imagePage checks an attached image's size before decoding it (a decompression bomb is
// refused by its header), and writes it as a grey PNG, which both tesseract and the key
// pass read.
func imagePage(data []byte, dir string, maxPixels int) (string, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("does not decode: %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return "", fmt.Errorf("%dx%d pixels is more than %d megapixels", cfg.Width, cfg.Height, maxPixels>>20)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("does not decode: %v", err)
	}
	gray := image.NewGray(img.Bounds())
	draw.Draw(gray, gray.Bounds(), img, img.Bounds().Min, draw.Src)
	p := filepath.Join(dir, "image.png")
	return p, writePNG(p, gray)
}

// tesseract runs the first OCR pass of a page and returns its TSV.
func tesseract(ctx context.Context, opts Options, image string) ([]byte, error) {
	return run(ctx, opts.Tesseract, image, "stdout", "-l", "jpn+eng", "--psm", "4", "tsv")
}

// run runs tesseract. OMP_THREAD_LIMIT=1: tesseract's OpenMP threads would compete with the
// other workers for the same cores (the pool already reads one file per core), which
// tesseract's FAQ says makes it slower, not faster. --psm 4 (one column of text of varying
// sizes) for the page: the notice is a two-column table that psm 3 splits into blocks,
// parting labels from their values.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tesseract: %v: %s", err, firstLine(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// keyPasses reads the key's box again, restricted to the key alphabet, with the engine's
// per-glyph choices (hOCR, lstm_choice_mode=2), twice: the box as rendered and scaled up
// twice, both as one line (--psm 7; --psm 8 and 13 misread 1 and J as I on sp09). Two
// readings of different pixels that agree are what makes a look-alike certain; one pass
// could repeat its own error.
func keyPasses(ctx context.Context, opts Options, img *image.Gray, box [4]int, first, dir string) []parser.KeyPass {
	if box == [4]int{} || first == "" {
		return nil
	}
	h := box[3] - box[1]
	r := image.Rect(box[0]-h, box[1]-h/2, box[2]+h, box[3]+h/2).Intersect(img.Bounds())
	crop := img.SubImage(r).(*image.Gray)
	wl := parser.KeyWhitelist(first)
	var passes []parser.KeyPass
	for i, scale := range []int{1, 2} {
		p := filepath.Join(dir, fmt.Sprintf("key-%d.png", i))
		if err := writePNG(p, framed(crop, scale, h)); err != nil {
			return passes
		}
		out, err := run(ctx, opts.Tesseract, p, "stdout", "-l", "eng", "--psm", "7",
			"-c", "tessedit_char_whitelist="+wl, "-c", "hocr_char_boxes=1", "-c", "lstm_choice_mode=2", "hocr")
		if err != nil {
			return passes
		}
		passes = append(passes, parser.ParseHOCRChars(out))
	}
	return passes
}

// framed scales src by scale (nearest neighbour: the pass needs more pixels per glyph, not
// smoother ones) inside a white margin: tesseract reads a line best with room around it.
func framed(src *image.Gray, scale, h int) *image.Gray {
	b := src.Bounds()
	m := h * scale / 2
	dst := image.NewGray(image.Rect(0, 0, b.Dx()*scale+2*m, b.Dy()*scale+2*m))
	draw.Draw(dst, dst.Bounds(), &image.Uniform{color.Gray{Y: 255}}, image.Point{}, draw.Src)
	for y := 0; y < b.Dy()*scale; y++ {
		for x := 0; x < b.Dx()*scale; x++ {
			dst.SetGray(x+m, y+m, src.GrayAt(b.Min.X+x/scale, b.Min.Y+y/scale))
		}
	}
	return dst
}

func readGray(path string) (*image.Gray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, err
	}
	if g, ok := img.(*image.Gray); ok {
		return g, nil
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return g, nil
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
