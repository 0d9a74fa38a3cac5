package pdf

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// objStmPDF is a file whose catalog, page tree and objects 3 to 2+len(objs) are in one
// object stream (object 3+len(objs)) with the header given, found through a cross-reference
// stream; header "" is the pairs in order (n, offset of objs[n-3]).
func objStmPDF(objs []string, header string, n int) []byte {
	all := append([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"}, objs...)
	var body bytes.Buffer
	var pairs bytes.Buffer
	for i, o := range all {
		fmt.Fprintf(&pairs, "%d %d ", i+1, body.Len())
		body.WriteString(o + "\n")
	}
	if header == "" {
		header = pairs.String()
	}
	if n < 0 {
		n = len(all)
	}
	strmNum := len(all) + 1
	var f bytes.Buffer
	f.WriteString("%PDF-1.7\n")
	strmOff := f.Len()
	content := header + "\n" + body.String()
	fmt.Fprintf(&f, "%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Length %d >>\nstream\n%s\nendstream\nendobj\n", strmNum, n, len(header)+1, len(content), content)
	xrefNum := strmNum + 1
	xrefOff := f.Len()
	var x bytes.Buffer
	entry := func(typ byte, a uint32, b uint16) {
		x.Write([]byte{typ, byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a), byte(b >> 8), byte(b)})
	}
	entry(0, 0, 65535)
	for i := range all {
		entry(2, uint32(strmNum), uint16(i))
	}
	entry(1, uint32(strmOff), 0)
	entry(1, uint32(xrefOff), 0)
	fmt.Fprintf(&f, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", xrefNum, xrefNum+1, x.Len())
	f.Write(x.Bytes())
	fmt.Fprintf(&f, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xrefOff)
	return f.Bytes()
}

// readObjects resolves objects ids in order with one Reader, each as its value or panic.
func readObjects(t *testing.T, data []byte, ids []uint32, index bool) []string {
	t.Helper()
	indexObjStms = index
	defer func() { indexObjStms = true }()
	r, err := NewReaderBytes(data, nil)
	if err != nil {
		t.Fatalf("NewReaderBytes: %v", err)
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		func() {
			defer func() {
				if x := recover(); x != nil {
					out[i] = fmt.Sprint("panic: ", x)
				}
			}()
			out[i] = objfmt(r.resolve(objptr{}, objptr{id, 0}).data)
		}()
	}
	return out
}

// TestObjStmIndex: objects read from an object stream through its index are what reading
// its header from the start for each finds, in any order: every object of a stream of 300,
// the first pair of an object number listed twice, a header shorter than /N says, pairs
// that are not numbers, offsets past the end, and objects the header lacks.
func TestObjStmIndex(t *testing.T) {
	var objs []string
	for i := range 300 {
		objs = append(objs, fmt.Sprintf("<< /N %d >>", i+3))
	}
	tests := []struct {
		name   string
		objs   []string
		header string
		n      int
	}{
		{"300 objects", objs, "", -1},
		{"a number listed twice", objs[:3], "1 0 2 34 3 70 3 86 4 86 5 102", 6},
		{"header shorter than /N", objs[:3], "1 0 2 34 3 70", 9},
		{"pairs that are not numbers", objs[:3], "1 0 /x 34 3 (y) 2 34 4 86", 5},
		{"offset past the end", objs[:3], "1 0 2 34 3 7000 4 86", 4},
		{"objects missing", objs[:3], "1 0 2 34", 2},
		{"header to the end", objs[:1], "1 0 2 34 3", 3},
		{"/N past the end of the data", objs[:2], "1 0 2 34 3 70", 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := objStmPDF(tc.objs, tc.header, tc.n)
			rng := rand.New(rand.NewPCG(14, uint64(len(tc.name))))
			for round := range 3 {
				ids := make([]uint32, len(tc.objs)+4)
				for i := range ids {
					ids[i] = uint32(i)
				}
				if round > 0 {
					rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
				}
				got, want := readObjects(t, data, ids, true), readObjects(t, data, ids, false)
				for i := range ids {
					if got[i] != want[i] {
						t.Errorf("round %d: object %d = %s, from the header's start %s", round, ids[i], got[i], want[i])
					}
				}
			}
			if tc.name == "300 objects" {
				if got := readObjects(t, data, []uint32{150}, true)[0]; got != "<</N 150>>" {
					t.Errorf("object 150 = %s", got)
				}
			}
		})
	}
}

// FuzzObjStmIndex: whatever an object stream's header says, objects read through the index
// are what reading the header from the start finds.
func FuzzObjStmIndex(f *testing.F) {
	f.Add("1 0 2 34 3 70 4 86", uint8(4), uint64(1))
	f.Add("3 70 3 0 1 0 2 34", uint8(6), uint64(2))
	f.Add("1 0 2 (34", uint8(3), uint64(3))
	f.Fuzz(func(t *testing.T, header string, n uint8, seed uint64) {
		if len(header) > 512 {
			return
		}
		data := objStmPDF([]string{"<< /N 3 >>", "[4]", "5"}, header, int(n%16))
		ids := []uint32{0, 1, 2, 3, 4, 5, 6}
		rand.New(rand.NewPCG(seed, 0)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		got, want := readObjects(t, data, ids, true), readObjects(t, data, ids, false)
		for i := range ids {
			if got[i] != want[i] {
				t.Fatalf("object %d = %s, from the header's start %s", ids[i], got[i], want[i])
			}
		}
	})
}

// BenchmarkObjStm reads every object of a stream of 300 through the index and, for
// comparison, reading the header from the start for each (upstream).
func BenchmarkObjStm(b *testing.B) {
	var objs []string
	for i := range 300 {
		objs = append(objs, fmt.Sprintf("<< /N %d >>", i+3))
	}
	data := objStmPDF(objs, "", -1)
	for _, index := range []bool{true, false} {
		b.Run(fmt.Sprintf("index=%v", index), func(b *testing.B) {
			indexObjStms = index
			defer func() { indexObjStms = true }()
			for b.Loop() {
				r, err := NewReaderBytes(data, nil)
				if err != nil {
					b.Fatal(err)
				}
				for id := range uint32(303) {
					r.resolve(objptr{}, objptr{id, 0})
				}
			}
		})
	}
}

// TestObjStmOpenAtEnd: an object stream whose last object leaves a hex string open at the
// end of the data is read to its end, not for ever (the end of an object stream is allowed,
// and the lexer answers a space there for ever; the hex string took it as one).
func TestObjStmOpenAtEnd(t *testing.T) {
	for _, last := range []string{"<", "<41", "<< /A <42", "[<43", "<4 "} {
		t.Run(last, func(t *testing.T) {
			data := objStmPDF([]string{"<< /N 3 >>", last}, "", -1)
			done := make(chan []string, 1)
			go func() { done <- readObjects(t, data, []uint32{3, 4}, true) }()
			select {
			case got := <-done:
				if got[0] != "<</N 3>>" {
					t.Errorf("object 3 = %s, want <</N 3>>", got[0])
				}
				t.Logf("object 4 %q read as %s", last, got[1])
			case <-time.After(30 * time.Second): // a hang bound, not a timing
				t.Fatalf("reading an object stream ending in %q did not end", last)
			}
		})
	}
}
