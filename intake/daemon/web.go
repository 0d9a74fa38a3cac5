package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/web"
)

// webFace is the clerks' page as the daemon runs it: one handler for the daemon's life,
// following whichever service runs now, and at most one listener, started, moved or stopped
// by apply when a reload changes [web].
//
// What a reload of [web] does: url, session_idle and link_lifetime are read by the page on
// each request, so they apply at once with nothing restarted. A changed addr, cert_file or
// key_file (or any reload while the page serves TLS itself, so that a renewed certificate
// is read) restarts the listener: a new address is bound before the old listener stops, so
// a new address that cannot be bound leaves the page where it was; requests in flight on
// the old listener get a few seconds to finish. Sessions live in the state, not in the
// listener, so nobody is signed out by a restart; but a browser's cookie belongs to the
// url's host and path, so clerks sign in again when those change.
type webFace struct {
	current *atomic.Pointer[intake.Service]
	log     *slog.Logger
	page    *web.Server // made on first use
	on      config.Web  // the settings the listener was started with
	addr    net.Addr    // where it listens; nil when it does not
	stop    func()      // stops the listener and waits for it; nil when none runs
}

// apply brings the listener in line with w. On an error the listener as it was before
// goes on (or none, when it had to stop first to rebind its own address).
func (f *webFace) apply(ctx context.Context, w config.Web) error {
	if f.stop != nil && sameListener(f.on, w) && !w.TLS() {
		f.on = w
		return nil
	}
	if w.Addr == "" {
		if f.stop != nil {
			f.close()
			f.log.Info("clerks' page stopped: [web] addr is empty now")
		}
		return nil
	}
	if w.TLS() {
		// Read before the running listener is touched: a certificate that does not load
		// leaves the page serving the old one.
		if _, err := tls.LoadX509KeyPair(w.CertFile, w.KeyFile); err != nil {
			return fmt.Errorf("clerks' page: TLS certificate: %w", err)
		}
	}
	if f.page == nil {
		page, err := web.New(web.Options{Service: f.current.Load, Logger: f.log})
		if err != nil {
			return err
		}
		f.page = page
	}
	if f.stop != nil && f.on.Addr == w.Addr {
		f.close() // the same address: it must be free before it is bound again
	}
	ln, err := web.Listen(w)
	if err != nil {
		return err
	}
	f.close()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := web.Serve(sctx, ln, w, f.page); err != nil {
			f.log.Error("clerks' page stopped", "err", err)
		}
	}()
	f.on, f.addr = w, ln.Addr()
	f.stop = func() { cancel(); <-done }
	f.log.Info("clerks' page listening", "addr", f.addr.String(), "url", w.URL)
	return nil
}

// close stops the listener, if one runs, and waits for it.
func (f *webFace) close() {
	if f.stop != nil {
		f.stop()
		f.stop, f.addr = nil, nil
	}
}

// serving says where the page listens now, for the log: its address, or "nowhere".
func (f *webFace) serving() string {
	if f.addr == nil {
		return "nowhere"
	}
	return f.addr.String()
}

// sameListener reports whether a and b listen alike: the same address and certificate files.
func sameListener(a, b config.Web) bool {
	return a.Addr == b.Addr && a.CertFile == b.CertFile && a.KeyFile == b.KeyFile
}

// serveWeb starts the clerks' page of cfg, when [web] addr is set; the face's apply follows
// later reloads, and its close stops it.
func serveWeb(ctx context.Context, cfg *config.Config, current *atomic.Pointer[intake.Service], log *slog.Logger) (*webFace, error) {
	f := &webFace{current: current, log: log.With("component", "web")}
	if err := f.apply(ctx, cfg.Web); err != nil {
		return nil, err
	}
	return f, nil
}
