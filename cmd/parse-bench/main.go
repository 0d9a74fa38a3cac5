// Command parse-bench measures `hosho-intake parse --json` over many notice PDFs against the
// tool an admin would otherwise script: pdftotext run once per file. Both run in the same
// invocation on the same files, so the figure is a ratio that a shared, noisy machine does
// not spoil. It also samples the peak memory of hosho-intake and its PDF workers together.
//
//	go build -o /tmp/hosho-intake ./cmd/hosho-intake && go run ./cmd/parse-bench -bin /tmp/hosho-intake -n 1000
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
)

func main() {
	bin := flag.String("bin", "hosho-intake", "hosho-intake binary to measure")
	n := flag.Int("n", 1000, "notice PDFs to generate")
	keep := flag.Bool("keep", false, "keep the generated PDFs")
	flag.Parse()
	if err := bench(*bin, *n, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "parse-bench:", err)
		os.Exit(1)
	}
}

func bench(bin string, n int, keep bool) error {
	dir, err := os.MkdirTemp("", "parse-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	files, err := generate(dir, n)
	if err != nil {
		return err
	}
	fmt.Printf("%d notice PDFs in %s (encodings rotate through the font paths real producers use)\n", n, dir)

	start := time.Now()
	cmd := exec.Command(bin, append([]string{"parse", "--json"}, files...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	peak := watchPeak(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%s parse: %w", bin, err)
	}
	ours := time.Since(start)
	peakKiB := <-peak
	read, err := countNotices(out.Bytes())
	if err != nil {
		return err
	}

	start = time.Now()
	for _, f := range files {
		if err := exec.Command("pdftotext", "-q", f, os.DevNull).Run(); err != nil {
			return fmt.Errorf("pdftotext %s: %w", f, err)
		}
	}
	peer := time.Since(start)

	fmt.Printf("hosho-intake parse --json: %d files in %v (%.0f files/s), %d of %d notices read, peak RSS %.1f MiB (parent + workers)\n",
		n, ours.Round(time.Millisecond), float64(n)/ours.Seconds(), read, n, float64(peakKiB)/1024)
	fmt.Printf("pdftotext once per file:   %d files in %v (%.0f files/s)\n", n, peer.Round(time.Millisecond), float64(n)/peer.Seconds())
	fmt.Printf("ratio: %.1fx pdftotext\n", peer.Seconds()/ours.Seconds())
	if read != n {
		return fmt.Errorf("read %d notices from %d files", read, n)
	}
	return nil
}

func generate(dir string, n int) ([]string, error) {
	encodings := []noticepdf.Encoding{noticepdf.UCS2, noticepdf.IdentityToUnicode, noticepdf.RKSJ, noticepdf.IdentityJapan1, noticepdf.Type3ToUnicode, noticepdf.UTF16, noticepdf.EUC}
	files := make([]string, n)
	for i := range files {
		nt := parser.Notice{Category: "前払金保証", ContractNumber: fmt.Sprintf("20%08d", i), AuthKey: fmt.Sprintf("K%09d", i),
			ProjectName: "県道松江木次線道路改良工事", Orderer: "島根県知事", Guarantor: parser.WestJapan}
		var buf bytes.Buffer
		if err := noticepdf.Write(&buf, []parser.Notice{nt}, noticepdf.Options{Encoding: encodings[i%len(encodings)]}); err != nil {
			return nil, err
		}
		files[i] = filepath.Join(dir, fmt.Sprintf("n%04d.pdf", i))
		if err := os.WriteFile(files[i], buf.Bytes(), 0o600); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func countNotices(out []byte) (int, error) {
	read := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			Notices []json.RawMessage `json:"notices"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return 0, err
		}
		read += len(r.Notices)
	}
	return read, sc.Err()
}

// watchPeak samples the summed resident memory of pid and its children until pid exits.
func watchPeak(pid int) <-chan int {
	peak := make(chan int, 1)
	go func() {
		max := 0
		for {
			kib, alive := treeRSS(pid)
			if !alive {
				peak <- max
				return
			}
			if kib > max {
				max = kib
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return peak
}

func treeRSS(pid int) (kib int, alive bool) {
	own, ok := rss(pid)
	if !ok {
		return 0, false
	}
	kib = own
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, c := range strings.Fields(string(children)) {
		if cp, err := strconv.Atoi(c); err == nil {
			if k, ok := rss(cp); ok {
				kib += k
			}
		}
	}
	return kib, true
}

func rss(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	if bytes.Contains(b, []byte("State:\tZ")) {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			k, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return k, true
		}
	}
	return 0, true
}
