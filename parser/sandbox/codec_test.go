package sandbox

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"hosho-intake/parser"
)

// viaJSON is what the parent decoded when answers were JSON: the reference for the binary
// answer, and an error where json.Marshal refused the Document.
func viaJSON(doc parser.Document, panicText string) (response, error) {
	b, err := json.Marshal(response{Doc: doc, Panic: panicText})
	if err != nil {
		return response{}, err
	}
	var resp response
	err = json.Unmarshal(b, &resp)
	return resp, err
}

func viaBinary(doc parser.Document, panicText string) (response, error) {
	b, err := appendAnswer(nil, doc, panicText)
	if err != nil {
		return response{}, err
	}
	return decodeAnswer(b)
}

// TestAnswerLikeJSON: a Document read back from the binary answer is the one JSON gave
// back, nil and empty lists, marks, invalid UTF-8 and unfinished numbers included.
func TestAnswerLikeJSON(t *testing.T) {
	full := parser.Notice{Category: "前払金保証", ContractNumber: "2070004426", AuthKey: "43H5ZEOH3X", ProjectName: "県道改良工事（その１）",
		Orderer: "島根県", Guarantor: parser.WestJapan, Source: "pdf", Attachment: "a/b.pdf", Page: 3, Remark: "read from a row"}
	ocr := full
	ocr.Source, ocr.OCR = "ocr", &parser.OCRMarks{Confidence: map[string]float64{"auth_key": 0.71, "category": 1}, Unsure: []string{"auth_key"}}
	noUnsure := full
	noUnsure.OCR = &parser.OCRMarks{Confidence: map[string]float64{}}
	var many []parser.Notice
	for range 200 {
		many = append(many, parser.Notice{})
	}
	tests := []struct {
		name  string
		doc   parser.Document
		panic string
	}{
		{"zero", parser.Document{}, ""},
		{"empty lists", parser.Document{Notices: []parser.Notice{}, Problems: []parser.Problem{}, Images: []parser.PageImage{}}, ""},
		{"notices", parser.Document{Notices: []parser.Notice{full, ocr, noUnsure}, Problems: []parser.Problem{}, Kind: parser.KindNotice, Pages: 2}, ""},
		{"many empty notices", parser.Document{Notices: many}, ""},
		{"problems", parser.Document{Problems: []parser.Problem{{Code: parser.CodeCorrupt, Detail: "malformed hex string \xff\xfe<", ContractNumber: "1", AuthKey: "k", Missing: "m"}}}, "boom\x80"},
		{"images", parser.Document{Images: []parser.PageImage{{Page: 1, PNG: []byte("\x89PNG")}, {Page: -1, PNG: []byte{}}, {Page: 2}}}, ""},
		{"panic", corrupt("reader panicked: x"), strings.Repeat("stack ", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, werr := viaJSON(tt.doc, tt.panic)
			got, gerr := viaBinary(tt.doc, tt.panic)
			if werr != nil || gerr != nil {
				t.Fatalf("JSON %v, binary %v", werr, gerr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("binary answer read back as\n%#v\nJSON as\n%#v", got, want)
			}
		})
	}
	nan := full
	nan.OCR = &parser.OCRMarks{Confidence: map[string]float64{"auth_key": math.NaN()}}
	for _, doc := range []parser.Document{{Notices: []parser.Notice{nan}}} {
		if _, err := viaJSON(doc, ""); err == nil {
			t.Fatal("JSON took a NaN")
		}
		if _, err := viaBinary(doc, ""); err == nil {
			t.Error("the binary answer took a NaN that JSON refuses")
		}
	}
}

// TestAnswerCoversFields fails when a field is added to what a worker answers: codec.go
// must then carry it (and this count be raised).
func TestAnswerCoversFields(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int
	}{{parser.Document{}, 5}, {parser.Notice{}, 11}, {parser.Problem{}, 6}, {parser.PageImage{}, 2}, {parser.OCRMarks{}, 3}} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.want {
			t.Errorf("%T has %d fields, codec.go carries %d: add the new one to appendAnswer and decodeAnswer", c.v, n, c.want)
		}
	}
}

// FuzzDecodeAnswer: any bytes from a broken or hostile worker are refused or read, never a
// panic, and what is read encodes back to an answer that reads the same.
func FuzzDecodeAnswer(f *testing.F) {
	for _, doc := range []parser.Document{{}, {Notices: []parser.Notice{{AuthKey: "k", OCR: &parser.OCRMarks{Confidence: map[string]float64{"a": 1}}}}, Problems: []parser.Problem{{Code: "c"}}, Images: []parser.PageImage{{Page: 1, PNG: []byte("p")}}}} {
		b, _ := appendAnswer(nil, doc, "p")
		f.Add(b)
	}
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := decodeAnswer(b)
		if err != nil {
			return
		}
		again, err := appendAnswer(nil, resp.Doc, resp.Panic)
		if err != nil {
			return // a NaN confidence: refused when sent
		}
		resp2, err := decodeAnswer(again)
		if err != nil || !reflect.DeepEqual(resp, resp2) {
			t.Errorf("read %#v, sent again read %#v, %v", resp, resp2, err)
		}
	})
}
