package noticepdf

import (
	"bytes"
	"fmt"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"strconv"
)

// renderer turns laid-out pages into content streams with one document's fonts.
type renderer struct {
	o     *Options
	fonts *fontSet
	b     []byte
	// scratch, reused across items
	rs []rune
	gs []glyph
	xs []float64
}

// substitute is what boilerplate falls back to when the encoding lacks a character: a real
// EUC producer's template is written without the NEC circled digits.
func substitute(r rune) string {
	if r >= '①' && r <= '⑳' {
		return "(" + strconv.Itoa(int(r-'①')+1) + ")"
	}
	return "?"
}

// content returns the content stream of p, without the rotation (see rotation).
func (r *renderer) content(p *page) ([]byte, error) {
	r.b = append(r.b[:0], "q\n0.7 w\n"...)
	for i := range p.items {
		it := &p.items[i]
		if it.kind == kindRule {
			r.rule(it)
			continue
		}
		if err := r.text(it); err != nil {
			return nil, err
		}
	}
	r.b = append(r.b, "Q\n"...)
	return r.b, nil
}

func (r *renderer) rule(it *item) {
	b := r.b
	if it.fill {
		b = append(b, ".91 g "...)
	}
	b = appendNum(b, it.x)
	b = append(b, ' ')
	b = appendNum(b, it.y)
	b = append(b, ' ')
	b = appendNum(b, it.w)
	b = append(b, ' ')
	b = appendNum(b, it.h)
	if it.fill {
		b = append(b, " re B\n0 g\n"...)
	} else {
		b = append(b, " re S\n"...)
	}
	r.b = b
}

// glyphs resolves the item's characters, substituting in boilerplate and failing on a value
// or label that the encoding cannot express (a fixture must never silently differ from the
// notice it claims to be).
func (r *renderer) glyphs(it *item) error {
	r.rs, r.gs = r.rs[:0], r.gs[:0]
	for _, c := range it.text {
		g, err := r.fonts.glyph(c)
		if err != nil {
			if it.kind != kindText {
				return fmt.Errorf("noticepdf: %q: %w", it.text, err)
			}
			for _, s := range substitute(c) {
				if g, err = r.fonts.glyph(s); err != nil {
					return fmt.Errorf("noticepdf: %q: %w", it.text, err)
				}
				r.rs, r.gs = append(r.rs, s), append(r.gs, g)
			}
			continue
		}
		r.rs, r.gs = append(r.rs, c), append(r.gs, g)
	}
	r.xs = positions(it, r.rs, r.xs[:0])
	return nil
}

// positions returns where each glyph of it starts: one after the other by their widths, or,
// for a 均等割付 label, spread so that the last glyph ends at the end of the spread width.
func positions(it *item, rs []rune, xs []float64) []float64 {
	var total float64
	for _, c := range rs {
		total += advance(c) * it.size / 1000
	}
	gap := 0.0
	if it.spread > 0 && len(rs) > 1 {
		gap = max(0, it.spread-total) / float64(len(rs)-1)
	}
	x := it.x
	for _, c := range rs {
		xs = append(xs, x)
		x += advance(c)*it.size/1000 + gap
	}
	return xs
}

func (r *renderer) text(it *item) error {
	if err := r.glyphs(it); err != nil {
		return err
	}
	if r.o.Encoding == Outlines {
		r.outline(it)
		return nil
	}
	perGlyph := it.spread > 0 || r.o.GlyphByGlyph
	b := append(r.b, "BT\n"...)
	font := -1
	for i := 0; i < len(r.gs); {
		g := r.gs[i]
		if g.font != font {
			font = g.font
			b = append(b, '/')
			b = append(b, r.fonts.resName(font)...)
			b = append(b, ' ')
			b = appendNum(b, it.size)
			b = append(b, " Tf\n"...)
		}
		switch {
		case i == 0 || it.spread > 0:
			b = append(b, "1 0 0 1 "...)
			b = appendNum(b, r.xs[i])
			b = append(b, ' ')
			b = appendNum(b, it.y)
			b = append(b, " Tm\n"...)
		case perGlyph:
			// Td moves from the start of the previous glyph's line matrix, not from where
			// the pen stopped (§9.4.2), so the offset is the previous glyph's advance.
			b = appendNum(b, r.xs[i]-r.xs[i-1])
			b = append(b, " 0 Td\n"...)
		}
		j := i + 1
		if !perGlyph {
			for j < len(r.gs) && r.gs[j].font == font {
				j++
			}
		}
		b = r.appendString(b, r.gs[i:j])
		b = append(b, " Tj\n"...)
		i = j
	}
	r.b = append(b, "ET\n"...)
	return nil
}

// appendString writes the codes of gs as a string operand.
func (r *renderer) appendString(b []byte, gs []glyph) []byte {
	var tmp [64]byte
	raw := tmp[:0]
	for _, g := range gs {
		for k := g.n - 1; k >= 0; k-- {
			raw = append(raw, byte(g.code>>(8*k)))
		}
	}
	if r.fonts.literal() {
		return appendLiteral(b, raw)
	}
	return appendHexString(b, raw)
}

// outline draws the item's glyphs as filled bars that vary with the character, roughly where
// ink would be: a page that shows text but has none to extract.
func (r *renderer) outline(it *item) {
	b := r.b
	em := it.size
	for i, c := range r.rs {
		if c == ' ' || c == '　' {
			continue
		}
		a := advance(c) * em / 1000
		x, y := r.xs[i], it.y
		for k := 0; k < 3; k++ {
			if k == 1 || c>>k&1 == 1 {
				b = appendRect(b, x+0.1*a, y+(0.02+0.3*float64(k))*em, 0.8*a, 0.07*em)
			}
		}
		vx := 0.2
		if c>>3&1 == 1 {
			vx = 0.55
		}
		b = appendRect(b, x+vx*a, y-0.06*em, 0.07*em, 0.84*em)
	}
	r.b = append(b, "f\n"...)
}

func appendRect(b []byte, x, y, w, h float64) []byte {
	b = appendNum(b, x)
	b = append(b, ' ')
	b = appendNum(b, y)
	b = append(b, ' ')
	b = appendNum(b, w)
	b = append(b, ' ')
	b = appendNum(b, h)
	return append(b, " re\n"...)
}

// rotation returns the MediaBox size and the matrix that maps the upright page into it for a
// page /Rotate of deg (clockwise, §7.7.3.3): a viewer turns the page by deg, and the drawing,
// turned the other way here, ends up upright.
func rotation(deg int) (w, h float64, cm string) {
	switch deg {
	case 90: // upright (u,v) -> media (H-v, u)
		return pageH, pageW, "0 1 -1 0 " + string(appendNum(nil, pageH)) + " 0 cm\n"
	case 180: // (u,v) -> (W-u, H-v)
		return pageW, pageH, "-1 0 0 -1 " + string(appendNum(nil, pageW)) + " " + string(appendNum(nil, pageH)) + " cm\n"
	case 270: // (u,v) -> (v, W-u)
		return pageH, pageW, "0 -1 1 0 0 " + string(appendNum(nil, pageW)) + " cm\n"
	}
	return pageW, pageH, ""
}

// writeDoc writes pages as one PDF sharing one font.
func writeDoc(out io.Writer, pages []*page, o *Options, title string) error {
	w := newObjWriter(!o.NoCompress)
	catalog, pagesObj, info, fontRes := w.reserve(), w.reserve(), w.reserve(), w.reserve()
	r := &renderer{o: o, fonts: newFontSet(o.Encoding), b: make([]byte, 0, 8<<10)}
	mw, mh, cm := rotation(o.Rotate)
	kids := make([]byte, 0, 8*len(pages))
	var pageBuf []byte
	for i, p := range pages {
		pg, content := w.reserve(), w.reserve()
		data, err := r.content(p)
		if err != nil {
			return err
		}
		var res []byte
		if o.FormXObject {
			form := w.reserve()
			w.stream(form, fmt.Appendf(nil, " /Type /XObject /Subtype /Form /BBox [0 0 %s %s] /Resources %d 0 R",
				appendNum(nil, pageW), appendNum(nil, pageH), fontRes), data, o.ASCIIHex)
			name := "Fm" + strconv.Itoa(i)
			pageBuf = append(pageBuf[:0], "q\n"...)
			pageBuf = append(pageBuf, cm...)
			pageBuf = append(pageBuf, "/"+name+" Do\nQ\n"...)
			res = fmt.Appendf(nil, "<< /ProcSet [/PDF /Text] /XObject << /%s %d 0 R >> >>", name, form)
		} else {
			pageBuf = append(pageBuf[:0], cm...)
			pageBuf = append(pageBuf, data...)
			res = appendRef(nil, fontRes)
		}
		w.stream(content, nil, pageBuf, o.ASCIIHex)
		pd := fmt.Appendf(nil, "<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources %s /Contents %d 0 R",
			pagesObj, appendNum(nil, mw), appendNum(nil, mh), res, content)
		if o.Rotate != 0 {
			pd = fmt.Appendf(pd, " /Rotate %d", o.Rotate)
		}
		w.object(pg, append(pd, " >>"...))
		kids = appendRef(append(kids, ' '), pg)
	}
	fontEntries := r.fonts.writeFonts(w)
	w.object(fontRes, fmt.Appendf(nil, "<< /ProcSet [/PDF /Text] /Font << %s >> >>", fontEntries))
	finishDoc(w, catalog, pagesObj, info, kids, len(pages), o.producer(), title)
	_, err := out.Write(w.buf)
	return err
}

func finishDoc(w *objWriter, catalog, pagesObj, info int, kids []byte, n int, producer, title string) {
	w.object(pagesObj, fmt.Appendf(nil, "<< /Type /Pages /Kids [%s ] /Count %d >>", kids, n))
	w.object(catalog, fmt.Appendf(nil, "<< /Type /Catalog /Pages %d 0 R >>", pagesObj))
	ib := append([]byte(nil), "<< /Producer "...)
	ib = appendTextString(ib, producer)
	ib = append(ib, " /Title "...)
	ib = appendTextString(ib, title)
	w.object(info, append(ib, " >>"...))
	w.finish(catalog, info)
}

// Scan resolution of ImageOnly: 100 dpi, the low end of what office scanners send.
const scanDPI = 100

// writeImageDoc writes p rasterised (ink boxes where glyphs are) as a grey image on one page.
func writeImageDoc(out io.Writer, p *page, o *Options) error {
	iw, ih := int(math.Round(pageW*scanDPI/72)), int(math.Round(pageH*scanDPI/72))
	pix := make([]byte, iw*ih)
	for i := range pix {
		pix[i] = 0xff
	}
	s := float64(scanDPI) / 72
	fill := func(x, y, w, h float64, v byte) { // page space, origin bottom-left
		x0, x1 := int(x*s), int((x+w)*s)
		y0, y1 := ih-int((y+h)*s), ih-int(y*s)
		for yy := max(0, y0); yy < min(ih, y1); yy++ {
			row := pix[yy*iw : (yy+1)*iw]
			for xx := max(0, x0); xx < min(iw, x1); xx++ {
				row[xx] = min(row[xx], v)
			}
		}
	}
	var rs []rune
	var xs []float64
	for i := range p.items {
		it := &p.items[i]
		if it.kind == kindRule {
			if it.fill {
				fill(it.x, it.y, it.w, it.h, 0xe8)
			}
			fill(it.x, it.y, it.w, 0.7, 0x20)
			fill(it.x, it.y+it.h, it.w, 0.7, 0x20)
			fill(it.x, it.y, 0.7, it.h, 0x20)
			fill(it.x+it.w, it.y, 0.7, it.h, 0x20)
			continue
		}
		rs = append(rs[:0], []rune(it.text)...)
		xs = positions(it, rs, xs[:0])
		for k, c := range rs {
			if c == ' ' || c == '　' {
				continue
			}
			a := advance(c) * it.size / 1000
			fill(xs[k]+0.1*a, it.y-0.1*it.size, 0.8*a, 0.85*it.size, 0x30)
		}
	}
	w := newObjWriter(true)
	catalog, pagesObj, info := w.reserve(), w.reserve(), w.reserve()
	pg, content, img := w.reserve(), w.reserve(), w.reserve()
	w.stream(img, fmt.Appendf(nil, " /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8", iw, ih), pix, false)
	w.stream(content, nil, fmt.Appendf(nil, "q\n%s 0 0 %s 0 0 cm\n/Im0 Do\nQ\n", appendNum(nil, pageW), appendNum(nil, pageH)), false)
	w.object(pg, fmt.Appendf(nil, "<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>",
		pagesObj, appendNum(nil, pageW), appendNum(nil, pageH), img, content))
	finishDoc(w, catalog, pagesObj, info, appendRef([]byte{' '}, pg), 1, o.producer(), "")
	_, err := out.Write(w.buf)
	return err
}

// ScanPDF writes a one-page PDF holding jpg (a scan at dpi), kept as it is (DCTDecode) and
// no text layer, as scanner drivers, img2pdf and sanitising gateways write one: the page a
// real OCR reads, where ImageOnly's ink boxes hold no glyph to read.
func ScanPDF(out io.Writer, jpg []byte, dpi int) error {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
	if err != nil {
		return fmt.Errorf("noticepdf: scan: %w", err)
	}
	space := "/DeviceRGB" // pdftoppm -gray -jpeg still writes three components
	if cfg.ColorModel == color.GrayModel {
		space = "/DeviceGray"
	}
	pw, ph := float64(cfg.Width)*72/float64(dpi), float64(cfg.Height)*72/float64(dpi)
	w := newObjWriter(false)
	catalog, pagesObj, info := w.reserve(), w.reserve(), w.reserve()
	pg, content, img := w.reserve(), w.reserve(), w.reserve()
	w.stream(img, fmt.Appendf(nil, " /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode",
		cfg.Width, cfg.Height, space), jpg, false)
	w.stream(content, nil, fmt.Appendf(nil, "q\n%s 0 0 %s 0 0 cm\n/Im0 Do\nQ\n", appendNum(nil, pw), appendNum(nil, ph)), false)
	w.object(pg, fmt.Appendf(nil, "<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>",
		pagesObj, appendNum(nil, pw), appendNum(nil, ph), img, content))
	finishDoc(w, catalog, pagesObj, info, appendRef([]byte{' '}, pg), 1, "img2pdf 0.4.4", "")
	_, err = out.Write(w.buf)
	return err
}
