//go:build linux

// Package deploy_test checks what deploy/ ships: install.sh run into throwaway roots, and
// the two systemd units through systemd-analyze (verify, and security --offline, which
// must rate each 2.0 or lower). The folder holds no Go package; this test is its only Go.
package deploy_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const fakeBinary = "#!/bin/sh\necho 'hosho-intake fake'\n"

// install runs install.sh --root root with args and returns its output; it must succeed.
func install(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := runInstall(t, root, args...)
	if err != nil {
		t.Fatalf("install.sh --root %s %s: %v\n%s", root, strings.Join(args, " "), err, out)
	}
	return out
}

func runInstall(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	// sh, not bash: the script must run under Debian's dash as well.
	cmd := exec.CommandContext(t.Context(), "sh", append([]string{"install.sh", "--root", root}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// newRoot makes a throwaway root; withUsers gives it an etc/passwd and etc/group, so that
// install.sh creates the user in it (as root).
func newRoot(t *testing.T, withUsers bool) string {
	t.Helper()
	root := t.TempDir()
	if withUsers {
		writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n", 0o644)
		writeFile(t, filepath.Join(root, "etc/group"), "root:x:0:\n", 0o644)
	}
	return root
}

func stub(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hosho-intake")
	writeFile(t, p, fakeBinary, 0o755)
	return p
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantFile checks a file's (or directory's) mode, content (when content is not nil) and,
// when gid >= 0, that it is owned by root and the group gid.
func wantFile(t *testing.T, path string, mode fs.FileMode, content *string, gid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if got := fi.Mode().Perm(); got != mode {
		t.Errorf("%s: mode %#o, want %#o", path, got, mode)
	}
	if content != nil {
		if got := readFile(t, path); got != *content {
			t.Errorf("%s: content differs from what was installed (%d bytes, want %d)", path, len(got), len(*content))
		}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && gid >= 0 {
		if st.Uid != 0 || int(st.Gid) != gid {
			t.Errorf("%s: owner %d:%d, want 0:%d", path, st.Uid, st.Gid, gid)
		}
	}
}

func ptr(s string) *string { return &s }

// groupID is the gid of the group hosho-intake in root's etc/group, or -1.
func groupID(t *testing.T, root string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc/group"))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == "hosho-intake" {
			n, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatalf("etc/group: %q", line)
			}
			return n
		}
	}
	return -1
}

func TestInstall(t *testing.T) {
	asRoot := os.Geteuid() == 0
	root := newRoot(t, true)
	bin := stub(t)
	out := install(t, root, "--binary", bin)

	// The user and group, when we may create them.
	gid := -1
	rootGID := -1
	if asRoot {
		gid = groupID(t, root)
		rootGID = 0
		if gid < 0 {
			t.Fatalf("no group hosho-intake in %s/etc/group after install:\n%s", root, out)
		}
		passwd := readFile(t, filepath.Join(root, "etc/passwd"))
		if !regexp.MustCompile(`(?m)^hosho-intake:[^:]*:\d+:` + strconv.Itoa(gid) + `:[^:]*:/var/lib/hosho-intake:/usr/sbin/nologin$`).MatchString(passwd) {
			t.Errorf("etc/passwd has no system user hosho-intake in group %d with nologin:\n%s", gid, passwd)
		}
	} else if !strings.Contains(out, "not creating the user") {
		t.Errorf("install as an ordinary user does not say it skipped the user:\n%s", out)
	}

	example := readFile(t, "config.example.toml")
	wantFile(t, filepath.Join(root, "usr/local/bin/hosho-intake"), 0o755, ptr(fakeBinary), rootGID)
	for _, unit := range allUnits {
		wantFile(t, filepath.Join(root, "etc/systemd/system", unit), 0o644, ptr(readFile(t, unit)), rootGID)
	}
	etc := filepath.Join(root, "etc/hosho-intake")
	wantFile(t, etc, 0o750, nil, gid)
	wantFile(t, filepath.Join(etc, "config.toml"), 0o640, &example, gid)
	for _, s := range []string{"imap-password", "smtp-password"} {
		wantFile(t, filepath.Join(etc, s), 0o600, ptr(""), rootGID)
	}
	if _, err := os.Stat(filepath.Join(etc, "config.toml.example-new")); err == nil {
		t.Errorf("a first install wrote config.toml.example-new")
	}
	for _, want := range []string{
		"1. Edit /etc/hosho-intake/config.toml",
		"/etc/hosho-intake/imap-password",
		"2. ",
		"hosho-intake check --connect --config /etc/hosho-intake/config.toml",
		"3. ",
		"systemctl enable --now hosho-intake",
		"hosho-intake status",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}

	// A second install (an upgrade) keeps what the admin wrote and says where the new
	// example went; a third does the same again.
	edited := strings.Replace(example, `name = "島根県 土木部 技術管理課"`, `name = "鳥取県 県土整備部"`, 1)
	writeFile(t, filepath.Join(etc, "config.toml"), edited, 0o640)
	writeFile(t, filepath.Join(etc, "imap-password"), "s3cret\n", 0o600)
	newBin := stub(t)
	writeFile(t, newBin, fakeBinary+"# v2\n", 0o755)
	for range 2 {
		out = install(t, root, "--binary", newBin)
		if got := readFile(t, filepath.Join(etc, "config.toml")); got != edited {
			t.Fatalf("a second install changed the edited config.toml")
		}
		if got := readFile(t, filepath.Join(etc, "imap-password")); got != "s3cret\n" {
			t.Errorf("a second install changed imap-password to %q", got)
		}
		wantFile(t, filepath.Join(etc, "config.toml.example-new"), 0o640, &example, gid)
		if !strings.Contains(out, "kept the existing") || !strings.Contains(out, "config.toml.example-new") {
			t.Errorf("a second install does not say it kept the config:\n%s", out)
		}
		wantFile(t, filepath.Join(root, "usr/local/bin/hosho-intake"), 0o755, ptr(fakeBinary+"# v2\n"), rootGID)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "*/*/*/*.install-tmp"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// --uninstall keeps the config and the state; an enabled instance's link goes too.
	state := filepath.Join(root, "var/lib/hosho-intake/state.db")
	writeFile(t, state, "state", 0o600)
	for _, u := range []string{"multi-user.target.wants/hosho-intake.service", "multi-user.target.wants/hosho-intake@keiyaku.service",
		"timers.target.wants/hosho-intake-backup.timer", "timers.target.wants/hosho-intake-backup@keiyaku.timer"} {
		link := filepath.Join(root, "etc/systemd/system", u)
		os.MkdirAll(filepath.Dir(link), 0o755)
		if err := os.Symlink("/etc/systemd/system/"+strings.Replace(filepath.Base(u), "keiyaku", "", 1), link); err != nil {
			t.Fatal(err)
		}
	}
	out = install(t, root, "--uninstall")
	for _, gone := range []string{
		"usr/local/bin/hosho-intake",
		"etc/systemd/system/hosho-intake.service",
		"etc/systemd/system/hosho-intake@.service",
		"etc/systemd/system/multi-user.target.wants/hosho-intake.service",
		"etc/systemd/system/multi-user.target.wants/hosho-intake@keiyaku.service",
		"etc/systemd/system/hosho-intake-backup@.service",
		"etc/systemd/system/hosho-intake-backup@.timer",
		"etc/systemd/system/timers.target.wants/hosho-intake-backup.timer",
		"etc/systemd/system/timers.target.wants/hosho-intake-backup@keiyaku.timer",
	} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("--uninstall left %s", gone)
		}
	}
	for _, kept := range []string{"etc/hosho-intake/config.toml", "etc/hosho-intake/imap-password", "var/lib/hosho-intake/state.db"} {
		if _, err := os.Stat(filepath.Join(root, kept)); err != nil {
			t.Errorf("--uninstall removed %s: %v", kept, err)
		}
	}
	if !strings.Contains(out, "--purge") {
		t.Errorf("--uninstall does not mention --purge:\n%s", out)
	}

	// --purge takes the config, the state and the user.
	install(t, root, "--uninstall", "--purge")
	for _, gone := range []string{"etc/hosho-intake", "var/lib/hosho-intake"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("--purge left %s", gone)
		}
	}
	if asRoot {
		if strings.Contains(readFile(t, filepath.Join(root, "etc/passwd")), "hosho-intake:") || groupID(t, root) >= 0 {
			t.Errorf("--purge left the user or group hosho-intake")
		}
	}
}

// A root without etc/passwd (an image being assembled): the files go in, the user is
// skipped with a note.
func TestInstallRootWithoutUsers(t *testing.T) {
	root := newRoot(t, false)
	out := install(t, root, "--binary", stub(t))
	if !strings.Contains(out, "not creating the user hosho-intake") {
		t.Errorf("output does not say the user was skipped:\n%s", out)
	}
	for _, p := range []string{"usr/local/bin/hosho-intake", "etc/hosho-intake/config.toml", "etc/systemd/system/hosho-intake.service"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "etc/passwd")); err == nil {
		t.Errorf("install created etc/passwd")
	}
}

func TestInstallRefusesBadInput(t *testing.T) {
	root := newRoot(t, false)
	notExec := filepath.Join(t.TempDir(), "hosho-intake")
	writeFile(t, notExec, "data", 0o644)
	for _, args := range [][]string{
		{"--binary", notExec},
		{"--binary", filepath.Join(t.TempDir(), "missing")},
		{"--frobnicate"},
	} {
		if out, err := runInstall(t, root, args...); err == nil {
			t.Errorf("install.sh %v succeeded:\n%s", args, out)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/bin/hosho-intake")); err == nil {
		t.Errorf("a refused install left a binary")
	}
}

// Without --binary, install.sh builds the binary from the checkout with the version set.
func TestInstallBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go in PATH")
	}
	root := newRoot(t, false)
	install(t, root)
	out, err := exec.CommandContext(t.Context(), filepath.Join(root, "usr/local/bin/hosho-intake"), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("installed binary: version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "hosho-intake ") {
		t.Errorf("version = %q", out)
	}
	t.Logf("installed binary says %q", strings.TrimSpace(string(out)))
}

// directive is one Key=Value line of a unit file.
type directive struct{ section, key, value string }

func parseUnit(t *testing.T, path string) []directive {
	t.Helper()
	var ds []directive
	section := ""
	for line := range strings.SplitSeq(readFile(t, path), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not Key=Value: %q", path, line)
			}
			ds = append(ds, directive{section, k, v})
		}
	}
	return ds
}

// The contract the daemon and install.sh rely on, stated once more so that an edit that
// drops a line fails here and not on a server.
func TestUnitDirectives(t *testing.T) {
	common := []string{
		"Type=notify", "NotifyAccess=main", "ExecReload=/bin/kill -HUP $MAINPID",
		"WatchdogSec=5min", "Restart=on-failure", "TimeoutStopSec=20s",
		"User=hosho-intake", "Group=hosho-intake", "UMask=0077",
		"ConfigurationDirectory=hosho-intake", "ConfigurationDirectoryMode=0750",
		"StateDirectoryMode=0700", "RuntimeDirectoryMode=0750",
		"ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
		"NoNewPrivileges=yes", "CapabilityBoundingSet=", "AmbientCapabilities=",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallArchitectures=native",
		"MemoryDenyWriteExecute=yes", "LockPersonality=yes", "RestrictRealtime=yes",
		"RestrictSUIDSGID=yes", "RestrictNamespaces=yes", "ProtectKernelTunables=yes",
		"ProtectKernelModules=yes", "ProtectKernelLogs=yes", "ProtectControlGroups=yes",
		"ProtectClock=yes", "ProtectHostname=yes", "ProtectProc=invisible", "ProcSubset=pid",
		"RemoveIPC=yes", "PrivateUsers=yes", "DevicePolicy=closed", "KeyringMode=private",
		"SystemCallErrorNumber=EPERM",
	}
	units := map[string][]string{
		"hosho-intake.service": {
			"ExecStart=/usr/local/bin/hosho-intake run --config /etc/hosho-intake/config.toml",
			"StateDirectory=hosho-intake", "RuntimeDirectory=hosho-intake",
			"LoadCredential=imap-password:/etc/hosho-intake/imap-password",
			"LoadCredential=smtp-password:/etc/hosho-intake/smtp-password",
		},
		"hosho-intake@.service": {
			"ExecStart=/usr/local/bin/hosho-intake run --config /etc/hosho-intake/%i.toml",
			"StateDirectory=hosho-intake/%i", "RuntimeDirectory=hosho-intake/%i",
			"LoadCredential=imap-password:/etc/hosho-intake/%i/imap-password",
			"LoadCredential=smtp-password:/etc/hosho-intake/%i/smtp-password",
		},
	}
	service := map[string][]string{}
	for unit, own := range units {
		var lines []string
		for _, d := range parseUnit(t, unit) {
			if d.section == "Service" {
				lines = append(lines, d.key+"="+d.value)
			}
		}
		service[unit] = lines
		for _, want := range append(slices.Clone(common), own...) {
			if !slices.Contains(lines, want) {
				t.Errorf("%s: no %s", unit, want)
			}
		}
		// The PDF readers' memory limit is prlimit64(RLIMIT_DATA): after @resources is
		// denied, prlimit64 must be allowed again, later in the file (filters apply in order).
		deny := slices.Index(lines, "SystemCallFilter=~@privileged @resources")
		allow := slices.Index(lines, "SystemCallFilter=prlimit64")
		base := slices.Index(lines, "SystemCallFilter=@system-service")
		if base < 0 || deny < base || allow < deny {
			t.Errorf("%s: want SystemCallFilter=@system-service, then ~@privileged @resources, then prlimit64", unit)
		}
	}
	// Apart from the lines that name the instance, the template is the single unit.
	perInstance := func(l string) bool {
		for _, k := range []string{"ExecStart=", "StateDirectory=", "RuntimeDirectory=", "WorkingDirectory=", "LoadCredential="} {
			if strings.HasPrefix(l, k) {
				return true
			}
		}
		return false
	}
	a := slices.DeleteFunc(slices.Clone(service["hosho-intake.service"]), perInstance)
	b := slices.DeleteFunc(slices.Clone(service["hosho-intake@.service"]), perInstance)
	if !slices.Equal(a, b) {
		t.Errorf("[Service] of hosho-intake.service and hosho-intake@.service differ beyond the per-instance lines:\n%s\n----\n%s",
			strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// allUnits are the unit files deploy/ ships, as install.sh and the .deb install them.
var allUnits = []string{"hosho-intake.service", "hosho-intake@.service", "hosho-intake-backup.service", "hosho-intake-backup.timer",
	"hosho-intake-backup@.service", "hosho-intake-backup@.timer"}

// TestBackupTemplate: the instances' backup unit is the single one's with the instance's
// paths: the same hardening and schedule, and every path that names the single unit's
// config, socket, state or backups names the instance's instead.
func TestBackupTemplate(t *testing.T) {
	lines := func(unit, section string) []string {
		var l []string
		for _, d := range parseUnit(t, unit) {
			if d.section == section {
				l = append(l, d.key+"="+d.value)
			}
		}
		return l
	}
	single, template := lines("hosho-intake-backup.service", "Service"), lines("hosho-intake-backup@.service", "Service")
	perInstance := map[string]string{
		"Environment=RUNTIME_DIRECTORY=/run/hosho-intake":                                                                              "Environment=RUNTIME_DIRECTORY=/run/hosho-intake/%i",
		"ExecStartPre=+/usr/bin/install -d -m 0700 -o hosho-intake -g hosho-intake /var/backups/hosho-intake":                          "ExecStartPre=+/usr/bin/install -d -m 0700 -o hosho-intake -g hosho-intake /var/backups/hosho-intake /var/backups/hosho-intake/%i",
		"ExecStart=/usr/local/bin/hosho-intake backup --config /etc/hosho-intake/config.toml --to /var/backups/hosho-intake --keep 14": "ExecStart=/usr/local/bin/hosho-intake backup --config /etc/hosho-intake/%i.toml --to /var/backups/hosho-intake/%i --keep 14",
		"ReadWritePaths=/var/lib/hosho-intake /var/backups/hosho-intake":                                                               "ReadWritePaths=/var/lib/hosho-intake/%i /var/backups/hosho-intake/%i",
	}
	want := make([]string, len(single))
	for i, l := range single {
		want[i] = l
		if inst, ok := perInstance[l]; ok {
			want[i] = inst
			delete(perInstance, l)
		}
	}
	if len(perInstance) > 0 {
		t.Errorf("hosho-intake-backup.service lacks %v", perInstance)
	}
	if !slices.Equal(template, want) {
		t.Errorf("[Service] of hosho-intake-backup@.service:\n%s\nwant:\n%s", strings.Join(template, "\n"), strings.Join(want, "\n"))
	}
	if u := lines("hosho-intake-backup@.service", "Unit"); !slices.Contains(u, "After=hosho-intake@%i.service") {
		t.Errorf("hosho-intake-backup@.service [Unit] = %v, want After=hosho-intake@%%i.service", u)
	}
	if a, b := lines("hosho-intake-backup.timer", "Timer"), lines("hosho-intake-backup@.timer", "Timer"); !slices.Equal(a, b) || len(a) == 0 {
		t.Errorf("[Timer] of the two backup timers differ: %v, %v", a, b)
	}
}

// systemdAnalyze finds systemd-analyze: CI must have it, a developer's machine may not.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze not found (apt-get install systemd); CI must check the units")
		}
		t.Skip("systemd-analyze not found")
	}
	return p
}

// unitRoot installs into a throwaway root and adds what systemd-analyze verify looks for
// there: the host's unit files (the targets the units order against) and /bin/kill of
// ExecReload=. verify --root checks ExecStart= against the root's /usr/local/bin, so the
// units are verified as install.sh puts them, with no edited copy.
func unitRoot(t *testing.T) string {
	t.Helper()
	root := newRoot(t, false)
	install(t, root, "--binary", stub(t))
	addVerifyTools(t, root)
	return root
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("copying %s: %v", from, err)
	}
}

func TestUnitsVerify(t *testing.T) {
	sa := systemdAnalyze(t)
	root := unitRoot(t)
	verify := func(unit string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), sa, "verify", "--root="+root, unit)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil {
			return out.String() + "\nexit: " + err.Error()
		}
		return out.String()
	}
	// verify prints warnings (an unknown key, a bad value) and still exits 0: any line about
	// our units fails. Lines about the host's own units are logged only.
	for _, unit := range []string{"hosho-intake.service", "hosho-intake@keiyaku.service", "hosho-intake-backup.service", "hosho-intake-backup.timer",
		"hosho-intake-backup@keiyaku.service", "hosho-intake-backup@keiyaku.timer"} {
		out := verify(unit)
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			switch {
			case line == "":
			case strings.Contains(line, "hosho-intake") || strings.HasPrefix(line, "exit:"):
				t.Errorf("systemd-analyze verify %s: %s", unit, line)
			default:
				t.Logf("systemd-analyze verify %s (not ours): %s", unit, line)
			}
		}
	}
	// The check itself: a unit with a typo and a missing binary must be reported.
	writeFile(t, filepath.Join(root, "etc/systemd/system/hosho-intake-typo.service"),
		"[Service]\nExecStart=/usr/local/bin/hosho-intake-missing run\nProtectSystem=strict\nProtectHomes=yes\n", 0o644)
	out := verify("hosho-intake-typo.service")
	if !strings.Contains(out, "ProtectHomes") || !strings.Contains(out, "hosho-intake-missing") {
		t.Errorf("systemd-analyze verify missed a typo and a missing binary:\n%s", out)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for (\S+): (\d+\.\d+)`)

func TestUnitsSecurity(t *testing.T) {
	sa := systemdAnalyze(t)
	root := unitRoot(t)
	for _, unit := range []string{"hosho-intake.service", "hosho-intake@keiyaku.service", "hosho-intake-backup.service", "hosho-intake-backup@keiyaku.service"} {
		out, err := exec.CommandContext(t.Context(), sa, "security", "--offline=yes", "--root="+root, "--no-pager", unit).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", unit, err, out)
			continue
		}
		m := exposureRE.FindSubmatch(out)
		if m == nil {
			t.Errorf("systemd-analyze security %s: no overall exposure level in:\n%s", unit, out)
			continue
		}
		level, _ := strconv.ParseFloat(string(m[2]), 64)
		t.Logf("%s: exposure %.1f", unit, level)
		if level > 2.0 {
			t.Errorf("%s: exposure level %.1f, want 2.0 or lower:\n%s", unit, level, out)
		}
	}
}
