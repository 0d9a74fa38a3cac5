package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/control"
	"hosho-intake/intake/daemon"
	"hosho-intake/verifier"
)

// daemonOptions reads --config for the commands that run the daemon's assembly.
func daemonOptions(e env, name string) (daemon.Options, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "/etc/hosho-intake/config.toml", "config file")
	if err := fs.Parse(e.args); err != nil {
		return daemon.Options{}, exitCode(2)
	}
	cmd, err := pdfWorkerCommand()
	if err != nil {
		return daemon.Options{}, err
	}
	return daemon.Options{ConfigPath: *path, Getenv: e.getenv, Logs: e.stderr, Reload: e.reload, WorkerCommand: cmd, Version: version}, nil
}

// newService opens the service of cfg, for the demo.
func newService(_ env, cfg *config.Config, log *slog.Logger) (*intake.Service, error) {
	cmd, err := pdfWorkerCommand()
	if err != nil {
		return nil, err
	}
	return daemon.NewService(daemon.Options{WorkerCommand: cmd}, cfg, log)
}

// runOnce does one poll and exits: 0 when the poll succeeded.
func runOnce(ctx context.Context, e env) error {
	o, err := daemonOptions(e, "once")
	if err != nil {
		return err
	}
	r, err := daemon.Once(ctx, o)
	if err != nil {
		return err
	}
	res, sent := r.Poll, r.Sent
	fmt.Fprintf(e.stdout, "new %d, recorded %d, duplicates %d, moved %d, repaired %d, notices %d, in %v; replies sent %d, deferred %d, failed %d\n",
		res.New, res.Recorded, res.Duplicates, res.Moved, res.Repaired, res.Notices, res.Duration.Round(time.Millisecond),
		sent.Sent, sent.Deferred, sent.Failed)
	return nil
}

// runDigest sends the clerks' digest now: through the running daemon, or by itself when
// none runs.
func runDigest(ctx context.Context, e env) error {
	o, err := daemonOptions(e, "digest")
	if err != nil {
		return err
	}
	d, err := daemon.Digest(ctx, o)
	if err != nil {
		return err
	}
	if !d.Sent {
		fmt.Fprintln(e.stdout, "nothing to report: no digest sent")
		return nil
	}
	fmt.Fprintf(e.stdout, "digest sent: %s\n", d.Subject)
	return nil
}

// runDaemon polls on schedule until SIGTERM; SIGHUP reloads the config (daemon.Run).
func runDaemon(ctx context.Context, e env) error {
	o, err := daemonOptions(e, "run")
	if err != nil {
		return err
	}
	return daemon.Run(ctx, o)
}

// clientSocket finds the running daemon's socket for the client commands, from --socket,
// --instance or --config written anywhere on the line: before the subcommand (queue
// --config X list) or after it (queue list --config X), as people type them.
func clientSocket(e env, fs *flag.FlagSet, args []string) (string, []string, error) {
	sock := fs.String("socket", "", "the daemon's control socket (default: from --instance or --config)")
	instance := fs.String("instance", "", "the hosho-intake@NAME instance to ask")
	path := fs.String("config", "/etc/hosho-intake/config.toml", "config file")
	if err := fs.Parse(leadingFlags(args, "socket", "instance", "config")); err != nil {
		return "", nil, err
	}
	switch {
	case *sock != "":
		return *sock, fs.Args(), nil
	case *instance != "":
		// hosho-intake@NAME.service has RuntimeDirectory=hosho-intake/NAME.
		return filepath.Join(runDir, filepath.Base(*instance), "control.sock"), fs.Args(), nil
	}
	if _, err := os.Stat(filepath.Join(runDir, "control.sock")); err == nil {
		return filepath.Join(runDir, "control.sock"), fs.Args(), nil
	}
	// Only the state directory is wanted: the service's own secrets are not needed here.
	cfg, err := config.Load(*path, config.LoadOptions{Getenv: e.getenv, KnownPresets: verifier.PresetNames(),
		DeferCredentials: e.getenv("CREDENTIALS_DIRECTORY") == ""})
	if err != nil {
		return "", nil, err
	}
	return daemon.SocketPath(e.getenv, cfg), fs.Args(), nil
}

// leadingFlags moves the flags named (with their values: --name V, --name=V, -name V)
// to the front of args, keeping the order of everything else, so that a FlagSet that
// stops at the first non-flag still sees them.
func leadingFlags(args []string, names ...string) []string {
	var front, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !slices.Contains(names, name) {
			rest = append(rest, a)
			continue
		}
		front = append(front, a)
		if !hasValue && i+1 < len(args) {
			i++
			front = append(front, args[i])
		}
	}
	return append(front, rest...)
}

// runDir is the units' RuntimeDirectory=hosho-intake.
const runDir = "/run/hosho-intake"

func runStatus(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "print JSON (the schema is in the README)")
	sock, _, err := clientSocket(e, fs, e.args)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitCode(2)
	}
	var r daemon.Report
	if err := control.Call(ctx, sock, "status", nil, &r); err != nil {
		return socketTrouble(err, sock)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		enc.Encode(r)
		return nil
	}
	const when = "2006-01-02 15:04:05 MST"
	fmt.Fprintf(e.stdout, "hosho-intake %s, running since %s\n", r.Version, r.RunningSince.In(daemon.Tokyo).Format(when))
	switch l := r.LastPoll; {
	case l == nil:
		fmt.Fprintln(e.stdout, "last poll: none yet")
	case l.Failed:
		fmt.Fprintf(e.stdout, "last poll: %s FAILED (%d in a row): %s\n", l.Start.In(daemon.Tokyo).Format(when), r.Failures, r.LastError)
		if r.LastOK != nil {
			fmt.Fprintf(e.stdout, "last good poll: %s\n", r.LastOK.In(daemon.Tokyo).Format(when))
		}
	default:
		fmt.Fprintf(e.stdout, "last poll: %s, %.1fs: new %d, recorded %d, moved %d\n", l.Start.In(daemon.Tokyo).Format(when),
			l.DurationSeconds, l.New, l.Recorded, l.Moved)
	}
	fmt.Fprintf(e.stdout, "next poll: %s\n", r.NextPoll.In(daemon.Tokyo).Format(when))
	fmt.Fprintf(e.stdout, "queue: %d queued, %d needs review, %d verified, %d rejected\n", r.Queue["queued"], r.Queue["needs_review"], r.Queue["verified"], r.Queue["rejected"])
	fmt.Fprintf(e.stdout, "outbox: %d waiting, %d sent, %d failed, %d bounced\n", r.Outbox.Pending, r.Outbox.Sent, r.Outbox.Failed, r.Outbox.Bounced)
	if r.LastError != "" && (r.LastPoll == nil || !r.LastPoll.Failed) {
		fmt.Fprintf(e.stdout, "last error: %s (%d failed polls in a row)\n", r.LastError, r.Failures)
	}
	if r.Warning != "" {
		fmt.Fprintf(e.stdout, "warning: %s\n", r.Warning)
	}
	if r.Stalled != "" {
		fmt.Fprintf(e.stdout, "UNHEALTHY: polling makes no progress: %s\n", r.Stalled)
	}
	contracts := fmt.Sprintf("%d contracts", r.Register.Contracts)
	if r.Register.Contracts == 1 {
		contracts = "1 contract"
	}
	switch g := r.Register; g.Source {
	case "file":
		fmt.Fprintf(e.stdout, "register: %s from %s", contracts, g.File)
		if g.Shadowed {
			fmt.Fprint(e.stdout, " (changed after the clerks' last import, which it replaces)")
		}
		fmt.Fprintln(e.stdout)
	case "page":
		fmt.Fprintf(e.stdout, "register: %s imported on the clerks' page by %s at %s\n", contracts, g.By, g.At.In(daemon.Tokyo).Format(when))
	default:
		fmt.Fprintln(e.stdout, "register: none")
	}
	fmt.Fprintf(e.stdout, "trust: %s\n", r.Trust)
	return nil
}

// socketTrouble says what a failed call to the daemon's socket means, and what to do.
func socketTrouble(err error, sock string) error {
	switch {
	case errors.Is(err, control.ErrNoDaemon):
		return fmt.Errorf("no daemon answers on %s: start it (sudo systemctl start hosho-intake, or hosho-intake@NAME), "+
			"or name the right one with --instance NAME, --config FILE or --socket PATH", sock)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s: permission denied: the socket is for the service's group; add yourself "+
			"(sudo usermod -aG hosho-intake $USER, then log in again) rather than using sudo, so that what you do is recorded under your name", sock)
	}
	return err
}

func runReprocess(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("reprocess", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	sock, rest, err := clientSocket(e, fs, e.args)
	if err != nil || len(rest) != 1 {
		fmt.Fprintln(e.stderr, "usage: hosho-intake reprocess [--config FILE | --socket PATH] ID")
		return exitCode(2)
	}
	id, err := strconv.ParseUint(rest[0], 10, 64)
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake reprocess: bad ID %q\n", rest[0])
		return exitCode(2)
	}
	var r intake.Reprocessed
	if err := control.Call(ctx, sock, "reprocess", map[string]uint64{"ID": id}, &r); err != nil {
		return socketTrouble(err, sock)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(r)
	return nil
}
