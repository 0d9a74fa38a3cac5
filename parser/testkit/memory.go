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

// Memory is a process's resident memory, in KiB, from /proc/PID/smaps_rollup.
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
func WatchMemory(pid int, interval time.Duration) <-chan TreeMemory {
	peak := make(chan TreeMemory, 1)
	go func() {
		var m TreeMemory
		for {
			self, alive := ReadMemory(pid)
			if !alive {
				peak <- m
				return
			}
			rss, pss, procs := self.RSS, self.PSS, 1
			m.Self = m.Self.max(self)
			for _, d := range descendants(pid) {
				if c, ok := ReadMemory(d); ok {
					rss, pss, procs = rss+c.RSS, pss+c.PSS, procs+1
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

// ReadMemory reads pid's memory; false when it is gone or a zombie (whose smaps_rollup
// is empty).
func ReadMemory(pid int) (Memory, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return Memory{}, false
	}
	var m Memory
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kib, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		if err != nil {
			continue
		}
		switch name {
		case "Rss":
			m.RSS, found = kib, true
		case "Pss":
			m.PSS = kib
		case "Anonymous":
			m.Anon = kib
		}
	}
	m.File = m.RSS - m.Anon
	return m, found
}
