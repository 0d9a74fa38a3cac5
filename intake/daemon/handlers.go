package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
	_ "time/tzdata" // Tokyo on machines without zoneinfo

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
		"status": func(context.Context, json.RawMessage) (any, error) { return Status(svc(), started, version), nil },
		"reprocess": func(ctx context.Context, args json.RawMessage) (any, error) {
			var a struct{ ID uint64 }
			if err := json.Unmarshal(args, &a); err != nil {
				return nil, err
			}
			return svc().Reprocess(ctx, a.ID)
		},
		"backup": backupHandler(svc),
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

// Report is what `status` prints. Its JSON (`status --json`) is a contract, documented in
// the README: snake_case names, times in RFC 3339 at +09:00 (Asia/Tokyo, whatever the
// server's zone), durations in seconds, null for what has not happened yet.
type Report struct {
	Version      string      `json:"version"`
	RunningSince time.Time   `json:"running_since"`
	NextPoll     time.Time   `json:"next_poll"`
	LastPoll     *PollReport `json:"last_poll"` // null before the first poll
	LastOK       *time.Time  `json:"last_ok"`   // the end of the last poll that succeeded; null if none
	Failures     int         `json:"failures"`  // failed polls in a row
	LastError    string      `json:"last_error,omitempty"`
	Warning      string      `json:"warning,omitempty"` // a credential about to fail, or failing
	Stalled      string      `json:"stalled,omitempty"` // why polling makes no progress
	Healthy      bool        `json:"healthy"`           // what /healthz and the watchdog go by
	// Queue counts the items by state: queued, needs_review, verified, rejected.
	Queue    map[string]int `json:"queue"`
	Outbox   OutboxReport   `json:"outbox"`
	Messages MessagesReport `json:"messages"`
	// Trust says who is answered and what a decision by mail needs (config.TrustSummary).
	Trust    string         `json:"trust"`
	Register RegisterReport `json:"register"`
}

// RegisterReport says which contract register the judgement uses (intake.RegisterInEffect).
type RegisterReport struct {
	Source    string     `json:"source"` // "file" ([register] csv), "page" (a clerk's import) or "none"
	Contracts int        `json:"contracts"`
	File      string     `json:"file,omitempty"`        // source file
	By        string     `json:"imported_by,omitempty"` // source page: the clerk
	At        *time.Time `json:"imported_at,omitempty"` // source page
	// Shadowed: a clerk's import exists, but the file changed after it and is used.
	Shadowed bool `json:"shadowed"`
}

// PollReport is one poll.
type PollReport struct {
	Start           time.Time `json:"start"`
	DurationSeconds float64   `json:"duration_seconds"`
	Failed          bool      `json:"failed"`
	New             int       `json:"new"`
	Recorded        int       `json:"recorded"`
	Duplicates      int       `json:"duplicates"`
	Moved           int       `json:"moved"`
	Repaired        int       `json:"repaired"`
	Notices         int       `json:"notices"`
	SetAside        int       `json:"set_aside"`
}

// OutboxReport counts the outbox's mail.
type OutboxReport struct {
	Pending int `json:"pending"`
	Sent    int `json:"sent"`
	Failed  int `json:"failed"`
	Bounced int `json:"bounced"`
}

// MessagesReport counts the ledger's messages.
type MessagesReport struct {
	Recorded int64            `json:"recorded"`
	RawKept  int64            `json:"raw_kept"` // whose raw message is still stored
	Unmoved  int              `json:"unmoved"`  // recorded, not yet moved on the server
	Outcomes map[string]int64 `json:"outcomes"`
}

// Status is what `status` shows of a running service.
func Status(svc *intake.Service, started time.Time, version string) Report {
	now := time.Now()
	h := svc.Health(now)
	sched := svc.Config.IMAP.Schedule
	r := Report{Version: version, RunningSince: jst(started), NextPoll: jst(sched.Next(now)), Failures: h.Failures,
		LastError: h.LastErr, Warning: h.Warning, Stalled: h.Stalled, Healthy: svc.Alive(now), Trust: svc.Config.TrustSummary(),
		Register: registerReport(svc)}
	if l := h.Last; !l.Start.IsZero() {
		r.LastPoll = &PollReport{Start: jst(l.Start), DurationSeconds: l.Duration.Seconds(), Failed: h.Failures > 0,
			New: l.New, Recorded: l.Recorded, Duplicates: l.Duplicates, Moved: l.Moved, Repaired: l.Repaired,
			Notices: l.Notices, SetAside: l.SetAside}
	}
	if !h.LastOK.IsZero() {
		t := jst(h.LastOK)
		r.LastOK = &t
	}
	if st, err := svc.Ledger.Stats(); err == nil {
		r.Messages = MessagesReport{Recorded: st.Messages, RawKept: st.Raw, Unmoved: st.Unmoved, Outcomes: st.Outcomes}
	}
	svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		r.Queue, _ = svc.Queue.Counts(tx)
		if st, err := svc.Outbox.Stats(tx); err == nil {
			r.Outbox = OutboxReport{Pending: st.Pending, Sent: st.Sent, Failed: st.Failed, Bounced: st.Bounced}
		}
		return nil
	})
	return r
}

func registerReport(svc *intake.Service) RegisterReport {
	in := svc.Effects.RegisterInEffect()
	r := RegisterReport{Source: "none", Contracts: in.Register.Len(), Shadowed: in.Shadowed}
	switch in.Source {
	case intake.RegisterFromFile:
		r.Source, r.File = in.Source, svc.Config.Register.CSV
	case intake.RegisterFromPage:
		at := jst(in.Import.At)
		r.Source, r.By, r.At = in.Source, in.Import.By, &at
	}
	return r
}

// Tokyo is Asia/Tokyo, from the zone data embedded in the binary (time/tzdata), so that a
// minimal machine without /usr/share/zoneinfo still shows the agency's own time.
var Tokyo = func() *time.Location {
	l, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*3600) // Japan has kept +09:00 without DST since 1951
	}
	return l
}()

func jst(t time.Time) time.Time { return t.In(Tokyo) }

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
