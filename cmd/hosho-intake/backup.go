package main

import (
	"archive/tar"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"hosho-intake/intake/daemon"
)

// backupPrefix names the dated backups `backup --to DIR` writes and `--keep` prunes.
const backupPrefix = "hosho-intake-"

// runBackup: `backup --config FILE --to PATH [--keep N]`. PATH is the archive to write; an
// existing directory gets a dated one (hosho-intake-20261207-0300.tar), of which --keep
// keeps the newest N. The archive is written beside its name and renamed when it is whole.
func runBackup(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "/etc/hosho-intake/config.toml", "config file")
	to := fs.String("to", "", "the backup file, or an existing directory for dated backups")
	keep := fs.Int("keep", 0, "with a directory: keep the newest N dated backups (0: all)")
	if err := fs.Parse(e.args); err != nil || *to == "" {
		fmt.Fprintln(e.stderr, "usage: hosho-intake backup --config FILE --to PATH [--keep N]")
		return exitCode(2)
	}
	target := *to
	dir := ""
	if fi, err := os.Stat(target); err == nil && fi.IsDir() {
		dir = target
		target = filepath.Join(dir, backupPrefix+time.Now().Format("20060102-150405")+".tar")
	}
	tmp := target + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after the rename, nothing
	o := daemon.Options{ConfigPath: *path, Getenv: e.getenv, Logs: e.stderr}
	err = daemon.Backup(ctx, o, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = wholeTar(tmp) // a stream cut off half-way must not pass for a backup
	}
	if err == nil {
		err = os.Rename(tmp, target)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(e.stdout, "backup written: %s\n", target)
	if dir != "" && *keep > 0 {
		return pruneBackups(dir, *keep, e)
	}
	return nil
}

// wholeTar reads the archive to its end.
func wholeTar(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	n := 0
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return errors.New("the backup is empty")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("the backup is not whole: %w", err)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return fmt.Errorf("the backup is not whole: %w", err)
		}
		n++
	}
}

func pruneBackups(dir string, keep int, e env) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, de := range des {
		if n := de.Name(); strings.HasPrefix(n, backupPrefix) && strings.HasSuffix(n, ".tar") {
			names = append(names, n)
		}
	}
	slices.Sort(names) // dated names sort by time
	for len(names) > keep {
		if err := os.Remove(filepath.Join(dir, names[0])); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "old backup removed: %s\n", names[0])
		names = names[1:]
	}
	return nil
}

// runRestore: `restore --config FILE --from PATH` into the config's empty state directory.
func runRestore(_ context.Context, e env) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "/etc/hosho-intake/config.toml", "config file")
	from := fs.String("from", "", "the backup file")
	if err := fs.Parse(e.args); err != nil || *from == "" {
		fmt.Fprintln(e.stderr, "usage: hosho-intake restore --config FILE --from PATH")
		return exitCode(2)
	}
	f, err := os.Open(*from)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := daemon.Restore(daemon.Options{ConfigPath: *path, Getenv: e.getenv, Logs: e.stderr}, f)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(e.stdout, "restored the backup of %s (%d raw segments, schemas %v)\n", m.Created.In(daemon.Tokyo).Format("2006-01-02 15:04:05 MST"), len(m.Segments), m.Schemas)
	return nil
}
