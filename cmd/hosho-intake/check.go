package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"hosho-intake/config"
	"hosho-intake/verifier"
)

// runCheck validates a config file: every error at once, with file:line, and exit 1; a good
// file prints a short summary and exits 0.
func runCheck(_ context.Context, e env) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "/etc/hosho-intake/config.toml", "config file")
	if err := fs.Parse(e.args); err != nil {
		return exitCode(2)
	}
	// From an admin's shell: credentials that systemd supplies to the service are only noted.
	cfg, err := config.Load(*path, config.LoadOptions{Getenv: e.getenv, KnownPresets: verifier.PresetNames(), DeferCredentials: e.getenv("CREDENTIALS_DIRECTORY") == ""})
	var list *config.Errors
	switch {
	case errors.As(err, &list):
		fmt.Fprintln(e.stderr, list.Error())
		fmt.Fprintf(e.stderr, "%s: %d error(s)\n", *path, len(list.List))
		return exitCode(1)
	case err != nil:
		fmt.Fprintf(e.stderr, "hosho-intake check: %v\n", err)
		return exitCode(1)
	}
	fmt.Fprint(e.stdout, cfg.Summary())
	return nil
}
