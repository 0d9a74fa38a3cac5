//go:build ignore

// gen.go turns the Adobe-Japan1 CMap resources shipped in Debian's poppler-data package into the
// compact tables this package embeds. Run it through `go generate ./parser/cmap/` on a machine
// with poppler-data installed.
//
// Only files under /usr/share/poppler/cMap/ are read. Debian's copyright file
// (/usr/share/doc/poppler-data/copyright) puts cMap/* under Adobe's BSD-3-Clause licence, whereas
// cidToUnicode/* (Glyph & Cog) is GPL-2; the CID -> Unicode direction is therefore built from
// Adobe's own Adobe-Japan1-UCS2 CMap, not from poppler's cidToUnicode/Adobe-Japan1, so that no
// GPL data ends up in this module.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const dir = "/usr/share/poppler/cMap/Adobe-Japan1"

// byteCMaps are the predefined CMaps whose codes are not Unicode; each is stored as
// code -> CID ranges. Their -V variants only swap in vertical glyph forms, which do not change
// the text, so they share the -H table (see cmap.go).
var byteCMaps = []string{"90ms-RKSJ-H", "90msp-RKSJ-H", "83pv-RKSJ-H", "EUC-H", "H"}

type rng struct{ lo, hi, cid uint32 }

type cmapFile struct {
	codespace [][2]string // hex strings, their length gives the byte count
	cids      []rng
	bf        map[uint32][]rune // for Adobe-Japan1-UCS2 (CID -> Unicode)
	usecmap   string
}

func hexval(s string) uint32 {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		log.Fatalf("bad hex %q", s)
	}
	return uint32(v)
}

func parse(name string) *cmapFile {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	c := &cmapFile{bf: map[uint32][]rune{}}
	sc := bufio.NewScanner(f)
	mode := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "%") {
			continue
		}
		fs := strings.Fields(line)
		last := fs[len(fs)-1]
		switch {
		case strings.HasPrefix(last, "begin") && last != "begincmap":
			mode = last
			continue
		case strings.HasPrefix(last, "end"):
			mode = ""
			continue
		case last == "usecmap":
			c.usecmap = strings.TrimPrefix(fs[0], "/")
			continue
		}
		unhex := func(s string) string { return strings.Trim(s, "<>") }
		switch mode {
		case "begincodespacerange":
			c.codespace = append(c.codespace, [2]string{unhex(fs[0]), unhex(fs[1])})
		case "begincidrange":
			cid, _ := strconv.Atoi(fs[2])
			c.cids = append(c.cids, rng{hexval(unhex(fs[0])), hexval(unhex(fs[1])), uint32(cid)})
		case "begincidchar":
			cid, _ := strconv.Atoi(fs[1])
			v := hexval(unhex(fs[0]))
			c.cids = append(c.cids, rng{v, v, uint32(cid)})
		case "beginbfchar":
			c.bf[hexval(unhex(fs[0]))] = utf16Runes(unhex(fs[1]))
		case "beginbfrange":
			lo, hi := hexval(unhex(fs[0])), hexval(unhex(fs[1]))
			if !strings.HasPrefix(fs[2], "<") || strings.HasPrefix(fs[2], "[") {
				log.Fatalf("%s: unsupported bfrange %q", name, line)
			}
			base := utf16Runes(unhex(fs[2]))
			for v := lo; v <= hi; v++ {
				rs := append([]rune(nil), base...)
				rs[len(rs)-1] += rune(v - lo)
				c.bf[v] = rs
			}
		}
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	return c
}

func utf16Runes(h string) []rune {
	var u []uint16
	for i := 0; i+4 <= len(h); i += 4 {
		u = append(u, uint16(hexval(h[i:i+4])))
	}
	return utf16.Decode(u)
}

// resolved returns the code -> CID ranges of name with its usecmap parent applied first, so
// that later (child) entries win.
func resolved(name string) (*cmapFile, []rng) {
	c := parse(name)
	var out []rng
	cs := c.codespace
	if c.usecmap != "" {
		p, pr := resolved(c.usecmap)
		out = append(out, pr...)
		if len(cs) == 0 {
			cs = p.codespace
		}
	}
	out = append(out, c.cids...)
	c.codespace = cs
	return c, out
}

// flatten turns possibly overlapping ranges (later ones win) into sorted disjoint ranges.
func flatten(rs []rng) []rng {
	m := map[uint32]uint32{}
	for _, r := range rs {
		for v := r.lo; v <= r.hi; v++ {
			m[v] = r.cid + v - r.lo
		}
	}
	keys := make([]uint32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var out []rng
	for _, k := range keys {
		if n := len(out); n > 0 && out[n-1].hi+1 == k && out[n-1].cid+(k-out[n-1].lo) == m[k] {
			out[n-1].hi = k
			continue
		}
		out = append(out, rng{k, k, m[k]})
	}
	return out
}

func main() {
	var blob bytes.Buffer
	put16 := func(v uint32) {
		if v > 0xFFFF {
			log.Fatalf("value %#x does not fit 16 bits", v)
		}
		binary.Write(&blob, binary.BigEndian, uint16(v))
	}
	put32 := func(v uint32) { binary.Write(&blob, binary.BigEndian, v) }

	// Section 1: CID -> Unicode. Entries
	// mapping to a sequence (a base character plus a variation selector) keep the base.
	ucs2 := parse("Adobe-Japan1-UCS2")
	var c2u []rng // lo/hi are CIDs, cid field holds the rune
	cids := make([]uint32, 0, len(ucs2.bf))
	for k := range ucs2.bf {
		cids = append(cids, k)
	}
	sort.Slice(cids, func(i, j int) bool { return cids[i] < cids[j] })
	for _, cid := range cids {
		rs := ucs2.bf[cid]
		if len(rs) == 0 || rs[0] == 0xFFFD || rs[0] == utf8.RuneError {
			continue
		}
		r := uint32(rs[0])
		if n := len(c2u); n > 0 && c2u[n-1].hi+1 == cid && c2u[n-1].cid+(cid-c2u[n-1].lo) == r {
			c2u[n-1].hi = cid
			continue
		}
		c2u = append(c2u, rng{cid, cid, r})
	}
	// Section 2: Unicode -> CID from UniJIS-UTF32-H (codes are UTF-32, i.e. code points):
	// records of 8 bytes: rune u32, count u16, cid u16.
	_, u32 := resolved("UniJIS-UTF32-H")
	u2c := flatten(u32)

	type section struct {
		name      string
		codespace [][2]string
		rs        []rng
	}
	var secs []section
	for _, n := range byteCMaps {
		c, rs := resolved(n)
		secs = append(secs, section{n, c.codespace, flatten(rs)})
	}
	// UniJIS-UCS2-HW-H only overrides a few ranges of UniJIS-UCS2-H with half-width CIDs; keep
	// just those overrides (codes are UCS-2, i.e. code points).
	hw := parse("UniJIS-UCS2-HW-H")
	secs = append(secs, section{"UniJIS-UCS2-HW-H", [][2]string{{"0000", "FFFF"}}, flatten(hw.cids)})

	// Layout: "AJ1\x01", u32 number of CIDs in the dense table, u32 count of u2c ranges, then sections count u8, then for each
	// section: name len u8, name, codespace count u8, per codespace: nbytes u8, lo u32, hi u32,
	// range count u16, ranges (lo u16, hi u16, cid u16); then the dense CID -> Unicode
	// array (3 bytes per CID) and the Unicode -> CID ranges (rune u32, count u16, cid u16).
	blob.WriteString("AJ1\x01")
	maxCID := uint32(0)
	dense := map[uint32]uint32{}
	for _, r := range c2u {
		for v := r.lo; v <= r.hi; v++ {
			dense[v] = r.cid + v - r.lo
		}
		if r.hi+1 > maxCID {
			maxCID = r.hi + 1
		}
	}
	put32(maxCID)
	put32(uint32(len(u2c)))
	blob.WriteByte(byte(len(secs)))
	for _, s := range secs {
		blob.WriteByte(byte(len(s.name)))
		blob.WriteString(s.name)
		blob.WriteByte(byte(len(s.codespace)))
		for _, cs := range s.codespace {
			blob.WriteByte(byte(len(cs[0]) / 2))
			put32(hexval(cs[0]))
			put32(hexval(cs[1]))
		}
		put16(uint32(len(s.rs)))
		for _, r := range s.rs {
			put16(r.lo)
			put16(r.hi)
			put16(r.cid)
		}
	}
	// CID -> Unicode is dense (nearly every CID has a code point), so it is a flat array of
	// 3-byte code points indexed by CID, 0 meaning unmapped: O(1) lookups and smaller than ranges.
	for cid := uint32(0); cid < maxCID; cid++ {
		r := dense[cid]
		blob.Write([]byte{byte(r >> 16), byte(r >> 8), byte(r)})
	}
	for _, r := range u2c {
		// Split runs longer than a u16 count (none expected) to keep the format simple.
		put32(r.lo)
		put16(r.hi - r.lo + 1)
		put16(r.cid)
	}
	if err := os.WriteFile("japan1.bin", blob.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}

	// The licence text Adobe asks to keep with redistributions, copied from the CMap header.
	hdr, err := os.ReadFile(filepath.Join(dir, "Adobe-Japan1-UCS2"))
	if err != nil {
		log.Fatal(err)
	}
	var lic strings.Builder
	lic.WriteString("The tables in japan1.bin are derived from the Adobe-Japan1 CMap resources\n")
	lic.WriteString("(Debian package poppler-data, /usr/share/poppler/cMap/Adobe-Japan1/), which carry:\n\n")
	for _, l := range strings.Split(string(hdr), "\n") {
		if strings.HasPrefix(l, "%%Copyright:") {
			lic.WriteString(strings.TrimSpace(strings.TrimPrefix(l, "%%Copyright:")) + "\n")
		}
	}
	if err := os.WriteFile("LICENSE-ADOBE-CMAP.txt", []byte(lic.String()), 0o644); err != nil {
		log.Fatal(err)
	}
	ver := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "%%Version:") {
				return strings.TrimSpace(strings.TrimPrefix(l, "%%Version:"))
			}
		}
		return "?"
	}
	var src strings.Builder
	fmt.Fprintf(&src, `// Code generated by gen.go; DO NOT EDIT.

// Data: japan1.bin is derived from the Adobe-Japan1 CMap resources of Debian's poppler-data
// package (%s): Adobe-Japan1-UCS2 (version %s) for CID -> Unicode, UniJIS-UTF32-H (version %s)
// for Unicode -> CID, and %s, UniJIS-UCS2-HW-H for code -> CID.
// Licence: BSD-3-Clause, Copyright 1990-2023 Adobe (see LICENSE-ADOBE-CMAP.txt); poppler's
// GPL-2 cidToUnicode files are deliberately not used.
// Tables: %d CIDs mapped to Unicode (dense), %d Unicode -> CID ranges, %d bytes in all.

package cmap

import _ "embed"

//go:embed japan1.bin
var japan1 string
`, dir, ver("Adobe-Japan1-UCS2"), ver("UniJIS-UTF32-H"), strings.Join(byteCMaps, ", "), len(dense), len(u2c), blob.Len())
	if err := os.WriteFile("tables.go", []byte(src.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}
