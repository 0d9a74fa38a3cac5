package daemon

import (
	"bytes"
	"io"
	"log/slog"

	"hosho-intake/config"
)

// Logger writes to w in the config's format and level. Under systemd (JOURNAL_STREAM is
// set) each line starts with its syslog priority, <3> to <7>, which journald turns into the
// entry's level (sd-daemon(3)), and carries no time of its own: the journal stamps it.
func Logger(w io.Writer, cfg *config.Config, getenv func(string) string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	switch {
	case cfg.Log.Format == "json":
		return slog.New(slog.NewJSONHandler(w, opts))
	case cfg.Log.Format == "auto" && getenv("JOURNAL_STREAM") != "":
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
		return slog.New(slog.NewTextHandler(journalWriter{w}, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// journalWriter prefixes each record (the handler writes one line per Write) with the
// priority of its level=… attribute.
type journalWriter struct{ w io.Writer }

func (j journalWriter) Write(p []byte) (int, error) {
	prio := "<6>"
	switch {
	case bytes.HasPrefix(p, []byte("level=ERROR")):
		prio = "<3>"
	case bytes.HasPrefix(p, []byte("level=WARN")):
		prio = "<4>"
	case bytes.HasPrefix(p, []byte("level=DEBUG")):
		prio = "<7>"
	}
	if _, err := j.w.Write(append([]byte(prio), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
