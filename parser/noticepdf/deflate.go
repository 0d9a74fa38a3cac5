package noticepdf

import (
	"encoding/binary"
	"hash/adler32"
	"math/bits"
)

// zlibEncoder compresses streams for /FlateDecode: a zlib wrapper (RFC 1950) around one
// deflate block with the fixed Huffman codes (RFC 1951 §3.2.6) and greedy LZ77 matching.
//
// Why not compress/flate: every flate.Writer carries about 1.2 MB of state (its hash tables
// are arrays inside the struct), and allocating and collecting that cost more than the rest of
// a notice PDF together (1.3 ms against 0.2 ms). Fixed codes compress a content stream to
// about a third, which is all a fixture needs, with 16 KiB of state reused across streams.
type zlibEncoder struct {
	table [1 << 12]int32 // last position+1 of each 4-byte hash
}

const (
	maxMatch    = 258
	minMatch    = 4 // the hash covers four bytes
	maxDistance = 32768
)

// encode appends the zlib stream of src to dst.
func (z *zlibEncoder) encode(dst, src []byte) []byte {
	clear(z.table[:])
	// CMF 0x78: deflate, 32 KiB window; FLG 0x01 makes CMF*256+FLG a multiple of 31.
	bw := bitWriter{out: append(dst, 0x78, 0x01)}
	bw.bits(1, 1) // BFINAL
	bw.bits(1, 2) // BTYPE 01: fixed Huffman codes
	for i := 0; i < len(src); {
		if i+minMatch <= len(src) {
			v := binary.LittleEndian.Uint32(src[i:])
			h := (v * 2654435761) >> 20 // Knuth's multiplicative hash, top 12 bits
			cand := int(z.table[h]) - 1
			z.table[h] = int32(i + 1)
			if cand >= 0 && i-cand <= maxDistance && binary.LittleEndian.Uint32(src[cand:]) == v {
				n := minMatch
				for n < maxMatch && i+n < len(src) && src[cand+n] == src[i+n] {
					n++
				}
				bw.length(n)
				bw.distance(i - cand)
				// Index the positions inside the match so later repeats find them.
				for k := i + 1; k < i+n && k+minMatch <= len(src); k++ {
					z.table[(binary.LittleEndian.Uint32(src[k:])*2654435761)>>20] = int32(k + 1)
				}
				i += n
				continue
			}
		}
		bw.literal(int(src[i]))
		i++
	}
	bw.literal(256) // end of block
	bw.flush()
	return binary.BigEndian.AppendUint32(bw.out, adler32.Checksum(src))
}

// bitWriter packs deflate's bits least significant first (RFC 1951 §3.1.1).
type bitWriter struct {
	out []byte
	acc uint64
	n   uint
}

func (b *bitWriter) bits(v uint64, n uint) {
	b.acc |= v << b.n
	b.n += n
	for b.n >= 8 {
		b.out = append(b.out, byte(b.acc))
		b.acc >>= 8
		b.n -= 8
	}
}

// code writes a Huffman code, which deflate packs starting from its most significant bit.
func (b *bitWriter) code(c uint32, n uint) {
	b.bits(uint64(bits.Reverse32(c)>>(32-n)), n)
}

func (b *bitWriter) flush() {
	if b.n > 0 {
		b.out = append(b.out, byte(b.acc))
		b.acc, b.n = 0, 0
	}
}

// literal writes a literal/length symbol with the fixed code of §3.2.6.
func (b *bitWriter) literal(v int) {
	switch {
	case v < 144:
		b.code(uint32(0x30+v), 8)
	case v < 256:
		b.code(uint32(0x190+v-144), 9)
	case v < 280:
		b.code(uint32(v-256), 7)
	default:
		b.code(uint32(0xc0+v-280), 8)
	}
}

// length writes a match length (3..258) as its symbol and extra bits (§3.2.5): codes 257-264
// are 3-10 exactly, then each group of four codes doubles its span, and 258 has code 285.
func (b *bitWriter) length(l int) {
	if l == maxMatch {
		b.literal(285)
		return
	}
	base := 3
	for i := 0; ; i++ {
		extra := 0
		if i >= 8 {
			extra = i/4 - 1
		}
		if l < base+1<<extra {
			b.literal(257 + i)
			b.bits(uint64(l-base), uint(extra))
			return
		}
		base += 1 << extra
	}
}

// distance writes a match distance (1..32768): codes 0-3 are 1-4, then each pair of codes
// doubles its span; the fixed distance codes are five bits.
func (b *bitWriter) distance(d int) {
	base := 1
	for i := 0; ; i++ {
		extra := 0
		if i >= 4 {
			extra = i/2 - 1
		}
		if d < base+1<<extra {
			b.code(uint32(i), 5)
			b.bits(uint64(d-base), uint(extra))
			return
		}
		base += 1 << extra
	}
}
