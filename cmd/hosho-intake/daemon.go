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
	"strconv"
	"time"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/control"
	"hosho-intake/intake/daemon"
	"hosho-intake/verifier"
)

// loadConfig reads --config, printing every error; ok is false when the command must stop.
func loadConfig(e env, name string) (cfg *config.Config, code int, ok bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "/etc/hosho-intake/config.toml", "config file")
	if err := fs.Parse(e.args); err != nil {
		return nil, 2, false
	}
	cfg, err := config.Load(*path, config.LoadOptions{Getenv: e.getenv, KnownPresets: verifier.PresetNames()})
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return nil, 1, false
	}
	return cfg, 0, true
}

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

// clientSocket finds the running daemon's socket for the client commands.
func clientSocket(e env, fs *flag.FlagSet, args []string) (string, []string, error) {
	sock := fs.String("socket", "", "the daemon's control socket (default: from --instance or --config)")
	instance := fs.String("instance", "", "the hosho-intake@NAME instance to ask")
	path := fs.String("config", "/etc/hosho-intake/config.toml", "config file")
	if err := fs.Parse(args); err != nil {
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
	cfg, err := config.Load(*path, config.LoadOptions{Getenv: e.getenv, KnownPresets: verifier.PresetNames()})
	if err != nil {
		return "", nil, err
	}
	return daemon.SocketPath(e.getenv, cfg), fs.Args(), nil
}

// runDir is the units' RuntimeDirectory=hosho-intake.
const runDir = "/run/hosho-intake"

func runStatus(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	sock, _, err := clientSocket(e, fs, e.args)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitCode(2)
	}
	var r daemon.Report
	if err := control.Call(ctx, sock, "status", nil, &r); err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake status: %v\n", err)
		return exitCode(1)
	}
	if *asJSON {
		json.NewEncoder(e.stdout).Encode(r)
		return nil
	}
	fmt.Fprintf(e.stdout, "hosho-intake %s, running since %s\n", r.Version, r.Since.Format(time.DateTime))
	l := r.Intake.Last
	if l.Start.IsZero() {
		fmt.Fprintln(e.stdout, "last poll: none yet")
	} else {
		fmt.Fprintf(e.stdout, "last poll: %s, %v: new %d, recorded %d, moved %d\n", l.Start.Format(time.DateTime), l.Duration.Round(time.Millisecond), l.New, l.Recorded, l.Moved)
	}
	fmt.Fprintf(e.stdout, "next poll: %s\n", r.NextPoll.Format("2006-01-02 15:04:05 -07:00"))
	fmt.Fprintf(e.stdout, "queue: %d queued, %d needs review, %d verified, %d rejected\n", r.Queue["queued"], r.Queue["needs_review"], r.Queue["verified"], r.Queue["rejected"])
	fmt.Fprintf(e.stdout, "outbox: %v waiting, %v sent, %v failed, %v bounced\n", r.Outbox["pending"], r.Outbox["sent"], r.Outbox["failed"], r.Outbox["bounced"])
	if r.LastError != "" {
		fmt.Fprintf(e.stdout, "last error: %s (%d failed polls in a row)\n", r.LastError, r.Intake.Failures)
	}
	if r.Intake.Warning != "" {
		fmt.Fprintf(e.stdout, "warning: %s\n", r.Intake.Warning)
	}
	if r.Intake.Stalled != "" {
		fmt.Fprintf(e.stdout, "UNHEALTHY: polling makes no progress: %s\n", r.Intake.Stalled)
	}
	fmt.Fprintf(e.stdout, "trust: %s\n", r.Trust)
	return nil
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
		if errors.Is(err, control.ErrNoDaemon) {
			fmt.Fprintf(e.stderr, "hosho-intake reprocess: %v: start the daemon (systemctl start hosho-intake)\n", err)
		} else {
			fmt.Fprintf(e.stderr, "hosho-intake reprocess: %v\n", err)
		}
		return exitCode(1)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(r)
	return nil
}
