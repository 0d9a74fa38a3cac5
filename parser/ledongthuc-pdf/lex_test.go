package pdf

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildUnterminatedArrayPDF constructs a minimal single-page PDF whose
// content stream ends inside an array that is never closed. Real-world
// truncated or malformed PDFs exhibit the same shape: the tokenizer hits
// end of input while readArray is still collecting elements.
func buildUnterminatedArrayPDF() []byte {
	var buf bytes.Buffer
	offsets := make([]int, 5)

	buf.WriteString("%PDF-1.4\n")

	// The content stream ends inside "[ ... " with no closing "]".
	content := "BT /F1 12 Tf [ (hello) 1 2"
	objs := []string{
		"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
		"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
		"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> /Contents 4 0 R >>\nendobj\n",
		fmt.Sprintf("4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(content), content),
	}
	for i, obj := range objs {
		offsets[i+1] = buf.Len()
		buf.WriteString(obj)
	}

	xrefOffset := buf.Len()
	buf.WriteString("xref\n0 5\n")
	buf.WriteString("0000000000 65535 f \n")
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&buf, "%010d 00000 n \n", offsets[i])
	}
	buf.WriteString("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n")
	fmt.Fprintf(&buf, "%d\n%%%%EOF\n", xrefOffset)
	return buf.Bytes()
}

// TestUnterminatedArrayTerminates verifies that text extraction terminates
// on a PDF whose content stream is truncated inside an unterminated array.
// Before readArray handled io.EOF, readToken returned io.EOF as a token
// value, which matched neither nil nor keyword("]"), so readArray appended
// io.EOF objects forever, allocating memory without bound.
func TestUnterminatedArrayTerminates(t *testing.T) {
	data := buildUnterminatedArrayPDF()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		// The extracted text is irrelevant; the call just has to return.
		r.GetPlainText()
	}()

	select {
	case <-done:
		// ok: extraction terminated
	case <-time.After(5 * time.Second):
		t.Fatal("GetPlainText did not return within 5s: readArray is looping on io.EOF at end of a truncated content stream")
	}
}

// TestTokenCache reads names, keywords and integers through a Reader's token cache: a token
// read again is the same value, and a file with more distinct names than the cache holds
// still reads every one right while the cache stays bounded (hosho-intake).
func TestTokenCache(t *testing.T) {
	var src bytes.Buffer
	for i := range maxCachedTokens + 100 {
		fmt.Fprintf(&src, "/N%d kw%d %d /Type obj -7 1023 1024 ", i, i, i)
	}
	b := newBufferBytes(src.Bytes(), 0)
	b.allowEOF = true
	b.cache = newTokenCache()
	for i := range maxCachedTokens + 100 {
		want := []token{name(fmt.Sprintf("N%d", i)), keyword(fmt.Sprintf("kw%d", i)), int64(i), name("Type"), keyword("obj"), int64(-7), int64(1023), int64(1024)}
		for j, w := range want {
			if got := b.readToken(); got != w {
				t.Fatalf("token %d of group %d = %#v, want %#v", j, i, got, w)
			}
		}
	}
	if len(b.cache.names) != maxCachedTokens || len(b.cache.keywords) != maxCachedTokens {
		t.Errorf("cache holds %d names and %d keywords, want the bound %d", len(b.cache.names), len(b.cache.keywords), maxCachedTokens)
	}
}

// keywordTokens lexes src with readToken to the end: from the bytes in place (newBufferBytes)
// or through a reader and a buffer of size bytes, whose tokens cross its end.
func keywordTokens(src []byte, size int) (out []string) {
	var b *buffer
	if size == 0 {
		b = newBufferBytes(src, 0)
	} else {
		b = newBuffer(bytes.NewReader(src), 0)
		b.buf = make([]byte, 0, size)
	}
	b.allowEOF = true
	defer func() {
		if r := recover(); r != nil {
			out = append(out, fmt.Sprint("panic: ", r))
		}
	}()
	for range 1000 {
		t := b.readToken()
		if t == io.EOF {
			break
		}
		out = append(out, fmt.Sprintf("%T %v", t, t))
	}
	return out
}

// TestKeywordsInPlace: numbers, booleans, keywords and names read in place are what a
// byte-by-byte read through a small buffer makes of them, as ParseInt and ParseFloat read
// numbers of every length.
func TestKeywordsInPlace(t *testing.T) {
	src := "0 -0 +5 1023 1024 -7 123456789012345678 1234567890123456789 99999999999999999999 " +
		"1.5 -.25 +3. 0.1 270.0195 -0.0 1234567.89012345 1234567.890123456 .1234567890123456789 " +
		"true false null obj R endobj -- . 1.2.3 12a /Type /A#20B /N#41me /x/y [/Font] {/ÿ} /"
	want := keywordTokens([]byte(src+" "), 1)
	for _, size := range []int{0, 3, 16, 4096} {
		if got := keywordTokens([]byte(src+" "), size); !slices.Equal(got, want) {
			t.Errorf("buffer %d: %q\nwant %q", size, got, want)
		}
	}
	for _, tok := range strings.Fields(src) {
		if isInteger(tok) {
			x, ok := smallInteger([]byte(tok))
			y, err := strconv.ParseInt(tok, 10, 64)
			if ok && (err != nil || x != y) {
				t.Errorf("smallInteger(%s) = %d, ParseInt %d %v", tok, x, y, err)
			}
		}
	}
}

// FuzzShortNumbers: smallInteger and shortReal read what ParseInt and ParseFloat read, to the
// bit, wherever they answer; tokens read in place are what a read through a small buffer
// makes of them.
func FuzzShortNumbers(f *testing.F) {
	for _, s := range []string{"0", "-12", "+1023", "123456789012345678", "270.0195", "-.5", "3.", "0.1", "999999999999999.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isInteger(s) {
			if x, ok := smallInteger([]byte(s)); ok {
				if y, err := strconv.ParseInt(s, 10, 64); err != nil || x != y {
					t.Fatalf("smallInteger(%q) = %d, ParseInt %d %v", s, x, y, err)
				}
			}
		}
		if x, ok := shortReal([]byte(s)); ok {
			if y, err := strconv.ParseFloat(s, 64); err != nil || math.Float64bits(x) != math.Float64bits(y) {
				t.Fatalf("shortReal(%q) = %v, ParseFloat %v %v", s, x, y, err)
			}
		}
		if strings.ContainsAny(s, "<(") {
			return // an unclosed string or dictionary at the end of the data is read forever with allowEOF (upstream)
		}
		in := []byte(s + " ")
		if got, want := keywordTokens(in, 0), keywordTokens(in, 2); !slices.Equal(got, want) {
			t.Fatalf("in place %q, through a buffer %q", got, want)
		}
	})
}
