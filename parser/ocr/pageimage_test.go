package ocr

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

// TestPageImageBounds: a page image is at most PageImageSide on its longest side and
// MaxPageImageBytes long, shrunk further when noise makes it large, never enlarged.
func TestPageImageBounds(t *testing.T) {
	noise := func(w, h int) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		x := uint32(2463534242)
		for i := range g.Pix {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			g.Pix[i] = uint8(x)
		}
		return g
	}
	blank := func(w, h int) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = 255
		}
		return g
	}
	tests := []struct {
		name     string
		page     *image.Gray
		wantLong int // 0: any within the bounds
	}{
		{"A4 at 300 dpi", blank(2480, 3508), PageImageSide},
		{"landscape photo", blank(4032, 3024), PageImageSide},
		{"small image kept as it is", blank(700, 500), 700},
		{"noise shrunk to fit", noise(2480, 3508), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := pageImage(tt.page)
			if err != nil {
				t.Fatalf("pageImage: %v", err)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("does not decode: %v", err)
			}
			b := img.Bounds()
			long := max(b.Dx(), b.Dy())
			if len(data) > MaxPageImageBytes || long > PageImageSide || long < min(minPageImageSide, max(tt.page.Bounds().Dx(), tt.page.Bounds().Dy())) {
				t.Errorf("%dx%d, %d bytes; want at most %d px and %d bytes", b.Dx(), b.Dy(), len(data), PageImageSide, MaxPageImageBytes)
			}
			if tt.wantLong != 0 && long != tt.wantLong {
				t.Errorf("longest side %d, want %d", long, tt.wantLong)
			}
			if pb := tt.page.Bounds(); abs(b.Dx()*pb.Dy()-b.Dy()*pb.Dx()) > max(pb.Dx(), pb.Dy()) {
				t.Errorf("%dx%d does not keep the page's %dx%d proportions", b.Dx(), b.Dy(), pb.Dx(), pb.Dy())
			}
		})
	}
}

func abs(n int) int { return max(n, -n) }
