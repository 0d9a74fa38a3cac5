package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"slices"

	"golang.org/x/sys/unix"

	"hosho-intake/parser"
	"hosho-intake/parser/ocr"
)

// The wire protocol between a Pool and a worker, over the worker's stdin and stdout:
//
//	worker -> parent  hello frame (payload "hosho-sandbox/1") once, at start
//	parent -> worker  (for a PDF that may need a user password: a passwords frame,
//	                  "hosho-sandbox/passwords\n" then a JSON array of strings)
//	parent -> worker  (for an archive: an archive frame, "hosho-sandbox/archive\n" then
//	                  the caller's arguments for the worker's ArchiveFunc)
//	parent -> worker  request frame: the PDF (or archive) bytes
//	worker -> parent  (an OCR worker, before OCR: a frame "hosho-sandbox/ocr")
//	worker -> parent  response frame: for a PDF, the binary answer (codec.go); for an
//	                  archive, JSON of response
//
// A frame is a big-endian uint32 length followed by that many bytes. Nothing else may
// appear on the worker's stdout: a stray write from a library desynchronises the stream,
// which the parent sees as a protocol error and answers by replacing the worker.
//
// The passwords frame is optional and applies to the next request only, so a parent that
// never sends one speaks the protocol as before. A request whose own bytes begin like a
// passwords frame is always sent after one (with no passwords), so that it is not taken for
// one.
const (
	// hello names the protocol: 2 since PDF answers are binary.
	hello = "hosho-sandbox/2"
	// ocrStart is a frame a worker sends before a response when it turns to OCR, so that
	// the parent gives the file the OCR's time limit instead of the text layer's.
	ocrStart = "hosho-sandbox/ocr"
	// passwordsFrame begins a frame of passwords for the next request (ReadLockedWithin).
	passwordsFrame = "hosho-sandbox/passwords\n"
	// archiveFrame begins a frame of arguments for the next request, an archive (OpenArchive).
	archiveFrame = "hosho-sandbox/archive\n"

	// MaxFileSize is the largest PDF a worker accepts. DESIGN.md's default message limit
	// is 10 MiB; a PDF can only exceed that from inside a ZIP, whose expansion intake bounds.
	MaxFileSize = 64 << 20

	// maxResponse bounds a worker's answer. A notice PDF yields a few hundred bytes of JSON;
	// 16 MiB is far past any honest Document and keeps a broken worker from making the
	// parent allocate gigabytes from a garbage length.
	maxResponse = 16 << 20
	// maxArchiveResponse bounds a worker's answer for an archive: the members it read, which
	// the caller bounds (intake/inbound: 32 MiB a ZIP), as JSON (base64, a third more).
	maxArchiveResponse = 2 * MaxFileSize

	// maxStack replaces Go's default 1 GB goroutine stack limit in a worker: the reader's
	// recursion is bounded by design, so 64 MiB is only reached by runaway recursion,
	// and failing there is faster and clearer ("fatal error: stack overflow") than
	// growing into the memory limit first.
	maxStack = 64 << 20

	// workerGCPercent is a worker's GOGC unless its environment sets one. A notice
	// allocates about 165 KB and leaves under 1 MB live, so the heap's goal is the
	// runtime's floor, 4 MB times GOGC/100. Measured over 600 real producers' PDFs: 200
	// keeps a worker's anonymous memory at about 11 MiB (20 at 400, 8 at 100) for some
	// six collections per worker, a few percent of its CPU (each costs 1-3 ms whatever
	// the heap, mostly the program's globals).
	workerGCPercent = 200

	// workerMemoryTarget is a worker's soft memory limit unless its environment sets
	// GOMEMLIMIT (or RLIMIT_DATA asks for less). At workerGCPercent a notice's heap (under
	// 1 MB live) stays near the runtime's 8 MB minimum goal, under the target, so the
	// collector's pace is unchanged; a file that holds more pays more collection (the
	// runtime caps it at half the CPU), and afterwards the heap is returned down to the
	// target rather than kept: one-core workers (intake.WorkerEnv) rarely give the
	// background scavenger a turn, and a worker that had read a big file held 30 to 45 MB
	// of anonymous memory until it was replaced.
	workerMemoryTarget = 24 << 20

	// maxPanicText bounds the panic value and stack a worker sends back for the log.
	maxPanicText = 8 << 10
)

// response is the JSON payload of a response frame.
type response struct {
	Doc parser.Document `json:"doc"`
	// Panic is the recovered panic value and its stack, for the parent's log. A worker that
	// panicked is replaced even though it survived: the panic may have left the reader's
	// state (a held lock, a half-built cache) broken for the next file.
	Panic string `json:"panic,omitempty"`
	// Archive is the ArchiveFunc's answer to an archive request; absent when it failed.
	Archive json.RawMessage `json:"archive,omitempty"`
}

// ArchiveFunc opens an archive in a worker (Pool.OpenArchive): args are the caller's, and
// what it returns goes back to the caller as it is; it must be JSON. It runs under the
// worker's bounds (memory, time) like a PDF's reading, which is why it runs there: an
// archive's header alone can make a reader allocate gigabytes (intake/inbound's 7z).
type ArchiveFunc func(data, args []byte) []byte

// ServeProcess is the whole body of the hidden worker subcommand that Options.Command
// runs, the worker side of a Pool: it reads PDFs with parser.ReadPDF, one per request on
// os.Stdin, answering each on the process's stdout, until EOF (see ServeFunc); archive
// (nil for none) opens archives. It first moves the protocol to a
// private copy of file descriptor 1 and points descriptor 1 at stderr, because the PDF
// library prints debug text to stdout on some malformed files (ledongthuc/pdf lex.go:
// "DEBUG: ... Skip dict"): on the protocol stream that text would make a readable file
// look corrupt; on stderr it is harmless.
func ServeProcess(archive ArchiveFunc) error {
	return serveProcess(parser.ReadPDF, archive)
}

// ServeProcessOCR is ServeProcess for a worker started with "--ocr" (Options.OCR): a PDF
// without a usable text layer, or an image, is read again by OCR (parser/ocr), after the
// frame that tells the parent to apply the OCR's time limit.
func ServeProcessOCR(opts ocr.Options, archive ArchiveFunc) error {
	return serveProcessOCR(opts, archive)
}

func serveProcess(read func([]byte) parser.Document, archive ArchiveFunc) error {
	out, err := protocolOut()
	if err != nil {
		return err
	}
	defer out.Close()
	releaseInitPages()
	return serve(os.Stdin, out, lockedOr(read), archive)
}

func serveProcessOCR(opts ocr.Options, archive ArchiveFunc) error {
	out, err := protocolOut()
	if err != nil {
		return err
	}
	defer out.Close()
	releaseInitPages()
	return serve(os.Stdin, out, func(data []byte, passwords []string, announce func() error) parser.Document {
		if len(passwords) > 0 {
			return parser.ReadLockedPDF(data, passwords)
		}
		doc := parser.ReadPDF(data)
		if !ocr.Needs(doc, data) {
			return doc
		}
		if err := announce(); err != nil {
			return doc
		}
		// A page image is tens of MB held for seconds beside tesseract, which the memory
		// watch counts with the worker: at workerGCPercent the heap grew to 256 MiB on a
		// scanned notice. OCR's time is tesseract's, so the collector's own pace costs nothing.
		// The image is held live, so the soft limit goes back to the hard limit's three
		// quarters: under workerMemoryTarget the collector would run without pause.
		defer debug.SetGCPercent(debug.SetGCPercent(100))
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(hardSoftLimit()))
		// No deadline of its own: the parent kills the worker's process group, tesseract
		// included, when the OCR's time is up.
		return ocr.Read(context.Background(), data, doc, opts)
	}, archive)
}

// releaseInitPages drops the program's pages that the package inits touched (see
// ReleaseProgramPages) before the worker reads its first file. Failing to is no reason
// not to serve: it is said on stderr, which the parent logs.
func releaseInitPages() {
	if _, err := ReleaseProgramPages(); err != nil {
		fmt.Fprintln(os.Stderr, "pdf-worker:", err)
	}
}

// protocolOut moves the protocol to a private copy of descriptor 1 (see ServeProcess).
func protocolOut() (*os.File, error) {
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("moving the protocol off stdout: %w", err)
	}
	if err := unix.Dup3(2, 1, 0); err != nil {
		return nil, fmt.Errorf("moving the protocol off stdout: %w", err)
	}
	return os.NewFile(uintptr(fd), "protocol"), nil
}

// ServeFunc is Serve with the read function given, so tests can start workers that
// misbehave on purpose.
//
// It writes nothing to out but protocol frames. It owns the process it runs in: it
// lowers the goroutine stack limit to 64 MiB and, when the parent set RLIMIT_DATA, sets
// the runtime's soft memory limit below it. A panic in read is recovered and answered
// as a corrupt Document; anything that kills the process (a stack overflow, running out
// of memory, a panic in another goroutine) is for the parent to notice. A file sent with
// passwords is read by parser.ReadLockedPDF, whatever read is.
func ServeFunc(in io.Reader, out io.Writer, read func([]byte) parser.Document) error {
	return serve(in, out, lockedOr(read), nil)
}

// ServeFuncArchives is ServeFunc that also opens archives with archive (Pool.OpenArchive).
func ServeFuncArchives(in io.Reader, out io.Writer, read func([]byte) parser.Document, archive ArchiveFunc) error {
	return serve(in, out, lockedOr(read), archive)
}

// lockedOr reads a file sent with passwords with parser.ReadLockedPDF, any other with read.
func lockedOr(read func([]byte) parser.Document) func([]byte, []string, func() error) parser.Document {
	return func(data []byte, passwords []string, _ func() error) parser.Document {
		if len(passwords) > 0 {
			return parser.ReadLockedPDF(data, passwords)
		}
		return read(data)
	}
}

// serve is ServeFunc whose read is given the request's passwords and may announce, before it
// turns to OCR, that it does; archive (nil: none) answers archive requests.
func serve(in io.Reader, out io.Writer, read func(data []byte, passwords []string, announce func() error) parser.Document, archive ArchiveFunc) error {
	debug.SetMaxStack(maxStack)
	if os.Getenv("GOGC") == "" {
		// A worker's heap is small and short-lived; see workerGCPercent. The soft memory
		// limit set below still makes it collect harder as the heap nears the limit, so
		// the memory bound holds.
		debug.SetGCPercent(workerGCPercent)
	}
	r := bufio.NewReaderSize(in, 64<<10)
	w := bufio.NewWriterSize(out, 64<<10)
	if err := writeFrame(w, []byte(hello)); err != nil {
		return fmt.Errorf("writing hello: %w", err)
	}
	softLimitSet := false
	// frame is the request buffer, kept from file to file: a fresh 40-60 KB buffer per
	// notice was the worker's first source of page faults. The answer is written before
	// the next request is read into it, so nothing read from it is still in use then.
	var frame []byte
	var answer []byte // the answer's buffer, kept as frame is
	for {
		data, err := readFrameInto(r, MaxFileSize, frame[:0])
		if cap(data) <= maxKeptFrame {
			frame = data
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading a request: %w", err)
		}
		var passwords []string
		var archiveArgs []byte
		isArchive := false
		if a, ok := bytes.CutPrefix(data, []byte(archiveFrame)); ok {
			archiveArgs, isArchive = a, true
			if data, err = readFrame(r, MaxFileSize); err != nil {
				return fmt.Errorf("reading an archive after its arguments: %w", err)
			}
		} else if p, ok := bytes.CutPrefix(data, []byte(passwordsFrame)); ok {
			if err := json.Unmarshal(p, &passwords); err != nil {
				return fmt.Errorf("reading a passwords frame: %w", err)
			}
			if data, err = readFrame(r, MaxFileSize); err != nil {
				return fmt.Errorf("reading a request after its passwords: %w", err)
			}
		}
		if !softLimitSet {
			// The parent sets RLIMIT_DATA after the process started and before the first
			// request, so it is read here rather than at startup.
			setSoftMemoryLimit(os.Getenv("GOMEMLIMIT") == "")
			softLimitSet = true
		}
		var payload []byte
		if isArchive {
			// An archive's members are held whole (intake/inbound bounds them at 32 MiB),
			// past workerMemoryTarget: under it the collector would run without pause.
			target := debug.SetMemoryLimit(hardSoftLimit())
			payload, err = json.Marshal(callArchive(archive, data, archiveArgs))
			debug.SetMemoryLimit(target)
			if err != nil || len(payload) > maxArchiveResponse {
				payload, _ = json.Marshal(response{Doc: corrupt("archive reader produced an oversized or broken result")})
			}
		} else {
			announce := func() error { return writeFrame(w, []byte(ocrStart)) }
			resp := call(func(d []byte) parser.Document { return read(d, passwords, announce) }, data)
			payload, err = appendAnswer(answer[:0], resp.Doc, resp.Panic)
			if err != nil || len(payload) > maxResponse {
				payload, _ = appendAnswer(answer[:0], corrupt("reader produced an oversized result"), "")
			}
			if cap(payload) <= maxKeptFrame {
				answer = payload
			}
		}
		if err := writeFrame(w, payload); err != nil {
			return fmt.Errorf("writing a response: %w", err)
		}
	}
}

// call runs read and turns a panic into a corrupt Document.
func call(read func([]byte) parser.Document, data []byte) (resp response) {
	defer func() {
		if v := recover(); v != nil {
			msg := truncate(fmt.Sprint(v), 200)
			resp = response{
				Doc:   corrupt("reader panicked: " + msg),
				Panic: truncate(msg+"\n\n"+string(debug.Stack()), maxPanicText),
			}
		}
	}()
	return response{Doc: read(data)}
}

// callArchive runs archive and turns a panic, or a worker that opens no archives, into a
// response without an answer.
func callArchive(archive ArchiveFunc, data, args []byte) (resp response) {
	if archive == nil {
		return response{Doc: corrupt("this worker opens no archives")}
	}
	defer func() {
		if v := recover(); v != nil {
			msg := truncate(fmt.Sprint(v), 200)
			resp = response{
				Doc:   corrupt("archive reader panicked: " + msg),
				Panic: truncate(msg+"\n\n"+string(debug.Stack()), maxPanicText),
			}
		}
	}()
	return response{Archive: archive(data, args)}
}

// setSoftMemoryLimit sets the runtime's soft memory limit to workerMemoryTarget (when
// target) or the environment's GOMEMLIMIT, and in any case to no more than
// hardSoftLimit.
func setSoftMemoryLimit(target bool) {
	limit := debug.SetMemoryLimit(-1) // the environment's, or none (math.MaxInt64)
	if target {
		limit = workerMemoryTarget
	}
	debug.SetMemoryLimit(min(limit, hardSoftLimit()))
}

// hardSoftLimit is three quarters of RLIMIT_DATA (math.MaxInt64 when there is none): the
// garbage collector works harder as the heap nears the hard limit, so that a file which
// fits is not killed by collection slack. The last quarter is room for what the runtime
// maps outside the heap (stacks, its own metadata).
func hardSoftLimit() int64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_DATA, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY || lim.Cur/4*3 > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lim.Cur / 4 * 3)
}

func corrupt(detail string) parser.Document {
	return parser.Document{Problems: []parser.Problem{{Code: parser.CodeCorrupt, Detail: detail}}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var errFrameTooLarge = errors.New("frame too large")

// readFrame reads one frame of at most max bytes. It returns io.EOF only when r ends
// cleanly before a frame, io.ErrUnexpectedEOF when it ends inside one. Past 1 MiB the
// buffer grows as bytes arrive, so a garbage length costs memory only for bytes sent.
func readFrame(r *bufio.Reader, max int) ([]byte, error) {
	return readFrameInto(r, max, nil)
}

// maxKeptFrame bounds the request buffer a worker keeps between files.
const maxKeptFrame = 1 << 20

// readFrameInto is readFrame into buf's storage when it is large enough.
func readFrameInto(r *bufio.Reader, max int, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if uint64(size) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errFrameTooLarge, size, max)
	}
	n := int(size)
	if cap(buf) < min(n, 1<<20) {
		buf = make([]byte, 0, min(n, 1<<20))
	}
	buf = buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), len(buf)))
		}
		k, err := io.ReadFull(r, buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+k]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// writeFrame writes one frame and flushes it.
func writeFrame(w *bufio.Writer, payload []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.Write(payload); err != nil {
		return err
	}
	return w.Flush()
}
