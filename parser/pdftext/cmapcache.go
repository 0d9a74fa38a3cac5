package pdftext

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/ledongthuc/pdf"
)

// parsedCMaps keeps parsed CMap streams across files, by the SHA-256 of their bytes (as the
// file holds them where that is enough to know what they decode to, else decoded):
// a producer embeds the same /ToUnicode map in every notice it makes from one template, and a
// PDF worker reads file after file. A parsed map is never changed after parseCMap, so files
// can share it.
var parsedCMaps = cmapCache{max: maxCachedCMapBytes}

// maxCachedCMapBytes bounds the cache by the streams' decoded size (a parsed map takes a
// few times its stream's size): a worker's memory limit is for reading files, not for this.
const maxCachedCMapBytes = 512 << 10

type cmapCache struct {
	mu      sync.Mutex
	max     int
	size    int // decoded bytes of the streams held
	entries map[[sha256.Size]byte]cachedCMap
	hits    int // parses answered from the cache, for the tests
}

// cachedCMap is a map parsed from a stream and whether the stream decoded cleanly.
type cachedCMap struct {
	m     *embeddedCMap
	clean bool
}

// Keys are SHA-256 of a tag and bytes: keyDecoded and a stream's decoded bytes, or
// keyEncoded, the decoding limit, the filter and the bytes as the file holds them, so that
// one stream's encoded bytes can never pass for another's decoded ones.
const (
	keyDecoded = 'd'
	keyEncoded = 'e'
)

// load reads and parses the CMap stream v, at most limit decoded bytes. A stream of an
// unencrypted file held in memory, plain or FlateDecode (alone) without parameters, is looked up
// by its encoded bytes first: a hit costs a hash of the compressed stream, where parse
// costs inflating it and hashing what it inflates to. Others go through readStream and
// parse. clean is readStream's.
func (c *cmapCache) load(v pdf.Value, limit int64) (m *embeddedCMap, clean bool) {
	key, keyed := encodedKey(v, limit)
	if keyed {
		if e, ok := c.get(key); ok {
			return e.m, e.clean
		}
	}
	buf := getStreamBuf()
	data, clean := readStream((*buf)[:0], v, limit)
	defer putStreamBuf(buf, data)
	if !keyed {
		return c.parse(data), clean
	}
	m = parseCMap(data)
	if len(data) <= c.max/8 {
		c.put(key, cachedCMap{m, clean}, len(data))
	}
	return m, clean
}

// encodedKey is the key of v's encoded bytes, its filter and the decoding limit, when v can
// be looked up by them.
func encodedKey(v pdf.Value, limit int64) (key [sha256.Size]byte, ok bool) {
	if v.Kind() != pdf.Stream || v.Key("DecodeParms").Kind() != pdf.Null {
		return key, false
	}
	var filter string
	f := v.Key("Filter")
	if f.Kind() == pdf.Array && f.Len() == 1 {
		// [/FlateDecode] (ReportLab writes every filter as an array) decodes as
		// /FlateDecode does, and is keyed as it.
		f = f.Index(0)
	}
	switch f.Kind() {
	case pdf.Null:
	case pdf.Name:
		if filter = f.Name(); filter != "FlateDecode" {
			return key, false
		}
	default:
		return key, false
	}
	raw, ok := v.Encoded()
	if !ok {
		return key, false
	}
	h := sha256.New()
	var n [9]byte
	n[0] = keyEncoded
	binary.BigEndian.PutUint64(n[1:], uint64(limit))
	h.Write(n[:])
	h.Write([]byte(filter + "\n"))
	h.Write(raw)
	h.Sum(key[:0])
	return key, true
}

// parse is parseCMap(data), from the cache when the same bytes were parsed before. When full
// the cache is emptied whole: simpler than an eviction order, and a worker's working set is
// a handful of producers' maps that soon come back.
func (c *cmapCache) parse(data []byte) *embeddedCMap {
	if len(data) > c.max/8 {
		return parseCMap(data) // a map this large is rare; it would crowd out the common ones
	}
	h := sha256.New()
	h.Write([]byte{keyDecoded})
	h.Write(data)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	if e, ok := c.get(key); ok {
		return e.m
	}
	m := parseCMap(data)
	c.put(key, cachedCMap{m: m, clean: true}, len(data))
	return m
}

func (c *cmapCache) get(key [sha256.Size]byte) (cachedCMap, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok {
		c.hits++
	}
	return e, ok
}

// put keeps e, from a stream of n decoded bytes, emptying the cache first when it would not
// fit.
func (c *cmapCache) put(key [sha256.Size]byte, e cachedCMap, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || c.size+n > c.max {
		c.entries, c.size = map[[sha256.Size]byte]cachedCMap{}, 0
	}
	if _, ok := c.entries[key]; !ok {
		c.entries[key] = e
		c.size += n
	}
}
