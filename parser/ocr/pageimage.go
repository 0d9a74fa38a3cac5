package ocr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
)

// The page image a clerk is shown beside a notice read by OCR (mailed with the digest, one
// copy per recipient, and shown on the clerks' page): enough pixels to read a 10.5 pt line
// and compare the 認証キー by eye, few enough bytes to mail.
const (
	// PageImageSide is the longest side of a page image: 1200 pixels make an A4 page about
	// 145 dpi, where the notice's smallest print is still legible.
	PageImageSide = 1200
	// MaxPageImageBytes bounds a page image's PNG. A page whose image is larger (a photo's
	// texture, a sanitiser's noise) is made smaller until it fits.
	MaxPageImageBytes = 400 << 10
	// minPageImageSide is where shrinking stops: below it the print is not legible, and
	// the page goes without an image (the clerk opens the attachment).
	minPageImageSide = 600
)

// greys is the page image's palette: 16 levels of grey, which keep a glyph's anti-aliased
// edges (legible) at 4 bits a pixel (a third of 8-bit grey's bytes for a page of text).
var greys = func() color.Palette {
	p := make(color.Palette, 16)
	for i := range p {
		p[i] = color.Gray{Y: uint8(i * 17)}
	}
	return p
}()

// pageImage is src downscaled so that its longest side is at most PageImageSide (box
// filtered: every source pixel counts, so thin strokes fade rather than vanish), as a
// 16-grey PNG of at most MaxPageImageBytes.
func pageImage(src *image.Gray) ([]byte, error) {
	b := src.Bounds()
	side := min(PageImageSide, max(b.Dx(), b.Dy()))
	for ; side >= minPageImageSide; side = side * 4 / 5 {
		data, err := encodeGreys(shrink(src, side))
		if err != nil {
			return nil, err
		}
		if len(data) <= MaxPageImageBytes {
			return data, nil
		}
	}
	return nil, fmt.Errorf("page image over %d bytes even at %d pixels", MaxPageImageBytes, minPageImageSide)
}

// shrink scales src down (never up) so that its longest side is side, each destination
// pixel the mean of the source pixels it covers.
func shrink(src *image.Gray, side int) *image.Gray {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if long := max(w, h); long > side {
		w, h = max(1, w*side/long), max(1, h*side/long)
	}
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		y0, y1 := b.Min.Y+y*b.Dy()/h, b.Min.Y+max((y+1)*b.Dy()/h, y*b.Dy()/h+1)
		for x := range w {
			x0, x1 := b.Min.X+x*b.Dx()/w, b.Min.X+max((x+1)*b.Dx()/w, x*b.Dx()/w+1)
			sum, n := 0, 0
			for sy := y0; sy < y1; sy++ {
				row := src.Pix[src.PixOffset(x0, sy):src.PixOffset(x1, sy)]
				for _, v := range row {
					sum += int(v)
				}
				n += len(row)
			}
			dst.Pix[y*dst.Stride+x] = uint8((sum + n/2) / n)
		}
	}
	return dst
}

// encodeGreys writes g as a PNG of the 16 greys (nearest level, no dithering: dither
// noise costs bytes and legibility on text).
func encodeGreys(g *image.Gray) ([]byte, error) {
	b := g.Bounds()
	p := image.NewPaletted(b, greys)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p.Pix[p.PixOffset(x, y)] = uint8((int(g.GrayAt(x, y).Y) + 8) / 17)
		}
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, p); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
