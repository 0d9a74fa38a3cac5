package testkit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Memory is a process's resident memory, in KiB.
type Memory struct {
	// RSS is every page the process has resident, those it shares counted in full.
	RSS int
	// PSS is its proportional share: a page that n processes map counts 1/n in each, so
	// the PSS of a process tree sums to what the machine spends on it (the binary's pages,
	// which the daemon and its workers share, once).
	PSS int
	// Anon is its anonymous memory (the Go heap, stacks, the runtime's own), File the
	// file-backed rest (the binary's pages it touched, mapped files such as the state file).
	Anon, File int
}

func (m Memory) max(o Memory) Memory {
	return Memory{max(m.RSS, o.RSS), max(m.PSS, o.PSS), max(m.Anon, o.Anon), max(m.File, o.File)}
}

// TreeMemory is the peak memory of a process and its descendants, sampled while it ran.
type TreeMemory struct {
	// RSS and PSS are the peaks of the tree's summed RSS and summed PSS.
	RSS, PSS int
	// Self is the root process's own peaks, Child the largest descendant's (each figure
	// at its own peak, over all descendants).
	Self, Child Memory
	// Processes is the most processes seen at once, the root included.
	Processes int
}

// String is the figures in MiB, for a benchmark's log.
func (m TreeMemory) String() string {
	mib := func(k int) string { return fmt.Sprintf("%.1f", float64(k)/1024) }
	s := fmt.Sprintf("summed RSS %s MiB, PSS %s MiB (%d processes); the parent anon %s + file %s MiB",
		mib(m.RSS), mib(m.PSS), m.Processes, mib(m.Self.Anon), mib(m.Self.File))
	if m.Processes > 1 {
		s += fmt.Sprintf(", the largest child anon %s + file %s MiB (PSS %s)", mib(m.Child.Anon), mib(m.Child.File), mib(m.Child.PSS))
	}
	return s
}

// WatchMemory samples pid and its descendants every interval until pid ends (or turns
// zombie) and then sends their peaks. Children are found through every thread's
// /proc/PID/task/TID/children: a Go process starts its children from any of its threads.
//
// The watch must not slow what it measures: on a 2-core machine, reading smaps_rollup
// (a walk of every page table) and globbing the threads of three processes every 10 ms
// took a fifth of a core from the run being timed. So every tick reads only the kernel's
// counters in /proc/PID/status; the descendants are looked up every 5th tick and PSS
// (which only smaps_rollup has) is read every 10th.
func WatchMemory(pid int, interval time.Duration) <-chan TreeMemory {
	const findEvery, pssEvery = 5, 10
	peak := make(chan TreeMemory, 1)
	go func() {
		var m TreeMemory
		var kids []int
		for tick := 0; ; tick++ {
			self, alive := ReadMemory(pid)
			if !alive {
				peak <- m
				return
			}
			if tick%findEvery == 0 {
				kids = descendants(pid)
			}
			withPSS := tick%pssEvery == 0
			rss, pss, procs := self.RSS, 0, 1
			if withPSS {
				self.PSS = readPSS(pid)
				pss = self.PSS
			}
			m.Self = m.Self.max(self)
			for _, d := range kids {
				if c, ok := ReadMemory(d); ok {
					if withPSS {
						c.PSS = readPSS(d)
						pss += c.PSS
					}
					rss, procs = rss+c.RSS, procs+1
					m.Child = m.Child.max(c)
				}
			}
			m.RSS, m.PSS, m.Processes = max(m.RSS, rss), max(m.PSS, pss), max(m.Processes, procs)
			time.Sleep(interval)
		}
	}()
	return peak
}

// descendants are the processes below pid.
func descendants(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, task := range tasks {
		kids, _ := os.ReadFile(task)
		for _, k := range strings.Fields(string(kids)) {
			if kp, err := strconv.Atoi(k); err == nil {
				out = append(append(out, kp), descendants(kp)...)
			}
		}
	}
	return out
}

// ReadMemory reads pid's resident memory from the kernel's counters in /proc/PID/status
// (cheap to read; PSS is left 0: see readPSS); false when it is gone or a zombie (which
// has no VmRSS line).
func ReadMemory(pid int) (Memory, bool) {
	var m Memory
	found := false
	fields(fmt.Sprintf("/proc/%d/status", pid), func(name string, kib int) {
		switch name {
		case "VmRSS":
			m.RSS, found = kib, true
		case "RssAnon":
			m.Anon = kib
		}
	})
	m.File = m.RSS - m.Anon // file-backed and shared memory
	return m, found
}

// readPSS reads pid's PSS from /proc/PID/smaps_rollup, 0 when it is gone.
func readPSS(pid int) int {
	pss := 0
	fields(fmt.Sprintf("/proc/%d/smaps_rollup", pid), func(name string, kib int) {
		if name == "Pss" {
			pss = kib
		}
	})
	return pss
}

// fields calls f with each "Name: N kB" line of a /proc file.
func fields(file string, f func(name string, kib int)) {
	b, err := os.ReadFile(file)
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v, isKiB := strings.CutSuffix(strings.TrimSpace(v), "kB")
		if !isKiB {
			continue
		}
		if kib, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			f(name, kib)
		}
	}
}
