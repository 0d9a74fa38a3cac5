package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"hosho-intake/config"
	"hosho-intake/intake/daemon"
	"hosho-intake/parser/ocr"
	"hosho-intake/verifier"
)

// runCheck validates a config file: every error at once, with file:line, and exit 1; a good
// file prints a short summary and exits 0. It compares the secrets the config takes from
// systemd credentials with the LoadCredential= lines of the installed unit that runs it
// (units.go): one the service would not get is a failure, also by hand. With --connect it
// also logs in to both servers and says for each step what happened, in the server's own
// words when it failed.
func runCheck(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "/etc/hosho-intake/config.toml", "config file")
	connect := fs.Bool("connect", false, "also log in to the IMAP server and the SMTP relay (exit 0 only when every step works)")
	if err := fs.Parse(leadingFlags(e.args, "config")); err != nil {
		return exitCode(2)
	}
	// From an admin's shell: credentials that systemd supplies to the service are only noted,
	// unless the servers are to be tried, which needs them.
	deferCreds := e.getenv("CREDENTIALS_DIRECTORY") == "" && !*connect
	cfg, err := config.Load(*path, config.LoadOptions{Getenv: e.getenv, KnownPresets: verifier.PresetNames(), DeferCredentials: deferCreds})
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
	// OCR asked for explicitly but not installed is an error; left to the default, a note.
	if err := ocr.Check(ctx, ocr.Options{}); err != nil {
		if cfg.Sandbox.OCR != nil && *cfg.Sandbox.OCR {
			fmt.Fprintf(e.stderr, "%s: sandbox.ocr = true, but %v\n", *path, err)
			return exitCode(1)
		}
		if cfg.Sandbox.OCR == nil {
			fmt.Fprintf(e.stdout, "%-9s off: %v (image-only notices get no_text)\n", "ocr", err)
		}
	} else if cfg.Sandbox.OCRWanted(func() bool { return true }) {
		fmt.Fprintf(e.stdout, "%-9s tesseract (jpn, eng) for image-only notices\n", "ocr")
	}
	// Where the service will get each secret it takes from a systemd credential.
	failed := checkCredentials(e, cfg)
	if !*connect {
		if failed > 0 {
			fmt.Fprintf(e.stderr, "%s: %d credential(s) the service would not get\n", *path, failed)
			return exitCode(1)
		}
		return nil
	}
	for _, st := range daemon.Probe(ctx, cfg) {
		mark := "ok  "
		if !st.OK {
			mark, failed = "FAIL", failed+1
		}
		fmt.Fprintf(e.stdout, "%s %s: %s\n", mark, st.Name, st.Detail)
	}
	if failed > 0 {
		fmt.Fprintf(e.stderr, "%s: %d step(s) failed\n", *path, failed)
		return exitCode(1)
	}
	return nil
}
