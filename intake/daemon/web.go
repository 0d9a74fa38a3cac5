package daemon

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/web"
)

// serveWeb serves the clerks' page on [web] addr, when set, for whichever service runs now
// (a reload replaces it; the address stays the one read at start). The returned stop shuts
// the page down and waits for it; it may be called more than once.
func serveWeb(ctx context.Context, cfg *config.Config, current *atomic.Pointer[intake.Service], log *slog.Logger) (stop func(), err error) {
	if cfg.Web.Addr == "" {
		return func() {}, nil
	}
	log = log.With("component", "web")
	page, err := web.New(web.Options{Service: current.Load, Logger: log})
	if err != nil {
		return nil, err
	}
	ln, err := web.Listen(cfg.Web)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := web.Serve(ctx, ln, cfg.Web, page); err != nil {
			log.Error("clerks' page stopped", "err", err)
		}
	}()
	log.Info("clerks' page listening", "addr", ln.Addr().String(), "url", cfg.Web.URL)
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }, nil
}
