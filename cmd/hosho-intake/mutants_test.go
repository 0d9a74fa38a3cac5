package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"hosho-intake/parser"
	"hosho-intake/parser/sandbox"
	"hosho-intake/parser/testkit"
)

// The mutants TestMutants reads: 100 per sample PDF, seeded by the file's name, is the
// count the closing note reports; more, or another seed, to look for holes.
var (
	mutantsPerFile = flag.Int("mutants", 100, "one-byte mutants per sample PDF in TestMutants")
	mutantSeed     = flag.Uint64("mutant-seed", 17, "seed of TestMutants' mutants, with the file's name")
)

// outcome is how one mutant came out, compared with its original's truth file.
type outcome int

const (
	right   outcome = iota // the notices and problem codes of the truth, exactly
	problem                // a problem code; the notices read are all right ones
	silent                 // fewer notices than the truth and no problem code: nothing wrong was read, but nothing said so
	wrong                  // a notice that is not one of the truth's: a wrong value read as certain
	outcomes
)

var outcomeNames = [outcomes]string{"right", "problem", "silent", "wrong"}

// TestMutants reads mutantsPerFile one-byte mutants of every shared sample PDF through the
// isolated readers (a damaged file may make the reader loop; the pool's deadline ends it)
// and counts how each came out. A notice read as certain with a wrong field must never
// happen: a damaged font or stream becomes a problem (issue 17, finding 6). Run with -v for
// the table.
func TestMutants(t *testing.T) {
	dir := testkit.Samples(t)
	truths, err := filepath.Glob(filepath.Join(dir, "pdf", "*.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(truths) == 0 {
		t.Fatalf("no sample PDFs in %s", dir)
	}
	exe, err := pdfWorkerCommand()
	if err != nil {
		t.Fatal(err)
	}
	pool := sandbox.NewPool(sandbox.Options{Command: exe, Workers: 2})
	defer pool.Close()

	type job struct {
		file string
		n    int
		m    mutant
		want truth
	}
	var jobs []job
	for _, tn := range truths {
		tr := readTruth(t, tn)
		data, err := os.ReadFile(filepath.Join(dir, "pdf", tr.File))
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range mutants(tr.File, data, *mutantsPerFile, *mutantSeed) {
			jobs = append(jobs, job{tr.File, i, m, tr})
		}
	}

	counts := map[string]*[outcomes]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan job)
	for range 2 {
		wg.Go(func() {
			for j := range next {
				doc, err := pool.ReadPDF(context.Background(), j.m.data)
				if err != nil {
					t.Errorf("%s mutant %d: %v", j.file, j.n, err)
					continue
				}
				o, why := judgeMutant(doc, j.want)
				mu.Lock()
				if counts[j.file] == nil {
					counts[j.file] = new([outcomes]int)
				}
				counts[j.file][o]++
				mu.Unlock()
				switch o {
				case wrong:
					t.Errorf("%s mutant %d (byte %d: %#02x -> %#02x): read as certain but wrong: %s", j.file, j.n, j.m.pos, j.m.was, j.m.data[j.m.pos], why)
				case silent:
					t.Logf("%s mutant %d (byte %d: %#02x -> %#02x): fewer notices, no problem: %s", j.file, j.n, j.m.pos, j.m.was, j.m.data[j.m.pos], why)
				}
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()

	var total [outcomes]int
	var b strings.Builder
	fmt.Fprintf(&b, "%-50s %7s %7s %7s %7s\n", "file", outcomeNames[0], outcomeNames[1], outcomeNames[2], outcomeNames[3])
	names := make([]string, 0, len(counts))
	for f := range counts {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		c := counts[f]
		fmt.Fprintf(&b, "%-50s %7d %7d %7d %7d\n", f, c[0], c[1], c[2], c[3])
		for o := range outcomes {
			total[o] += c[o]
		}
	}
	fmt.Fprintf(&b, "%-50s %7d %7d %7d %7d\n", "total", total[0], total[1], total[2], total[3])
	t.Logf("one-byte mutants, %d per sample PDF (seed %d):\n%s", *mutantsPerFile, *mutantSeed, b.String())
}

// readTruth reads one .truth.json of the corpus.
func readTruth(t *testing.T, name string) truth {
	t.Helper()
	var tr truth
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr
}

// judgeMutant compares what was read from a mutant with its original's truth.
func judgeMutant(doc parser.Document, want truth) (outcome, string) {
	b, err := json.Marshal(doc.Notices)
	if err != nil {
		return wrong, err.Error()
	}
	var got []truthNotice
	if err := json.Unmarshal(b, &got); err != nil {
		return wrong, err.Error()
	}
	truthSet := map[string]bool{}
	for _, n := range want.Notices {
		truthSet[show([]truthNotice{n})] = true
	}
	for _, n := range got {
		if s := show([]truthNotice{n}); !truthSet[s] {
			return wrong, s
		}
	}
	var codes []string
	for _, p := range doc.Problems {
		codes = append(codes, p.Code)
	}
	switch {
	case show(got) == show(want.Notices) && codeSet(codes) == codeSet(want.Problems):
		return right, ""
	case len(doc.Problems) > 0:
		return problem, ""
	}
	return silent, show(got)
}

// mutant is a copy of a file with the byte at pos changed from was.
type mutant struct {
	data []byte
	pos  int
	was  byte
}

// mutants returns n copies of data, each with one byte replaced by another value. The
// positions are seeded by the file's name, so every run reads the same mutants: a third
// anywhere in the file (headers, dictionaries, the xref), a third anywhere inside stream
// data, and a third in one stream picked uniformly, so that the small streams a notice's
// text depends on (content streams, ToUnicode maps) are hit as often as the font programs.
func mutants(name string, data []byte, n int, seed uint64) []mutant {
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(h.Sum64(), seed))
	streams := streamRanges(data)
	var inStreams int
	for _, s := range streams {
		inStreams += s[1] - s[0]
	}
	out := make([]mutant, n)
	for i := range out {
		pos := rng.IntN(len(data))
		switch {
		case inStreams == 0 || i%3 == 0:
		case i%3 == 1:
			k := rng.IntN(inStreams)
			for _, s := range streams {
				if k < s[1]-s[0] {
					pos = s[0] + k
					break
				}
				k -= s[1] - s[0]
			}
		default:
			s := streams[rng.IntN(len(streams))]
			pos = s[0] + rng.IntN(s[1]-s[0])
		}
		m := bytes.Clone(data)
		m[pos] ^= byte(1 + rng.IntN(255))
		out[i] = mutant{m, pos, data[pos]}
	}
	return out
}

// streamRanges finds the data of every stream: from after "stream" and its end of line to
// "endstream".
func streamRanges(data []byte) [][2]int {
	var out [][2]int
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("stream"))
		if j < 0 {
			return out
		}
		start := i + j + len("stream")
		if i+j >= 3 && string(data[i+j-3:i+j]) == "end" {
			i = start
			continue
		}
		if start < len(data) && data[start] == '\r' {
			start++
		}
		if start < len(data) && data[start] == '\n' {
			start++
		}
		end := bytes.Index(data[start:], []byte("endstream"))
		if end <= 0 {
			return out
		}
		out = append(out, [2]int{start, start + end})
		i = start + end + len("endstream")
	}
}
