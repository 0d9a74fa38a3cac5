package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"hosho-intake/config"
)

// This file is `check`'s look at the systemd unit that runs a config: which credentials its
// LoadCredential= lines hand the service, so that check run by hand tells the truth about
// where each secret will come from (or that the service will not start without it).

// defaultUnitDirs is systemd's search path for system units, highest priority first
// (systemd.unit(5), "System Unit Search Path"): where admins, runtime and packages put them.
func defaultUnitDirs() []string {
	return []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}
}

// unitCredential is one LoadCredential= (or LoadCredentialEncrypted=) of a unit.
type unitCredential struct {
	id, path  string
	encrypted bool
}

// serviceUnit is what check knows of the unit that runs a config.
type serviceUnit struct {
	name  string // hosho-intake.service, hosho-intake@keiyaku.service
	files []string
	creds map[string]unitCredential
}

// findServiceUnit finds, among hosho-intake.service and hosho-intake@NAME.service (NAME the
// config's file name without .toml, as hosho-intake@.service reads /etc/hosho-intake/%i.toml),
// the unit whose ExecStart= runs the config at path. Nil when none does.
func findServiceUnit(dirs []string, path string) (*serviceUnit, error) {
	instance := strings.TrimSuffix(filepath.Base(path), ".toml")
	for _, c := range []struct{ file, name, instance string }{
		{"hosho-intake.service", "hosho-intake.service", ""},
		{"hosho-intake@.service", "hosho-intake@" + instance + ".service", instance},
	} {
		u, exec, err := readUnit(dirs, c.file, c.name, c.instance)
		if err != nil {
			return nil, err
		}
		if u != nil && runsConfig(exec, path) {
			return u, nil
		}
	}
	return nil, nil
}

// runsConfig reports whether the ExecStart= command line names path as its --config.
func runsConfig(exec, path string) bool {
	f := strings.Fields(exec)
	for i, a := range f {
		switch {
		case (a == "--config" || a == "-config") && i+1 < len(f) && f[i+1] == path:
			return true
		case a == "--config="+path || a == "-config="+path:
			return true
		}
	}
	return false
}

// readUnit reads the unit file (the first of dirs that has it) and its drop-ins as systemd
// combines them: the drop-in directories of the template and of the instance in every dir,
// applied in file-name order, a file name in an earlier dir hiding the same name in a later
// one; an empty LoadCredential= or LoadCredentialEncrypted= empties the list, and an empty
// ExecStart= resets the command. %i is the instance. Nil when no dir has the unit.
func readUnit(dirs []string, file, name, instance string) (*serviceUnit, string, error) {
	u := &serviceUnit{name: name, creds: map[string]unitCredential{}}
	for _, d := range dirs {
		p := filepath.Join(d, file)
		if _, err := os.Stat(p); err == nil {
			u.files = append(u.files, p)
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("reading the unit %s: %w", p, err)
		}
	}
	if len(u.files) == 0 {
		return nil, "", nil
	}
	dropDirs := []string{file + ".d"}
	if name != file {
		dropDirs = append(dropDirs, name+".d")
	}
	dropins := map[string]string{} // file name -> path, the first dir's
	for _, d := range dirs {
		for _, dd := range dropDirs {
			matches, _ := filepath.Glob(filepath.Join(d, dd, "*.conf"))
			for _, m := range matches {
				if _, ok := dropins[filepath.Base(m)]; !ok {
					dropins[filepath.Base(m)] = m
				}
			}
		}
	}
	names := make([]string, 0, len(dropins))
	for n := range dropins {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		u.files = append(u.files, dropins[n])
	}
	exec := ""
	for _, p := range u.files {
		directives, err := serviceDirectives(p)
		if err != nil {
			return nil, "", err
		}
		for _, kv := range directives {
			v := expandInstance(kv[1], instance)
			switch kv[0] {
			case "ExecStart":
				exec = v
			case "LoadCredential", "LoadCredentialEncrypted":
				if v == "" {
					clear(u.creds)
					continue
				}
				id, path, _ := strings.Cut(v, ":")
				u.creds[id] = unitCredential{id: id, path: path, encrypted: kv[0] == "LoadCredentialEncrypted"}
			}
		}
	}
	return u, exec, nil
}

// serviceDirectives are the Key=Value lines of a unit file's [Service] section, in order,
// continuation lines (a trailing backslash) joined.
func serviceDirectives(path string) ([][2]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the unit %s: %w", path, err)
	}
	defer f.Close()
	var out [][2]string
	section, pending := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending != "" {
			line, pending = pending+" "+line, ""
		}
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		case section == "Service":
			if k, v, ok := strings.Cut(line, "="); ok {
				out = append(out, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the unit %s: %w", path, err)
	}
	return out, nil
}

// expandInstance replaces the specifiers %i and %I with the instance and %% with %
// (systemd.unit(5), "Specifiers"); the shipped units use no others.
func expandInstance(v, instance string) string {
	return strings.NewReplacer("%%", "%", "%i", instance, "%I", instance).Replace(v)
}

// checkCredentials prints, for each secret the config takes from a systemd credential,
// where the service that runs it will get it, and returns how many it will not get: a
// LoadCredential= that is missing, or whose file is missing, stops the service from
// starting (or leaves the config without its secret).
func checkCredentials(e env, cfg *config.Config) int {
	if len(cfg.Credentials) == 0 {
		return 0
	}
	dirs := e.unitDirs
	if dirs == nil {
		dirs = defaultUnitDirs()
	}
	u, err := findServiceUnit(dirs, cfg.File)
	if err != nil {
		fmt.Fprintf(e.stdout, "%-9s %v\n", "unit", err)
		return 0
	}
	if u == nil {
		fmt.Fprintf(e.stdout, "%-9s no installed hosho-intake.service or hosho-intake@NAME.service runs %s: where the service gets its credentials is not checked\n", "unit", cfg.File)
		return 0
	}
	fmt.Fprintf(e.stdout, "%-9s %s (%s)\n", "unit", u.name, strings.Join(u.files, ", "))
	failed := 0
	credDir := e.getenv("CREDENTIALS_DIRECTORY")
	for _, c := range cfg.Credentials {
		lc, ok := u.creds[c.Name]
		if !ok {
			failed++
			fmt.Fprintf(e.stdout, "FAIL credential %s (%s): %s has no LoadCredential=%s: the service would not get it; add LoadCredential=%s:/etc/hosho-intake/%s with systemctl edit %s\n",
				c.Name, c.Key, u.name, c.Name, c.Name, c.Name, strings.TrimSuffix(u.name, ".service"))
			continue
		}
		if lc.path == "" || !filepath.IsAbs(lc.path) {
			fmt.Fprintf(e.stdout, "ok   credential %s (%s): from systemd's credential store (%s=%s:%s), not checked here\n", c.Name, c.Key, directive(lc), lc.id, lc.path)
			continue
		}
		if _, err := os.Stat(lc.path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				failed++
				fmt.Fprintf(e.stdout, "FAIL credential %s (%s): %s=%s:%s, and that file does not exist: systemd would not start the service\n", c.Name, c.Key, directive(lc), lc.id, lc.path)
			} else {
				fmt.Fprintf(e.stdout, "ok   credential %s (%s): %s=%s:%s (%v: run check as root to see the file)\n", c.Name, c.Key, directive(lc), lc.id, lc.path, err)
			}
			continue
		}
		detail := fmt.Sprintf("the service gets it from %s", lc.path)
		switch here := filepath.Join(credDir, c.Name); {
		case lc.encrypted:
			detail += " (encrypted; the secret itself is checked only by the service or check --connect with the plain file)"
		case c.Read && here != lc.path:
			detail += fmt.Sprintf("; read here from %s, another file", here)
		}
		fmt.Fprintf(e.stdout, "ok   credential %s (%s): %s\n", c.Name, c.Key, detail)
	}
	return failed
}

func directive(c unitCredential) string {
	if c.encrypted {
		return "LoadCredentialEncrypted"
	}
	return "LoadCredential"
}
