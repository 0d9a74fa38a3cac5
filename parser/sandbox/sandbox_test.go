package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
)

// The test binary is its own worker: started with HOSHO_SANDBOX_WORKER=1 it serves
// testRead, which misbehaves on request.
func TestMain(m *testing.M) {
	var serve func() error
	switch os.Getenv("HOSHO_SANDBOX_WORKER") {
	case "1":
		serve = func() error { return ServeFunc(os.Stdin, os.Stdout, testRead) }
	case "archives":
		serve = func() error { return ServeFuncArchives(os.Stdin, os.Stdout, testRead, testArchive) }
	case "process":
		serve = func() error { return serveProcess(testRead, testArchive) }
	}
	if serve != nil {
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testRead echoes its input as the Document's Kind, with the worker's pid as Pages,
// unless the input names a fault.
func testRead(data []byte) parser.Document {
	if bytes.HasPrefix(data, []byte("NOP")) { // for the benchmark: a reader that costs nothing
		return parser.Document{Pages: 1}
	}
	switch string(data) {
	case "PANIC":
		panic("boom")
	case "GOPANIC": // a panic no recover can reach
		go func() { panic("boom in a goroutine") }()
		select {}
	case "HANG": // an endless loop, as a cyclic Pages tree causes
		for {
		}
	case "SLEEP":
		time.Sleep(time.Hour)
	case "STACK":
		return parser.Document{Pages: recurse(0)}
	case "OOM":
		// Grows by 8 MiB every 2ms, written so that it is resident (bytes.Repeat copies,
		// which the race detector checks once per range, not per byte): slow enough for
		// the parent's 50ms memory watch to catch it near the limit.
		var keep [][]byte
		for {
			keep = append(keep, bytes.Repeat([]byte{1}, 8<<20))
			time.Sleep(2 * time.Millisecond)
		}
	case "EXIT":
		os.Exit(3)
	case "GARBAGE": // a library printing to stdout, as ledongthuc/pdf does
		fmt.Printf("DEBUG: %T(%v)\n. Skip dict", data, data)
	case "SHORTGARBAGE": // a plausible length, then not JSON
		os.Stdout.Write([]byte{0, 0, 0, 2, '{', '!'})
	case "BIG":
		return parser.Document{Kind: strings.Repeat("x", maxResponse)}
	case "MEMLIMIT": // the worker's soft memory limit, in Pages
		return parser.Document{Kind: string(data), Pages: int(debug.SetMemoryLimit(-1))}
	}
	return parser.Document{Kind: string(data), Pages: os.Getpid()}
}

// testArchive answers an archive request with its arguments and data as JSON, or fails as
// testRead does when the data names a fault.
func testArchive(data, args []byte) []byte {
	switch string(data) {
	case "PANIC", "OOM", "HANG", "EXIT":
		testRead(data)
	case "MEMLIMIT":
		return []byte(strconv.FormatInt(debug.SetMemoryLimit(-1), 10))
	}
	b, _ := json.Marshal([]string{string(args), string(data)})
	return b
}

//go:noinline
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[0])
}

func testOptions() Options {
	return Options{
		Command:     []string{os.Args[0]},
		Env:         append(os.Environ(), "HOSHO_SANDBOX_WORKER=1"),
		Workers:     1,
		Timeout:     10 * time.Second,
		MemoryLimit: 256 << 20,
	}
}

// newTestPool returns a pool that the test closes, and checks that closing it left
// no goroutine and no child process behind.
func newTestPool(t testing.TB, opts Options) *Pool {
	t.Helper()
	before := runtime.NumGoroutine()
	p := NewPool(opts)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		checkNoLeaks(t, before)
	})
	return p
}

func checkNoLeaks(t testing.TB, goroutinesBefore int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := runtime.NumGoroutine()
		kids := children()
		if n <= goroutinesBefore && len(kids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("after Close: %d goroutines (before %d), child processes %v", n, goroutinesBefore, kids)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// children lists the processes (zombies included) whose parent is this one.
func children() []string {
	var kids []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := strconv.Itoa(os.Getpid())
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == me {
			kids = append(kids, strings.Fields(s)[0]+":"+fields[0])
		}
	}
	return kids
}

func readOK(t testing.TB, p *Pool, input string) parser.Document {
	t.Helper()
	doc, err := p.ReadPDF(context.Background(), []byte(input))
	if err != nil {
		t.Fatalf("ReadPDF(%q) error = %v", input, err)
	}
	if doc.Kind != input || len(doc.Problems) != 0 {
		t.Fatalf("ReadPDF(%q) = %+v, want an echo", input, doc)
	}
	return doc
}

func TestReadPDF(t *testing.T) {
	p := newTestPool(t, testOptions())
	first := readOK(t, p, "notice-1")
	second := readOK(t, p, "notice-2")
	if first.Pages != second.Pages {
		t.Errorf("files served by pids %d and %d, want one worker for both", first.Pages, second.Pages)
	}
	if first.Pages == os.Getpid() {
		t.Errorf("file served in the parent process")
	}
	if got := p.Stats(); got != (Stats{Files: 2}) {
		t.Errorf("Stats() = %+v, want 2 files", got)
	}
}

// TestFaults makes the worker fail in each way a hostile PDF can, and checks that the
// file becomes corrupt within its bound and the next file is served by a fresh worker.
func TestFaults(t *testing.T) {
	// Timeouts are 1s for the files that hang and 10s for the others, so that a loaded
	// machine cannot turn a crash into a timeout; within is the bound on detection.
	tests := []struct {
		input   string
		timeout time.Duration
		detail  string        // in the Problem's Detail
		within  time.Duration // from the call to the corrupt Document
		stats   Stats
	}{
		{"PANIC", 10 * time.Second, "reader panicked: boom", 5 * time.Second, Stats{Crashes: 1}},
		{"GOPANIC", 10 * time.Second, "reader crashed: panic: boom in a goroutine", 5 * time.Second, Stats{Crashes: 1}},
		{"HANG", time.Second, "took longer than 1s", 2 * time.Second, Stats{Timeouts: 1}},
		{"SLEEP", time.Second, "took longer than 1s", 2 * time.Second, Stats{Timeouts: 1}},
		{"STACK", 10 * time.Second, "reader crashed: fatal error: stack overflow", 5 * time.Second, Stats{Crashes: 1}},
		{"OOM", 10 * time.Second, "reader used more than 256 MiB", 5 * time.Second, Stats{OutOfMemory: 1}},
		{"EXIT", 10 * time.Second, "reader crashed: exit status 3", 5 * time.Second, Stats{Crashes: 1}},
		{"GARBAGE", 10 * time.Second, "reader crashed: reading the result: broke the protocol: frame too large", 5 * time.Second, Stats{Crashes: 1}},
		{"SHORTGARBAGE", 10 * time.Second, "reader crashed: broke the protocol", 5 * time.Second, Stats{Crashes: 1}},
		{"BIG", 10 * time.Second, "reader produced an oversized result", 5 * time.Second, Stats{}},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			opts := testOptions()
			opts.Timeout = tt.timeout
			p := newTestPool(t, opts)
			before := readOK(t, p, "warm-up")

			start := time.Now()
			doc, err := p.ReadPDF(context.Background(), []byte(tt.input))
			failed := time.Since(start)
			if err != nil {
				t.Fatalf("ReadPDF(%q) error = %v, want a corrupt Document", tt.input, err)
			}
			if len(doc.Problems) != 1 || doc.Problems[0].Code != parser.CodeCorrupt ||
				!strings.Contains(doc.Problems[0].Detail, tt.detail) {
				t.Fatalf("ReadPDF(%q) = %+v, want corrupt with %q", tt.input, doc, tt.detail)
			}
			within := tt.within
			if raceEnabled {
				// A -race parent on a shared 2-core machine was measured 2s late once,
				// starved while the hung worker spun; the bound is for the real build.
				within += 3 * time.Second
			}
			if failed > within {
				t.Errorf("ReadPDF(%q) took %v, want at most %v", tt.input, failed, within)
			}

			start = time.Now()
			after := readOK(t, p, "after")
			recovered := time.Since(start)
			// A worker that survived (BIG) may still be replaced for the memory it holds
			// afterwards, as it is under -race; one that failed must be.
			replaced := after.Pages != before.Pages
			if !replaced && tt.input != "BIG" {
				t.Errorf("worker pid %d served the file after %q too, want a fresh worker", after.Pages, tt.input)
			}
			want := tt.stats
			want.Files = 3
			if replaced {
				want.Restarts = 1
			}
			if got := p.Stats(); got != want {
				t.Errorf("Stats() = %+v, want %+v", got, want)
			}
			t.Logf("%s: corrupt after %v (%q); next file served in %v",
				tt.input, failed.Round(time.Millisecond), doc.Problems[0].Detail, recovered.Round(time.Millisecond))
		})
	}
}

// TestConcurrent has many callers share two workers, with panics among the files, and
// checks that every caller gets the answer to its own file.
// TestServeProcess checks that the worker subcommand's entry point keeps stray prints to
// stdout off the protocol stream.
func TestServeProcess(t *testing.T) {
	opts := testOptions()
	opts.Env = append(os.Environ(), "HOSHO_SANDBOX_WORKER=process")
	p := newTestPool(t, opts)
	before := readOK(t, p, "notice")
	readOK(t, p, "GARBAGE")
	after := readOK(t, p, "notice")
	if before.Pages != after.Pages {
		t.Errorf("worker replaced (pid %d, then %d) after a stray print, want it kept", before.Pages, after.Pages)
	}
	if st := p.Stats(); st != (Stats{Files: 3}) {
		t.Errorf("Stats() = %+v, want 3 files and no fault", st)
	}
}

func TestConcurrent(t *testing.T) {
	opts := testOptions()
	opts.Workers = 2
	p := newTestPool(t, opts)
	const callers, files = 10, 40
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range files {
				input := fmt.Sprintf("caller-%d-file-%d", c, i)
				if i == 7 {
					input = "PANIC"
				}
				doc, err := p.ReadPDF(context.Background(), []byte(input))
				if err != nil {
					t.Errorf("ReadPDF(%q) error = %v", input, err)
					return
				}
				if input == "PANIC" {
					if len(doc.Problems) != 1 || doc.Problems[0].Code != parser.CodeCorrupt {
						t.Errorf("ReadPDF(%q) = %+v, want corrupt", input, doc)
					}
					continue
				}
				if doc.Kind != input {
					t.Errorf("ReadPDF(%q) = %+v, want its own echo", input, doc)
				}
			}
		})
	}
	wg.Wait()
	st := p.Stats()
	if st.Files != callers*files || st.Crashes != st.Restarts || st.Crashes != callers {
		t.Errorf("Stats() = %+v, want %d files and %d crashes and restarts", st, callers*files, callers)
	}
}

// TestCloseWhileBusy also shows that N callers use N workers at once: all three hang
// together before Close.
func TestCloseWhileBusy(t *testing.T) {
	opts := testOptions()
	opts.Workers = 3
	opts.Timeout = time.Minute
	before := runtime.NumGoroutine()
	p := NewPool(opts)

	errs := make(chan error, 3)
	for _, input := range []string{"HANG", "SLEEP", "HANG"} {
		go func() {
			_, err := p.ReadPDF(context.Background(), []byte(input))
			errs <- err
		}()
	}
	waitBusy(t, p, 3)

	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	closed := time.Since(start)
	for range 3 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Errorf("ReadPDF during Close: error = %v, want ErrClosed", err)
		}
	}
	if closed > 2*time.Second {
		t.Errorf("Close() with 3 busy workers took %v", closed)
	}
	t.Logf("Close with 3 busy workers took %v", closed.Round(time.Millisecond))
	checkNoLeaks(t, before)

	if _, err := p.ReadPDF(context.Background(), []byte("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadPDF after Close: error = %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

// waitBusy waits until n workers are reading a file.
func waitBusy(t *testing.T, p *Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		busy := len(p.busy)
		p.mu.Unlock()
		if busy == n {
			time.Sleep(50 * time.Millisecond) // past the hello, into the file
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers busy, want %d", busy, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestContextWhileWaiting(t *testing.T) {
	opts := testOptions()
	opts.Timeout = time.Minute
	p := newTestPool(t, opts)
	hung := make(chan error, 1)
	go func() {
		_, err := p.ReadPDF(context.Background(), []byte("SLEEP"))
		hung <- err
	}()
	waitBusy(t, p, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.ReadPDF(ctx, []byte("queued"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadPDF while the only worker is busy: error = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ReadPDF returned %v after its context ended", d)
	}
	p.Close()
	if err := <-hung; !errors.Is(err, ErrClosed) {
		t.Errorf("busy ReadPDF at Close: error = %v, want ErrClosed", err)
	}
}

func TestContextWhileReading(t *testing.T) {
	opts := testOptions()
	opts.Timeout = time.Minute
	p := newTestPool(t, opts)
	before := readOK(t, p, "warm-up")

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := p.ReadPDF(ctx, []byte("HANG"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ReadPDF cancelled while reading: error = %v, want Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ReadPDF returned %v after the call, its context ended at 100ms", d)
	}
	if after := readOK(t, p, "after"); after.Pages == before.Pages {
		t.Errorf("the cancelled worker (pid %d) was reused", before.Pages)
	}
	if st := p.Stats(); st.Crashes+st.Timeouts+st.OutOfMemory != 0 {
		t.Errorf("Stats() = %+v, a cancelled file is not the file's fault", st)
	}
}

// TestSlowStart: a worker that never says hello holds neither a cancelled caller nor Close.
func TestSlowStart(t *testing.T) {
	opts := testOptions()
	opts.Command = []string{"/bin/sh", "-c", "sleep 60"}
	p := newTestPool(t, opts)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := p.ReadPDF(ctx, []byte("notice")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadPDF with a 200ms context during a start: error = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ReadPDF returned after %v", d)
	}

	errs := make(chan error, 1)
	go func() {
		_, err := p.ReadPDF(context.Background(), []byte("notice"))
		errs <- err
	}()
	waitBusy(t, p, 1)
	p.Close()
	if err := <-errs; !errors.Is(err, ErrClosed) {
		t.Errorf("ReadPDF during a start at Close: error = %v, want ErrClosed", err)
	}
}

func TestRecycle(t *testing.T) {
	opts := testOptions()
	opts.MaxFilesPerWorker = 3
	p := newTestPool(t, opts)
	pids := map[int]int{}
	for i := range 10 {
		pids[readOK(t, p, fmt.Sprint("file-", i)).Pages]++
	}
	if len(pids) != 4 {
		t.Errorf("10 files at 3 per worker were served by %v, want 4 workers", pids)
	}
	if st := p.Stats(); st.Restarts != 3 {
		t.Errorf("Stats() = %+v, want 3 restarts", st)
	}
}

func TestTooLarge(t *testing.T) {
	p := newTestPool(t, testOptions())
	doc, err := p.ReadPDF(context.Background(), make([]byte, MaxFileSize+1))
	if err != nil || len(doc.Problems) != 1 || doc.Problems[0].Code != parser.CodeTooLarge {
		t.Errorf("ReadPDF(%d bytes) = %+v, %v, want too_large", MaxFileSize+1, doc, err)
	}
	if st := p.Stats(); st.Files != 0 {
		t.Errorf("Stats() = %+v, want the file kept from the workers", st)
	}
	// A large file that fits goes through.
	big := bytes.Repeat([]byte("%PDF-1.7 "), 1<<20)
	doc, err = p.ReadPDF(context.Background(), big)
	if err != nil || doc.Kind != string(big) {
		t.Errorf("ReadPDF(9 MiB) = %d-byte echo, problems %+v, %v, want the whole file back", len(doc.Kind), doc.Problems, err)
	}
}

// TestStartFailure: a worker command that cannot start, or does not speak the protocol,
// is a configuration error for the caller, not a corrupt file.
func TestStartFailure(t *testing.T) {
	for _, command := range [][]string{
		nil,
		{filepath.Join(t.TempDir(), "missing")},
		{"/bin/sh", "-c", "echo usage: hosho-intake COMMAND; exit 2"},
		{"/bin/sh", "-c", "echo 'panic: bad flag' >&2; exit 2"},
	} {
		opts := testOptions()
		opts.Command = command
		p := newTestPool(t, opts)
		doc, err := p.ReadPDF(context.Background(), []byte("notice"))
		if err == nil {
			t.Errorf("Command %q: ReadPDF = %+v, want an error", command, doc)
			continue
		}
		t.Logf("Command %q: %v", command, err)
		if st := p.Stats(); st != (Stats{}) {
			t.Errorf("Command %q: Stats() = %+v, want none", command, st)
		}
	}
}

func TestStderrLog(t *testing.T) {
	var l stderrLog
	l.Write([]byte("some warning\nruntime: goroutine stack exceeds 67108864-byte limit\n"))
	l.Write([]byte("fatal error: stack overflow\n\nruntime stack:\n"))
	for range 1000 {
		l.Write([]byte("main.recurse(0x1)\n\t/x/y.go:12 +0x1\n"))
	}
	l.Write([]byte("...additional frames elided...\n"))
	if got, want := l.summary(), "fatal error: stack overflow"; got != want {
		t.Errorf("summary() = %q, want %q", got, want)
	}
	text := l.text()
	if len(text) > 3*stderrKeep || !strings.HasSuffix(text, "elided...\n") || !strings.Contains(text, "bytes ...]") {
		t.Errorf("text() = %d bytes %q..., want head and tail of at most %d each", len(text), text[:80], stderrKeep)
	}
	l.reset()
	if got := l.text(); got != "" {
		t.Errorf("text() after reset = %q", got)
	}
}

// BenchmarkPoolRoundTrip measures what isolation adds per file: the pipe round trip
// and JSON of a trivial Document, with a read function that does nothing. For scale:
// stock ledongthuc reads a notice in about 780µs of one core.
func BenchmarkPoolRoundTrip(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			p := newTestPool(b, testOptions())
			data := append([]byte("NOP"), make([]byte, size-3)...)
			if _, err := p.ReadPDF(context.Background(), data); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := p.ReadPDF(context.Background(), data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		opts := testOptions()
		opts.Workers = runtime.GOMAXPROCS(0)
		p := newTestPool(b, opts)
		data := append([]byte("NOP"), make([]byte, 1<<10-3)...)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := p.ReadPDF(context.Background(), data); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// TestReadLocked: a file sent with passwords reaches the worker with them (a PDF that needs a
// user password is read), the same worker then reads plain files as before, and a file whose
// bytes begin like a passwords frame is not taken for one.
func TestReadLocked(t *testing.T) {
	p := newTestPool(t, testOptions())
	var pdf bytes.Buffer
	if err := noticepdf.Write(&pdf, noticepdf.Samples()[:1], noticepdf.Options{Encoding: noticepdf.UCS2}); err != nil {
		t.Fatal(err)
	}
	locked, err := noticepdf.Encrypt(pdf.Bytes(), "ひみつ", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pws     []string
		notices int
	}{{[]string{"nope"}, 0}, {[]string{"nope", "ひみつ"}, 1}} {
		r, err := p.ReadLockedWithin(context.Background(), locked, c.pws, 0)
		if err != nil || len(r.Doc.Notices) != c.notices {
			t.Errorf("ReadLockedWithin(%q) = %d notices, problems %v, %v; want %d", c.pws, len(r.Doc.Notices), r.Doc.Problems, err, c.notices)
		}
	}
	readOK(t, p, "notice-after")
	readOK(t, p, passwordsFrame+`["not a password"]`)
	if got := p.Stats(); got.Restarts != 0 || got.Crashes != 0 {
		t.Errorf("Stats() = %+v, want no restarts", got)
	}
}

// TestOpenArchive: an archive is opened by the worker's ArchiveFunc under the same bounds as a
// PDF; running out of memory or time is OverLimit, a panic is not; the worker then reads PDFs
// as before.
func TestOpenArchive(t *testing.T) {
	opts := testOptions()
	opts.Timeout = 2 * time.Second
	opts.Env = append(os.Environ(), "HOSHO_SANDBOX_WORKER=archives")
	p := newTestPool(t, opts)
	ctx := context.Background()
	for _, c := range []struct {
		data      string
		want      string // the answer, "" for a failure
		overLimit bool
	}{
		{"7z bytes", `["{\"unlock\":true}","7z bytes"]`, false},
		{"hosho-sandbox/passwords\n[]", `["{\"unlock\":true}","hosho-sandbox/passwords\n[]"]`, false},
		{"OOM", "", true},
		{"HANG", "", true},
		{"PANIC", "", false},
		{"EXIT", "", false},
	} {
		a, err := p.OpenArchive(ctx, []byte(c.data), []byte(`{"unlock":true}`), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.data, err)
		}
		if string(a.Answer) != c.want || a.Failed != (c.want == "") || a.OverLimit != c.overLimit {
			t.Errorf("%s: answer %q failed %v over limit %v (%s), want %q over limit %v", c.data, a.Answer, a.Failed, a.OverLimit, a.Detail, c.want, c.overLimit)
		}
		if doc := readOK(t, p, "notice"); doc.Kind != "notice" {
			t.Errorf("after archive %s: PDF read as %q", c.data, doc.Kind)
		}
	}
	// Past the limit it is given (what is left of its message's budget) it is TooSlow.
	a, err := p.OpenArchive(ctx, []byte("HANG"), nil, 100*time.Millisecond)
	if err != nil || !a.Failed || !a.TooSlow || a.OverLimit {
		t.Errorf("HANG within 100ms: %+v, %v; want TooSlow", a, err)
	}
	// A PDF whose bytes begin like an archive frame is still read as a PDF.
	if doc := readOK(t, p, "hosho-sandbox/archive\nx"); doc.Kind != "hosho-sandbox/archive\nx" {
		t.Errorf("a PDF beginning like an archive frame read as %q", doc.Kind)
	}
}

// TestOpenArchiveUnserved: a worker started without an ArchiveFunc answers an archive Failed.
func TestOpenArchiveUnserved(t *testing.T) {
	plain := newTestPool(t, testOptions())
	a, err := plain.OpenArchive(context.Background(), []byte("7z bytes"), nil, 0)
	if err != nil || !a.Failed || a.OverLimit || a.Answer != nil {
		t.Errorf("worker without an ArchiveFunc: %+v, %v; want Failed", a, err)
	}
}

// TestOCRIf: the OCR check runs once, when OCR first matters (not when the pool is made),
// and its answer decides how workers are started.
func TestOCRIf(t *testing.T) {
	for _, want := range []bool{false, true} {
		t.Run(fmt.Sprint(want), func(t *testing.T) {
			opts := testOptions()
			calls := 0
			opts.OCRIf = func() bool { calls++; return want }
			p := newTestPool(t, opts)
			if calls != 0 {
				t.Fatalf("the check ran %d times before anything was read", calls)
			}
			doc := readOK(t, p, "hello")
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", doc.Pages))
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Contains(cmdline, []byte("\x00--ocr")); got != want {
				t.Errorf("worker started as %q: --ocr %v, want %v", cmdline, got, want)
			}
			if p.ReadsImages() != want || p.ReadsImages() != want || calls != 1 {
				t.Errorf("ReadsImages() = %v after %d checks, want %v after 1", p.ReadsImages(), calls, want)
			}
		})
	}
}

// TestMemoryTarget checks a worker's soft memory limit: workerMemoryTarget, unless the
// worker's environment sets GOMEMLIMIT; never above three quarters of RLIMIT_DATA (the
// pool's MemoryLimit, not set under -race).
func TestMemoryTarget(t *testing.T) {
	hard := func(limit int) int {
		if raceEnabled {
			return math.MaxInt64
		}
		return limit / 4 * 3
	}
	tests := []struct {
		name        string
		env         string
		memoryLimit int
		want        int
	}{
		{"target", "", 256 << 20, workerMemoryTarget},
		{"environment", "GOMEMLIMIT=100MiB", 256 << 20, 100 << 20},
		{"environment above the hard limit", "GOMEMLIMIT=1GiB", 256 << 20, min(1<<30, hard(256<<20))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.MemoryLimit = int64(tt.memoryLimit)
			if tt.env != "" {
				opts.Env = append(opts.Env, tt.env)
			}
			p := newTestPool(t, opts)
			doc, err := p.ReadPDF(context.Background(), []byte("MEMLIMIT"))
			if err != nil || len(doc.Problems) != 0 {
				t.Fatalf("ReadPDF(MEMLIMIT) = %+v, %v", doc, err)
			}
			if doc.Pages != tt.want {
				t.Errorf("worker's soft memory limit %d, want %d", doc.Pages, tt.want)
			}
		})
	}
	// An archive's members are held whole: it is opened under the hard limit's three
	// quarters, and the target is back for the next file.
	opts := testOptions()
	opts.Env = append(os.Environ(), "HOSHO_SANDBOX_WORKER=archives")
	p := newTestPool(t, opts)
	a, err := p.OpenArchive(context.Background(), []byte("MEMLIMIT"), nil, 0)
	if err != nil || a.Failed {
		t.Fatalf("OpenArchive(MEMLIMIT) = %+v, %v", a, err)
	}
	if got, want := string(a.Answer), strconv.Itoa(hard(256<<20)); got != want {
		t.Errorf("soft memory limit while opening an archive %s, want %s", got, want)
	}
	if doc, err := p.ReadPDF(context.Background(), []byte("MEMLIMIT")); err != nil || doc.Pages != workerMemoryTarget {
		t.Errorf("soft memory limit after an archive: %+v, %v; want %d", doc, err, workerMemoryTarget)
	}
}

// TestReleaseProgramPages checks that a worker started as the binary's subcommand
// (serveProcess) maps fewer of the binary's pages than one that keeps what its start
// touched (ServeFunc), after reading the same file, and still serves.
func TestReleaseProgramPages(t *testing.T) {
	mapped := func(env string) (kib int) {
		t.Run(env, func(t *testing.T) { kib = programKiB(t, env) })
		return kib
	}
	kept, released := mapped("1"), mapped("process")
	t.Logf("the binary's read-only pages mapped by a worker: %d KiB kept, %d KiB released", kept, released)
	if released == 0 || released > kept*3/4 {
		t.Errorf("a worker that released its program pages maps %d KiB of them, want under three quarters of the %d KiB of one that did not", released, kept)
	}
}

// programKiB is how much of the binary's read-only mappings a worker served by
// HOSHO_SANDBOX_WORKER=env has resident after reading a file.
func programKiB(t *testing.T, env string) (kib int) {
	t.Helper()
	opts := testOptions()
	opts.Env = append(os.Environ(), "HOSHO_SANDBOX_WORKER="+env)
	p := newTestPool(t, opts)
	pid := readOK(t, p, "notice").Pages
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	maps := programMappings(smaps, exe)
	if len(maps) == 0 {
		t.Fatalf("no read-only mapping of %s in the worker's smaps", exe)
	}
	for _, m := range maps {
		kib += m.rssKiB
	}
	readOK(t, p, "again") // the worker still serves
	return kib
}
