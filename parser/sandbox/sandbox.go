// Package sandbox reads PDFs from the internet in child processes of the same binary,
// so that a hang, a panic, a stack overflow or running out of memory while reading one
// hurts only the child.
//
// The contract: Pool.ReadPDF returns what parser.ReadPDF returns for the file, or, when
// the reader failed in any way (it crashed, panicked, ran past Options.Timeout or
// Options.MemoryLimit, or broke the protocol), a Document whose only problem is
// parser.CodeCorrupt with a Detail saying which. A file larger than MaxFileSize is
// parser.CodeTooLarge. ReadPDF returns an error only when its context ends, the pool is
// closed, or no worker can be started (a configuration fault, not the file's).
//
// A worker is the binary in Options.Command, whose hidden subcommand calls ServeProcess
// (Serve on its stdin and stdout; see serve.go for the frames). One worker serves many
// files, one at a time: starting a process per PDF would cost more than reading it. A
// worker that failed, even by a panic it recovered from, is killed with its whole
// process group and reaped; the next file that needs it starts a fresh one.
// Workers are also replaced after Options.MaxFilesPerWorker files and when their
// resident memory stays high between files, which bounds leaks in the reader.
//
// Goroutines: none of its own while idle. A ReadPDF call does its worker's I/O on the
// caller's goroutine; os/exec runs one goroutine per worker to collect its stderr; while
// a file is being read, a timer samples the worker's memory every 50ms.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hosho-intake/parser"
)

// startTimeout bounds a worker's start, up to its hello. Measured: a -race test binary
// takes 0.35s to start on an idle 2-core machine and up to 3s at a load of 16.
const startTimeout = 30 * time.Second

// ErrClosed is returned by ReadPDF once Close has been called.
var ErrClosed = errors.New("sandbox: pool closed")

// Options configure a Pool. Zero values take the defaults given.
type Options struct {
	// Command starts a worker, e.g. {os.Args[0], "pdf-worker"}. Required.
	Command []string
	// Env is the workers' environment; nil inherits the parent's.
	Env []string
	// Workers is how many files are read at once; default runtime.GOMAXPROCS(0), which
	// follows the CPU quota of a systemd unit or container.
	Workers int
	// Timeout is the wall-clock limit per file; default 10s.
	Timeout time.Duration
	// MemoryLimit is the memory a worker may use, in bytes; default 512 MiB, negative for
	// none. It is enforced in the worker by RLIMIT_DATA (not under -race) and from
	// outside by sampling its resident set while it reads a file.
	MemoryLimit int64
	// MaxFilesPerWorker replaces a worker after that many files; default 5000, negative
	// for never.
	MaxFilesPerWorker int
	// Logger receives one record per failed file, with the worker's stderr; nil discards.
	Logger *slog.Logger
	// OCR makes workers read PDFs without a usable text layer, and images, with tesseract
	// (parser/ocr): the worker is started with "--ocr" after Command. Its tools run as the
	// worker's children, in its process group (killed with it) and under its RLIMIT_DATA;
	// the memory watch counts them with the worker.
	OCR bool
	// OCRIf, when set, decides OCR in OCR's stead, once, when it first matters (a worker
	// starts, or ReadsImages is asked): the check runs a program (tesseract --list-langs),
	// which a poll that finds nothing to read should not wait for.
	OCRIf func() bool
	// OCRTimeout is the wall-clock limit of the OCR of one file, counted from when its
	// worker says it starts OCR (the text layer's read stays under Timeout); default 60s.
	// A message's reading budget bounds it too.
	OCRTimeout time.Duration
}

// Stats are counters since the pool was made.
type Stats struct {
	Files       int64 // files handed to a worker
	Crashes     int64 // files whose worker died, panicked or broke the protocol
	Timeouts    int64 // files that ran past Timeout
	OutOfMemory int64 // files that ran past MemoryLimit
	Restarts    int64 // workers discarded to be replaced: after a failure, at MaxFilesPerWorker or for memory
}

// Pool hands files to worker processes. It is safe for concurrent use.
type Pool struct {
	opts Options
	log  *slog.Logger
	ocr  func() bool // Options.OCR, or OCRIf's answer

	// tokens holds one entry per worker slot: an idle worker, or nil for a slot whose
	// worker has not been started yet (or was discarded). A caller takes a token for
	// the length of one file, so Workers callers read at once and others wait.
	tokens chan *worker
	done   chan struct{} // closed by Close

	mu     sync.Mutex
	closed bool
	busy   map[*worker]struct{} // workers whose token is taken, for Close to kill

	files, crashes, timeouts, oom, restarts atomic.Int64
}

// NewPool returns a pool; it starts workers only when files arrive.
func NewPool(opts Options) *Pool {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.OCRTimeout <= 0 {
		opts.OCRTimeout = time.Minute
	}
	switch {
	case opts.MemoryLimit == 0:
		opts.MemoryLimit = 512 << 20
	case opts.MemoryLimit < 0:
		opts.MemoryLimit = 0
	}
	switch {
	case opts.MaxFilesPerWorker == 0:
		opts.MaxFilesPerWorker = 5000
	case opts.MaxFilesPerWorker < 0:
		opts.MaxFilesPerWorker = 0
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ocr := func() bool { return opts.OCR }
	if opts.OCRIf != nil {
		ocr = sync.OnceValue(opts.OCRIf)
	}
	p := &Pool{
		opts:   opts,
		log:    log,
		ocr:    ocr,
		tokens: make(chan *worker, opts.Workers),
		done:   make(chan struct{}),
		busy:   make(map[*worker]struct{}),
	}
	for range opts.Workers {
		p.tokens <- nil
	}
	return p
}

// ReadsImages reports whether the workers read images (JPEG, PNG, TIFF) too: Options.OCR
// or OCRIf.
func (p *Pool) ReadsImages() bool { return p.ocr() }

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	return Stats{
		Files:       p.files.Load(),
		Crashes:     p.crashes.Load(),
		Timeouts:    p.timeouts.Load(),
		OutOfMemory: p.oom.Load(),
		Restarts:    p.restarts.Load(),
	}
}

// ReadPDF reads one PDF in a worker; see the package comment for what it returns.
func (p *Pool) ReadPDF(ctx context.Context, data []byte) (parser.Document, error) {
	r, err := p.ReadWithin(ctx, data, 0)
	return r.Doc, err
}

// Reading is the outcome of one file read by ReadWithin.
type Reading struct {
	Doc parser.Document
	// Took is how long the file held its worker: neither the wait for a free worker nor a
	// worker's start, which are not the file's doing, so that a message's reading budget
	// is not spent by the messages read beside it.
	Took time.Duration
	// Failed: the reader crashed, panicked, or ran past Options.Timeout or MemoryLimit.
	Failed bool

	overLimit bool // Failed by running past Options.Timeout or MemoryLimit
}

// ReadWithin is ReadPDF with the file's time in its worker bounded by limit as well, when
// limit is positive and shorter than Options.Timeout: what is left of its message's
// reading budget. A file cut off by limit rather than by Timeout is parser.CodeTooSlow.
func (p *Pool) ReadWithin(ctx context.Context, data []byte, limit time.Duration) (Reading, error) {
	return p.ReadLockedWithin(ctx, data, nil, limit)
}

// ReadLockedWithin is ReadWithin for a PDF that may need a user password: the worker tries
// each of passwords after the empty one (parser.ReadLockedPDF). They reach the worker over
// its pipe only, never its arguments, environment or log.
func (p *Pool) ReadLockedWithin(ctx context.Context, data []byte, passwords []string, limit time.Duration) (Reading, error) {
	r, _, err := p.read(ctx, request{data: data, passwords: passwords}, limit)
	return r, err
}

// ArchiveReading is the outcome of one archive opened by OpenArchive.
type ArchiveReading struct {
	// Answer is the worker's ArchiveFunc's answer; nil when Failed.
	Answer []byte
	// Failed: the reader crashed, panicked, ran past Options.Timeout or MemoryLimit
	// (OverLimit), or past the limit OpenArchive was given (TooSlow); Detail says which.
	Failed    bool
	OverLimit bool
	TooSlow   bool
	Detail    string
	// Took is how long the archive held its worker, as Reading.Took.
	Took time.Duration
}

// OpenArchive opens an archive in a worker, with the ArchiveFunc the worker was started
// with (ServeProcess) given args, within Options.Timeout and MemoryLimit as any PDF, and
// within limit as ReadWithin. It returns an error only as ReadPDF does.
func (p *Pool) OpenArchive(ctx context.Context, data, args []byte, limit time.Duration) (ArchiveReading, error) {
	if len(data) > MaxFileSize {
		return ArchiveReading{Failed: true, OverLimit: true, Detail: fmt.Sprintf("larger than %d MiB", MaxFileSize>>20)}, nil
	}
	if args == nil {
		args = []byte{}
	}
	r, answer, err := p.read(ctx, request{data: data, archive: args}, limit)
	if err != nil {
		return ArchiveReading{}, err
	}
	if answer == nil {
		a := ArchiveReading{Failed: true, OverLimit: r.overLimit, Detail: "archive reader failed", Took: r.Took}
		if len(r.Doc.Problems) > 0 {
			a.Detail = r.Doc.Problems[0].Detail
			a.TooSlow = r.Doc.Problems[0].Code == parser.CodeTooSlow
		}
		return a, nil
	}
	return ArchiveReading{Answer: answer, Took: r.Took}, nil
}

// request is one file for a worker: a PDF, with the passwords to try, or an archive with
// its ArchiveFunc's arguments (archive not nil).
type request struct {
	data      []byte
	passwords []string
	archive   []byte
}

// read hands req to a worker: ReadLockedWithin's body, for PDFs and archives alike. For an
// archive it also returns the worker's answer (nil when it failed).
func (p *Pool) read(ctx context.Context, req request, limit time.Duration) (Reading, json.RawMessage, error) {
	data := req.data
	if len(data) > MaxFileSize {
		return Reading{Doc: parser.Document{Problems: []parser.Problem{{
			Code:   parser.CodeTooLarge,
			Detail: fmt.Sprintf("larger than %d MiB", MaxFileSize>>20),
		}}}}, nil, nil
	}
	w, err := p.acquire(ctx)
	if err != nil {
		return Reading{}, nil, err
	}
	p.files.Add(1)
	timeout, byBudget := p.opts.Timeout, false
	if limit > 0 && limit < timeout {
		timeout, byBudget = limit, true
	}

	// The deadline is set before the context can interrupt, or it would undo the interrupt.
	start := time.Now()
	w.setDeadline(start.Add(timeout))
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, w.interrupt)
	}
	// A worker that turns to OCR says so; its deadline is then the OCR's own, within what
	// is left of the message's budget.
	ocrDeadline := func() {
		d := time.Now().Add(p.opts.OCRTimeout)
		if byBudget {
			d = start.Add(timeout)
		} else if limit > 0 && start.Add(limit).Before(d) {
			d, byBudget = start.Add(limit), true
		}
		if stop == nil || stop() {
			w.setDeadline(d)
			if stop != nil {
				stop = context.AfterFunc(ctx, w.interrupt)
			}
		}
	}
	resp, err := w.roundTrip(req, ocrDeadline)
	took := time.Since(start)
	// A context that ended may have poisoned the worker's deadlines, even if the answer
	// arrived: such a worker is not reused.
	cancelled := stop != nil && !stop()

	if err == nil {
		discard := cancelled
		failed := false
		if resp.Panic != "" {
			p.crashes.Add(1)
			p.log.Warn("pdf reader panicked", "pid", w.pid, "panic", resp.Panic)
			discard, failed = true, true
		}
		p.release(w, discard)
		return Reading{Doc: resp.Doc, Took: took, Failed: failed}, resp.Archive, nil
	}
	if p.isClosed() {
		p.release(w, true)
		return Reading{}, nil, ErrClosed
	}
	if cancelled {
		p.release(w, true)
		return Reading{}, nil, ctx.Err()
	}
	if byBudget && errors.Is(err, os.ErrDeadlineExceeded) {
		w.stop()
		p.release(w, true)
		return Reading{Took: took, Doc: parser.Document{Problems: []parser.Problem{{Code: parser.CodeTooSlow,
			Detail: "the message's reading budget ran out while this file was read (" + timeout.Round(time.Millisecond).String() + " left)"}}}}, nil, nil
	}
	doc, overLimit := p.fail(w, err)
	p.release(w, true)
	return Reading{Doc: doc, Took: took, Failed: true, overLimit: overLimit}, nil, nil
}

// fail stops a worker that failed on a file and says why, for the file's Document;
// overLimit when it ran past the time or memory limit.
func (p *Pool) fail(w *worker, ioErr error) (doc parser.Document, overLimit bool) {
	exitErr := w.stop()
	w.mu.Lock()
	overMemory := w.overMemory
	w.mu.Unlock()
	summary := w.stderr.summary()

	var detail string
	switch {
	case overMemory:
		p.oom.Add(1)
		detail, overLimit = fmt.Sprintf("reader used more than %d MiB", p.opts.MemoryLimit>>20), true
	case errors.Is(ioErr, os.ErrDeadlineExceeded):
		p.timeouts.Add(1)
		detail, overLimit = "took longer than "+p.opts.Timeout.String(), true
	case strings.Contains(summary, "out of memory"):
		p.oom.Add(1)
		detail, overLimit = fmt.Sprintf("reader used more than %d MiB: %s", p.opts.MemoryLimit>>20, summary), true
	case errors.Is(ioErr, errProtocol):
		p.crashes.Add(1)
		detail = "reader crashed: " + ioErr.Error()
	case summary != "":
		p.crashes.Add(1)
		detail = "reader crashed: " + summary
	case exitErr != nil:
		p.crashes.Add(1)
		detail = "reader crashed: " + exitErr.Error()
	default:
		p.crashes.Add(1)
		detail = "reader crashed: " + ioErr.Error()
	}
	p.log.Warn("pdf reader failed", "pid", w.pid, "files", w.files, "detail", detail,
		"error", ioErr, "exit", exitErr, "stderr", w.stderr.text())
	return corrupt(detail), overLimit
}

// acquire takes a worker slot, starting its worker if it has none, and registers the
// worker as busy.
func (p *Pool) acquire(ctx context.Context) (*worker, error) {
	var w *worker
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, ErrClosed
	case w = <-p.tokens:
	}
	if w != nil {
		if !p.track(w) {
			p.tokens <- w // Close reaps it
			return nil, ErrClosed
		}
		return w, nil
	}

	if len(p.opts.Command) == 0 {
		p.tokens <- nil
		return nil, errors.New("sandbox: Options.Command is empty")
	}
	o := p.opts
	o.OCR = p.ocr()
	w, err := startWorker(o)
	if err != nil {
		p.tokens <- nil
		return nil, err
	}
	if !p.track(w) {
		w.stop()
		p.tokens <- nil
		return nil, ErrClosed
	}
	// The hello is read after track, so that Close can end a slow start. A start is
	// not bounded by the per-file Timeout: on a loaded machine starting a large binary
	// can take seconds, and failing it would fail the file for no fault of its own.
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, w.interrupt)
	}
	err = w.readHello(max(p.opts.Timeout, startTimeout))
	// As in ReadPDF, a worker whose deadlines the context may have touched is not used.
	cancelled := stop != nil && !stop()
	if err == nil && !cancelled {
		return w, nil
	}
	w.stop()
	p.untrack(w)
	p.tokens <- nil
	switch {
	case p.isClosed():
		return nil, ErrClosed
	case cancelled:
		return nil, ctx.Err()
	}
	if summary := w.stderr.summary(); summary != "" {
		err = fmt.Errorf("%w (%s)", err, summary)
	}
	return nil, err
}

func (p *Pool) track(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.busy[w] = struct{}{}
	return true
}

func (p *Pool) untrack(w *worker) {
	p.mu.Lock()
	delete(p.busy, w)
	p.mu.Unlock()
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// release returns a worker's slot. A worker that failed, served its quota, or holds
// more than three quarters of the memory limit between files (so that the next file
// would start near the wall) is stopped, and its slot starts a fresh one when needed.
func (p *Pool) release(w *worker, discard bool) {
	p.untrack(w)
	closed := p.isClosed()
	if !discard && !closed {
		discard = p.opts.MaxFilesPerWorker > 0 && w.files >= p.opts.MaxFilesPerWorker ||
			p.opts.MemoryLimit > 0 && w.resident() > p.opts.MemoryLimit/4*3
	}
	if discard {
		w.stop()
		if !closed {
			p.restarts.Add(1)
		}
		w = nil
	}
	p.tokens <- w
}

// Close stops all workers, killing those that are reading a file (their callers get
// ErrClosed), and waits until every one is reaped. It is safe to call more than once.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	for w := range p.busy {
		w.kill()
	}
	p.mu.Unlock()

	// Every slot comes back: idle ones at once, busy ones when their caller has reaped
	// its killed worker.
	for range p.opts.Workers {
		if w := <-p.tokens; w != nil {
			w.stop()
		}
	}
	return nil
}
