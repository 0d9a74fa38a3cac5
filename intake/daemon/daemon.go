// Package daemon assembles hosho-intake from its config and runs it: as the long-running
// service (Run: the poll loop, the control socket, metrics and /healthz, systemd's
// READY/RELOADING/STOPPING/WATCHDOG, reloads), and as the one-shot commands that need the
// same assembly (Once, Digest). It touches no flags and no signals: cmd/hosho-intake reads
// those and hands over the config path, the environment and a reload channel in Options.
//
// Goroutines of Run: the service's poll/send/digest loops (intake.Service.Run, replaced on
// each reload), the control socket's server, the metrics server when configured, and the
// watchdog pinger when systemd asks for one, and the clerks' page (intake/web) when [web]
// addr is set (moved, started or stopped by a reload that changes [web]: webFace). All stop
// when ctx ends.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/control"
	"hosho-intake/intake/outbox"
	"hosho-intake/parser/sandbox"
	"hosho-intake/verifier"
)

// Options are what the process hands the daemon.
type Options struct {
	// ConfigPath is the config file, read at start and again on each reload.
	ConfigPath string
	// Getenv reads the environment (systemd's RUNTIME_DIRECTORY, STATE_DIRECTORY,
	// CREDENTIALS_DIRECTORY, JOURNAL_STREAM, ...).
	Getenv func(string) string
	// Logs receives the log lines.
	Logs io.Writer
	// Reload delivers a value for each reload request (SIGHUP); nil: never.
	Reload <-chan os.Signal
	// WorkerCommand starts a PDF reader process (the binary's hidden subcommand).
	WorkerCommand []string
	// Version is reported by status and logged at start.
	Version string
}

// memoryTarget is the daemon's soft heap limit: the garbage collector works harder as the
// heap nears it, rather than letting a big poll's transient garbage double the heap (the
// default GOGC) and stay resident.
const memoryTarget = 24 << 20

// LoadConfig reads and checks the config file.
func LoadConfig(o Options) (*config.Config, error) {
	return config.Load(o.ConfigPath, config.LoadOptions{Getenv: o.Getenv, KnownPresets: verifier.PresetNames()})
}

// loadConfigNoSecrets reads the config for what needs no server: the state directory and
// the socket (backup, restore). The secrets systemd hands the service alone are only noted,
// so these run from a timer unit or an admin's shell without them.
func loadConfigNoSecrets(o Options) (*config.Config, error) {
	return config.Load(o.ConfigPath, config.LoadOptions{Getenv: o.Getenv, KnownPresets: verifier.PresetNames(),
		DeferCredentials: o.Getenv("CREDENTIALS_DIRECTORY") == ""})
}

// Open loads the config and opens the service it describes, with its logger.
func Open(o Options) (*intake.Service, *config.Config, *slog.Logger, error) {
	debug.SetMemoryLimit(memoryTarget)
	cfg, err := LoadConfig(o)
	if err != nil {
		return nil, nil, nil, err
	}
	log := Logger(o.Logs, cfg, o.Getenv)
	svc, err := NewService(o, cfg, log)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("starting: %w", err)
	}
	// What the start touched of the binary (every package's init, the config, the state
	// file's opening) is not run again; the poll's own pages fault back in.
	if _, err := sandbox.ReleaseProgramPages(); err != nil {
		log.Warn("memory", "err", err)
	}
	return svc, cfg, log, nil
}

// NewService opens the service of cfg.
func NewService(o Options, cfg *config.Config, log *slog.Logger) (*intake.Service, error) {
	return intake.NewService(cfg, intake.ServiceOptions{Logger: log, WorkerCommand: o.WorkerCommand})
}

// SocketPath is where the daemon listens: systemd's RuntimeDirectory= when set, else the
// state directory.
func SocketPath(getenv func(string) string, cfg *config.Config) string {
	if d := getenv("RUNTIME_DIRECTORY"); d != "" {
		return filepath.Join(filepath.SplitList(d)[0], "control.sock")
	}
	return filepath.Join(cfg.State.Dir, "control.sock")
}

// OnceResult is what one poll did and the replies it caused.
type OnceResult struct {
	Poll intake.Result
	Sent outbox.Result
}

// Once does one poll and sends the replies it causes. Replies go out while the poll goes
// on, as in the daemon, so that a big mailbox does not pile its replies up in the state
// first. Each pass over the outbox runs to its end: a send cut off half-way would be
// retried only after the backoff.
func Once(ctx context.Context, o Options) (OnceResult, error) {
	svc, _, _, err := Open(o)
	if err != nil {
		return OnceResult{}, err
	}
	defer svc.Close()
	var res OnceResult
	send := func() error {
		r, err := svc.SendNow(ctx)
		res.Sent.Sent, res.Sent.Deferred, res.Sent.Failed = res.Sent.Sent+r.Sent, r.Deferred, res.Sent.Failed+r.Failed
		return err
	}
	polled := make(chan struct{})
	sending := make(chan error, 1)
	go func() {
		for {
			if err := send(); err != nil {
				sending <- err
				return
			}
			select {
			case <-polled:
				sending <- nil
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	res.Poll, err = svc.PollOnce(ctx)
	close(polled)
	if serr := <-sending; serr != nil {
		return res, fmt.Errorf("sending replies: %w", serr)
	}
	// What the poll's last messages caused, also when the poll failed part-way: what it
	// recorded stays recorded, and its replies are due.
	if serr := send(); serr != nil {
		return res, fmt.Errorf("sending replies: %w", serr)
	}
	if err != nil {
		return res, fmt.Errorf("poll failed: %w", err)
	}
	return res, nil
}

// DigestResult is what a digest said.
type DigestResult struct {
	Subject string
	Empty   bool
	Items   int
	// Sent: the digest was sent (it had something to say, or the config sends empty ones).
	Sent bool
}

// Digest sends the clerks' digest now: through the running daemon, or by itself when none
// runs.
func Digest(ctx context.Context, o Options) (DigestResult, error) {
	cfg, err := LoadConfig(o)
	if err != nil {
		return DigestResult{}, err
	}
	var d DigestResult
	err = control.Call(ctx, SocketPath(o.Getenv, cfg), "digest", nil, &d)
	if !errors.Is(err, control.ErrNoDaemon) {
		d.Sent = !d.Empty || cfg.Digest.SendEmpty
		return d, err
	}
	svc, err := NewService(o, cfg, Logger(o.Logs, cfg, o.Getenv))
	if err != nil {
		return d, fmt.Errorf("starting: %w", err)
	}
	defer svc.Close()
	dg, err := svc.SendDigest(time.Now())
	if err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	if _, err := svc.SendNow(ctx); err != nil {
		return d, fmt.Errorf("sending the digest: %w", err)
	}
	return DigestResult{Subject: dg.Subject, Empty: dg.Empty, Items: dg.Items, Sent: !dg.Empty || cfg.Digest.SendEmpty}, nil
}

// Run polls on schedule until ctx ends, answering status, queue, digest and reprocess on
// its socket. A reload reads the config again: a bad one is refused, its errors logged, and
// the running one kept. It returns nil after a clean stop.
func Run(ctx context.Context, o Options) error {
	svc, cfg, log, err := Open(o)
	if err != nil {
		return err
	}
	var current atomic.Pointer[intake.Service]
	current.Store(svc)
	started := time.Now()
	ctl, err := control.Listen(SocketPath(o.Getenv, cfg), handlers(&current, started, o.Version))
	if err != nil {
		svc.Close()
		return fmt.Errorf("starting: %w", err)
	}
	ctlDone := make(chan error, 1)
	go func() { ctlDone <- ctl.Serve(ctx) }()
	stopMetrics := serveMetrics(ctx, cfg, &current, log)
	defer stopMetrics()
	page, err := serveWeb(ctx, cfg, &current, log)
	if err != nil {
		svc.Close()
		return fmt.Errorf("starting: %w", err)
	}
	defer page.close()
	// READY after config and state, not after the IMAP server answers (it may be down).
	daemon.SdNotify(false, daemon.SdNotifyReady)
	go watchdog(ctx, &current, log)
	log.Info("started", "version", o.Version, "mailbox", cfg.IMAP.Mailbox, "schedule", cfg.IMAP.Schedule.Spec, "state", cfg.State.Dir)
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { svc.Run(runCtx); close(done) }()
		select {
		case <-ctx.Done():
		case <-o.Reload:
		}
		if ctx.Err() != nil {
			daemon.SdNotify(false, daemon.SdNotifyStopping)
			log.Info("stopping: finishing the message in hand")
			stop()
			<-done
			break
		}
		next, errs := LoadConfig(o)
		if errs != nil {
			log.Error("reload refused: the running configuration is kept", "errors", errs.Error())
			stop()
			<-done
			continue
		}
		daemon.SdNotify(false, daemon.SdNotifyReloading)
		stop()
		<-done
		svc.Close()
		replacement, err := NewService(o, next, Logger(o.Logs, next, o.Getenv))
		reloaded := err == nil
		if err != nil {
			log.Error("reload failed: restarting with the previous configuration", "err", err)
			if replacement, err = NewService(o, cfg, log); err != nil {
				return fmt.Errorf("cannot restart with the previous configuration either: %w", err)
			}
		} else {
			cfg, log = next, Logger(o.Logs, next, o.Getenv)
		}
		svc = replacement
		current.Store(svc)
		// After the new service is current: the page, started or moved, serves its state.
		if err := page.apply(ctx, cfg.Web); err != nil {
			log.Error("clerks' page: the reloaded [web] settings could not be applied", "err", err, "serving", page.serving())
		}
		if reloaded {
			// Said once all of it is in effect, the page included (tests and admins wait for it).
			log.Info("configuration reloaded", "file", cfg.File)
		}
		daemon.SdNotify(false, daemon.SdNotifyReady)
	}
	page.close() // before the state closes under its handlers
	svc.Close()
	if err := <-ctlDone; err != nil {
		log.Error("control socket", "err", err)
	}
	log.Info("stopped")
	return nil
}

// watchdog tells systemd the daemon is alive, at half the unit's WatchdogSec, only while
// the service answers its health check: a free-running ping would hide a wedged daemon.
func watchdog(ctx context.Context, current *atomic.Pointer[intake.Service], log *slog.Logger) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			svc := current.Load()
			if !svc.Alive(now) {
				log.Error("health check failed: not telling the watchdog")
				continue
			}
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			h := svc.Health(now)
			daemon.SdNotify(false, fmt.Sprintf("STATUS=last poll %s: %d new, %d recorded; %d failures in a row",
				h.Last.Start.Format(time.DateTime), h.Last.New, h.Last.Recorded, h.Failures))
		}
	}
}
