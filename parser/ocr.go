package parser

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/agnivade/levenshtein"

	"hosho-intake/parser/pdftext"
)

// Reading notices from OCR text. The words come from tesseract (parser/ocr runs it inside the
// sandbox workers); this file is pure: it turns the words into the same rows the text layer
// gives and reads them with the same label | value rules (pageNotices), then checks each field
// the way an image can be wrong, which a text layer cannot: a glyph read as its look-alike.
//
// Nothing read from an image is certain by default: a field is certain only when every word of
// it was read with at least OCRThreshold confidence and it passes its field's check (below);
// otherwise it is listed in Notice.Unsure, and a notice with an unsure 保証契約番号 or 認証キー
// must never be shown or queued as certain.

// SourceOCR is Notice.Source for a notice read from an image.
const SourceOCR = "ocr"

// OCRThreshold is the lowest tesseract word confidence (0-100) a certain field may hold.
// Measured on the project's fixtures rasterised at 110-300 dpi: right words of a clean
// field score 89-97; the one wrong glyph of sp09's 工事名 (湖 read as 潮) scored 0, and 契約
// in a label 66. 85 keeps every right field of a clean scan and none of those.
const OCRThreshold = 85

// OCRWord is one word of tesseract's TSV output (level 5), in pixels of the page image.
type OCRWord struct {
	Text                     string
	Left, Top, Width, Height int
	Conf                     float64 // 0-100
	Block, Par, Line         int
}

// ParseTSV reads the words of tesseract's `tsv` output: 12 tab-separated columns (level,
// page_num, block_num, par_num, line_num, word_num, left, top, width, height, conf, text);
// rows of other levels and empty words are skipped.
func ParseTSV(tsv []byte) []OCRWord {
	var words []OCRWord
	for line := range bytes.SplitSeq(tsv, []byte("\n")) {
		f := strings.Split(strings.TrimRight(string(line), "\r"), "\t")
		if len(f) < 12 || f[0] != "5" {
			continue
		}
		text := strings.TrimSpace(f[11])
		if text == "" {
			continue
		}
		n := make([]int, 10)
		for i := 1; i <= 9; i++ {
			n[i], _ = strconv.Atoi(f[i])
		}
		conf, _ := strconv.ParseFloat(f[10], 64)
		words = append(words, OCRWord{Text: text, Block: n[2], Par: n[3], Line: n[4],
			Left: n[6], Top: n[7], Width: n[8], Height: n[9], Conf: conf})
	}
	return words
}

// OCRPage is what the first OCR pass found on one page image.
type OCRPage struct {
	Notices []Notice
	// KeyBoxes holds, per notice, the box of its 認証キー's words in the page image
	// (x0, y0, x1, y1), for the restricted second pass; zero when none was found.
	KeyBoxes [][4]int
	// Problems are notices whose labels were read but whose values fail their checks.
	Problems []string
	// Text is the page's text, compacted, to classify a page without a notice.
	Text string
}

// ocrSpan is one cell of an OCR line: words closer than a gap joined.
type ocrSpan struct {
	text       string
	x0, x1     int
	y0, y1     int
	conf       float64 // the lowest word confidence
	label      bool    // the span opens with a label
	labelField field
}

type ocrLine struct {
	spans []ocrSpan
	y     int // bottom of the line: the baseline as near as an image tells
	size  int // median word height
}

// ReadOCRPage reads the notices of one page from its OCR words.
func ReadOCRPage(number int, words []OCRWord) OCRPage {
	lines := ocrLines(words)
	for i := range lines {
		lines[i] = dropLabelColon(lines[i])
	}
	p := pdftext.Page{Number: number}
	var text strings.Builder
	for _, l := range lines {
		pl := pdftext.Line{Y: float64(l.y)}
		for _, s := range l.spans {
			pl.Spans = append(pl.Spans, pdftext.Span{Text: s.text, X0: float64(s.x0), X1: float64(s.x1),
				Y: float64(l.y), Size: float64(l.size)})
			text.WriteString(s.text)
		}
		p.Lines = append(p.Lines, pl)
		p.Glyphs += len(pl.Spans)
	}
	rows := pageRows(&p)
	notices, problems, _ := pageNotices(rows, true)
	out := OCRPage{Problems: problems, Text: compact(Normalize(text.String()))}
	fieldSpans := valueSpans(lines)
	for i := range notices {
		n := notices[i]
		n.Source, n.Page = SourceOCR, number
		conf := map[field]float64{}
		var keyBox [4]int
		for f := range fieldCount {
			spans := nth(fieldSpans[f], i)
			c := 100.0
			if len(spans) == 0 {
				c = 0
			}
			for k, s := range spans {
				c = math.Min(c, s.conf)
				if f == fieldKey {
					if k == 0 {
						keyBox = [4]int{s.x0, s.y0, s.x1, s.y1}
					}
					keyBox = [4]int{min(keyBox[0], s.x0), min(keyBox[1], s.y0), max(keyBox[2], s.x1), max(keyBox[3], s.y1)}
				}
			}
			conf[f] = c
		}
		settleOCR(&n, conf)
		out.Notices = append(out.Notices, n)
		out.KeyBoxes = append(out.KeyBoxes, keyBox)
	}
	return out
}

// nth returns the value spans of the i-th occurrence of a label on the page: a page with
// several notices repeats its labels in order.
func nth(occurrences [][]ocrSpan, i int) []ocrSpan {
	if i < len(occurrences) {
		return occurrences[i]
	}
	return nil
}

// ocrLines groups words into tesseract's lines and each line into spans: words closer than
// 1.2 glyph heights are one cell, so that a label and its value (far apart in the table)
// stay apart, as the text layer's spans keep them.
func ocrLines(words []OCRWord) []ocrLine {
	type key struct{ b, p, l int }
	var order []key
	byLine := map[key][]OCRWord{}
	for _, w := range words {
		k := key{w.Block, w.Par, w.Line}
		if _, ok := byLine[k]; !ok {
			order = append(order, k)
		}
		byLine[k] = append(byLine[k], w)
	}
	var lines []ocrLine
	for _, k := range order {
		ws := byLine[k]
		sort.SliceStable(ws, func(i, j int) bool { return ws[i].Left < ws[j].Left })
		heights := make([]int, len(ws))
		bottom := 0
		for i, w := range ws {
			heights[i] = w.Height
			bottom = max(bottom, w.Top+w.Height)
		}
		slices.Sort(heights)
		size := max(heights[len(heights)/2], 1)
		var l ocrLine
		l.y, l.size = bottom, size
		for i, w := range ws {
			if i > 0 {
				s := &l.spans[len(l.spans)-1]
				if float64(w.Left-s.x1) < 1.2*float64(size) {
					s.text = joinWords(s.text, w.Text)
					s.x1 = max(s.x1, w.Left+w.Width)
					s.y0, s.y1 = min(s.y0, w.Top), max(s.y1, w.Top+w.Height)
					s.conf = math.Min(s.conf, w.Conf)
					continue
				}
			}
			l.spans = append(l.spans, ocrSpan{text: w.Text, x0: w.Left, x1: w.Left + w.Width,
				y0: w.Top, y1: w.Top + w.Height, conf: w.Conf})
		}
		lines = append(lines, l)
	}
	return lines
}

// dropLabelColon removes the colon after a label (発注者：) that a photo's tilt or blur made
// a mark of (・ or ･, which no separator is): left, it began the value (・鳥取県知事, a name
// that strayEdge rightly doubts) and its label's confidence counted as the value's (保証の種類
// at 64, 契約保証 at 96). Only a cell that is nothing but such marks, after a label, goes.
func dropLabelColon(l ocrLine) ocrLine {
	if len(l.spans) == 0 {
		return l
	}
	colon := func(r rune) bool { return colonMarks(Normalize(string(r))) }
	text := Normalize(l.spans[0].text)
	label := strings.TrimRightFunc(text, colon)
	_, rest, ok := matchLabel(label)
	if !ok {
		return l
	}
	if label != text && rest == "" {
		// The mark joined the label's cell: the cell is the label alone.
		l.spans = slices.Clone(l.spans)
		l.spans[0].text = strings.TrimRightFunc(l.spans[0].text, colon)
	}
	if len(l.spans) > 1 && colonMarks(Normalize(l.spans[1].text)) {
		l.spans = slices.Delete(slices.Clone(l.spans), 1, 2)
	}
	return l
}

// colonMarks reports text made only of the marks a colon is read as, or a colon.
func colonMarks(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && strings.Trim(s, ":;・･·.,、 ") == ""
}

// joinWords joins two OCR words of one cell: with a space between Latin letters or digits
// (a key the engine split stays readable; authKey drops the space), else without.
func joinWords(a, b string) string {
	last, first := []rune(a)[len([]rune(a))-1], []rune(b)[0]
	if last < 0x80 && first < 0x80 && (unicode.IsLetter(last) || unicode.IsDigit(last)) && (unicode.IsLetter(first) || unicode.IsDigit(first)) {
		return a + " " + b
	}
	return a + b
}

// valueSpans finds, per field, the spans of each occurrence of its value: the cells after
// the label on its line, and the lines below whose cells start in the value column before
// the next label (a 工事名 that wraps).
func valueSpans(lines []ocrLine) [fieldCount][][]ocrSpan {
	var out [fieldCount][][]ocrSpan
	current := field(-1)
	valueX := math.MaxInt
	for _, l := range lines {
		if len(l.spans) == 0 {
			continue
		}
		first := Normalize(l.spans[0].text)
		if f, rest, ok := matchLabel(first); ok {
			var vs []ocrSpan
			if strings.TrimSpace(rest) != "" {
				// Label and value in one cell: the value's words are the cell's; its confidence
				// is the cell's, which counts the label's words too, erring on the unsure side.
				vs = append(vs, l.spans[0])
			}
			vs = append(vs, l.spans[1:]...)
			if len(l.spans) > 1 {
				valueX = min(valueX, l.spans[1].x0)
			}
			out[f] = append(out[f], vs)
			current = f
			continue
		}
		if current >= 0 && current.wraps() && valueX != math.MaxInt && l.spans[0].x0 >= valueX-2*l.size {
			occ := out[current]
			occ[len(occ)-1] = append(occ[len(occ)-1], l.spans...)
			continue
		}
		current = -1
	}
	return out
}

// Categories are the words a notice's 区分 is printed as.
var Categories = []string{"前払金保証", "中間前払金保証", "契約保証", "契約保証予約"}

// settleOCR checks each field of a notice read from an image and fills its Confidence and
// Unsure. Checks (issue 12): 区分 one of the known words, within one edit of exactly one;
// 保証契約番号 digits of the surety's length (checked by pageNotices already); 保証機関 one of
// the surety companies; 認証キー is settled later by SettleKey, after its restricted pass;
// 工事名 always unsure here and 発注者 by confidence (intake matches both against the agency's
// register and names).
func settleOCR(n *Notice, conf map[field]float64) {
	misread := ""
	if n.OCR != nil {
		misread = n.OCR.keyMisread
	}
	n.OCR = &OCRMarks{Confidence: map[string]float64{}, keyMisread: misread}
	unsure := map[string]bool{}
	set := func(name string, c float64, ok bool) {
		n.OCR.Confidence[name] = math.Round(c) / 100
		if !ok || c < OCRThreshold {
			unsure[name] = true
		}
	}
	if n.Category != "" {
		got, d := nearest(n.Category, Categories)
		if d <= 1 && got != "" {
			n.Category = got
		}
		set("category", conf[fieldCategory], d == 0 || d == 1 && got != "")
	}
	set("contract_number", conf[fieldNumber], len(n.ContractNumber) == 10)
	// Unsure until the restricted pass agrees (SettleKey).
	set("auth_key", conf[fieldKey], false)
	if n.ProjectName != "" {
		// Free text: a misread glyph of a place name comes at full confidence (千代川 as
		// 十代川), so only the agency's register can make it certain (intake.Judge).
		set("project_name", conf[fieldProject], false)
	}
	if n.Orderer != "" {
		set("orderer", conf[fieldOrderer], !strayEdge(n.Orderer))
	}
	if n.Guarantor != "" {
		// Guarantor() maps the printed name to a company by its stems; an image may
		// change a glyph of the stem itself: a name within two edits of exactly one
		// company's (and farther from the others) is that company's, else unsure.
		ok := IsSurety(n.Guarantor)
		if !ok {
			if got, d := nearest(n.Guarantor, []string{WestJapan, EastJapan, Hokkaido}); got != "" && d <= 2 {
				n.Guarantor, ok = got, true
			}
		}
		set("guarantor", conf[fieldGuarantor], ok)
	}
	// A notice states all six; a field the image gave nothing for is unsure, not absent.
	for name, v := range map[string]string{"category": n.Category, "project_name": n.ProjectName, "orderer": n.Orderer, "guarantor": n.Guarantor} {
		if v == "" {
			unsure[name] = true
		}
	}
	for _, name := range ocrFieldOrder {
		if unsure[name] {
			n.OCR.Unsure = append(n.OCR.Unsure, name)
		}
	}
}

// strayEdge reports a name that begins or ends with a mark no name is written with there
// (・, |, _, a quote): on an image that is a table rule, a speck or a bullet read as a glyph
// (the photo of sp03 gave 「・千代川河川改修工事」 at full confidence), so the name is
// unsure. Brackets are kept: 「（その２）」 ends a 工事名.
func strayEdge(s string) bool {
	r := []rune(s)
	stray := func(c rune, bracket *unicode.RangeTable) bool {
		return (unicode.IsPunct(c) || unicode.IsSymbol(c)) && !unicode.Is(bracket, c)
	}
	return len(r) > 0 && (stray(r[0], unicode.Ps) || stray(r[len(r)-1], unicode.Pe))
}

var ocrFieldOrder = []string{"category", "contract_number", "auth_key", "project_name", "orderer", "guarantor"}

// nearest returns the candidate with the fewest edits from s and that number, or "" when
// two candidates tie (a glyph that makes 西日本 and 東日本 alike decides nothing).
func nearest(s string, candidates []string) (string, int) {
	best, bestD, tie := "", math.MaxInt, false
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(s, c)
		switch {
		case d < bestD:
			best, bestD, tie = c, d, false
		case d == bestD:
			tie = true
		}
	}
	if tie {
		return "", bestD
	}
	return best, bestD
}

// lookAlikes are the key glyphs an image confuses (issue 12): each class is one shape.
var lookAlikes = []string{"0OoQD", "1IlLi|", "5Ss", "8B", "2Zz", "6G", "9g"}

func lookAlike(a, b byte) bool {
	if a == b {
		return true
	}
	for _, c := range lookAlikes {
		if strings.IndexByte(c, a) >= 0 && strings.IndexByte(c, b) >= 0 {
			return true
		}
	}
	return false
}

// KeyPass is one restricted OCR pass over a 認証キー's box: each glyph read, with its
// confidence and the look-alikes the engine weighed for it.
type KeyPass struct {
	Chars []KeyChar
}

// KeyChar is one glyph of a KeyPass.
type KeyChar struct {
	Char byte
	Conf float64          // 0-100
	Alts map[byte]float64 // other glyphs the engine kept for this place, with their confidence
}

// Text is the pass's key.
func (p KeyPass) Text() string {
	b := make([]byte, len(p.Chars))
	for i, c := range p.Chars {
		b[i] = c.Char
	}
	return string(b)
}

// ParseHOCRChars reads the glyphs of tesseract's hOCR output made with hocr_char_boxes=1
// and lstm_choice_mode=2: each glyph is an ocrx_cinfo span with "x_conf N" followed by the
// engine's choices for its place ("x_confs N"). Written by hand: it is a few lines of a
// fixed format, and the standard library's XML parser rejects hOCR's HTML entities.
func ParseHOCRChars(hocr []byte) KeyPass {
	var p KeyPass
	for line := range strings.SplitSeq(string(hocr), "\n") {
		i := strings.Index(line, "ocrx_cinfo")
		if i < 0 {
			continue
		}
		line = line[i:]
		var conf float64
		var isChoice bool
		switch {
		case strings.Contains(line, "x_conf "):
			conf = number(line, "x_conf ")
		case strings.Contains(line, "x_confs "):
			conf, isChoice = number(line, "x_confs "), true
		default:
			continue
		}
		j := strings.Index(line, "'>")
		k := strings.LastIndex(line, "</span>")
		if j < 0 || k < j+2 {
			continue
		}
		text := html.UnescapeString(line[j+2 : k])
		if len(text) != 1 {
			continue
		}
		c := text[0]
		if !isChoice {
			p.Chars = append(p.Chars, KeyChar{Char: c, Conf: conf, Alts: map[byte]float64{}})
			continue
		}
		if len(p.Chars) > 0 && c != p.Chars[len(p.Chars)-1].Char {
			last := &p.Chars[len(p.Chars)-1]
			last.Alts[c] = max(last.Alts[c], conf)
		}
	}
	return p
}

func number(s, after string) float64 {
	i := strings.Index(s, after)
	s = s[i+len(after):]
	end := strings.IndexFunc(s, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if end < 0 {
		end = len(s)
	}
	f, _ := strconv.ParseFloat(s[:end], 64)
	return f
}

// keyGlyphSure and keyAltDoubt: a key glyph is certain when the restricted pass read it
// with at least keyGlyphSure and weighed no look-alike at keyAltDoubt or more. Measured on
// sp09 (100 dpi, JPEG q55): right glyphs read at 94 to 99 with their look-alikes at 0,
// while its Z kept 2 at 32 and its I kept 1 at 47; those are the places a clerk must look at.
const (
	keyGlyphSure = 90
	keyAltDoubt  = 20
)

// KeyWhitelist is the alphabet of the restricted pass for a key read as first: a key is
// upper-case letters and digits or lower-case letters and digits (keys.go).
func KeyWhitelist(first string) string {
	if strings.ToLower(first) == first && strings.ToUpper(first) != first {
		return "abcdefghijklmnopqrstuvwxyz0123456789"
	}
	return "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
}

// SettleKey decides the 認証キー of a notice read from an image from its first (full
// alphabet) reading and the restricted passes over its box (issue 12). The key is certain
// only when every restricted pass reads the same key, of the surety's shape; the first
// reading differs from it only by look-alikes (0/O, 1/I/l, 5/S, 8/B, 2/Z), where the
// restricted reading, which could not choose a glyph outside the key alphabet, wins; and
// no glyph is doubtful (keyGlyphSure, keyAltDoubt). Anything else leaves the key unsure.
// tesseract's LSTM honours the whitelist only since 4.1, and then only among the hypotheses
// its beam kept (tesseract issues 751 and 3485): a pass may drop a glyph, which a length
// mismatch shows.
func SettleKey(n *Notice, passes []KeyPass) {
	first := n.AuthKey
	// A first reading that lost, gained or misread a glyph (pageNotices kept it for these
	// passes) cannot vouch for them: the key stays unsure; theirs is shown when they agree
	// on a key of the surety's shape, being nearer the truth for the clerk who checks it
	// against the page.
	misread := n.OCR != nil && n.OCR.keyMisread != "" || checkShape(n.Guarantor, n.ContractNumber, first) != ""
	sure := len(passes) > 0
	agree := sure
	agreed := ""
	low := 100.0
	for i, p := range passes {
		k := p.Text()
		if i == 0 {
			agreed = k
		} else if k != agreed {
			sure, agree = false, false
		}
		for _, c := range p.Chars {
			low = math.Min(low, c.Conf)
			if c.Conf < keyGlyphSure {
				sure = false
			}
			for alt, ac := range c.Alts {
				if ac >= keyAltDoubt && lookAlike(alt, c.Char) {
					sure = false
				}
			}
		}
	}
	if len(passes) == 0 {
		low = 0
	}
	switch {
	case agreed == "" || len(agreed) != len(first):
		sure = false
	default:
		for i := 0; i < len(first); i++ {
			if !lookAlike(first[i], agreed[i]) {
				sure = false
			}
		}
		if sure && checkShape(n.Guarantor, n.ContractNumber, agreed) != "" {
			sure = false
		}
		if sure && agreed != first && !misread {
			n.Remark = strings.TrimPrefix(n.Remark+"; ", "; ") +
				fmt.Sprintf("認証キー read as %s at first and as %s by the key-alphabet pass", first, agreed)
			n.AuthKey = agreed
		}
	}
	if misread {
		sure = false
		if agree && agreed != first && checkShape(n.Guarantor, n.ContractNumber, agreed) == "" {
			n.Remark = strings.TrimPrefix(n.Remark+"; ", "; ") +
				fmt.Sprintf("認証キー read as %s at first and as %s by the key-alphabet passes", first, agreed)
			n.AuthKey = agreed
		}
	}
	if n.OCR == nil {
		n.OCR = &OCRMarks{Confidence: map[string]float64{}}
	}
	n.OCR.Confidence["auth_key"] = math.Round(low) / 100
	n.OCR.Unsure = slices.DeleteFunc(n.OCR.Unsure, func(s string) bool { return s == "auth_key" })
	if !sure {
		n.OCR.Unsure = append(n.OCR.Unsure, "auth_key")
		sortUnsure(n.OCR.Unsure)
	}
}

func sortUnsure(u []string) {
	sort.SliceStable(u, func(i, j int) bool {
		return slices.Index(ocrFieldOrder, u[i]) < slices.Index(ocrFieldOrder, u[j])
	})
}

// Sure reports whether the notice's 保証契約番号 and 認証キー are certain: always for a
// text layer or a body, for an image only when neither is unsure.
func (n Notice) Sure() bool {
	return n.OCR == nil || !slices.Contains(n.OCR.Unsure, "contract_number") && !slices.Contains(n.OCR.Unsure, "auth_key")
}

// UnsureField reports whether the field (its JSON name) of a notice read from an image is
// unsure.
func (n Notice) UnsureField(name string) bool {
	return n.OCR != nil && slices.Contains(n.OCR.Unsure, name)
}
