package ppapzip

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// SevenZip writes files into a 7z archive with the real 7z tool (p7zip-full), args before the
// archive's name (e.g. "-pPASS", "-mhe=on" for the header encrypted as Japanese tools offer
// it), in a fresh directory under dir. The error wraps exec.ErrNotFound when 7z is not
// installed, so that a test can fail under CI=true and skip elsewhere.
func SevenZip(dir string, files map[string][]byte, args ...string) ([]byte, error) {
	bin, err := exec.LookPath("7z")
	if err != nil {
		return nil, fmt.Errorf("7z: %w", err)
	}
	work, err := os.MkdirTemp(dir, "7z")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var names []string
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(work, name), data, 0o600); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names) // the archive's order does not follow the map's
	cmd := exec.Command(bin, append(append(append([]string{"a", "-bd"}, args...), "x.7z"), names...)...)
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("7z: %v\n%s", err, out)
	}
	return os.ReadFile(filepath.Join(work, "x.7z"))
}
