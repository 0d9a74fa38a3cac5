package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	bolt "go.etcd.io/bbolt"

	"log/slog"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/control"
	"hosho-intake/verifier"
)

// handlers answer the socket for whichever service runs now (a reload replaces it).
func handlers(current *atomic.Pointer[intake.Service], started time.Time, version string) map[string]control.Handler {
	svc := func() *intake.Service { return current.Load() }
	return map[string]control.Handler{
		"status": func(context.Context, json.RawMessage) (any, error) { return status(svc(), started, version), nil },
		"reprocess": func(ctx context.Context, args json.RawMessage) (any, error) {
			var a struct{ ID uint64 }
			if err := json.Unmarshal(args, &a); err != nil {
				return nil, err
			}
			return svc().Reprocess(ctx, a.ID)
		},
		"digest": func(context.Context, json.RawMessage) (any, error) {
			s := svc()
			d, err := s.SendDigest(time.Now())
			s.Outbox.Kick()
			return DigestResult{Subject: d.Subject, Empty: d.Empty, Items: d.Items}, err
		},
		// Who decides, or is shown the keys, is the socket's caller (control.CallerFrom),
		// never a name in the request: any member of the socket's group could write one.
		"queue.list": func(ctx context.Context, args json.RawMessage) (any, error) {
			var a struct {
				States   []string
				ShowKeys bool
			}
			if len(args) > 0 {
				if err := json.Unmarshal(args, &a); err != nil {
					return nil, err
				}
			}
			if !a.ShowKeys {
				return svc().QueueList(a.States...)
			}
			by, err := commandBy(ctx)
			if err != nil {
				return nil, err
			}
			return svc().QueueShowKeys(by, a.States...)
		},
		"queue.decide": func(ctx context.Context, args json.RawMessage) (any, error) {
			var a struct {
				ID                 uint64
				Action, By, Reason string
			}
			if err := json.Unmarshal(args, &a); err != nil {
				return nil, err
			}
			by, err := commandBy(ctx)
			if err != nil {
				return nil, err
			}
			if a.By != "" {
				// Refused rather than ignored, so that a client that thinks it names the
				// clerk learns it does not.
				return nil, fmt.Errorf("the decider is the socket's caller (%s), not %q named in the request", by, a.By)
			}
			return svc().QueueDecide(a.ID, a.Action, by, a.Reason)
		},
	}
}

// commandBy is Change.By for what the socket's caller does: "command:" and the caller's
// user name, from the kernel's peer credential.
func commandBy(ctx context.Context) (string, error) {
	c, ok := control.CallerFrom(ctx)
	if !ok {
		return "", errors.New("the caller of the control socket is unknown")
	}
	return verifier.HowCommand + ":" + c.User, nil
}

// Report is what `status` prints.
type Report struct {
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

func status(svc *intake.Service, started time.Time, version string) Report {
	now := time.Now()
	h := svc.Health(now)
	r := Report{Version: version, Since: started, Intake: h, NextPoll: svc.Config.IMAP.Schedule.Next(now).In(svc.Config.IMAP.Schedule.Location()), LastError: h.LastErr,
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
