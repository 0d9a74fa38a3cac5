package pdftext

import (
	"sort"
	"unicode"
	"unicode/utf16"
)

// embeddedCMap is a CMap stream found in the file: a /ToUnicode map (bfchar, bfrange) or a
// Type 0 font's own /Encoding CMap (cidchar, cidrange). Both share the codespace ranges that
// say how many bytes each code takes.
type embeddedCMap struct {
	codespace []codespaceRange
	chars     map[uint64]string // key: nbytes<<32 | code
	ranges    []bfRange
	cids      []cidRange
	vertical  bool
	usecmap   string // a predefined parent, e.g. "Identity-H" or "90ms-RKSJ-H"
	// damaged: the stream is not what a producer writes (malformed tokens, a block whose
	// entries do not match its declared count, a bfrange array of the wrong length), so
	// some of its mappings may be shifted or changed.
	damaged bool
	// ambiguous holds the codes that share their one ASCII letter or digit with another
	// code: a map damaged in one entry sends two glyphs to the same character, and a key
	// drawn with them would read wrong.
	ambiguous map[uint64]bool
}

type codespaceRange struct {
	nbytes int
	lo, hi uint32
}

type bfRange struct {
	nbytes int
	lo, hi uint32
	base   []uint16 // UTF-16 units of the first destination; the last one is incremented
	list   []string // array form: one destination per code
}

type cidRange struct {
	nbytes int
	lo, hi uint32
	cid    int
}

// Bounds: a real ToUnicode map has at most some tens of thousands of entries.
const (
	maxCMapEntries = 1 << 17
	maxBFRangeSpan = 1 << 16
)

func codeKey(nbytes int, code uint32) uint64 { return uint64(nbytes)<<32 | uint64(code) }

func bytesToCode(b []byte) (uint32, int) {
	if len(b) > 4 {
		b = b[len(b)-4:]
	}
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v, len(b)
}

// utf16Text decodes a bfchar/bfrange destination: UTF-16BE with surrogate pairs.
func utf16Text(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	if len(b) == 1 {
		u = append(u, uint16(b[0])) // some producers write one byte
	}
	return string(utf16.Decode(u))
}

// parseCMap reads the CMap operators we need from a CMap stream's bytes; anything else in the
// PostScript is skipped.
func parseCMap(data []byte) *embeddedCMap {
	m := &embeddedCMap{chars: map[uint64]string{}}
	l := lexer{b: data}
	var stack []obj
	entries := 0
	declared := -1 // the count before the open begin...range / begin...char block
	block := func(per int) {
		if len(stack)%per != 0 || declared >= 0 && len(stack)/per != declared {
			m.damaged = true
		}
	}
	for {
		var o obj
		var ok bool
		o, stack, ok = l.operator(stack[:0], 4096)
		if !ok {
			break
		}
		switch op := string(o.str); op {
		case "begincodespacerange", "beginbfchar", "beginbfrange", "begincidchar", "begincidrange":
			declared = -1
			if len(stack) > 0 && stack[len(stack)-1].kind == kNum {
				declared = int(stack[len(stack)-1].num)
			}
			stack = stack[:0]
			l.reset()
			continue
		case "endcodespacerange", "endbfchar", "endcidchar":
			block(2)
		case "endbfrange", "endcidrange":
			block(3)
		}
		switch string(o.str) {
		case "endcodespacerange":
			for i := 0; i+1 < len(stack); i += 2 {
				lo, hi := stack[i], stack[i+1]
				if lo.kind != kStr || hi.kind != kStr || len(lo.str) == 0 || len(lo.str) > 4 {
					continue
				}
				a, n := bytesToCode(lo.str)
				b, _ := bytesToCode(hi.str)
				m.codespace = append(m.codespace, codespaceRange{n, a, b})
			}
		case "endbfchar":
			for i := 0; i+1 < len(stack) && entries < maxCMapEntries; i += 2 {
				src, dst := stack[i], stack[i+1]
				if src.kind != kStr || len(src.str) == 0 {
					continue
				}
				code, n := bytesToCode(src.str)
				switch dst.kind {
				case kStr:
					m.chars[codeKey(n, code)] = utf16Text(dst.str)
				case kName:
					if r, ok := glyphRune(string(dst.str)); ok {
						m.chars[codeKey(n, code)] = string(r)
					}
				}
				entries++
			}
		case "endbfrange":
			for i := 0; i+2 < len(stack) && entries < maxCMapEntries; i += 3 {
				lo, hi, dst := stack[i], stack[i+1], stack[i+2]
				if lo.kind != kStr || hi.kind != kStr || len(lo.str) == 0 {
					continue
				}
				a, n := bytesToCode(lo.str)
				b, _ := bytesToCode(hi.str)
				if b < a || b-a >= maxBFRangeSpan {
					continue
				}
				r := bfRange{nbytes: n, lo: a, hi: b}
				switch dst.kind {
				case kStr:
					for j := 0; j+1 < len(dst.str); j += 2 {
						r.base = append(r.base, uint16(dst.str[j])<<8|uint16(dst.str[j+1]))
					}
					if len(dst.str) == 1 {
						r.base = []uint16{uint16(dst.str[0])}
					}
					if len(r.base) == 0 {
						continue
					}
				case kArray:
					if len(dst.arr) != int(b-a)+1 {
						m.damaged = true
					}
					for _, e := range dst.arr {
						if e.kind == kStr {
							r.list = append(r.list, utf16Text(e.str))
						} else {
							r.list = append(r.list, "")
						}
					}
				default:
					continue
				}
				m.ranges = append(m.ranges, r)
				entries += int(b-a) + 1
			}
		case "endcidchar":
			for i := 0; i+1 < len(stack) && entries < maxCMapEntries; i += 2 {
				if stack[i].kind == kStr && stack[i+1].kind == kNum && len(stack[i].str) > 0 {
					c, n := bytesToCode(stack[i].str)
					m.cids = append(m.cids, cidRange{n, c, c, int(stack[i+1].num)})
					entries++
				}
			}
		case "endcidrange":
			for i := 0; i+2 < len(stack) && entries < maxCMapEntries; i += 3 {
				if stack[i].kind == kStr && stack[i+1].kind == kStr && stack[i+2].kind == kNum && len(stack[i].str) > 0 {
					a, n := bytesToCode(stack[i].str)
					b, _ := bytesToCode(stack[i+1].str)
					if b >= a {
						m.cids = append(m.cids, cidRange{n, a, b, int(stack[i+2].num)})
						entries++
					}
				}
			}
		case "usecmap":
			if len(stack) > 0 && stack[len(stack)-1].kind == kName {
				m.usecmap = string(stack[len(stack)-1].str)
			}
		case "def":
			if len(stack) >= 2 && stack[len(stack)-2].kind == kName && string(stack[len(stack)-2].str) == "WMode" {
				m.vertical = stack[len(stack)-1].num == 1
			}
		}
		stack = stack[:0]
		l.reset() // the block's strings are decoded into the map by now
	}
	// Later cidrange entries override earlier ones in a CMap; lookups scan from the end.
	sort.SliceStable(m.ranges, func(i, j int) bool { return m.ranges[i].lo < m.ranges[j].lo })
	m.damaged = m.damaged || l.malformed > 0
	m.findAmbiguous()
	return m
}

// findAmbiguous fills m.ambiguous: the codes whose text is an ASCII letter or digit that
// another code of the map also gives.
func (m *embeddedCMap) findAmbiguous() {
	codes := map[string]map[uint64]bool{}
	add := func(key uint64, text string) {
		if len(text) == 1 && isAlnum(text[0]) {
			if codes[text] == nil {
				codes[text] = map[uint64]bool{}
			}
			codes[text][key] = true
		}
	}
	for k, t := range m.chars {
		add(k, t)
	}
	for _, r := range m.ranges {
		for code := r.lo; code <= r.hi && code-r.lo < maxBFRangeSpan; code++ {
			if t, ok := m.lookup(code, r.nbytes); ok {
				add(codeKey(r.nbytes, code), t)
			}
			if code == r.hi {
				break // r.hi may be the largest uint32
			}
		}
	}
	for _, ks := range codes {
		if len(ks) < 2 {
			continue
		}
		if m.ambiguous == nil {
			m.ambiguous = map[uint64]bool{}
		}
		for k := range ks {
			m.ambiguous[k] = true
		}
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// codeLen returns the byte length of the code at the start of s per the codespace ranges, or
// 0 when the CMap has none.
func (m *embeddedCMap) codeLen(s []byte) int {
	if len(m.codespace) == 0 {
		return 0
	}
	shortest := 4
	for _, cs := range m.codespace {
		shortest = min(shortest, cs.nbytes)
		if len(s) < cs.nbytes {
			continue
		}
		ok := true
		for i := 0; i < cs.nbytes; i++ {
			sh := uint(8 * (cs.nbytes - 1 - i))
			if s[i] < byte(cs.lo>>sh) || s[i] > byte(cs.hi>>sh) {
				ok = false
				break
			}
		}
		if ok {
			return cs.nbytes
		}
	}
	return max(1, min(shortest, len(s)))
}

// lookup returns the Unicode text of a code, if the map has it.
func (m *embeddedCMap) lookup(code uint32, nbytes int) (string, bool) {
	if s, ok := m.chars[codeKey(nbytes, code)]; ok {
		return s, true
	}
	i := sort.Search(len(m.ranges), func(i int) bool { return m.ranges[i].lo > code }) - 1
	for ; i >= 0; i-- {
		r := m.ranges[i]
		if code > r.hi || r.nbytes != nbytes {
			if code-r.lo >= maxBFRangeSpan {
				break
			}
			continue
		}
		off := code - r.lo
		if r.list != nil {
			if int(off) < len(r.list) {
				return r.list[off], true
			}
			return "", false
		}
		if len(r.base) == 1 {
			// One UTF-16 unit, most maps' ranges: what utf16.Decode makes of it, without
			// the two slices (a lone surrogate is U+FFFD there too).
			u := r.base[0] + uint16(off)
			if utf16.IsSurrogate(rune(u)) {
				return string(unicode.ReplacementChar), true
			}
			return string(rune(u)), true
		}
		u := append([]uint16(nil), r.base...)
		u[len(u)-1] += uint16(off)
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// cid returns the CID of a code in an embedded encoding CMap.
func (m *embeddedCMap) cid(code uint32, nbytes int) (int, bool) {
	for i := len(m.cids) - 1; i >= 0; i-- {
		r := m.cids[i]
		if r.nbytes == nbytes && code >= r.lo && code <= r.hi {
			return r.cid + int(code-r.lo), true
		}
	}
	return 0, false
}
