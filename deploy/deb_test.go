//go:build linux

package deploy_test

// The release for an offline network: build-deb.sh builds the amd64 static binary and
// .deb from this tree, and the .deb is taken apart with dpkg-deb (fields, every file's
// mode, owner and time, conffiles, md5sums, maintainer scripts), checked with lintian and
// systemd-analyze, and, as root, installed, upgraded, removed, reinstalled and purged in a
// throwaway root with dpkg --root.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	debTag     = "v1.2.3-4-gdeadbee"
	debVersion = "1.2.3+4.gdeadbee"
	// The files' time in the package: SOURCE_DATE_EPOCH given to build-deb.sh.
	debEpoch = 1700000000
)

// tool finds a program the .deb tests need: CI must have it (they fail there without it),
// a developer's machine may not (they skip).
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (apt-get install %s): CI must build and check the .deb", name, pkg)
		}
		t.Skipf("%s not found (apt-get install %s)", name, pkg)
	}
	return p
}

// run runs a command and returns its output; it must succeed.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func TestDebVersion(t *testing.T) {
	tool(t, "dpkg", "dpkg")
	debv := func(v string) (string, error) {
		out, err := exec.CommandContext(t.Context(), "sh", "build-deb.sh", "--deb-version", v).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for v, want := range map[string]string{
		"v1.2.0":                   `1\.2\.0`,
		"1.2.0":                    `1\.2\.0`,
		"v1.2.0-3-gabc1234":        `1\.2\.0\+3\.gabc1234`,
		"v1.2.0-3-gabc1234-dirty":  `1\.2\.0\+3\.gabc1234\.dirty`,
		"v1.2.0-10-g0123456-dirty": `1\.2\.0\+10\.g0123456\.dirty`,
		"v2.0.0-rc1":               `2\.0\.0\+rc1`,
		// No tag: the commit's time when this is a git checkout.
		"abc1234":       `0~(git\d{14}\.)?abc1234`,
		"abc1234-dirty": `0~(git\d{14}\.)?abc1234\.dirty`,
		// A commit that starts with a digit is no release.
		"15f77ff":                 `0~(git\d{14}\.)?15f77ff`,
		"1234567-dirty":           `0~(git\d{14}\.)?1234567\.dirty`,
		"0123456789abcdef0123456": `0~(git\d{14}\.)?0123456789abcdef0123456`,
		"v1234567":                `1234567`,
		"2025":                    `2025`,
	} {
		got, err := debv(v)
		if err != nil {
			t.Errorf("--deb-version %s: %v\n%s", v, err, got)
			continue
		}
		if !regexp.MustCompile(`^` + want + `$`).MatchString(got) {
			t.Errorf("--deb-version %s = %q, want %s", v, got, want)
		}
	}
	for _, bad := range []string{"1.2_3", "v1.2/3", ""} {
		if got, err := debv(bad); err == nil {
			t.Errorf("--deb-version %q succeeded: %s", bad, got)
		}
	}
	// The order dpkg sees: a snapshot before any release, commits after a tag after it and
	// before the next release.
	snapshot, _ := debv("abc1234")
	for _, c := range [][2]string{
		{snapshot, "0.0.1"},
		{"1.2.0", "1.2.0+3.gabc1234"},
		{"1.2.0+3.gabc1234", "1.2.0+10.g0123456"},
		{"1.2.0+10.g0123456", "1.2.1"},
	} {
		if err := exec.CommandContext(t.Context(), "dpkg", "--compare-versions", c[0], "lt", c[1]).Run(); err != nil {
			t.Errorf("dpkg does not order %s before %s", c[0], c[1])
		}
	}
}

// debEntry is one file of a package's data or control archive.
type debEntry struct {
	typ     byte
	mode    fs.FileMode
	uid     int
	gid     int
	owner   string
	mtime   int64
	content []byte
	link    string
}

// debArchive reads the data (--fsys-tarfile) or control (--ctrl-tarfile) archive of deb.
func debArchive(t *testing.T, deb, which string) map[string]debEntry {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "dpkg-deb", which, deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb %s %s: %v", which, deb, err)
	}
	entries := map[string]debEntry{}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("dpkg-deb %s: %v", which, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = debEntry{h.Typeflag, fs.FileMode(h.Mode).Perm(), h.Uid, h.Gid,
			h.Uname + ":" + h.Gname, h.ModTime.Unix(), b, h.Linkname}
	}
	return entries
}

// controlFields parses `dpkg-deb -f` output: Key: value, continuation lines joined.
func controlFields(t *testing.T, text string) (map[string]string, []string) {
	t.Helper()
	fields := map[string]string{}
	var order []string
	last := ""
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		if strings.HasPrefix(line, " ") && last != "" {
			fields[last] += "\n" + line
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("control: not a field: %q", line)
		}
		last = k
		order = append(order, k)
		fields[k] = strings.TrimSpace(v)
	}
	return fields, order
}

func TestDeb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go in PATH")
	}
	tool(t, "dpkg-deb", "dpkg")

	out := t.TempDir()
	start := time.Now()
	log := run(t, []string{"SOURCE_DATE_EPOCH=" + strconv.Itoa(debEpoch)},
		"sh", "build-deb.sh", "--version", debTag, "--arch", "amd64", "--out", out)
	t.Logf("build-deb.sh took %s:\n%s", time.Since(start).Round(time.Second), log)
	bin := filepath.Join(out, "hosho-intake-"+debTag+"-linux-amd64")
	deb := filepath.Join(out, "hosho-intake_"+debVersion+"_amd64.deb")

	t.Run("release files", func(t *testing.T) {
		names, _ := filepath.Glob(filepath.Join(out, "*"))
		for i := range names {
			names[i] = filepath.Base(names[i])
		}
		want := []string{"SHA256SUMS", filepath.Base(bin), filepath.Base(deb)}
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("%s holds %v, want %v", out, names, want)
		}
		// SHA256SUMS names both, with their sums, in sha256sum's format.
		var lines []string
		for _, f := range []string{filepath.Base(bin), filepath.Base(deb)} {
			sum := sha256.Sum256([]byte(readFile(t, filepath.Join(out, f))))
			lines = append(lines, hex.EncodeToString(sum[:])+"  "+f)
		}
		if got := readFile(t, filepath.Join(out, "SHA256SUMS")); got != strings.Join(lines, "\n")+"\n" {
			t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", got, strings.Join(lines, "\n"))
		}
	})

	t.Run("static binary", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Machine != elf.EM_X86_64 {
			t.Errorf("machine %v, want x86-64", f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("program header %v: dynamically linked, want static (CGO_ENABLED=0)", p.Type)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("needs shared libraries %v", libs)
		}
		bi, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		for k, v := range map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64", "-trimpath": "true"} {
			if settings[k] != v {
				t.Errorf("built with %s=%q, want %q", k, settings[k], v)
			}
		}
		if got := run(t, nil, bin, "version"); got != "hosho-intake "+debTag+"\n" {
			t.Errorf("version printed %q, want the stamped %q", got, debTag)
		}
	})

	t.Run("control", func(t *testing.T) {
		fields, order := controlFields(t, run(t, nil, "dpkg-deb", "-f", deb))
		for k, v := range map[string]string{
			"Package": "hosho-intake", "Version": debVersion, "Architecture": "amd64",
			// useradd and groupadd in postinst; the static binary needs nothing.
			"Depends": "passwd", "Section": "mail", "Priority": "optional",
		} {
			if fields[k] != v {
				t.Errorf("%s: %q, want %q", k, fields[k], v)
			}
		}
		want := []string{"Package", "Version", "Architecture", "Maintainer", "Installed-Size", "Depends", "Section", "Priority", "Description"}
		if !slices.Equal(order, want) {
			t.Errorf("fields %v, want %v", order, want)
		}
		if !regexp.MustCompile(`^[^<>]+ <[^<>@ ]+@[^<>@ ]+>$`).MatchString(fields["Maintainer"]) {
			t.Errorf("Maintainer %q is not a name and an address", fields["Maintainer"])
		}
		fi, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		size, _ := strconv.Atoi(fields["Installed-Size"])
		// The rest is the units, the config, the copyright (every linked module's licence) and the changelog.
		if kib := int(fi.Size() / 1024); size < kib || size > kib+512 {
			t.Errorf("Installed-Size %d KiB, want about the binary's %d KiB", size, kib)
		}
		if !strings.Contains(fields["Description"], "\n") {
			t.Errorf("Description has no long description: %q", fields["Description"])
		}
		// dpkg-deb --info lists the control members it found.
		info := run(t, nil, "dpkg-deb", "--info", deb)
		for _, m := range []string{"conffiles", "control", "md5sums", "postinst", "postrm", "prerm"} {
			if !regexp.MustCompile(`(?m)^\s+\d+ bytes,\s+\d+ lines\s+\*?\s+` + m + `\b`).MatchString(info) {
				t.Errorf("dpkg-deb --info lists no %s:\n%s", m, info)
			}
		}
	})

	data := debArchive(t, deb, "--fsys-tarfile")
	t.Run("contents", func(t *testing.T) {
		type want struct {
			typ  byte
			mode fs.FileMode
		}
		dir := func(m fs.FileMode) want { return want{tar.TypeDir, m} }
		file := func(m fs.FileMode) want { return want{tar.TypeReg, m} }
		wants := map[string]want{
			"./": dir(0o755), "./etc/": dir(0o755),
			// The config is root's and the daemon group's (postinst sets the group).
			"./etc/hosho-intake/": dir(0o750), "./etc/hosho-intake/config.toml": file(0o640),
			"./usr/": dir(0o755), "./usr/bin/": dir(0o755), "./usr/bin/hosho-intake": file(0o755),
			"./usr/lib/": dir(0o755), "./usr/lib/systemd/": dir(0o755), "./usr/lib/systemd/system/": dir(0o755),
			"./usr/lib/systemd/system/hosho-intake.service":         file(0o644),
			"./usr/lib/systemd/system/hosho-intake@.service":        file(0o644),
			"./usr/lib/systemd/system/hosho-intake-backup.service":  file(0o644),
			"./usr/lib/systemd/system/hosho-intake-backup.timer":    file(0o644),
			"./usr/lib/systemd/system/hosho-intake-backup@.service": file(0o644),
			"./usr/lib/systemd/system/hosho-intake-backup@.timer":   file(0o644),
			"./usr/share/": dir(0o755), "./usr/share/doc/": dir(0o755), "./usr/share/doc/hosho-intake/": dir(0o755),
			"./usr/share/doc/hosho-intake/copyright":    file(0o644),
			"./usr/share/doc/hosho-intake/changelog.gz": file(0o644),
			"./usr/share/lintian/":                      dir(0o755), "./usr/share/lintian/overrides/": dir(0o755),
			"./usr/share/lintian/overrides/hosho-intake": file(0o644),
		}
		if _, err := os.Stat("../CHANGELOG.md"); err == nil {
			wants["./usr/share/doc/hosho-intake/CHANGELOG.md.gz"] = file(0o644)
		}
		for name, e := range data {
			w, ok := wants[name]
			switch {
			case !ok:
				t.Errorf("unexpected %s in the package", name)
				continue
			case e.typ != w.typ || e.mode != w.mode:
				t.Errorf("%s: type %c mode %#o, want %c %#o", name, e.typ, e.mode, w.typ, w.mode)
			}
			if e.uid != 0 || e.gid != 0 || e.owner != "root:root" {
				t.Errorf("%s: owner %d:%d (%s), want root:root", name, e.uid, e.gid, e.owner)
			}
			if e.mtime != debEpoch {
				t.Errorf("%s: time %d, want SOURCE_DATE_EPOCH %d", name, e.mtime, debEpoch)
			}
		}
		for name := range wants {
			if _, ok := data[name]; !ok {
				t.Errorf("the package has no %s", name)
			}
		}
		if got := data["./usr/bin/hosho-intake"].content; !bytes.Equal(got, []byte(readFile(t, bin))) {
			t.Errorf("usr/bin/hosho-intake is not the released static binary")
		}
		if got := string(data["./etc/hosho-intake/config.toml"].content); got != readFile(t, "config.example.toml") {
			t.Errorf("etc/hosho-intake/config.toml is not config.example.toml")
		}
		if got := string(data["./usr/share/lintian/overrides/hosho-intake"].content); got != readFile(t, "deb/lintian-overrides") {
			t.Errorf("the lintian overrides are not deb/lintian-overrides")
		}
	})

	t.Run("units", func(t *testing.T) {
		// The packaged units are deploy/'s, directive for directive, with the binary in
		// /usr/bin: nothing of the package may point into /usr/local.
		dir := t.TempDir()
		for _, u := range allUnits {
			p := filepath.Join(dir, u)
			writeFile(t, p, string(data["./usr/lib/systemd/system/"+u].content), 0o644)
			got := parseUnit(t, p)
			want := parseUnit(t, u)
			for i := range want {
				want[i].value = strings.ReplaceAll(want[i].value, "/usr/local/bin/hosho-intake", "/usr/bin/hosho-intake")
			}
			if !slices.Equal(got, want) {
				t.Errorf("packaged %s differs from deploy/%s beyond the binary's path", u, u)
			}
			execs := 0
			for _, d := range got {
				if strings.Contains(d.value, "/usr/local") {
					t.Errorf("packaged %s: %s=%s points into /usr/local", u, d.key, d.value)
				}
				if d.key == "ExecStart" {
					execs++
					if !strings.HasPrefix(d.value, "/usr/bin/hosho-intake ") {
						t.Errorf("packaged %s: ExecStart=%s, want /usr/bin/hosho-intake", u, d.value)
					}
				}
			}
			if strings.HasSuffix(u, ".service") && execs != 1 {
				t.Errorf("packaged %s has %d ExecStart=", u, execs)
			}
		}
	})

	t.Run("docs", func(t *testing.T) {
		copyright := string(data["./usr/share/doc/hosho-intake/copyright"].content)
		for _, want := range []string{"License: Apache-2.0", "/usr/share/common-licenses/Apache-2.0", "==== Go standard library go"} {
			if !strings.Contains(copyright, want) {
				t.Errorf("copyright lacks %q", want)
			}
		}
		// Every module linked into the binary, with its licence text.
		bi, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if len(bi.Deps) < 5 {
			t.Fatalf("the binary names %d modules", len(bi.Deps))
		}
		for _, m := range bi.Deps {
			if !regexp.MustCompile(`(?m)^==== ` + regexp.QuoteMeta(m.Path+" "+m.Version) + `: (?i:LICEN[CS]E|COPYING)`).MatchString(copyright) {
				t.Errorf("copyright has no licence of %s %s", m.Path, m.Version)
			}
		}
		zr, err := gzip.NewReader(bytes.NewReader(data["./usr/share/doc/hosho-intake/changelog.gz"].content))
		if err != nil {
			t.Fatal(err)
		}
		// gzip -n: no name, no time, so that the same commit gives the same package.
		if zr.Name != "" || !zr.ModTime.IsZero() {
			t.Errorf("changelog.gz records name %q, time %v", zr.Name, zr.ModTime)
		}
		b, _ := io.ReadAll(zr)
		changelog := string(b)
		if !strings.HasPrefix(changelog, "hosho-intake ("+debVersion+") unstable; urgency=medium\n") {
			t.Errorf("changelog does not start with this version:\n%s", changelog)
		}
		if !regexp.MustCompile(`(?m)^ -- [^<]+ <[^>]+>  Tue, 14 Nov 2023 22:13:20 \+0000$`).MatchString(changelog) {
			t.Errorf("changelog has no trailer with the maintainer and SOURCE_DATE_EPOCH's date:\n%s", changelog)
		}
	})

	control := debArchive(t, deb, "--ctrl-tarfile")
	t.Run("maintainer scripts", func(t *testing.T) {
		if got := string(control["./conffiles"].content); got != "/etc/hosho-intake/config.toml\n" {
			t.Errorf("conffiles = %q, want the config alone", got)
		}
		for _, s := range []string{"postinst", "prerm", "postrm"} {
			e, ok := control["./"+s]
			if !ok {
				t.Errorf("no %s", s)
				continue
			}
			if e.mode != 0o755 || e.owner != "root:root" {
				t.Errorf("%s: mode %#o owner %s, want 0755 root:root", s, e.mode, e.owner)
			}
			if want := readFile(t, "deb/"+s); string(e.content) != want {
				t.Errorf("%s is not deploy/deb/%s", s, s)
			}
			p := filepath.Join(t.TempDir(), s)
			writeFile(t, p, string(e.content), 0o755)
			// POSIX sh: Debian runs them with dash.
			run(t, nil, "sh", "-n", p)
			if sc, err := exec.LookPath("shellcheck"); err == nil {
				run(t, nil, sc, "-s", "sh", p)
			}
		}
		for _, m := range []string{"./conffiles", "./control", "./md5sums"} {
			if e := control[m]; e.mode != 0o644 || e.owner != "root:root" {
				t.Errorf("%s: mode %#o owner %s, want 0644 root:root", m, e.mode, e.owner)
			}
		}
		// md5sums: every file under /usr, each sum right; not the conffile (dpkg keeps its
		// own sum of that).
		sums := map[string]string{}
		for line := range strings.SplitSeq(strings.TrimSpace(string(control["./md5sums"].content)), "\n") {
			sum, name, ok := strings.Cut(line, "  ")
			if !ok {
				t.Fatalf("md5sums: %q", line)
			}
			sums["./"+name] = sum
		}
		for name, e := range data {
			if e.typ != tar.TypeReg {
				continue
			}
			sum, listed := sums[name]
			delete(sums, name)
			if strings.HasPrefix(name, "./etc/") {
				if listed {
					t.Errorf("md5sums lists the conffile %s", name)
				}
				continue
			}
			if got := md5.Sum(e.content); !listed || sum != hex.EncodeToString(got[:]) {
				t.Errorf("md5sums: %s listed %v with %q, want %x", name, listed, sum, got)
			}
		}
		for name := range sums {
			t.Errorf("md5sums lists %s, which the package does not have", name)
		}
	})

	t.Run("lintian", func(t *testing.T) {
		lintian := tool(t, "lintian", "lintian")
		// Errors and warnings fail; each accepted one is overridden in deb/lintian-overrides
		// with its reason. Informational tags are logged.
		cmd := exec.CommandContext(t.Context(), lintian, "--fail-on", "error,warning", "--display-info", deb)
		got, err := cmd.CombinedOutput()
		t.Logf("lintian:\n%s", got)
		if err != nil {
			t.Errorf("lintian %s: %v", filepath.Base(deb), err)
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		sa := systemdAnalyze(t)
		// The package's files as dpkg -x lays them out, plus the host's standard units and
		// the commands the units run besides hosho-intake: verify finds ExecStart= in
		// /usr/bin of this root.
		root := t.TempDir()
		run(t, nil, "dpkg-deb", "-x", deb, root)
		addVerifyTools(t, root)
		for _, unit := range []string{"hosho-intake.service", "hosho-intake@keiyaku.service", "hosho-intake-backup.service", "hosho-intake-backup.timer",
			"hosho-intake-backup@keiyaku.service", "hosho-intake-backup@keiyaku.timer"} {
			got, err := exec.CommandContext(t.Context(), sa, "verify", "--root="+root, unit).CombinedOutput()
			for line := range strings.SplitSeq(strings.TrimSpace(string(got)), "\n") {
				if strings.Contains(line, "hosho-intake") {
					t.Errorf("systemd-analyze verify %s: %s", unit, line)
				}
			}
			if err != nil {
				t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, got)
			}
		}
	})

	t.Run("install upgrade remove purge", func(t *testing.T) {
		if os.Geteuid() != 0 {
			if os.Getenv("CI") == "true" {
				t.Fatal("CI runs as root: dpkg --root needs it to chown the files of the package")
			}
			t.Skip("dpkg --root needs root to chown")
		}
		testDebLifecycle(t, deb)
	})
}

// hostPaths are what a maintainer script that ignored DPKG_ROOT would write on the machine
// running the test.
var hostPaths = []string{
	"/etc/hosho-intake", "/var/lib/hosho-intake", "/var/backups/hosho-intake",
	"/etc/systemd/system/hosho-intake.service", "/etc/systemd/system/hosho-intake-backup.timer",
	"/var/lib/systemd/deb-systemd-helper-enabled/hosho-intake.service.dsh-also",
	"/var/lib/systemd/deb-systemd-helper-masked/hosho-intake.service",
	"/run/hosho-intake.dpkg-restart",
}

func testDebLifecycle(t *testing.T, deb string) {
	// The machine's own state before: the scripts run outside a chroot, so anything of
	// theirs that escaped DPKG_ROOT would show here.
	hostBefore := map[string]bool{}
	for _, p := range hostPaths {
		_, err := os.Lstat(p)
		hostBefore[p] = err == nil
	}
	_, err := exec.Command("getent", "passwd", "hosho-intake").Output()
	hostUser := err == nil
	t.Cleanup(func() {
		for _, p := range hostPaths {
			if _, err := os.Lstat(p); err == nil && !hostBefore[p] {
				t.Errorf("a maintainer script wrote %s on this machine, outside DPKG_ROOT", p)
			}
		}
		if _, err := exec.Command("getent", "passwd", "hosho-intake").Output(); err == nil && !hostUser {
			t.Errorf("a maintainer script created the user hosho-intake on this machine, outside DPKG_ROOT")
		}
	})

	root := newRoot(t, true)
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status"), "", 0o644)
	at := func(p string) string { return filepath.Join(root, p) }
	// dpkg as apt runs it for `apt install ./x.deb` on a non-interactive upgrade, into root:
	// the scripts are run here (no chroot) with DPKG_ROOT set. Depends: passwd is not
	// installed in the throwaway root; useradd comes from this machine.
	dpkg := func(args ...string) string {
		t.Helper()
		return run(t, []string{"DEBIAN_FRONTEND=noninteractive"}, "dpkg", append([]string{
			"--root=" + root, "--force-script-chrootless", "--force-depends",
			"--force-confdef", "--force-confold"}, args...)...)
	}
	status := func() string {
		t.Helper()
		out, _ := exec.CommandContext(t.Context(), "dpkg-query", "--root="+root, "-W", "-f=${Status} ${Version}", "hosho-intake").Output()
		return string(out)
	}
	exists := func(p string) bool {
		_, err := os.Lstat(at(p))
		return err == nil
	}

	// First install: the user, the config's group, the empty secrets; nothing enabled.
	out := dpkg("-i", deb)
	if got := status(); got != "install ok installed "+debVersion {
		t.Fatalf("dpkg-query: %q after install:\n%s", got, out)
	}
	gid := groupID(t, root)
	if gid < 0 {
		t.Fatalf("no group hosho-intake in the root after install:\n%s", out)
	}
	passwd := readFile(t, at("etc/passwd"))
	if !regexp.MustCompile(`(?m)^hosho-intake:[^:]*:\d+:` + strconv.Itoa(gid) + `:[^:]*:/var/lib/hosho-intake:/usr/sbin/nologin$`).MatchString(passwd) {
		t.Errorf("etc/passwd has no system user hosho-intake in group %d with nologin:\n%s", gid, passwd)
	}
	example := readFile(t, "config.example.toml")
	wantFile(t, at("usr/bin/hosho-intake"), 0o755, nil, 0)
	for _, u := range allUnits {
		wantFile(t, at("usr/lib/systemd/system/"+u), 0o644, nil, 0)
	}
	wantFile(t, at("etc/hosho-intake"), 0o750, nil, gid)
	wantFile(t, at("etc/hosho-intake/config.toml"), 0o640, &example, gid)
	for _, s := range []string{"imap-password", "smtp-password"} {
		wantFile(t, at("etc/hosho-intake/"+s), 0o600, ptr(""), 0)
	}
	for _, want := range []string{"installed, not started", "hosho-intake check --connect --config /etc/hosho-intake/config.toml", "systemctl enable --now hosho-intake"} {
		if !strings.Contains(out, want) {
			t.Errorf("first install does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hide this package's units") {
		t.Errorf("a clean install warns of install.sh's units:\n%s", out)
	}
	// deb-systemd-helper kept its state in the root (and so honoured DPKG_ROOT), and
	// enabled nothing: the example config polls nothing.
	for _, u := range []string{"hosho-intake.service", "hosho-intake-backup.timer"} {
		if !exists("var/lib/systemd/deb-systemd-helper-enabled/" + u + ".dsh-also") {
			t.Errorf("deb-systemd-helper has no state of %s in the root", u)
		}
	}
	if m, _ := filepath.Glob(at("etc/systemd/system/*.wants/hosho-intake*")); len(m) > 0 {
		t.Errorf("install enabled %v", m)
	}

	// The admin's work: the config, a password, state, the service and an instance
	// enabled (the links systemctl enable makes), and the config made read-only with
	// dpkg-statoverride, which the package must respect.
	edited := strings.Replace(example, `name = "島根県 土木部 技術管理課"`, `name = "鳥取県 県土整備部"`, 1)
	if edited == example {
		t.Fatal("the example config's agency name changed: update this test")
	}
	writeFile(t, at("etc/hosho-intake/config.toml"), edited, 0o640)
	writeFile(t, at("etc/hosho-intake/imap-password"), "s3cret\n", 0o600)
	writeFile(t, at("var/lib/hosho-intake/state.db"), "state", 0o600)
	wants := at("etc/systemd/system/multi-user.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"hosho-intake.service":         "/usr/lib/systemd/system/hosho-intake.service",
		"hosho-intake@keiyaku.service": "/usr/lib/systemd/system/hosho-intake@.service",
	} {
		if err := os.Symlink(target, filepath.Join(wants, link)); err != nil {
			t.Fatal(err)
		}
	}
	run(t, nil, "dpkg-statoverride", "--root="+root, "--update", "--add", "#0", "#"+strconv.Itoa(gid), "0440", "/etc/hosho-intake/config.toml")
	wantFile(t, at("etc/hosho-intake/config.toml"), 0o440, &edited, gid)

	// An upgrade whose example config changed: the admin's is kept, the new one put
	// beside it, the secrets and the state untouched, the statoverride respected.
	v2 := repackDeb(t, deb, "1.2.3+5.gdeadbee", "\n# v2\n")
	out = dpkg("-i", v2)
	if got := status(); got != "install ok installed 1.2.3+5.gdeadbee" {
		t.Fatalf("dpkg-query: %q after upgrade:\n%s", got, out)
	}
	if strings.Contains(out, "installed, not started") {
		t.Errorf("an upgrade repeats the first install's note:\n%s", out)
	}
	wantFile(t, at("etc/hosho-intake/config.toml"), 0o440, &edited, gid)
	// dpkg applies the statoverride to the new version beside it too.
	wantFile(t, at("etc/hosho-intake/config.toml.dpkg-dist"), 0o440, ptr(example+"\n# v2\n"), gid)
	wantFile(t, at("etc/hosho-intake/imap-password"), 0o600, ptr("s3cret\n"), 0)
	wantFile(t, at("var/lib/hosho-intake/state.db"), 0o600, ptr("state"), -1)
	for _, l := range []string{"hosho-intake.service", "hosho-intake@keiyaku.service"} {
		if _, err := os.Lstat(filepath.Join(wants, l)); err != nil {
			t.Errorf("upgrade: %v", err)
		}
	}
	os.Remove(at("etc/hosho-intake/config.toml.dpkg-dist"))

	// Remove: the program and its units go; the config, the secrets, the state, the user
	// and the admin's enablement stay (the enabled unit masked while it has no file).
	dpkg("-r", "hosho-intake")
	if got := status(); got != "deinstall ok config-files 1.2.3+5.gdeadbee" {
		t.Errorf("dpkg-query: %q after remove", got)
	}
	for _, gone := range []string{"usr/bin/hosho-intake", "usr/lib/systemd/system/hosho-intake.service", "usr/lib/systemd/system/hosho-intake@.service"} {
		if exists(gone) {
			t.Errorf("remove left %s", gone)
		}
	}
	wantFile(t, at("etc/hosho-intake/config.toml"), 0o440, &edited, gid)
	wantFile(t, at("etc/hosho-intake/imap-password"), 0o600, ptr("s3cret\n"), 0)
	wantFile(t, at("var/lib/hosho-intake/state.db"), 0o600, ptr("state"), -1)
	if groupID(t, root) != gid {
		t.Errorf("remove took the group hosho-intake")
	}
	if target, err := os.Readlink(at("etc/systemd/system/hosho-intake.service")); err != nil || target != "/dev/null" {
		t.Errorf("remove did not mask hosho-intake.service: %q %v", target, err)
	}

	// Reinstall: carries on where it stopped; the mask goes, the enablement is back.
	out = dpkg("-i", v2)
	wantFile(t, at("etc/hosho-intake/config.toml"), 0o440, &edited, gid)
	wantFile(t, at("var/lib/hosho-intake/state.db"), 0o600, ptr("state"), -1)
	for _, u := range []string{"hosho-intake.service", "hosho-intake-backup.timer"} {
		if exists("etc/systemd/system/" + u) {
			t.Errorf("reinstall left %s masked", u)
		}
	}
	if strings.Contains(out, "hide this package's units") {
		t.Errorf("reinstall took the mask for install.sh's unit:\n%s", out)
	}
	for l, target := range map[string]string{
		"hosho-intake.service":         "/usr/lib/systemd/system/hosho-intake.service",
		"hosho-intake@keiyaku.service": "/usr/lib/systemd/system/hosho-intake@.service",
	} {
		// Readlink, not Stat: the link is absolute, meant for the root, not this machine.
		if got, err := os.Readlink(filepath.Join(wants, l)); err != nil || got != target {
			t.Errorf("reinstall: enablement of %s: %q %v", l, got, err)
		}
		if !exists(strings.TrimPrefix(target, "/")) {
			t.Errorf("reinstall: no %s", target)
		}
	}

	// Purge: the config, the secrets, the state and every link go; the user and the
	// backups stay, and it says so.
	writeFile(t, at("var/backups/hosho-intake/hosho-intake-20250101-031500.tar"), "backup", 0o600)
	out = dpkg("--purge", "hosho-intake")
	if got := status(); got != "" && !strings.HasPrefix(got, "unknown ok not-installed") {
		t.Errorf("dpkg-query: %q after purge", got)
	}
	for _, gone := range []string{
		"etc/hosho-intake", "var/lib/hosho-intake",
		"etc/systemd/system/multi-user.target.wants/hosho-intake.service",
		"etc/systemd/system/multi-user.target.wants/hosho-intake@keiyaku.service",
		"etc/systemd/system/hosho-intake.service",
		"var/lib/systemd/deb-systemd-helper-enabled/hosho-intake.service.dsh-also",
	} {
		if exists(gone) {
			t.Errorf("purge left %s", gone)
		}
	}
	if !exists("var/backups/hosho-intake/hosho-intake-20250101-031500.tar") || !strings.Contains(out, "kept the backups") {
		t.Errorf("purge did not keep the backups, or did not say so:\n%s", out)
	}
	if groupID(t, root) != gid || !strings.Contains(readFile(t, at("etc/passwd")), "\nhosho-intake:") {
		t.Errorf("purge removed the user or the group hosho-intake")
	}
}

// A root with install.sh's unit: the package says it hides its own.
func TestDebWarnsOfInstallSh(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs postinst as root")
	}
	tool(t, "dpkg", "dpkg")
	root := newRoot(t, true)
	install(t, root, "--binary", stub(t))
	cmd := exec.CommandContext(t.Context(), "sh", "deb/postinst", "configure", "")
	cmd.Env = append(os.Environ(), "DPKG_ROOT="+root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("postinst configure: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "hide this package's units") || !strings.Contains(string(out), "install.sh --uninstall") {
		t.Errorf("postinst over install.sh's units does not say how to remove them:\n%s", out)
	}
}

// repackDeb makes the next version of deb: the same files, version v, and the example
// config with extra appended, as a release that changed it would ship.
func repackDeb(t *testing.T, deb, v, extra string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pkg")
	run(t, nil, "dpkg-deb", "--raw-extract", deb, dir)
	control := readFile(t, filepath.Join(dir, "DEBIAN/control"))
	control = regexp.MustCompile(`(?m)^Version: .*$`).ReplaceAllString(control, "Version: "+v)
	writeFile(t, filepath.Join(dir, "DEBIAN/control"), control, 0o644)
	config := filepath.Join(dir, "etc/hosho-intake/config.toml")
	writeFile(t, config, readFile(t, config)+extra, 0o640)
	out := filepath.Join(filepath.Dir(dir), fmt.Sprintf("hosho-intake_%s_amd64.deb", v))
	// gzip at level 1: this copy only needs to install, quickly.
	run(t, nil, "dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", dir, out)
	return out
}

// addVerifyTools adds to root what systemd-analyze verify looks for there besides our
// units: the host's unit files (the targets the units order against), /bin/kill of
// ExecReload= and /usr/bin/install of the backup unit's ExecStartPre=.
func addVerifyTools(t *testing.T, root string) {
	t.Helper()
	var hostUnits string
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			hostUnits = d
			break
		}
	}
	if hostUnits == "" {
		t.Fatal("no /usr/lib/systemd/system here: systemd-analyze verify needs the standard targets")
	}
	copyTree(t, hostUnits, filepath.Join(root, "usr/lib/systemd/system"))
	kill, err := exec.LookPath("kill")
	if err != nil {
		kill = "/bin/kill"
	}
	b, err := os.ReadFile(kill)
	if err != nil {
		t.Fatalf("reading kill for ExecReload=: %v", err)
	}
	writeFile(t, filepath.Join(root, "bin/kill"), string(b), 0o755)
	b, err = os.ReadFile("/usr/bin/install")
	if err != nil {
		t.Fatalf("reading install for the backup unit's ExecStartPre=: %v", err)
	}
	writeFile(t, filepath.Join(root, "usr/bin/install"), string(b), 0o755)
}

// On upgrade, prerm stops the daemons that run (the single unit and every instance) and
// postinst starts them again; on remove, prerm stops them and the backup. Run against a
// stand-in systemd: stubs of systemctl, deb-systemd-invoke and deb-systemd-helper that log
// their arguments, and a private /run (unshare -m) where /run/systemd/system says that
// systemd runs. postinst runs as abort-upgrade, which is only the systemd part: its
// configure would create the user on this machine.
func TestDebRestartsOnUpgrade(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unshare -m needs root")
	}
	unshare := tool(t, "unshare", "util-linux")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	logFile := filepath.Join(dir, "log")
	stub := "#!/bin/sh\necho \"${0##*/} $*\" >>" + logFile + "\n"
	writeFile(t, filepath.Join(bin, "systemctl"), stub+`case "$*" in
list-units*backup@*) echo "hosho-intake-backup@keiyaku.timer loaded active waiting hosho-intake: daily backup of the state of the mailbox keiyaku" ;;
list-units*)
	echo "hosho-intake.service loaded active running hosho-intake"
	echo "hosho-intake@keiyaku.service loaded activating auto-restart hosho-intake for keiyaku" ;;
esac
`, 0o755)
	writeFile(t, filepath.Join(bin, "deb-systemd-invoke"), stub, 0o755)
	writeFile(t, filepath.Join(bin, "deb-systemd-helper"), stub, 0o755)
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	prerm, postinst := abs("deb/prerm"), abs("deb/postinst")

	// steps runs the scripts in a mount namespace of their own and returns the log and
	// what /run/hosho-intake.dpkg-restart held after each step.
	steps := func(script string) string {
		t.Helper()
		os.Remove(logFile)
		cmd := exec.CommandContext(t.Context(), unshare, "--mount", "--propagation", "private", "sh", "-euc",
			"mount -t tmpfs hosho-intake-test /run; mkdir -p /run/systemd/system; "+script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "DPKG_ROOT=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			if os.Getenv("CI") != "true" && strings.Contains(string(out), "unshare failed") {
				t.Skipf("no mount namespace here: %s", out)
			}
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return readFile(t, logFile) + string(out)
	}
	upgrade := steps(`sh ` + prerm + ` upgrade 1.2.3
echo "restart file: $(tr '\n' ' ' </run/hosho-intake.dpkg-restart)" >>` + logFile + `
sh ` + postinst + ` abort-upgrade 1.2.3
[ ! -e /run/hosho-intake.dpkg-restart ] || echo "restart file left"
`)
	t.Logf("upgrade:\n%s", upgrade)
	inOrder := func(log string, want ...string) {
		t.Helper()
		rest := log
		for _, w := range want {
			i := strings.Index(rest, w+"\n")
			if i < 0 {
				t.Errorf("no %q (in this order) in:\n%s", w, log)
				return
			}
			rest = rest[i+len(w):]
		}
	}
	inOrder(upgrade,
		"deb-systemd-invoke stop hosho-intake.service",
		"deb-systemd-invoke stop hosho-intake@keiyaku.service",
		"restart file: hosho-intake.service hosho-intake@keiyaku.service ",
		"systemctl --system daemon-reload",
		"deb-systemd-invoke start hosho-intake.service",
		"deb-systemd-invoke start hosho-intake@keiyaku.service")
	for _, bad := range []string{"restart file left", "deb-systemd-invoke stop hosho-intake-backup"} {
		if strings.Contains(upgrade, bad) {
			t.Errorf("upgrade: %q in:\n%s", bad, upgrade)
		}
	}
	if n := strings.Count(upgrade, "stop hosho-intake@keiyaku.service"); n != 1 {
		t.Errorf("upgrade stopped the instance %d times", n)
	}

	remove := steps(`sh ` + prerm + ` remove
[ ! -e /run/hosho-intake.dpkg-restart ] || echo "restart file written"
`)
	t.Logf("remove:\n%s", remove)
	inOrder(remove,
		"deb-systemd-invoke stop hosho-intake.service",
		"deb-systemd-invoke stop hosho-intake@keiyaku.service",
		"deb-systemd-invoke stop hosho-intake-backup.timer hosho-intake-backup.service",
		"deb-systemd-invoke stop hosho-intake-backup@keiyaku.timer")
	if strings.Contains(remove, "restart file written") || strings.Contains(remove, " start ") {
		t.Errorf("remove would start something again:\n%s", remove)
	}
}
