package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const examplePath = "../deploy/config.example.toml"

// TestExampleLoads loads the shipped example with the systemd credentials it names.
func TestExampleLoads(t *testing.T) {
	src, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	writeFile(t, path, string(src), 0o644)
	creds := t.TempDir()
	writeFile(t, filepath.Join(creds, "imap-password"), "imap\n", 0o400)
	writeFile(t, filepath.Join(creds, "smtp-password"), "smtp\n", 0o400)
	c, err := Load(path, LoadOptions{Getenv: func(k string) string {
		if k == "CREDENTIALS_DIRECTORY" {
			return creds
		}
		return ""
	}})
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	if len(c.Warnings) > 0 {
		t.Errorf("the example gives warnings: %v", c.Warnings)
	}
	if c.IMAP.Password.Reveal() != "imap" || c.SMTP.Password.Reveal() != "smtp" {
		t.Errorf("the example's credentials were not read")
	}
	t.Logf("summary:\n%s", c.Summary())
}

// TestExampleDocumentsEveryKey is mox's rule: every key of the Config tree appears in the
// example, set or commented out, in its section, with a comment above it.
func TestExampleDocumentsEveryKey(t *testing.T) {
	src, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	header := regexp.MustCompile(`^\[([a-z0-9_.]+)\]$`)
	keyLine := regexp.MustCompile(`^(?:# )?([a-z0-9_]+) = `)
	documented := map[string]bool{}
	section := ""
	prevComment := false
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if m := header.FindStringSubmatch(line); m != nil {
			section = m[1]
			documented[section] = true
			prevComment = false
			continue
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			key := m[1]
			if section != "" {
				key = section + "." + key
			}
			// A commented-out key follows its own comment; a set key must follow one.
			if prevComment || strings.HasPrefix(line, "#") {
				documented[key] = true
			}
		}
		prevComment = strings.HasPrefix(line, "#")
	}

	var walk func(t reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := tomlName(f)
			if name == "" {
				continue
			}
			key := prefix + name
			if !documented[key] {
				t.Errorf("key %s is not documented in %s", key, examplePath)
			}
			if isSection(f.Type) {
				walk(f.Type, key+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
}

func TestDefaultsAreValid(t *testing.T) {
	d := Default()
	if d.IMAP.Schedule.IsZero() || d.Digest.Schedule.IsZero() {
		t.Fatal("default schedules missing")
	}
	if d.IMAP.MaxMessageSize != 10<<20 {
		t.Errorf("default max_message_size = %v, want 10MiB (DESIGN.md)", d.IMAP.MaxMessageSize)
	}
}
