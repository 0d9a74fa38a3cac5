package pdftext

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strings"
)

// Line building thresholds, in ems of the glyphs involved. Notices are set in 9-14 pt type;
// table cells are some ems apart, so a gap of one em or more separates spans, and word gaps
// of a quarter em or more become a space.
const (
	spanGap     = 1.0
	spaceGap    = 0.25
	baselineTol = 0.35
)

// upright turns the glyphs so that most of the page's text reads left to right: a page whose
// content was turned by /Rotate (or drawn sideways) still gives lines in reading order. It
// returns the width and height of the turned page.
func upright(gs []placed, w, h float64) (float64, float64) {
	var votes [4]int
	for _, g := range gs {
		votes[direction(g.ax, g.ay)]++
	}
	d := 0
	for i := range votes {
		if votes[i] > votes[d] {
			d = i
		}
	}
	if d == 0 {
		return w, h
	}
	for i := range gs {
		g := &gs[i]
		switch d {
		case 1: // text runs downwards
			g.x, g.y, g.ax, g.ay = g.y, w-g.x, g.ay, -g.ax
		case 2: // upside down
			g.x, g.y, g.ax, g.ay = w-g.x, h-g.y, -g.ax, -g.ay
		case 3: // text runs upwards
			g.x, g.y, g.ax, g.ay = h-g.y, g.x, -g.ay, g.ax
		}
	}
	if d == 2 {
		return w, h
	}
	return h, w
}

// direction quantises an advance vector (Y down): 0 right, 1 down, 2 left, 3 up.
func direction(ax, ay float64) int {
	if math.Abs(ax) >= math.Abs(ay) {
		if ax >= 0 {
			return 0
		}
		return 2
	}
	if ay > 0 {
		return 1
	}
	return 3
}

// buildLines groups glyphs into lines (baselines within baselineTol em) and spans (gaps
// below spanGap em), whatever order they were drawn in.
func buildLines(gs []placed) []Line {
	if len(gs) == 0 {
		return nil
	}
	slices.SortFunc(gs, byBaseline)
	var lines []Line
	var text []byte // the text of a line's spans, reused line after line
	start := 0
	for i := 1; i <= len(gs); i++ {
		if i < len(gs) {
			em := maxf(gs[start].size, gs[i].size)
			if em <= 0 {
				em = 1
			}
			if gs[i].y-gs[start].y < baselineTol*em {
				continue
			}
		}
		var ln Line
		ln, text = makeLine(gs[start:i], text[:0])
		lines = append(lines, ln)
		start = i
	}
	return lines
}

// byBaseline orders glyphs by baseline, in drawing order where baselines are equal: what a
// stable sort by y makes of glyphs in drawing order (seq), but seq makes the order total,
// so the faster unstable sort gives the same one.
func byBaseline(a, b placed) int { return cmp.Or(cmp.Compare(a.y, b.y), cmp.Compare(a.seq, b.seq)) }

// makeLine builds the spans of one line from its glyphs. The spans' text is written into
// text (returned for reuse) and made one string for the whole line, which the spans' texts
// are cut from: a builder per span grew and copied each span's text several times.
func makeLine(gs []placed, text []byte) (Line, []byte) {
	// seq is unique: the order is total, and an unstable sort gives it.
	slices.SortFunc(gs, func(a, b placed) int {
		return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(a.seq, b.seq))
	})
	var ln Line
	var ends []int // where each span's text ends in text
	spanStart := 0
	var cur Span
	var ysum float64
	var n int
	var prev *placed
	flush := func() {
		if n == 0 {
			return
		}
		cur.Y = ysum / float64(n)
		ln.Spans = append(ln.Spans, cur)
		ends = append(ends, len(text))
		spanStart = len(text)
		ysum, n = 0, 0
	}
	for i := range gs {
		g := &gs[i]
		x1 := g.x + maxf(g.ax, 0)
		if prev != nil {
			em := maxf(prev.size, g.size)
			if em <= 0 {
				em = 1
			}
			gap := g.x - cur.X1
			// A glyph drawn twice at the same place (fake bold, shadow) is read once.
			if g.text == prev.text && math.Abs(g.x-prev.x) < 0.1*em && math.Abs(g.y-prev.y) < 0.1*em {
				continue
			}
			if gap >= spanGap*em {
				flush()
				prev = nil
			} else if gap > spaceGap*em && !bytes.HasSuffix(text[spanStart:], []byte(" ")) && !strings.HasPrefix(g.text, " ") {
				text = append(text, ' ')
			}
		}
		if prev == nil || n == 0 {
			cur = Span{X0: g.x, X1: x1, Size: g.size}
		}
		text = append(text, g.text...)
		if g.doubt {
			cur.Doubtful++
		}
		cur.X1 = maxf(cur.X1, x1)
		cur.Size = maxf(cur.Size, g.size)
		ysum += g.y
		n++
		prev = g
	}
	flush()
	all, from := string(text), 0
	for i, end := range ends {
		ln.Spans[i].Text, from = all[from:end], end
	}
	var ysumL, wsum float64
	for _, s := range ln.Spans {
		ysumL += s.Y * float64(len(s.Text))
		wsum += float64(len(s.Text))
	}
	if wsum > 0 {
		ln.Y = ysumL / wsum
	}
	return ln, text
}

// maxf is math.Max, inlined where the larger of two numbers is plain: math.Max is an
// assembly call, made several times a glyph here (often with equal sizes). Zeros (+0 and -0)
// and NaNs go to math.Max, whose rules decide them.
func maxf(x, y float64) float64 {
	if x > y || x == y && x != 0 {
		return x
	}
	if y > x {
		return y
	}
	return math.Max(x, y)
}
