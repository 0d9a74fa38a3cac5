package sandbox

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"hosho-intake/parser"
)

func frame(payload string) string {
	return string(binary.BigEndian.AppendUint32(nil, uint32(len(payload)))) + payload
}

// TestServeFunc runs the worker side in-process over byte streams.
func TestServeFunc(t *testing.T) {
	echo := func(data []byte) parser.Document {
		if string(data) == "PANIC" {
			panic("boom")
		}
		return parser.Document{Kind: string(data)}
	}
	tests := []struct {
		name    string
		in      string
		answers []string // Kind, or Problem Detail for a corrupt answer
		err     string   // "" for a clean end
	}{
		{"empty", "", nil, ""},
		{"two files", frame("a") + frame("bc"), []string{"a", "bc"}, ""},
		{"empty file", frame(""), []string{""}, ""},
		{"panic", frame("PANIC") + frame("next"), []string{"reader panicked: boom", "next"}, ""},
		{"truncated header", frame("a") + "\x00\x00", []string{"a"}, "unexpected EOF"},
		{"truncated body", frame("a") + frame("long")[:6], []string{"a"}, "unexpected EOF"},
		{"too large", "\x7f\xff\xff\xff", nil, "frame too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := ServeFunc(strings.NewReader(tt.in), &out, echo)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("ServeFunc() = %v, want %q", err, tt.err)
			}
			r := bufio.NewReader(&out)
			if b, err := readFrame(r, 100); err != nil || string(b) != hello {
				t.Fatalf("first frame = %q, %v, want the hello", b, err)
			}
			var got []string
			for {
				b, err := readFrame(r, maxResponse)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("reading answers: %v", err)
				}
				resp, err := decodeAnswer(b)
				if err != nil {
					t.Fatalf("answer %q: %v", b, err)
				}
				if len(resp.Doc.Problems) > 0 {
					got = append(got, resp.Doc.Problems[0].Detail)
					if resp.Panic == "" {
						t.Errorf("answer %q: no panic text for the log", b)
					}
				} else {
					got = append(got, resp.Doc.Kind)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.answers, "|") {
				t.Errorf("answers = %q, want %q", got, tt.answers)
			}
		})
	}
}

func TestReadFrameGrows(t *testing.T) {
	payload := strings.Repeat("0123456789abcdef", 300_000) // 4.8 MB: several growth steps
	b, err := readFrame(bufio.NewReader(strings.NewReader(frame(payload))), MaxFileSize)
	if err != nil || string(b) != payload {
		t.Errorf("readFrame(%d bytes) = %d bytes, %v", len(payload), len(b), err)
	}
	// A length that promises more than arrives costs only what arrived.
	_, err = readFrame(bufio.NewReader(strings.NewReader("\x03\xff\xff\xff"+"abc")), MaxFileSize)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("readFrame(short) error = %v, want ErrUnexpectedEOF", err)
	}
}

// FuzzServeFunc feeds arbitrary request streams to the worker side: it must end with nil
// or an error, never panic or hang.
func FuzzServeFunc(f *testing.F) {
	f.Add([]byte(frame("%PDF-1.7") + frame("")))
	f.Add([]byte("\x00\x00\x00\x05abc"))
	f.Add([]byte("\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		read := func(data []byte) parser.Document { return parser.Document{Pages: len(data)} }
		ServeFunc(bytes.NewReader(in), io.Discard, read)
	})
}
