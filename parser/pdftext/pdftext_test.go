package pdftext

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"hosho-intake/parser/cmap"
)

func mustRead(t *testing.T, data []byte) []Page {
	t.Helper()
	pages, err := Read(data, DefaultLimits())
	if err != nil {
		t.Fatalf("Read = %v", err)
	}
	return pages
}

// lineTexts renders each line as its spans joined by " | ".
func lineTexts(p Page) []string {
	var out []string
	for _, l := range p.Lines {
		var s []string
		for _, sp := range l.Spans {
			s = append(s, sp.Text)
		}
		out = append(out, strings.Join(s, " | "))
	}
	return out
}

func sjis(s string) []byte {
	b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(err)
	}
	return b
}

func eucjp(s string) []byte {
	b, err := japanese.EUCJP.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(err)
	}
	return b
}

func ucs2(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r>>8), byte(r))
	}
	return b
}

func japan1CIDs(s string) []byte {
	var b []byte
	for _, r := range s {
		cid, ok := cmap.UnicodeToJapan1(r)
		if !ok {
			panic(fmt.Sprintf("no CID for %q", r))
		}
		b = append(b, byte(cid>>8), byte(cid))
	}
	return b
}

func TestFonts(t *testing.T) {
	identityJapan1 := "<< /Type /Font /Subtype /Type0 /BaseFont /KozMinPr6N-Regular /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /KozMinPr6N-Regular /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 6 >> /DW 1000 >>] >>"
	identitySubset := "<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+HeiseiMin-W3 /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /ABCDEF+HeiseiMin-W3 /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>] >>"
	type3 := "<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1000 1000] /FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << /a 7 0 R >> /Encoding << /Type /Encoding /Differences [1 /A /B /C] >> /FirstChar 1 /LastChar 3 /Widths [1000 1000 1000] /Resources << >> /ToUnicode 6 0 R >>"
	toUni := stream("", "/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <00> <FF> endcodespacerange 2 beginbfchar <01> <8a8d> <02> <8a3c> endbfchar 1 beginbfrange <03> <03> <30ad> endbfrange endcmap end end")
	tests := []struct {
		name string
		pdf  []byte
		want string
	}{
		{"UniJIS-UCS2-H", onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf(ucs2("保証契約番号"))+" Tj ET", cidFont("UniJIS-UCS2-H", "HeiseiKakuGo-W5")), "保証契約番号"},
		{"UniJIS-UCS2-V", onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf(ucs2("工"))+" Tj ET", cidFont("UniJIS-UCS2-V", "HeiseiMin-W3")), "工"},
		{"UniJIS-UTF16-H", onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf([]byte{0xd8, 0x40, 0xdc, 0x0b, 0x5d, 0xe5})+" Tj ET", cidFont("UniJIS-UTF16-H", "HeiseiMin-W3")), "\U0002000b工"},
		{"90ms-RKSJ-H", onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf(sjis("認証キー①"))+" Tj ET", cidFont("90ms-RKSJ-H", "HeiseiMin-W3")), "認証キー①"},
		{"90msp-RKSJ-H", onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf(sjis("発注者ABC"))+" Tj ET", cidFont("90msp-RKSJ-H", "HeiseiMin-W3")), "発注者ABC"},
		{"EUC-H", onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf(eucjp("島根県知事"))+" Tj ET", cidFont("EUC-H", "HeiseiMin-W3")), "島根県知事"},
		{"Identity-H Japan1", onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf(japan1CIDs("西日本建設業保証株式会社"))+" Tj ET", identityJapan1), "西日本建設業保証株式会社"},
		{"Identity-H known subset", onePage("", "BT /F1 12 Tf 50 700 Td "+hexOf(japan1CIDs("前払金保証"))+" Tj ET", identitySubset), "前払金保証"},
		{"Type3 ToUnicode over Differences", onePage("", "BT /F1 12 Tf 50 700 Td <010203> Tj ET", type3, toUni, stream("", "1000 0 d0")), "認証キ"},
		{"WinAnsi Differences", onePage("", "BT /F1 12 Tf 50 700 Td (Ab) Tj ET", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /BaseEncoding /WinAnsiEncoding /Differences [65 /uni8A8D 98 /zero] >> >>"), "認0"},
		{"literal escapes", onePage("", "BT /F1 12 Tf 50 700 Td (\\(2070\\)\\0610) Tj ET", helvetica), "(2070)10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := mustRead(t, tt.pdf)
			got := strings.Join(lineTexts(pages[0]), "\n")
			if got != tt.want {
				t.Errorf("text = %q, want %q", got, tt.want)
			}
			if p := pages[0]; p.Undecodable != 0 || p.Doubtful != 0 || p.Damaged != 0 {
				t.Errorf("Undecodable %d, Doubtful %d, Damaged %d, want 0", p.Undecodable, p.Doubtful, p.Damaged)
			}
		})
	}
}

func TestUndecodable(t *testing.T) {
	// Identity-H on a TrueType font without ToUnicode: CIDs are glyph ids, unreadable.
	f := "<< /Type /Font /Subtype /Type0 /BaseFont /XYZ+IPAexGothic /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /XYZ+IPAexGothic /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>] >>"
	pages := mustRead(t, onePage("", "BT /F1 12 Tf 50 700 Td <00120034> Tj ET", f))
	if p := pages[0]; p.Glyphs != 2 || p.Undecodable != 2 || len(p.Lines) != 0 {
		t.Errorf("glyphs %d undecodable %d lines %q, want 2 2 none", p.Glyphs, p.Undecodable, lineTexts(p))
	}
}

func TestLayout(t *testing.T) {
	font := cidFont("UniJIS-UCS2-H", "HeiseiKakuGo-W5")
	show := func(x, y float64, s string) string {
		return fmt.Sprintf("BT /F1 12 Tf 1 0 0 1 %g %g Tm %s Tj ET\n", x, y, hexOf(ucs2(s)))
	}
	// Values first, then labels; the key drawn glyph by glyph with its own Tm; the label
	// 区分 spread out (均等割付) over the width of 保証契約番号.
	var c strings.Builder
	c.WriteString(show(200, 700, "前払金保証"))
	for i, r := range "HR0E4FWKFQ" {
		c.WriteString(show(200+float64(i)*6, 676, string(r)))
	}
	c.WriteString(show(70, 700, "区"))
	c.WriteString(show(130, 700, "分"))
	c.WriteString(show(70, 676, "認証キー"))
	c.WriteString(show(70, 652, "保証契約番号：2070004426"))
	// Two words with a third of an em between them get a space.
	c.WriteString(show(70, 628, "AB"))
	c.WriteString(show(70+24+4, 628, "CD"))
	pages := mustRead(t, onePage("", c.String(), font))
	want := []string{"区 | 分 | 前払金保証", "認証キー | HR0E4FWKFQ", "保証契約番号：2070004426", "AB CD"}
	if got := lineTexts(pages[0]); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	l := pages[0].Lines[0]
	if l.Y < 141 || l.Y > 143 || l.Spans[0].X0 != 70 {
		t.Errorf("first line at y %v x %v, want y 142 (842-700) x 70", l.Y, l.Spans[0].X0)
	}
}

func TestFormXObject(t *testing.T) {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /X1 5 0 R >> >> /Contents 4 0 R >>",
		stream("", "q 1 0 0 1 100 100 cm /X1 Do Q"),
		stream("/Type /XObject /Subtype /Form /BBox [0 0 500 500] /Matrix [1 0 0 1 0 0] /Resources << /Font << /F1 6 0 R >> >>",
			"BT /F1 12 Tf 10 10 Td "+hexOf(ucs2("工事名"))+" Tj ET"),
		cidFont("UniJIS-UCS2-H", "HeiseiKakuGo-W5"),
	}
	pages := mustRead(t, buildPDF(objs...))
	if got := lineTexts(pages[0]); len(got) != 1 || got[0] != "工事名" {
		t.Fatalf("lines = %q, want [工事名]", got)
	}
	if sp := pages[0].Lines[0].Spans[0]; sp.X0 != 110 || sp.Y != 842-110 {
		t.Errorf("span at %v,%v, want 110,732", sp.X0, sp.Y)
	}
}

func TestRotatedPage(t *testing.T) {
	font := cidFont("UniJIS-UCS2-H", "HeiseiKakuGo-W5")
	content := "BT /F1 12 Tf 70 700 Td " + hexOf(ucs2("認証キー")) + " Tj 130 0 Td " + hexOf(ucs2("9DWV4P2WK0")) + " Tj ET\n" +
		"BT /F1 12 Tf 70 676 Td " + hexOf(ucs2("発注者")) + " Tj ET"
	for _, rot := range []int{0, 90, 180, 270} {
		pages := mustRead(t, onePage(fmt.Sprintf("/Rotate %d", rot), content, font))
		got := lineTexts(pages[0])
		if strings.Join(got, "\n") != "認証キー | 9DWV4P2WK0\n発注者" {
			t.Errorf("Rotate %d: lines %q", rot, got)
		}
		if pages[0].Width != 595 || pages[0].Height != 842 {
			t.Errorf("Rotate %d: page %vx%v, want the upright 595x842", rot, pages[0].Width, pages[0].Height)
		}
	}
}

func TestASCIIHexContent(t *testing.T) {
	content := "BT /F1 12 Tf 50 700 Td (Key ABC123) Tj ET"
	hexed := fmt.Sprintf("%X>", content)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		stream("/Filter /ASCIIHexDecode", hexed),
		helvetica,
	}
	pages := mustRead(t, buildPDF(objs...))
	if got := lineTexts(pages[0]); len(got) != 1 || got[0] != "Key ABC123" {
		t.Errorf("lines = %q, want [Key ABC123]", got)
	}
}

// hostile files must end quickly: ledongthuc alone loops forever on both.
func TestHostileTrees(t *testing.T) {
	cyclic := buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [2 0 R 3 0 R 2 0 R] /Count 2 >>",
		"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1 >>",
	)
	selfParent := buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 3 0 R /Contents 4 0 R >>",
		stream("", "BT /F1 12 Tf 50 700 Td (x) Tj ET"),
	)
	for name, data := range map[string][]byte{"cyclic Pages": cyclic, "page is its own parent": selfParent} {
		t.Run(name, func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				Read(data, DefaultLimits())
			}()
			select {
			case <-done:
			case <-time.After(time.Second):
				t.Fatalf("Read did not return within a second")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"html", []byte("<!DOCTYPE html><html><body>session timeout</body></html>"), ErrNotPDF},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), ErrNotPDF},
		{"empty", nil, ErrNotPDF},
		{"header only", []byte("%PDF-1.4\n"), ErrCorrupt},
	}
	for _, tt := range tests {
		if _, err := Read(tt.data, DefaultLimits()); !errors.Is(err, tt.want) {
			t.Errorf("Read(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestGlyphNames(t *testing.T) {
	if len(winAnsiNames) != 0x100-0x20 {
		t.Fatalf("winAnsiNames has %d names, want %d", len(winAnsiNames), 0x100-0x20)
	}
	for name, want := range map[string]rune{"A": 'A', "zero": '0', "yen": '¥', "uni5DE5": '工', "u2F00": '⼀', "one.fw": '1', "Euro": '€', "g123": 0} {
		if r, _ := glyphRune(name); r != want {
			t.Errorf("glyphRune(%q) = %q, want %q", name, r, want)
		}
	}
}
