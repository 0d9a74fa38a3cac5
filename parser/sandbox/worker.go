package sandbox

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// watchInterval is how often the parent samples a busy worker's resident memory. Under
// RLIMIT_DATA the worker's runtime fails first; the watch is what bounds a -race build
// and memory the rlimit does not count.
const watchInterval = 50 * time.Millisecond

const requestPipeSize = 256 << 10

var errProtocol = errors.New("broke the protocol")

// worker is one child process. Its owner (the caller holding its token) does all the
// I/O; other goroutines (Close, the memory watch) only signal it, under mu.
type worker struct {
	cmd    *exec.Cmd
	pid    int
	req    *os.File // the worker's stdin
	resp   *os.File // the worker's stdout
	br     *bufio.Reader
	stderr *stderrLog
	limit  int64    // resident bytes past which the watch kills it; 0 for none
	statm  *os.File // /proc/PID/statm, or nil
	files  int      // files served
	wbuf   []byte

	stopped bool  // stop has run; only the owner calls stop
	stopErr error // how the process ended

	mu         sync.Mutex
	exited     bool // set before reaping: the pid may be reused after, so no more signals
	inFlight   bool // a file is being read: the memory watch is armed
	overMemory bool // killed by the memory watch
	watch      *time.Timer
}

// startWorker starts a worker process. It does not wait for the hello: the caller
// registers the worker first, so that Close can kill a worker that is slow to start.
func startWorker(opts Options) (*worker, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting pdf worker: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("starting pdf worker: %w", err)
	}
	// A notice PDF is 30 to 60 KiB: a request pipe larger than the default 64 KiB takes
	// most files in one write, without a wake-up of each side per 64 KiB. It is only a
	// saving, so a refusal (a low fs.pipe-max-size) is ignored.
	if rc, err := inW.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, requestPipeSize) })
	}
	w := &worker{req: inW, resp: outR, stderr: &stderrLog{}}
	args := opts.Command[1:]
	if opts.OCR {
		args = append(slices.Clone(args), "--ocr")
	}
	w.cmd = exec.Command(opts.Command[0], args...)
	w.cmd.Env = opts.Env
	w.cmd.Stdin = inR
	w.cmd.Stdout = outW
	w.cmd.Stderr = w.stderr
	w.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so that a kill reaches anything it started too.
		Setpgid: true,
		// A hung worker must not outlive a daemon that was killed without a chance to
		// Close: a live one would notice its stdin closing, a hung one would not. (Linux
		// sends it when the thread that started the worker ends; Go ends threads only
		// for goroutines that exit while locked to one, which this daemon does not do.)
		Pdeathsig: syscall.SIGKILL,
	}
	// Bounds Wait when something the worker started keeps its stderr open.
	w.cmd.WaitDelay = time.Second
	err = w.cmd.Start()
	// The worker holds its own copies of these ends; the parent must not, or it would
	// never see EOF from a worker that died.
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("starting pdf worker: %w", err)
	}
	w.pid = w.cmd.Process.Pid
	w.br = bufio.NewReaderSize(outR, 64<<10)
	if opts.MemoryLimit > 0 {
		w.limit = opts.MemoryLimit
		// Kept open: re-reading an open statm costs a few µs, opening it again several
		// times that, for every file. Without /proc the watch is off and RLIMIT_DATA remains.
		w.statm, _ = os.Open("/proc/" + strconv.Itoa(w.pid) + "/statm")
		w.watch = time.AfterFunc(time.Hour, w.checkMemory)
		w.watch.Stop()
		if !raceEnabled {
			// RLIMIT_AS cannot be used: a Go process reserves over 1 GiB of address space
			// at start (measured: VmSize 1.2 GiB, VmData 40 MiB for a small program), while
			// RLIMIT_DATA counts only memory the runtime has actually mapped writable, and
			// the runtime fails with "fatal error: runtime: out of memory" at the limit.
			lim := unix.Rlimit{Cur: uint64(opts.MemoryLimit), Max: uint64(opts.MemoryLimit)}
			if err := unix.Prlimit(w.pid, unix.RLIMIT_DATA, &lim, nil); err != nil {
				w.stop()
				return nil, fmt.Errorf("limiting pdf worker memory: %w", err)
			}
		}
	}
	return w, nil
}

// readHello waits for the worker to announce itself. A binary that does not speak the
// protocol (a missing subcommand, an old binary) fails here, as a configuration error,
// instead of making every file look corrupt.
func (w *worker) readHello(timeout time.Duration) error {
	w.resp.SetReadDeadline(time.Now().Add(timeout))
	want := string(binary.BigEndian.AppendUint32(nil, uint32(len(hello)))) + hello
	got, err := w.br.Peek(len(want))
	if string(got) == want {
		w.br.Discard(len(want))
		return nil
	}
	if len(got) > 0 {
		return fmt.Errorf("pdf worker did not start: it wrote %q instead of the hello", got)
	}
	return fmt.Errorf("pdf worker did not start: %w", err)
}

// setDeadline bounds the next roundTrip.
func (w *worker) setDeadline(t time.Time) {
	w.req.SetWriteDeadline(t)
	w.resp.SetReadDeadline(t)
}

// roundTrip sends one file, after its passwords or its archive arguments when there are any, and reads the answer,
// within the deadline set before; onOCR runs when the worker announces that it turns to OCR.
func (w *worker) roundTrip(req request, onOCR func()) (response, error) {
	w.stderr.reset()
	w.arm()
	defer w.disarm()
	w.files++

	data, passwords := req.data, req.passwords
	limit := maxResponse
	switch {
	case req.archive != nil:
		limit = maxArchiveResponse
		if err := w.writeRequest(append([]byte(archiveFrame), req.archive...)); err != nil {
			return response{}, fmt.Errorf("sending the archive's arguments: %w", err)
		}
	case len(passwords) > 0 || bytes.HasPrefix(data, []byte(passwordsFrame)) || bytes.HasPrefix(data, []byte(archiveFrame)):
		pw, err := json.Marshal(passwords)
		if err != nil {
			return response{}, err
		}
		if err := w.writeRequest(append([]byte(passwordsFrame), pw...)); err != nil {
			return response{}, fmt.Errorf("sending the passwords: %w", err)
		}
	}
	if err := w.writeRequest(data); err != nil {
		return response{}, fmt.Errorf("sending the file: %w", err)
	}
	payload, err := readFrame(w.br, limit)
	if err == nil && string(payload) == ocrStart {
		onOCR()
		payload, err = readFrame(w.br, limit)
	}
	if err != nil {
		if errors.Is(err, errFrameTooLarge) {
			err = fmt.Errorf("%w: %w", errProtocol, err)
		}
		return response{}, fmt.Errorf("reading the result: %w", err)
	}
	if req.archive == nil {
		return decodeAnswer(payload)
	}
	var resp response
	if err := json.Unmarshal(payload, &resp); err != nil {
		return response{}, fmt.Errorf("%w: %v", errProtocol, err)
	}
	return resp, nil
}

// writeRequest writes the frame in one write when it fits the pipe, which saves the
// worker a wake-up per file for the price of a copy.
func (w *worker) writeRequest(data []byte) error {
	if len(data)+4 <= requestPipeSize {
		w.wbuf = binary.BigEndian.AppendUint32(w.wbuf[:0], uint32(len(data)))
		w.wbuf = append(w.wbuf, data...)
		_, err := w.req.Write(w.wbuf)
		return err
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(data)))
	if _, err := w.req.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.req.Write(data)
	return err
}

// interrupt makes a blocked roundTrip return at once; used when the caller's context ends.
func (w *worker) interrupt() {
	w.setDeadline(time.Unix(1, 0))
}

func (w *worker) arm() {
	if w.watch == nil {
		return
	}
	w.mu.Lock()
	w.inFlight = true
	w.watch.Reset(watchInterval)
	w.mu.Unlock()
}

func (w *worker) disarm() {
	if w.watch == nil {
		return
	}
	w.mu.Lock()
	w.inFlight = false
	w.watch.Stop()
	w.mu.Unlock()
}

// checkMemory runs on the watch timer while a file is being read.
func (w *worker) checkMemory() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.inFlight || w.exited {
		return
	}
	if rss, err := residentBytes(w.statm); err == nil && rss+childrenResident(w.pid) > w.limit {
		w.overMemory = true
		unix.Kill(-w.pid, unix.SIGKILL)
		return
	}
	w.watch.Reset(watchInterval)
}

// childrenResident sums the resident memory of a worker's children (tesseract, pdftoppm),
// from /proc/PID/task/PID/children (proc(5): the children of that thread, which is the one
// that starts them: the worker reads one file at a time). 0 when it cannot be read.
func childrenResident(pid int) int64 {
	p := strconv.Itoa(pid)
	b, err := os.ReadFile("/proc/" + p + "/task/" + p + "/children")
	if err != nil {
		return 0
	}
	var sum int64
	for _, c := range strings.Fields(string(b)) {
		f, err := os.Open("/proc/" + c + "/statm")
		if err != nil {
			continue
		}
		if rss, err := residentBytes(f); err == nil {
			sum += rss
		}
		f.Close()
	}
	return sum
}

// resident reports the worker's resident memory, or 0 when it cannot be read.
func (w *worker) resident() int64 {
	rss, err := residentBytes(w.statm)
	if err != nil {
		return 0
	}
	return rss
}

// residentBytes reads the resident set size from an open /proc/PID/statm (proc(5): the
// second field, in pages). It is safe for concurrent use.
func residentBytes(statm *os.File) (int64, error) {
	if statm == nil {
		return 0, errors.New("no statm")
	}
	var buf [128]byte
	n, err := statm.ReadAt(buf[:], 0)
	if n == 0 && err != nil {
		return 0, err
	}
	fields := bytes.Fields(buf[:n])
	if len(fields) < 2 {
		return 0, fmt.Errorf("short statm %q", buf[:n])
	}
	pages, err := strconv.ParseInt(string(fields[1]), 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// kill sends SIGKILL to the worker's process group, unless it has been reaped.
func (w *worker) kill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.exited {
		unix.Kill(-w.pid, unix.SIGKILL)
	}
}

// stop kills the worker and reaps it, so it leaves no zombie. It returns how the process
// ended (an *exec.ExitError, or nil). Calling it again returns the same.
func (w *worker) stop() error {
	if w.stopped {
		return w.stopErr
	}
	w.stopped = true
	w.kill()
	// Wait for the exit without reaping, then forbid further signals, then reap: a
	// concurrent kill (Close, the memory watch) can thus never reach a reused pid.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, w.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	w.mu.Lock()
	w.exited = true
	w.inFlight = false
	if w.watch != nil {
		w.watch.Stop()
	}
	w.mu.Unlock()
	w.stopErr = w.cmd.Wait()
	w.req.Close()
	w.resp.Close()
	if w.statm != nil {
		w.statm.Close()
	}
	return w.stopErr
}

// stderrLog keeps what a worker wrote to stderr since the current file began: the head,
// where Go prints "fatal error: ..." or "panic: ...", and the tail, where a stack trace
// ends. Both are bounded, so a chatty or crashing worker cannot bloat the parent.
type stderrLog struct {
	mu   sync.Mutex
	head []byte
	tail []byte
	n    int64
}

const stderrKeep = 4 << 10

func (l *stderrLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	written := len(p)
	l.n += int64(written)
	if room := stderrKeep - len(l.head); room > 0 {
		k := min(room, len(p))
		l.head = append(l.head, p[:k]...)
		p = p[k:]
	}
	l.tail = append(l.tail, p...)
	if len(l.tail) > 2*stderrKeep {
		l.tail = append(l.tail[:0], l.tail[len(l.tail)-stderrKeep:]...)
	}
	return written, nil
}

func (l *stderrLog) reset() {
	l.mu.Lock()
	l.head, l.tail, l.n = l.head[:0], l.tail[:0], 0
	l.mu.Unlock()
}

// text returns the kept head and tail, marking what was dropped between them.
func (l *stderrLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	tail := l.tail
	if len(tail) > stderrKeep {
		tail = tail[len(tail)-stderrKeep:]
	}
	if dropped := l.n - int64(len(l.head)) - int64(len(tail)); dropped > 0 {
		return fmt.Sprintf("%s\n[... %d bytes ...]\n%s", l.head, dropped, tail)
	}
	return string(l.head) + string(tail)
}

// summary returns the line of the Go runtime's crash report that says what happened,
// or "".
func (l *stderrLog) summary() string {
	l.mu.Lock()
	head := string(l.head)
	l.mu.Unlock()
	for _, prefix := range []string{"fatal error: ", "panic: ", "runtime: out of memory"} {
		for line := range strings.SplitSeq(head, "\n") {
			if strings.HasPrefix(line, prefix) {
				return truncate(line, 200)
			}
		}
	}
	return ""
}
