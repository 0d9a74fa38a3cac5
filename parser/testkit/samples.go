// Package testkit is for tests only: the helpers that the tests of several packages share,
// the sample corpus finder and small fault proxies. No production code imports it. It lives
// under parser because parser is the lowest room: the tests of every package (parser,
// verifier, intake, cmd) import it without an arrow running up the house, and it imports
// nothing of ours.
package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// SamplesPath is the shared sample corpus, joined with sub: $HOSHO_SAMPLES, or else
// ../shared/samples beside the module's root. The corpus is read in place, never copied
// into the repository. The path may not exist; for tests that need the corpus, Samples.
func SamplesPath(sub ...string) string {
	dir := os.Getenv("HOSHO_SAMPLES")
	if dir == "" {
		dir = filepath.Join(moduleRoot(), "..", "shared", "samples")
	}
	return filepath.Join(append([]string{dir}, sub...)...)
}

// Samples is SamplesPath for a test that needs the corpus. When it is missing the test is
// skipped, but fails under CI=true: there a corpus test that skips proves nothing.
func Samples(t testing.TB, sub ...string) string {
	t.Helper()
	dir := SamplesPath(sub...)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sample corpus not found at %s (CI=true; set HOSHO_SAMPLES): %v", dir, err)
		}
		t.Skipf("sample corpus not found at %s (set HOSHO_SAMPLES): %v", dir, err)
	}
	return dir
}

// moduleRoot is the nearest directory above the working directory (a test's package) that
// holds go.mod; "." when there is none.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}
