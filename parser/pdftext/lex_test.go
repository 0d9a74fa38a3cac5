package pdftext

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestDecimal checks the content-stream number reader against strconv.ParseFloat, to the
// bit, on the forms producers write and on the edges of its fast path.
func TestDecimal(t *testing.T) {
	cases := []string{
		"0", "-0", "+0", "1", "-1", "12.5", ".5", "-.5", "+.5", "1.", "-1.", "0.1", "0.3", "612", "841.89",
		"-0.000", "123456789012345", "999999999999999", ".000000000000001", "1.23456789012345",
		"0.1000000000000001", "1234567890123456", "1e5", "1.2.3", "--5", ".", "-", "", "+-1", "0x10", "Inf", "NaN", "1_0",
	}
	rng := rand.New(rand.NewPCG(14, 1))
	for range 20000 {
		// Random digit strings with a dot anywhere: the exact division must match
		// ParseFloat's correctly rounded result for every split.
		n := 1 + rng.IntN(16)
		b := make([]byte, 0, n+2)
		if rng.IntN(2) == 0 {
			b = append(b, '-')
		}
		dot := rng.IntN(n + 1)
		for i := range n {
			if i == dot {
				b = append(b, '.')
			}
			b = append(b, byte('0'+rng.IntN(10)))
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		got, ok := decimal([]byte(c))
		want, err := strconv.ParseFloat(c, 64)
		if !ok {
			continue // left to ParseFloat
		}
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("decimal(%q) = %v (%x), ParseFloat = %v (%x), %v", c, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	}
	for _, c := range []string{"1e5", "1.2.3", "--5", ".", "-", "", "1234567890123456", "Inf"} {
		if _, ok := decimal([]byte(c)); ok {
			t.Errorf("decimal(%q) took a token it must leave to ParseFloat", c)
		}
	}
}

// FuzzDecimal: whatever decimal accepts, ParseFloat reads to the same bits.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"0", "-12.5", ".5", "123456789012345", "1.", "99.999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decimal([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("decimal(%q) = %v, ParseFloat = %v, %v", s, got, want, err)
		}
	})
}

// TestLexerReset: strings and arrays read since the last reset stay intact while more
// operands are read (the storage they share grows under them), and after a reset the
// next operator's operands are read right in the reused storage.
func TestLexerReset(t *testing.T) {
	l := lexer{b: []byte("[(a\\(b) <6364> [1 (x) [2 <7a>]] -3.5] TJ (second) <7365636f6e64> [(third)] TJ")}
	var got []string
	var walk func(o obj)
	walk = func(o obj) {
		switch o.kind {
		case kStr:
			got = append(got, string(o.str))
		case kNum:
			got = append(got, strconv.FormatFloat(o.num, 'g', -1, 64))
		case kArray:
			got = append(got, "[")
			for _, e := range o.arr {
				walk(e)
			}
			got = append(got, "]")
		case kOp:
			got = append(got, string(o.str))
		}
	}
	var ops []obj
	for {
		o, ok := l.next()
		if !ok {
			break
		}
		if o.kind != kOp {
			ops = append(ops, o)
			continue
		}
		for _, a := range ops {
			walk(a)
		}
		walk(o)
		ops = ops[:0]
		l.reset()
	}
	want := "[ a(b cd [ 1 x [ 2 z ] ] -3.5 ] TJ second second [ third ] TJ"
	if s := join(got); s != want {
		t.Errorf("read %q, want %q", s, want)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// TestLexerDropsOperands: operands past the kept ones give their storage back, so that a
// hostile stream of strings and arrays without an operator (16 MiB of "[1]" would be a
// third of a billion bytes of elements) holds no more than what is kept.
func TestLexerDropsOperands(t *testing.T) {
	stream := []byte(strings.Repeat("[1 [2] (ab)] <6364> ", 50_000) + "Tj")
	l := lexer{b: stream}
	op, ops, ok := l.operator(nil, 64)
	if !ok || string(op.str) != "Tj" || len(ops) != 64 {
		t.Fatalf("operator = %q, %d operands, %v; want Tj after 64 kept", op.str, len(ops), ok)
	}
	if len(l.elems) > 64*4 || len(l.text) > 64*4 {
		t.Errorf("the lexer holds %d elements and %d bytes of strings for 64 operands", len(l.elems), len(l.text))
	}
	if got := ops[62]; got.kind != kArray || len(got.arr) != 3 || string(got.arr[2].str) != "ab" || string(ops[63].str) != "cd" {
		t.Errorf("kept operands %+v %+v", ops[62], ops[63])
	}
	// An array past maxArrayLen keeps its first elements only, and no storage for the rest.
	l = lexer{b: []byte("[" + strings.Repeat("[(x)] ", maxArrayLen+1000) + "] Tj")}
	_, ops, _ = l.operator(nil, 64)
	if len(ops) != 1 || len(ops[0].arr) != maxArrayLen || len(l.elems) != 2*maxArrayLen || len(l.text) != maxArrayLen {
		t.Errorf("array of %d elements, lexer holds %d elements and %d bytes", len(ops[0].arr), len(l.elems), len(l.text))
	}
}
