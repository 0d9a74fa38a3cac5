package pdftext

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"hosho-intake/parser/testkit"
)

// TestCMapCacheSameReading: every shared sample PDF reads the same with its CMaps parsed
// afresh and taken from the cache, a file after another file that filled it, as a worker
// reads them.
func TestCMapCacheSameReading(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testkit.Samples(t, "pdf"), "*.pdf"))
	if len(files) == 0 {
		t.Fatal("no sample PDFs")
	}
	read := func(data []byte) ([]Page, error) { return Read(data, DefaultLimits()) }
	var fresh [][]Page
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parsedCMaps.reset()
		p, err := read(data)
		fresh, errs = append(fresh, p), append(errs, err)
	}
	hits := 0
	for range 2 {
		for i, f := range files {
			data, _ := os.ReadFile(f)
			before := parsedCMaps.hits
			p, err := read(data)
			hits += parsedCMaps.hits - before
			if !reflect.DeepEqual(p, fresh[i]) || (err == nil) != (errs[i] == nil) {
				t.Errorf("%s reads differently with cached CMaps", filepath.Base(f))
			}
		}
	}
	if hits == 0 {
		t.Error("no CMap came from the cache in a second pass over the samples")
	}
}

// TestCMapCacheBounded: the cache holds at most max bytes of streams, and a stream too large
// for it is parsed each time without crowding the others out.
func TestCMapCacheBounded(t *testing.T) {
	c := cmapCache{max: 4096}
	small := func(i int) []byte {
		return []byte("1 begincodespacerange <00> <ff> endcodespacerange 1 beginbfchar <41> <00" + string(rune('A'+i%26)) + "0> endbfchar" + string(make([]byte, 300+i)))
	}
	for i := range 40 {
		data := small(i)
		if m1, m2 := c.parse(data), c.parse(data); m1 != m2 {
			t.Fatalf("the same bytes parsed twice in a row gave two maps")
		}
		if c.size > c.max {
			t.Fatalf("cache holds %d bytes, over its %d", c.size, c.max)
		}
	}
	big := append(small(0), make([]byte, c.max)...)
	if c.parse(big) == c.parse(big) {
		t.Error("a stream over an eighth of the cache was cached")
	}
}

// reset empties the cache.
func (c *cmapCache) reset() {
	c.mu.Lock()
	c.entries, c.size = nil, 0
	c.mu.Unlock()
}

// TestCMapCacheEncoded: a FlateDecode ToUnicode stream (the filter named alone or as an
// array of one) read a second time comes from the cache by its encoded bytes, with what its first decoding said of it: a stream whose
// checksum fails leaves its font damaged from the cache too; and the same encoded bytes
// read under another limit are decoded again.
func TestCMapCacheEncoded(t *testing.T) {
	show := "BT /F1 12 Tf 50 700 Td <00010203> Tj ET"
	fontFile := stream("/Subtype /Type1C", "x")
	cmap := "begincmap 1 begincodespacerange <00> <FF> endcodespacerange 4 beginbfchar <00> <0034> <01> <0033> <02> <0048> <03> <005A> endbfchar endcmap"
	for _, tc := range []struct {
		damaged bool
		filter  string // how the stream's dictionary names FlateDecode
	}{{false, "/FlateDecode"}, {true, "/FlateDecode"}, {false, "[/FlateDecode]"}, {true, "[ /FlateDecode ]"}} {
		damaged := tc.damaged
		parsedCMaps.reset()
		data := onePage("", show, subsetFont(true), strings.Replace(flated(cmap, damaged), "/FlateDecode", tc.filter, 1), fontFile)
		first := mustRead(t, data)
		before := parsedCMaps.hits
		second := mustRead(t, data)
		if parsedCMaps.hits != before+1 || len(parsedCMaps.entries) != 1 {
			t.Errorf("%s damaged %v: %d hits, %d maps by encoded bytes; want 1 and 1", tc.filter, damaged, parsedCMaps.hits-before, len(parsedCMaps.entries))
		}
		if !reflect.DeepEqual(first, second) || (second[0].Damaged > 0) != damaged || lineTexts(second[0])[0] != "43HZ" {
			t.Errorf("damaged %v: second reading %+v, first %+v", damaged, second, first)
		}
		before = parsedCMaps.hits
		if _, err := Read(data, Limits{MaxStreamBytes: 1 << 19}); err != nil {
			t.Fatal(err)
		}
		if parsedCMaps.hits != before || len(parsedCMaps.entries) != 2 {
			t.Errorf("damaged %v: another limit hit the cache (%d maps)", damaged, len(parsedCMaps.entries))
		}
	}
}
