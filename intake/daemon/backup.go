package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/control"
	"hosho-intake/intake/ledger"
)

// configName is the config file's name inside a backup.
const configName = "config.toml"

// Backup writes a consistent snapshot of the state to w: through the running daemon, which
// holds the state's lock, or by opening the state itself when none runs. The config file
// goes with it (it holds no secrets: those are in credentials or files of their own).
func Backup(ctx context.Context, o Options, w io.Writer) error {
	cfg, err := loadConfigNoSecrets(o)
	if err != nil {
		return err
	}
	err = control.CallStream(ctx, SocketPath(o.Getenv, cfg), "backup", nil, w)
	if !errors.Is(err, control.ErrNoDaemon) {
		return err
	}
	l, err := ledger.Open(cfg.State.Dir, ledger.Options{Schemas: intake.Schemas()})
	if err != nil {
		return err
	}
	defer l.Close()
	return backupTo(l, cfg, w)
}

func backupTo(l *ledger.Ledger, cfg *config.Config, w io.Writer) error {
	extra := map[string][]byte{}
	if b, err := os.ReadFile(cfg.File); err == nil {
		extra[configName] = b
	}
	return l.Backup(w, extra, time.Now())
}

// backupHandler streams a backup to the socket's caller, if that is root or the service's
// own user: a backup holds every 認証キー, which queue list shows a group member only masked.
func backupHandler(svc func() *intake.Service) control.Handler {
	return func(ctx context.Context, _ json.RawMessage) (any, error) {
		c, ok := control.CallerFrom(ctx)
		if !ok || c.UID != 0 && c.UID != os.Getuid() {
			return nil, errors.New("a backup holds every 認証キー: only root or the service's user may take one")
		}
		s := svc()
		return control.Stream(func(w io.Writer) error { return backupTo(s.Ledger, s.Config, w) }), nil
	}
}

// Restore unpacks a backup into the config's state directory, which must be empty, and
// checks that this binary can run on it. The backup's config is written beside the state
// as config.toml.restored for the admin to compare; it never replaces the running one.
func Restore(o Options, r io.Reader) (ledger.Manifest, error) {
	cfg, err := loadConfigNoSecrets(o)
	if err != nil {
		return ledger.Manifest{}, err
	}
	if err := control.Call(context.Background(), SocketPath(o.Getenv, cfg), "status", nil, nil); !errors.Is(err, control.ErrNoDaemon) {
		return ledger.Manifest{}, fmt.Errorf("a daemon runs on %s: stop it first (sudo systemctl stop hosho-intake)", cfg.State.Dir)
	}
	m, extra, err := ledger.Restore(cfg.State.Dir, r, intake.Schemas()...)
	if err != nil {
		return m, err
	}
	if b, ok := extra[configName]; ok {
		if err := os.WriteFile(filepath.Join(cfg.State.Dir, configName+".restored"), b, 0o600); err != nil {
			return m, err
		}
	}
	return m, nil
}
