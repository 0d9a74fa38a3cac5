package pdftext

import (
	"errors"
	"math"

	"github.com/ledongthuc/pdf"
)

// matrix is a PDF transformation [a b c d e f]: x' = a x + c y + e, y' = b x + d y + f.
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n: apply m, then n.
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m matrix) vec(x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y, m[1]*x + m[3]*y
}

// gstate is the part of the graphics state that text placement depends on.
type gstate struct {
	ctm                  matrix
	font                 *font
	size                 float64
	tc, tw, th, tl, rise float64
}

// placed is one glyph on the page, in the displayed page frame (top-left origin, Y down).
type placed struct {
	x, y   float64 // origin on the baseline
	ax, ay float64 // advance vector
	size   float64 // em height
	text   string
	seq    int  // drawing order
	doubt  bool // see glyph.doubt
}

// resources is one resource scope (a page or a Form XObject) with its font cache, since the
// same font name may mean different fonts in different scopes.
type resources struct {
	v     pdf.Value
	fonts map[string]*font
}

// walker runs the content streams of one page.
type walker struct {
	lim         Limits
	glyphs      []placed
	undecodable int
	doubtful    int
	total       int
	ops         int
	// damaged counts the streams of the page (contents, forms, the fonts' CMaps) that did
	// not decode cleanly.
	damaged int
	// errFilter is set when a stream uses a filter ledongthuc cannot decode; Read then retries
	// the file through the pdfcpu pre-pass.
	errFilter bool
	images    int // images painted (Page.Images)
}

var errFilter = errors.New("unsupported stream filter")

// Bounds per page: a notice has a few hundred glyphs and a few thousand operators.
const (
	maxGlyphsPerPage = 200_000
	maxOpsPerPage    = 5_000_000
	maxQDepth        = 256
)

func (w *walker) font(res *resources, name string) *font {
	if f, ok := res.fonts[name]; ok {
		return f
	}
	f := w.loadFont(res, name)
	res.fonts[name] = f
	return f
}

// loadFont loads a font resource; a panic (a damaged font, a ToUnicode stream with a filter
// ledongthuc lacks) leaves the font unusable and asks Read for the pre-pass.
func (w *walker) loadFont(res *resources, name string) (f *font) {
	defer func() {
		if recover() != nil {
			f = nil
			w.errFilter = true
			w.damaged++ // unless the pre-pass mends it
		}
	}()
	if fv := res.v.Key("Font").Key(name); fv.Kind() == pdf.Dict {
		f = loadFont(fv, w.lim)
		if f.damaged {
			w.damaged++
		}
		return f
	}
	w.damaged++ // Tf names a font the page does not have: a broken reference
	return nil
}

// stream reads a content stream (or an array of them) with the size limit applied, into a
// buffer of the pool that buf holds (see putStreamBuf). A filter ledongthuc does not know
// makes it panic; that is turned into errFilter.
func (w *walker) stream(v pdf.Value, buf *[]byte) (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, errFilter
		}
	}()
	if v.Kind() == pdf.Array {
		all := (*buf)[:0]
		n := min(v.Len(), 1024)
		for i := range n {
			var clean bool
			all, clean = readStream(all, v.Index(i), w.lim.MaxStreamBytes-int64(len(all)))
			if !clean {
				w.damaged++
			}
			all = append(all, '\n')
			if int64(len(all)) >= w.lim.MaxStreamBytes {
				break
			}
		}
		return all, nil
	}
	b, clean := readStream((*buf)[:0], v, w.lim.MaxStreamBytes)
	if !clean {
		w.damaged++
	}
	return b, nil
}

// run interprets one content stream.
func (w *walker) run(data []byte, res *resources, gs gstate, depth int) {
	l := lexer{b: data}
	defer func() {
		if l.malformed > 0 {
			w.damaged++
		}
	}()
	var stack []gstate
	var ops []obj
	var tm, tlm matrix
	for {
		var o obj
		var ok bool
		o, ops, ok = l.operator(ops[:0], 64)
		if !ok {
			return
		}
		w.ops++
		if w.ops > maxOpsPerPage {
			return
		}
		op := string(o.str)
		// nums is the last n (at most 6) operands as numbers, in an array: a slice made for
		// every operator was a tenth of a page's allocations.
		nums := func(n int) (out [6]float64, ok bool) {
			if len(ops) < n {
				return out, false
			}
			for i, a := range ops[len(ops)-n:] {
				if a.kind != kNum {
					return out, false
				}
				out[i] = a.num
			}
			return out, true
		}
		switch op {
		case "q":
			if len(stack) < maxQDepth {
				stack = append(stack, gs)
			}
		case "Q":
			if len(stack) > 0 {
				gs = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
		case "cm":
			if a, ok := nums(6); ok {
				gs.ctm = matrix(a).mul(gs.ctm)
			}
		case "BT":
			tm, tlm = identity, identity
		case "Tf":
			if len(ops) >= 2 && ops[len(ops)-2].kind == kName {
				gs.font = w.font(res, string(ops[len(ops)-2].str))
				gs.size = ops[len(ops)-1].num
			}
		case "Tc":
			if a, ok := nums(1); ok {
				gs.tc = a[0]
			}
		case "Tw":
			if a, ok := nums(1); ok {
				gs.tw = a[0]
			}
		case "Tz":
			if a, ok := nums(1); ok {
				gs.th = a[0] / 100
			}
		case "TL":
			if a, ok := nums(1); ok {
				gs.tl = a[0]
			}
		case "Ts":
			if a, ok := nums(1); ok {
				gs.rise = a[0]
			}
		case "Td", "TD":
			if a, ok := nums(2); ok {
				if op == "TD" {
					gs.tl = -a[1]
				}
				tlm.translate(a[0], a[1])
				tm = tlm
			}
		case "Tm":
			if a, ok := nums(6); ok {
				tlm = matrix(a)
				tm = tlm
			}
		case "T*":
			tlm.translate(0, -gs.tl)
			tm = tlm
		case "Tj", "'", "\"":
			if op != "Tj" {
				// aw ac string ": word and character spacing, then as '.
				if op == "\"" && len(ops) >= 3 && ops[len(ops)-3].kind == kNum && ops[len(ops)-2].kind == kNum {
					gs.tw, gs.tc = ops[len(ops)-3].num, ops[len(ops)-2].num
				}
				tlm.translate(0, -gs.tl)
				tm = tlm
			}
			if len(ops) > 0 && ops[len(ops)-1].kind == kStr {
				w.show(ops[len(ops)-1].str, &gs, &tm)
			}
		case "TJ":
			if len(ops) > 0 && ops[len(ops)-1].kind == kArray {
				for _, e := range ops[len(ops)-1].arr {
					switch e.kind {
					case kStr:
						w.show(e.str, &gs, &tm)
					case kNum:
						tx := -e.num / 1000 * gs.size * gs.th
						if gs.font != nil && gs.font.vert {
							tm.translate(0, -e.num/1000*gs.size)
						} else {
							tm.translate(tx, 0)
						}
					}
				}
			}
		case "Do":
			if len(ops) > 0 && ops[len(ops)-1].kind == kName {
				w.form(res, string(ops[len(ops)-1].str), gs, depth)
			}
		case "BI":
			// Inline image: skip its dictionary and binary data.
			for m := l.mark(); ; l.release(m) {
				o, ok := l.next()
				if !ok || (o.kind == kOp && string(o.str) == "ID") {
					break
				}
			}
			l.skipInlineImage()
			w.images++
		}
		l.reset() // the operands' bytes and arrays are not used past their operator
	}
}

func (w *walker) form(res *resources, name string, gs gstate, depth int) {
	if depth >= w.lim.MaxFormDepth {
		return
	}
	xo := res.v.Key("XObject").Key(name)
	if xo.Kind() == pdf.Stream && xo.Key("Subtype").Name() == "Image" {
		w.images++ // never decoded: only counted, to tell a scan from a damaged file
		return
	}
	if xo.Kind() != pdf.Stream || xo.Key("Subtype").Name() != "Form" {
		return
	}
	if m := xo.Key("Matrix"); m.Kind() == pdf.Array && m.Len() == 6 {
		var a matrix
		for i := range 6 {
			a[i] = num(m.Index(i))
		}
		gs.ctm = a.mul(gs.ctm)
	}
	sub := res
	if r := xo.Key("Resources"); r.Kind() == pdf.Dict {
		sub = &resources{v: r, fonts: map[string]*font{}}
	}
	buf := getStreamBuf()
	data, err := w.stream(xo, buf)
	if err != nil {
		w.errFilter = true
		w.damaged++ // unless the pre-pass mends it
		return
	}
	w.run(data, sub, gs, depth+1)
	putStreamBuf(buf, data)
}

// origin is where a glyph starts on the page: the translation of the text rendering matrix
// [size×th 0 0 size 0 rise] × tm × ctm, worked out alone with the operations the two
// products make for it (the zero terms kept, for 0×Inf is NaN), so to the bit: the
// products, two calls a glyph, were a tenth of the walk.
func origin(tm, ctm *matrix, rise float64) (x, y float64) {
	p4 := 0*tm[0] + rise*tm[2] + tm[4]
	p5 := 0*tm[1] + rise*tm[3] + tm[5]
	return p4*ctm[0] + p5*ctm[2] + ctm[4], p4*ctm[1] + p5*ctm[3] + ctm[5]
}

// hypot is math.Hypot, without its assembly call where one side is zero (upright or
// sideways text, nearly every glyph): the other side's magnitude is the answer then, as
// math.Hypot computes it (p·√(1+0)). Infinities and NaNs go to math.Hypot.
func hypot(p, q float64) float64 {
	switch {
	case p == 0 && q-q == 0:
		return math.Abs(q)
	case q == 0 && p-p == 0:
		return math.Abs(p)
	}
	return math.Hypot(p, q)
}

// show places the glyphs of one string operand and advances the text matrix.
func (w *walker) show(s []byte, gs *gstate, tm *matrix) {
	f := gs.font
	if f == nil {
		// No usable font: the glyphs exist but cannot be read.
		w.total += len(s)
		w.undecodable += len(s)
		return
	}
	th := gs.th
	for len(s) > 0 {
		n, g := f.next(s)
		s = s[n:]
		x, y := origin(tm, &gs.ctm, gs.rise)
		var tx, ty float64
		adv := g.w*gs.size + gs.tc
		if g.space {
			adv += gs.tw
		}
		if f.vert {
			ty = -adv
		} else {
			tx = adv * th
		}
		w.total++
		if g.ok && g.doubt {
			w.doubtful++
		}
		if !g.ok {
			w.undecodable++
		} else if len(w.glyphs) < maxGlyphsPerPage {
			m := tm.mul(gs.ctm)
			ax, ay := m.vec(tx, ty)
			ux, uy := m.vec(0, gs.size)
			w.glyphs = append(w.glyphs, placed{
				x: x, y: y, ax: ax, ay: ay,
				size: hypot(ux, uy), text: g.text, seq: len(w.glyphs), doubt: g.doubt,
			})
		}
		tm.translate(tx, ty)
	}
}

// translate sets m to [1 0 0 1 tx ty] × m, the operations of mul in place (the zero terms
// kept, for 0×Inf is NaN): a call and two copies of a matrix fewer for every glyph.
func (m *matrix) translate(tx, ty float64) {
	m[0], m[1], m[2], m[3], m[4], m[5] = 1*m[0]+0*m[2], 1*m[1]+0*m[3], 0*m[0]+1*m[2], 0*m[1]+1*m[3],
		tx*m[0]+ty*m[2]+m[4], tx*m[1]+ty*m[3]+m[5]
}
