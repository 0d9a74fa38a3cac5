package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReleaseProgramPages drops this process's read-only mappings of its own binary (code and
// constant data) from its memory map, and returns how many KiB were mapped. The kernel
// keeps those pages in the page cache whatever the process does; what the process holds is
// their mapping, which counts in its resident set. Each process of the binary runs every
// package's init (prometheus, go-imap, bbolt, the x/text tables: all linked in) and maps,
// 64 KiB around each page it touched, some 17 MiB of a 31 MB binary that a PDF worker
// never reads again; mapped once per process, they are counted once per process in summed
// RSS. After the release only the pages the process goes on to use fault back in, from
// the page cache (minor faults: no disk, microseconds).
//
// A mapping that holds any anonymous page is left alone: a private mapping's written page
// (relocations the dynamic loader made before making it read-only) exists only there, and
// dropping it would put the file's bytes back. Writable mappings (the data segment) are
// never touched.
func ReleaseProgramPages() (kib int, err error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("releasing program pages: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("releasing program pages: %w", err)
	}
	for _, m := range programMappings(smaps, exe) {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return kib, fmt.Errorf("releasing program pages at %#x: %w", m.start, errno)
		}
		kib += m.rssKiB
	}
	return kib, nil
}

// mapping is one read-only, never-written mapping of the program's file.
type mapping struct {
	start, end uintptr
	rssKiB     int
}

// programMappings reads /proc/PID/smaps text (proc(5)) for the mappings of the file exe
// that are neither writable nor hold anonymous pages.
func programMappings(smaps []byte, exe string) []mapping {
	var out []mapping
	var cur *mapping
	flush := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if start, end, ok := addressRange(f[0]); ok && len(f) >= 5 {
			// A mapping's header: "start-end perms offset dev inode [path]".
			flush()
			if strings.Join(f[5:], " ") == exe && !strings.Contains(f[1], "w") {
				cur = &mapping{start: start, end: end}
			}
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		kib, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			cur.rssKiB = kib
		case "Anonymous:":
			if kib > 0 {
				cur = nil // written pages of its own: never dropped
			}
		}
	}
	flush()
	return out
}

// addressRange parses smaps' "start-end" in hexadecimal.
func addressRange(s string) (start, end uintptr, ok bool) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, false
	}
	a, err1 := strconv.ParseUint(lo, 16, 64)
	b, err2 := strconv.ParseUint(hi, 16, 64)
	return uintptr(a), uintptr(b), err1 == nil && err2 == nil && a < b
}
