package pdf

import (
	"bytes"
	"strings"
	"testing"
)

func TestReadObjectMaxDepth(t *testing.T) {
	// Craft a payload of deeply nested "0 0 obj" sequences that would
	// previously cause unbounded recursion and a fatal stack overflow.
	// With the depth limit in place this must produce a recoverable panic
	// (caught here) instead of crashing the process.
	const depth = maxObjectDepth + 100
	var payload bytes.Buffer
	for i := 0; i < depth; i++ {
		payload.WriteString("0 0 obj\n")
	}

	b := newBuffer(&payload, 0)
	b.allowEOF = true

	panicked := false
	var panicMsg string
	func() {
		defer func() {
			if r := recover(); r != nil {
				panicked = true
				panicMsg = r.(error).Error()
			}
		}()
		b.readObject()
	}()

	if !panicked {
		t.Fatal("expected panic from deeply nested objects, but readObject returned normally")
	}
	if !strings.Contains(panicMsg, "maximum depth") {
		t.Fatalf("expected 'maximum depth' in panic message, got: %s", panicMsg)
	}
}

func TestReadDictMaxDepth(t *testing.T) {
	// Deeply nested dictionaries: << /A << /A << ... >> >> >>
	var payload bytes.Buffer
	const depth = maxObjectDepth + 100
	for i := 0; i < depth; i++ {
		payload.WriteString("<< /A ")
	}
	payload.WriteString("null")
	for i := 0; i < depth; i++ {
		payload.WriteString(" >>")
	}

	b := newBuffer(&payload, 0)
	b.allowEOF = true

	panicked := false
	func() {
		defer func() {
			if r := recover(); r != nil {
				panicked = true
			}
		}()
		b.readObject()
	}()

	if !panicked {
		t.Fatal("expected panic from deeply nested dicts, but readObject returned normally")
	}
}

func TestReadArrayMaxDepth(t *testing.T) {
	// Deeply nested arrays: [ [ [ ... ] ] ]
	var payload bytes.Buffer
	const depth = maxObjectDepth + 100
	for i := 0; i < depth; i++ {
		payload.WriteString("[ ")
	}
	payload.WriteString("null")
	for i := 0; i < depth; i++ {
		payload.WriteString(" ]")
	}

	b := newBuffer(&payload, 0)
	b.allowEOF = true

	panicked := false
	func() {
		defer func() {
			if r := recover(); r != nil {
				panicked = true
			}
		}()
		b.readObject()
	}()

	if !panicked {
		t.Fatal("expected panic from deeply nested arrays, but readObject returned normally")
	}
}

func TestReadObjectNormalDepth(t *testing.T) {
	// A moderately nested structure should parse without hitting the limit.
	var payload bytes.Buffer
	const depth = 50
	for i := 0; i < depth; i++ {
		payload.WriteString("<< /A ")
	}
	payload.WriteString("(hello)")
	for i := 0; i < depth; i++ {
		payload.WriteString(" >>")
	}

	b := newBuffer(&payload, 0)
	b.allowEOF = true

	panicked := false
	func() {
		defer func() {
			if r := recover(); r != nil {
				panicked = true
			}
		}()
		obj := b.readObject()
		if obj == nil {
			t.Fatal("expected non-nil object from moderately nested dict")
		}
	}()

	if panicked {
		t.Fatal("unexpected panic from moderately nested dicts")
	}
}

func TestNewReaderMaliciousPDF(t *testing.T) {
	// Reproduce the exact attack vector from MM-63434: a PDF with millions
	// of "0 0 obj" tokens that triggers deep recursion during NewReader's
	// xref parsing. With the fix, NewReader should return an error (via
	// recovered panic) rather than crashing the process.
	var pdf bytes.Buffer
	pdf.WriteString("%PDF-1.0\n")
	for i := 0; i < 10_000; i++ {
		pdf.WriteString("0\n0\nobj\n")
	}
	pdf.WriteString("startxref\n0\n%%EOF\n")

	data := pdf.Bytes()
	_, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err == nil {
		t.Fatal("expected error from malicious PDF, got nil")
	}
}

// TestReadXrefTableData: the byte-by-byte entry reader takes what writers put in classic
// tables (CRLF, LF and space-CR line ends, extra spaces) and refuses what is not an entry.
func TestReadXrefTableData(t *testing.T) {
	for _, c := range []struct {
		table string
		want  []int64 // offsets of objects 0..n-1 ("n" entries), -1 for none
	}{
		{"0 3\r\n0000000000 65535 f\r\n0000000015 00000 n\r\n0000000102 00000 n\r\ntrailer", []int64{-1, 15, 102}},
		{"0 2\n0000000000 65535 f \n0000000017 00000 n \ntrailer", []int64{-1, 17}},
		{"0 1\n0000000000 65535 f\n3 1\n0000004711 00002 n\ntrailer", []int64{-1, -1, -1, 4711}},
		{"0 2\n0000000000 65535 f\n  17   0   n\ntrailer", []int64{-1, 17}},
		{"0 2\n0000000000 65535 f\n0000000017 00000 x\ntrailer", nil},
		{"0 2\n0000000000 65535 f\n0000000017 00000\ntrailer", nil},
		{"0 2\n0000000000 65535 f\n00000000170 0000000000000000000000 n\ntrailer", nil},
		{"0 2\n0000000000 65535 f\n-17 0 n\ntrailer", nil},
		{"0 2\n0000000000 65535 f\n0000000017 00000 nn\ntrailer", nil},
	} {
		var table []xref
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = r.(error)
				}
			}()
			b := newBufferBytes([]byte(c.table+"\n<< >>"), 0)
			table, err = readXrefTableData(b, nil)
		}()
		if c.want == nil {
			if err == nil {
				t.Errorf("%q: read %v, want an error", c.table, table)
			}
			continue
		}
		if err != nil || len(table) != len(c.want) {
			t.Errorf("%q: %v, %v; want %v", c.table, table, err, c.want)
			continue
		}
		for i, w := range c.want {
			if got := table[i].offset; w >= 0 && got != w || w < 0 && got != 0 {
				t.Errorf("%q: object %d at %d, want %d", c.table, i, got, w)
			}
		}
	}
}
