package main

import (
	"net/http"
	"strings"
	"sync/atomic"

	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/control"
	"hosho-intake/intake/outbox"
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

// configPath is the --config argument of a daemon's command line, for reloads.
func configPath(args []string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
		if (a == "--config" || a == "-config") && i+1 < len(args) {
			return args[i+1]
		}
	}
	return "/etc/hosho-intake/config.toml"
}

func newService(e env, cfg *config.Config, log *slog.Logger) (*intake.Service, error) {
	cmd, err := pdfWorkerCommand()
	if err != nil {
		return nil, err
	}
	return intake.NewService(cfg, intake.ServiceOptions{Logger: log, WorkerCommand: cmd})
}

// memoryTarget is the daemon's soft heap limit: the garbage collector works harder as the
// heap nears it, rather than letting a big poll's transient garbage double the heap (the
// default GOGC) and stay resident.
const memoryTarget = 24 << 20

// startService loads --config and opens the service the command name works with; code is
// the exit code when it could not.
func startService(e env, name string) (svc *intake.Service, cfg *config.Config, log *slog.Logger, code int) {
	debug.SetMemoryLimit(memoryTarget)
	cfg, code, ok := loadConfig(e, name)
	if !ok {
		return nil, nil, nil, code
	}
	log = newLogger(e.stderr, cfg, e.getenv)
	svc, err := newService(e, cfg, log)
	if err != nil {
		log.Error("starting", "err", err)
		return nil, nil, nil, 1
	}
	return svc, cfg, log, 0
}

// runOnce does one poll and exits: 0 when the poll succeeded.
func runOnce(ctx context.Context, e env) int {
	svc, _, log, code := startService(e, "once")
	if svc == nil {
		return code
	}
	defer svc.Close()
	// Replies go out while the poll goes on, as in the daemon, so that a big mailbox does
	// not pile its replies up in the state first. Each pass over the outbox runs to its end:
	// a send cut off half-way would be retried only after the backoff.
	var sent outbox.Result
	send := func() error {
		r, err := svc.SendNow(ctx)
		sent.Sent, sent.Deferred, sent.Failed = sent.Sent+r.Sent, r.Deferred, sent.Failed+r.Failed
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
	res, err := svc.PollOnce(ctx)
	close(polled)
	if serr := <-sending; serr != nil {
		log.Error("sending replies", "err", serr)
		return 1
	}
	// What the poll's last messages caused, also when the poll failed part-way: what it
	// recorded stays recorded, and its replies are due.
	if serr := send(); serr != nil {
		log.Error("sending replies", "err", serr)
		return 1
	}
	if err != nil {
		log.Error("poll failed", "err", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "new %d, recorded %d, duplicates %d, moved %d, repaired %d, notices %d, in %v; replies sent %d, deferred %d, failed %d\n",
		res.New, res.Recorded, res.Duplicates, res.Moved, res.Repaired, res.Notices, res.Duration.Round(time.Millisecond),
		sent.Sent, sent.Deferred, sent.Failed)
	return 0
}

// runDigest sends the clerks' digest now: through the running daemon, or by itself when
// none runs.
func runDigest(ctx context.Context, e env) int {
	cfg, code, ok := loadConfig(e, "digest")
	if !ok {
		return code
	}
	var d struct {
		Subject string
		Empty   bool
		Items   int
	}
	err := control.Call(ctx, socketPath(e.getenv, cfg), "digest", nil, &d)
	if errors.Is(err, control.ErrNoDaemon) {
		log := newLogger(e.stderr, cfg, e.getenv)
		svc, err := newService(e, cfg, log)
		if err != nil {
			log.Error("starting", "err", err)
			return 1
		}
		defer svc.Close()
		dg, err := svc.SendDigest(time.Now())
		if err != nil {
			log.Error("digest", "err", err)
			return 1
		}
		if _, err := svc.SendNow(ctx); err != nil {
			log.Error("sending the digest", "err", err)
			return 1
		}
		d.Subject, d.Empty, d.Items = dg.Subject, dg.Empty, dg.Items
	} else if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake digest: %v\n", err)
		return 1
	}
	if d.Empty && !cfg.Digest.SendEmpty {
		fmt.Fprintln(e.stdout, "nothing to report: no digest sent")
		return 0
	}
	fmt.Fprintf(e.stdout, "digest sent: %s\n", d.Subject)
	return 0
}

// socketPath is where the daemon listens: systemd's RuntimeDirectory= when set, else the
// state directory.
func socketPath(getenv func(string) string, cfg *config.Config) string {
	if d := getenv("RUNTIME_DIRECTORY"); d != "" {
		return filepath.Join(filepath.SplitList(d)[0], "control.sock")
	}
	return filepath.Join(cfg.State.Dir, "control.sock")
}

// runDaemon polls on schedule until SIGTERM, answering status, queue, digest and reprocess
// on its socket. SIGHUP reloads the config: a bad one is refused, its errors logged, and the
// running one kept.
func runDaemon(ctx context.Context, e env) int {
	svc, cfg, log, code := startService(e, "run")
	if svc == nil {
		return code
	}
	var current atomic.Pointer[intake.Service]
	current.Store(svc)
	started := time.Now()
	ctl, err := control.Listen(socketPath(e.getenv, cfg), controlHandlers(&current, started))
	if err != nil {
		svc.Close()
		log.Error("starting", "err", err)
		return 1
	}
	ctlDone := make(chan error, 1)
	go func() { ctlDone <- ctl.Serve(ctx) }()
	stopMetrics := serveMetrics(ctx, cfg, &current, log)
	defer stopMetrics()
	// READY after config and state, not after the IMAP server answers (it may be down).
	daemon.SdNotify(false, daemon.SdNotifyReady)
	go watchdog(ctx, &current, log)
	log.Info("started", "version", version, "mailbox", cfg.IMAP.Mailbox, "schedule", cfg.IMAP.Schedule.Spec, "state", cfg.State.Dir)
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { svc.Run(runCtx); close(done) }()
		select {
		case <-ctx.Done():
		case <-e.reload:
		}
		if ctx.Err() != nil {
			daemon.SdNotify(false, daemon.SdNotifyStopping)
			log.Info("stopping: finishing the message in hand")
			stop()
			<-done
			break
		}
		next, errs := reloadConfig(e)
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
		replacement, err := newService(e, next, newLogger(e.stderr, next, e.getenv))
		if err != nil {
			log.Error("reload failed: restarting with the previous configuration", "err", err)
			if replacement, err = newService(e, cfg, log); err != nil {
				log.Error("cannot restart with the previous configuration either", "err", err)
				return 1
			}
		} else {
			cfg, log = next, newLogger(e.stderr, next, e.getenv)
			log.Info("configuration reloaded", "file", cfg.File)
		}
		svc = replacement
		current.Store(svc)
		daemon.SdNotify(false, daemon.SdNotifyReady)
	}
	svc.Close()
	if err := <-ctlDone; err != nil {
		log.Error("control socket", "err", err)
	}
	log.Info("stopped")
	return 0
}

func reloadConfig(e env) (*config.Config, error) {
	return config.Load(configPath(e.args), config.LoadOptions{Getenv: e.getenv, KnownPresets: verifier.PresetNames()})
}

// controlHandlers answer the socket for whichever service runs now (a reload replaces it).
func controlHandlers(current *atomic.Pointer[intake.Service], started time.Time) map[string]control.Handler {
	handlers := map[string]control.Handler{
		"status": func(context.Context, json.RawMessage) (any, error) { return status(current.Load(), started), nil },
		"reprocess": func(ctx context.Context, args json.RawMessage) (any, error) {
			var a struct{ ID uint64 }
			if err := json.Unmarshal(args, &a); err != nil {
				return nil, err
			}
			return current.Load().Reprocess(ctx, a.ID)
		},
		"digest": func(context.Context, json.RawMessage) (any, error) {
			svc := current.Load()
			d, err := svc.SendDigest(time.Now())
			svc.Outbox.Kick()
			return map[string]any{"Subject": d.Subject, "Empty": d.Empty, "Items": d.Items}, err
		},
	}
	for name, h := range queueHandlers(func() *intake.Service { return current.Load() }) {
		handlers[name] = h
	}
	return handlers
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

// serveMetrics serves Prometheus metrics and /healthz on [metrics] addr, when set.
func serveMetrics(ctx context.Context, cfg *config.Config, current *atomic.Pointer[intake.Service], log *slog.Logger) func() {
	if cfg.Metrics.Addr.IsZero() {
		return func() {}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectorFunc(func() prometheus.Collector { return current.Load().Metrics() }))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !current.Load().Alive(time.Now()) {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Addr: cfg.Metrics.Addr.String(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}
}

// collectorFunc forwards to the collector of the service running now.
type collectorFunc func() prometheus.Collector

func (f collectorFunc) Describe(ch chan<- *prometheus.Desc) { f().Describe(ch) }
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f().Collect(ch) }

// statusReport is what `status` prints.
type statusReport struct {
	Version   string         `json:"version"`
	Since     time.Time      `json:"running_since"`
	Intake    intake.Health  `json:"intake"`
	NextPoll  time.Time      `json:"next_poll"`
	Ledger    map[string]any `json:"ledger"`
	Queue     map[string]int `json:"queue"`
	Outbox    map[string]any `json:"outbox"`
	LastError string         `json:"last_error,omitempty"`
	// Trust says who is answered and what a decision by mail needs (config.TrustSummary).
	Trust string `json:"trust"`
}

func status(svc *intake.Service, started time.Time) statusReport {
	now := time.Now()
	h := svc.Health(now)
	r := statusReport{Version: version, Since: started, Intake: h, NextPoll: svc.Config.IMAP.Schedule.Next(now).In(svc.Config.IMAP.Schedule.Location()), LastError: h.LastErr,
		Trust: svc.Config.TrustSummary()}
	if st, err := svc.Ledger.Stats(); err == nil {
		r.Ledger = map[string]any{"stats": st}
	}
	svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		r.Queue, _ = svc.Queue.Counts(tx)
		if st, err := svc.Outbox.Stats(tx); err == nil {
			r.Outbox = map[string]any{"pending": st.Pending, "sent": st.Sent, "failed": st.Failed, "bounced": st.Bounced}
		}
		return nil
	})
	return r
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
	return socketPath(e.getenv, cfg), fs.Args(), nil
}

// runDir is the units' RuntimeDirectory=hosho-intake.
const runDir = "/run/hosho-intake"

func runStatus(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	sock, _, err := clientSocket(e, fs, e.args)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 2
	}
	var r statusReport
	if err := control.Call(ctx, sock, "status", nil, &r); err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake status: %v\n", err)
		return 1
	}
	if *asJSON {
		json.NewEncoder(e.stdout).Encode(r)
		return 0
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
	return 0
}

func runReprocess(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("reprocess", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	sock, rest, err := clientSocket(e, fs, e.args)
	if err != nil || len(rest) != 1 {
		fmt.Fprintln(e.stderr, "usage: hosho-intake reprocess [--config FILE | --socket PATH] ID")
		return 2
	}
	id, err := strconv.ParseUint(rest[0], 10, 64)
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake reprocess: bad ID %q\n", rest[0])
		return 2
	}
	var r intake.Reprocessed
	if err := control.Call(ctx, sock, "reprocess", map[string]uint64{"ID": id}, &r); err != nil {
		if errors.Is(err, control.ErrNoDaemon) {
			fmt.Fprintf(e.stderr, "hosho-intake reprocess: %v: start the daemon (systemctl start hosho-intake)\n", err)
		} else {
			fmt.Fprintf(e.stderr, "hosho-intake reprocess: %v\n", err)
		}
		return 1
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(r)
	return 0
}
