package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/inbound"
	"hosho-intake/parser"
	"hosho-intake/parser/ocr"
	"hosho-intake/parser/sandbox"
)

// parseResult is one line of `parse --json`, as DESIGN.md specifies it, with remarks beside
// notices and problems: how a notice's value was read when not plainly (a damaged label).
type parseResult struct {
	File     string           `json:"file"`
	Notices  []parser.Notice  `json:"notices"`
	Problems []parser.Problem `json:"problems"`
	Remarks  []parseRemark    `json:"remarks"`
	err      error
}

// parseRemark is a notice's parser.Remark, lifted out of the notice so that the notice
// objects keep the contract's keys.
type parseRemark struct {
	Attachment     string `json:"attachment"`
	ContractNumber string `json:"contract_number"`
	Detail         string `json:"detail"`
}

func runParse(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	workers := fs.Int("workers", runtime.NumCPU(), "PDF reader processes")
	maxSize := fs.Int64("max-size", inbound.DefaultLimits().MaxMessageBytes, "largest message read, in bytes")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of the reader per PDF")
	useOCR := fs.String("ocr", "auto", "read image-only PDFs and images with tesseract: auto (where installed), true or false")
	if err := fs.Parse(e.args); err != nil {
		return exitCode(2)
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprintln(e.stderr, "usage: hosho-intake parse [--json] FILE...")
		return exitCode(2)
	}
	var ocrOn *bool
	switch *useOCR {
	case "auto":
	case "true", "false":
		on := *useOCR == "true"
		ocrOn = &on
	default:
		fmt.Fprintln(e.stderr, "hosho-intake: --ocr takes auto, true or false")
		return exitCode(2)
	}
	pool, err := newPDFPool(ctx, *workers, *timeout, ocrOn)
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake: %v\n", err)
		return exitCode(1)
	}
	defer pool.Close()
	lim := inbound.DefaultLimits()
	lim.MaxMessageBytes = *maxSize

	// Files are read concurrently, one per PDF worker, and printed in the order given. A
	// fixed set of readers, each keeping its buffer from one PDF to the next: a goroutine
	// and a buffer per file had the collector and stack growth take a fifth of this
	// process's CPU.
	results := make([]chan parseResult, len(files))
	for i := range results {
		results[i] = make(chan parseResult, 1)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(max(*workers, 1), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := range next {
				var r parseResult
				r, buf = parseFile(ctx, files[i], lim, pool, buf)
				results[i] <- r
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range files {
			next <- i
		}
	}()
	code := 0
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	for i := range files {
		r := <-results[i]
		if r.err != nil {
			fmt.Fprintf(e.stderr, "hosho-intake: %s: %v\n", r.File, r.err)
			code = 1
			continue
		}
		if *asJSON {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintf(e.stderr, "hosho-intake: %v\n", err)
				return exitCode(1)
			}
		} else {
			printTable(e.stdout, r)
		}
	}
	wg.Wait()
	return exited(code)
}

// newPDFPool starts PDF readers as child processes of this same binary, so that a hostile
// PDF can hang or crash only a worker.
// OCR (ocrOn nil: where tesseract and its Japanese data are installed) reads image-only
// PDFs and images in the same workers.
func newPDFPool(ctx context.Context, workers int, timeout time.Duration, ocrOn *bool) (*sandbox.Pool, error) {
	cmd, err := pdfWorkerCommand()
	if err != nil {
		return nil, err
	}
	useOCR := config.Sandbox{OCR: ocrOn}.OCRWanted(func() bool { return ocr.Check(ctx, ocr.Options{}) == nil })
	return sandbox.NewPool(sandbox.Options{Command: cmd, Workers: workers, Timeout: timeout, Env: intake.WorkerEnv(), OCR: useOCR}), nil
}

// pdfWorkerCommand starts this same binary as a PDF reader.
func pdfWorkerCommand() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding own executable for PDF workers: %w", err)
	}
	return []string{exe, "pdf-worker"}, nil
}

func runPDFWorker(_ context.Context, e env) error {
	// ServeProcess, not Serve on stdout: ledongthuc/pdf prints debug lines to stdout on
	// some malformed files, which must not land in the protocol stream.
	// The workers open 7z archives too (inbound.ServeSevenZip): their header alone can take
	// gigabytes, which must cost a worker, not the daemon.
	serve := func() error { return sandbox.ServeProcess(inbound.ServeSevenZip) }
	if len(e.args) > 0 && e.args[0] == "--ocr" {
		serve = func() error { return sandbox.ServeProcessOCR(ocr.Options{}, inbound.ServeSevenZip) }
	}
	if err := serve(); err != nil {
		fmt.Fprintf(e.stderr, "pdf-worker: %v\n", err)
		return exitCode(1)
	}
	return nil
}

// parseFile reads a .pdf as a PDF and anything else as a message (.eml, or .eml.gz), into
// buf; it returns the buffer the next file may be read into: a PDF's, whose reading keeps
// nothing of it once ReadPDF returns, and nil after a message, whose reading may keep parts
// of it.
func parseFile(ctx context.Context, name string, lim inbound.Limits, pdfs intake.PDFReader, buf []byte) (parseResult, []byte) {
	r := parseResult{File: name}
	data, name, err := readInput(name, lim, buf)
	if errors.Is(err, errTooLarge) {
		r.Notices, r.Problems = []parser.Notice{}, []parser.Problem{{Code: parser.CodeTooLarge, Detail: err.Error()}}
		r.Remarks = []parseRemark{}
		return r, buf
	}
	if err != nil {
		r.err = err
		return r, buf
	}
	next := data[:0]
	if strings.EqualFold(filepath.Ext(name), ".pdf") {
		doc, err := pdfs.ReadPDF(ctx, data)
		r.Notices, r.Problems, r.err = doc.Notices, doc.Problems, err
		if err == nil && len(doc.Notices) == 0 && len(doc.Problems) == 0 {
			// A readable PDF that is something else (a 前払金請求書, a cover letter).
			r.Problems = []parser.Problem{{Code: parser.CodeNoNotice, Detail: "a readable PDF that holds no notice (" + doc.Kind + ")"}}
		}
	} else {
		next = nil
		c, err := intake.Read(ctx, bytes.NewReader(data), lim, pdfs)
		if err != nil {
			r.err = err
			return r, next
		}
		r.Notices, r.Problems = c.Notices, c.Problems
	}
	if r.Notices == nil {
		r.Notices = []parser.Notice{}
	}
	if r.Problems == nil {
		r.Problems = []parser.Problem{}
	}
	r.Remarks = []parseRemark{}
	for i, n := range r.Notices {
		if n.Remark != "" {
			r.Remarks = append(r.Remarks, parseRemark{Attachment: n.Attachment, ContractNumber: n.ContractNumber, Detail: n.Remark})
			r.Notices[i].Remark = ""
		}
	}
	return r, next
}

// maxHead is the most of a message over its limit kept to read its header from.
const maxHead = 256 << 10

// errTooLarge: an input over its limit, which is not read into memory.
var errTooLarge = errors.New("too large")

// readInput reads a file given on the command line into buf (or a new buffer where it
// does not fit), gunzipping a .gz (the corpus keeps large messages as .eml.gz); it returns
// the name without .gz. A PDF larger than the
// readers accept, or a message larger than lim (after gunzipping), is errTooLarge, and at
// most one byte past the limit is read.
func readInput(name string, lim inbound.Limits, buf []byte) ([]byte, string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, name, err
	}
	defer f.Close()
	var r io.Reader = f
	inner := name
	if strings.EqualFold(filepath.Ext(name), ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, name, fmt.Errorf("gunzip: %w", err)
		}
		r, inner = zr, strings.TrimSuffix(name, filepath.Ext(name))
	}
	limit := lim.MaxMessageBytes
	if strings.EqualFold(filepath.Ext(inner), ".pdf") {
		limit = sandbox.MaxFileSize
	}
	// Read into a buffer of the file's size (io.ReadAll grows one from 512 bytes, copying
	// as it goes); a gzip's size says nothing of its content, which grows as read.
	b := bytes.NewBuffer(buf[:0])
	if st, err := f.Stat(); err == nil && r == io.Reader(f) {
		b.Grow(int(min(st.Size(), limit)) + bytes.MinRead) // ReadFrom wants MinRead free to see the end
	}
	_, err = b.ReadFrom(io.LimitReader(r, limit+1))
	data := b.Bytes()
	if err != nil {
		return nil, name, fmt.Errorf("reading: %w", err)
	}
	if int64(len(data)) > limit {
		// The head is kept for the caller that answers from the header, as the daemon does.
		head := bytes.Clone(data[:min(len(data), maxHead)])
		return head, inner, fmt.Errorf("%w: the file is larger than the limit of %d bytes", errTooLarge, limit)
	}
	return data, inner, nil
}

func printTable(w io.Writer, r parseResult) {
	fmt.Fprintf(w, "%s: %d notice(s), %d problem(s)\n", r.File, len(r.Notices), len(r.Problems))
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	for _, n := range r.Notices {
		from := n.Source
		if n.Attachment != "" {
			from += " " + n.Attachment
		}
		if n.Page > 0 {
			from += fmt.Sprintf(" p.%d", n.Page)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t(%s)\n", orDash(n.Category), n.ContractNumber, n.AuthKey,
			orDash(n.ProjectName), orDash(n.Orderer), orDash(n.Guarantor), from)
	}
	tw.Flush()
	for _, p := range r.Problems {
		at := ""
		if p.Attachment != "" {
			at = " [" + p.Attachment + "]"
		}
		fmt.Fprintf(w, "  ! %s%s  %s\n", p.Code, at, p.Detail)
	}
	for _, m := range r.Remarks {
		fmt.Fprintf(w, "  * %s  %s\n", m.ContractNumber, m.Detail)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
