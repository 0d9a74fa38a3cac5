package noticepdf

import (
	"bytes"
	"compress/zlib"
	"io"
	"math/rand/v2"
	"testing"
)

// roundTrip fails unless compress/zlib reads back what zlibEncoder wrote.
func roundTrip(t *testing.T, src []byte) {
	t.Helper()
	var z zlibEncoder
	enc := z.encode(nil, src)
	r, err := zlib.NewReader(bytes.NewReader(enc))
	if err != nil {
		t.Fatalf("zlib.NewReader: %v", err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate %d bytes: %v", len(src), err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("round trip of %d bytes differs", len(src))
	}
}

func TestDeflateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][]byte{nil, {0}, []byte("abc"), bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte{0xff}, 100000)}
	for _, n := range []int{10, 300, 5000, 70000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(4)) // small alphabet: many matches of every length and distance
		}
		cases = append(cases, b)
		r := make([]byte, n)
		for i := range r {
			r[i] = byte(rng.Uint32())
		}
		cases = append(cases, r)
	}
	// A real content stream.
	var buf bytes.Buffer
	if err := Write(&buf, Samples(), Options{NoCompress: true}); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, buf.Bytes())
	for _, c := range cases {
		roundTrip(t, c)
	}
}

func FuzzDeflate(f *testing.F) {
	f.Add([]byte("BT /F2 10.5 Tf 1 0 0 1 62 720 Tm <300c4fdd> Tj ET BT /F2 10.5 Tf"))
	f.Add(bytes.Repeat([]byte("ab"), 300))
	f.Fuzz(func(t *testing.T, src []byte) { roundTrip(t, src) })
}

func TestAppendNum(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{0, "0"}, {-0.0001, "0"}, {12, "12"}, {10.5, "10.5"}, {755.89, "755.89"}, {-1.005, "-1.005"}, {0.05, "0.05"}, {595.2756, "595.276"}, {-0.4, "-0.4"}, {1e6, "1000000"}} {
		if got := string(appendNum(nil, c.in)); got != c.want {
			t.Errorf("appendNum(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
