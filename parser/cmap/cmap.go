// Package cmap holds the Adobe-Japan1 character collection data that Japanese PDFs rely on:
// the CID -> Unicode table (for Identity-H text of Japanese fonts without a ToUnicode map), its
// inverse (for writers that must emit CIDs), and the predefined Japanese CMaps that select CIDs
// from the bytes of non-embedded CID fonts (UniJIS-*, 90ms-RKSJ-*, EUC-*, H/V, Identity-*).
//
// The data is generated from Adobe's CMap resources (BSD-3-Clause) by gen.go into japan1.bin,
// which is embedded; lookups read it in place, so nothing is parsed per call and nothing is
// mutable. Regenerate with `go generate ./parser/cmap/` (needs Debian's poppler-data).
package cmap

//go:generate go run gen.go

import (
	"encoding/binary"
	"sort"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Japan1ToUnicode returns the Unicode character of an Adobe-Japan1 CID (supplements 0-7), per
// Adobe's Adobe-Japan1-UCS2 CMap. Where Adobe maps a CID to a character plus a variation
// selector (an ideographic variant), the base character is returned.
func Japan1ToUnicode(cid int) (rune, bool) {
	t := tables()
	if cid <= 0 || cid >= t.ncid {
		return 0, false
	}
	o := t.c2u + 3*cid
	r := rune(japan1[o])<<16 | rune(japan1[o+1])<<8 | rune(japan1[o+2])
	return r, r != 0
}

// UnicodeToJapan1 returns the Adobe-Japan1 CID of r per Adobe's UniJIS-UTF32-H CMap (the
// horizontal, proportional-Latin form), as a writer of Identity-H text needs it.
func UnicodeToJapan1(r rune) (int, bool) {
	t := tables()
	// Records: rune u32, count u16, cid u16; sorted by rune.
	i := sort.Search(t.nu2c, func(i int) bool {
		o := t.u2c + 8*i
		lo := rune(binary.BigEndian.Uint32([]byte(japan1[o : o+4])))
		n := rune(binary.BigEndian.Uint16([]byte(japan1[o+4 : o+6])))
		return lo+n > r
	})
	if i >= t.nu2c {
		return 0, false
	}
	o := t.u2c + 8*i
	lo := rune(binary.BigEndian.Uint32([]byte(japan1[o : o+4])))
	if r < lo {
		return 0, false
	}
	cid := int(binary.BigEndian.Uint16([]byte(japan1[o+6 : o+8])))
	return cid + int(r-lo), true
}

// kind says how a CMap's codes are read.
type kind int

const (
	kindBytes    kind = iota // code -> CID ranges from an Adobe CMap (RKSJ, EUC, ISO-2022-JP)
	kindUCS2                 // 2-byte UCS-2 codes (the code is the code point)
	kindUTF16                // UTF-16BE, 2 or 4 bytes
	kindUTF8                 // UTF-8, 1 to 4 bytes
	kindUTF32                // UTF-32BE, 4 bytes
	kindIdentity             // 2-byte code = CID
)

// CMap is a predefined CMap: it reads one character code at a time and tells which CID it
// selects and, where the collection is Adobe-Japan1, which character that is.
type CMap struct {
	kind     kind
	vertical bool
	sec      *section // code -> CID for kindBytes; half-width overrides for UniJIS-UCS2-HW-*
}

// Predefined returns the predefined CMap called name (a PDF /Encoding name), or false when it
// is not one of the Japanese CMaps this package knows.
//
// Vertical (-V) CMaps only replace some CIDs with their vertical glyph forms; the characters
// are the same, so a -V CMap decodes with its -H table and reports Vertical.
func Predefined(name string) (*CMap, bool) {
	base, vertical := name, false
	switch {
	case strings.HasSuffix(name, "-V"):
		base, vertical = strings.TrimSuffix(name, "-V")+"-H", true
	case name == "V":
		base, vertical = "H", true
	}
	c := &CMap{vertical: vertical}
	switch base {
	case "Identity-H":
		c.kind = kindIdentity
	case "UniJIS-UCS2-H":
		c.kind = kindUCS2
	case "UniJIS-UCS2-HW-H":
		c.kind = kindUCS2
		c.sec = tables().section("UniJIS-UCS2-HW-H")
	case "UniJIS-UTF16-H", "UniJIS2004-UTF16-H":
		c.kind = kindUTF16
	case "UniJIS-UTF8-H", "UniJIS2004-UTF8-H":
		c.kind = kindUTF8
	case "UniJIS-UTF32-H", "UniJIS2004-UTF32-H", "UniJISX0213-UTF32-H", "UniJISX02132004-UTF32-H":
		c.kind = kindUTF32
	default:
		s := tables().section(base)
		if s == nil {
			return nil, false
		}
		c.kind, c.sec = kindBytes, s
	}
	return c, true
}

// Vertical reports a -V CMap (writing mode 1).
func (c *CMap) Vertical() bool { return c.vertical }

// Unicode reports whether the CMap's codes are Unicode themselves (UniJIS-*): the text is
// then read from the bytes and no CID table is needed for it.
func (c *CMap) Unicode() bool { return c.kind >= kindUCS2 && c.kind <= kindUTF32 }

// Next reads the character code at the start of s and returns its length in bytes (at least 1
// when s is not empty, so callers always progress), the CID it selects (0, .notdef, when the
// code is unmapped) and its character (0 when unknown). For Identity CMaps r is the
// Adobe-Japan1 reading of the CID; callers must only use it for Japan1 fonts.
func (c *CMap) Next(s []byte) (n int, cid int, r rune) {
	if len(s) == 0 {
		return 0, 0, 0
	}
	switch c.kind {
	case kindIdentity:
		if len(s) < 2 {
			return 1, 0, 0
		}
		cid = int(s[0])<<8 | int(s[1])
		r, _ = Japan1ToUnicode(cid)
		return 2, cid, r
	case kindUCS2:
		if len(s) < 2 {
			return 1, 0, 0
		}
		r = rune(s[0])<<8 | rune(s[1])
		n = 2
	case kindUTF16:
		if len(s) < 2 {
			return 1, 0, 0
		}
		r = rune(s[0])<<8 | rune(s[1])
		n = 2
		if utf16.IsSurrogate(r) && len(s) >= 4 {
			r = utf16.DecodeRune(r, rune(s[2])<<8|rune(s[3]))
			n = 4
		}
	case kindUTF8:
		var size int
		r, size = utf8.DecodeRune(s)
		n = max(size, 1)
		if r == utf8.RuneError {
			r = 0
		}
	case kindUTF32:
		if len(s) < 4 {
			return len(s), 0, 0
		}
		r = rune(binary.BigEndian.Uint32(s))
		n = 4
	case kindBytes:
		n, code := c.sec.code(s)
		cid, ok := c.sec.lookup(code)
		if !ok {
			return n, 0, 0
		}
		r, _ = Japan1ToUnicode(cid)
		return n, cid, r
	}
	if r < 0 || r > utf8.MaxRune || (r >= 0xD800 && r <= 0xDFFF) {
		return n, 0, 0
	}
	if c.sec != nil && r <= 0xFFFF {
		if cid, ok := c.sec.lookup(uint32(r)); ok {
			return n, cid, r
		}
	}
	cid, _ = UnicodeToJapan1(r)
	return n, cid, r
}

// Len is the length in bytes of the code at the start of s, as Next reads it, without the
// lookups Next makes: a caller that keeps what codes decode to finds a code's by its bytes.
func (c *CMap) Len(s []byte) int {
	if len(s) == 0 {
		return 0
	}
	switch c.kind {
	case kindIdentity, kindUCS2:
		if len(s) < 2 {
			return 1
		}
		return 2
	case kindUTF16:
		if len(s) < 2 {
			return 1
		}
		if utf16.IsSurrogate(rune(s[0])<<8|rune(s[1])) && len(s) >= 4 {
			return 4
		}
		return 2
	case kindUTF8:
		_, size := utf8.DecodeRune(s)
		return max(size, 1)
	case kindUTF32:
		return min(len(s), 4)
	}
	n, _ := c.sec.code(s)
	return n
}

// section is one code -> CID table inside japan1.bin.
type section struct {
	name      string
	codespace []codespace
	off, n    int // ranges: lo u16, hi u16, cid u16
}

type codespace struct {
	nbytes int
	lo, hi uint32
}

// code finds the code at the start of s by the codespace ranges (PDF 32000-1 9.7.6.2: a code
// matches a range when each of its bytes lies within the range's bytes at that position). A
// byte sequence that matches no range consumes the shortest codespace length, as Acrobat does.
func (s *section) code(b []byte) (int, uint32) {
	shortest := 4
	for _, cs := range s.codespace {
		shortest = min(shortest, cs.nbytes)
		if len(b) < cs.nbytes {
			continue
		}
		ok := true
		var v uint32
		for i := 0; i < cs.nbytes; i++ {
			sh := uint(8 * (cs.nbytes - 1 - i))
			lo, hi := byte(cs.lo>>sh), byte(cs.hi>>sh)
			if b[i] < lo || b[i] > hi {
				ok = false
				break
			}
			v = v<<8 | uint32(b[i])
		}
		if ok {
			return cs.nbytes, v
		}
	}
	shortest = min(shortest, len(b))
	var v uint32
	for i := 0; i < shortest; i++ {
		v = v<<8 | uint32(b[i])
	}
	return max(shortest, 1), v | 0xFFFF0000 // cannot match any range
}

func (s *section) lookup(code uint32) (int, bool) {
	if code > 0xFFFF {
		return 0, false
	}
	rec := func(i int) (lo, hi, cid uint32) {
		o := s.off + 6*i
		b := []byte(japan1[o : o+6])
		return uint32(binary.BigEndian.Uint16(b)), uint32(binary.BigEndian.Uint16(b[2:])), uint32(binary.BigEndian.Uint16(b[4:]))
	}
	i := sort.Search(s.n, func(i int) bool { _, hi, _ := rec(i); return hi >= code })
	if i >= s.n {
		return 0, false
	}
	lo, _, cid := rec(i)
	if code < lo {
		return 0, false
	}
	return int(cid + code - lo), true
}

// layout is where things are in japan1.bin; see gen.go for the format.
type layout struct {
	ncid     int
	c2u      int
	nu2c     int
	u2c      int
	sections []section
}

func (l *layout) section(name string) *section {
	for i := range l.sections {
		if l.sections[i].name == name {
			return &l.sections[i]
		}
	}
	return nil
}

// tables reads the directory of japan1.bin once; the result is never modified afterwards.
var tables = sync.OnceValue(func() *layout {
	b := japan1
	if len(b) < 13 || b[:4] != "AJ1\x01" {
		panic("cmap: japan1.bin is damaged; run go generate")
	}
	u32 := func(o int) int { return int(binary.BigEndian.Uint32([]byte(b[o : o+4]))) }
	u16 := func(o int) int { return int(binary.BigEndian.Uint16([]byte(b[o : o+2]))) }
	l := &layout{ncid: u32(4), nu2c: u32(8)}
	o := 12
	nsec := int(b[o])
	o++
	for range nsec {
		var s section
		nl := int(b[o])
		s.name = b[o+1 : o+1+nl]
		o += 1 + nl
		ncs := int(b[o])
		o++
		for range ncs {
			s.codespace = append(s.codespace, codespace{int(b[o]), uint32(u32(o + 1)), uint32(u32(o + 5))})
			o += 9
		}
		s.n = u16(o)
		s.off = o + 2
		o = s.off + 6*s.n
		l.sections = append(l.sections, s)
	}
	l.c2u = o
	l.u2c = o + 3*l.ncid
	if l.u2c+8*l.nu2c != len(b) {
		panic("cmap: japan1.bin has the wrong size; run go generate")
	}
	return l
})
