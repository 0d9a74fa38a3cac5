package pdftext

import (
	"crypto/sha256"
	"sync"
)

// parsedCMaps keeps parsed CMap streams across files, by the SHA-256 of their decoded bytes:
// a producer embeds the same /ToUnicode map in every notice it makes from one template, and a
// PDF worker reads file after file. A parsed map is never changed after parseCMap, so files
// can share it.
var parsedCMaps = cmapCache{max: maxCachedCMapBytes}

// maxCachedCMapBytes bounds the cache by the streams' decoded size (a parsed map takes a
// few times its stream's size): a worker's memory limit is for reading files, not for this.
const maxCachedCMapBytes = 512 << 10

type cmapCache struct {
	mu    sync.Mutex
	max   int
	size  int // decoded bytes of the streams held
	byKey map[[sha256.Size]byte]*embeddedCMap
	hits  int // parses answered from the cache, for the tests
}

// parse is parseCMap(data), from the cache when the same bytes were parsed before. When full
// the cache is emptied whole: simpler than an eviction order, and a worker's working set is
// a handful of producers' maps that soon come back.
func (c *cmapCache) parse(data []byte) *embeddedCMap {
	if len(data) > c.max/8 {
		return parseCMap(data) // a map this large is rare; it would crowd out the common ones
	}
	key := sha256.Sum256(data)
	c.mu.Lock()
	m, ok := c.byKey[key]
	if ok {
		c.hits++
	}
	c.mu.Unlock()
	if ok {
		return m
	}
	m = parseCMap(data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil || c.size+len(data) > c.max {
		c.byKey, c.size = map[[sha256.Size]byte]*embeddedCMap{}, 0
	}
	if _, ok := c.byKey[key]; !ok {
		c.byKey[key] = m
		c.size += len(data)
	}
	return m
}
