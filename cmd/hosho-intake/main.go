// Command hosho-intake takes in contractors' 電子証書閲覧用「認証キー」等のお知らせ from an
// agency mailbox. main only wires: it reads flags and the environment and hands them to run.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"hosho-intake/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// env is what a command may see of the process: its arguments, environment and streams.
type env struct {
	args           []string
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	reload         <-chan os.Signal // SIGHUP, for the daemon; nil elsewhere
	// unitDirs is where check looks for the systemd units; nil: systemd's own search path.
	unitDirs []string
}

type command struct {
	summary string // one line: the synopsis and what it does
	example string // what an admin types, with a word on what it shows
	noFlags bool   // takes no flags: help must not run it to list them
	hidden  bool
	run     func(ctx context.Context, e env) error
}

// exitCode is the error of a command that has already told the user what went wrong (or,
// for 2, printed its usage): run prints nothing more, and the process exits with it.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// exited is the error of an exit code: nil for 0.
func exited(code int) error {
	if code == 0 {
		return nil
	}
	return exitCode(code)
}

// exitStatus is the process's exit status for what run returned: 0 success, 1 failure,
// 2 usage.
func exitStatus(err error) int {
	var c exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &c):
		return int(c)
	}
	return 1
}

func commands() map[string]command {
	return map[string]command{
		"backup": {summary: "backup --config FILE --to PATH [--keep N]   a consistent copy of the state, also while the daemon runs",
			example: "sudo -u hosho-intake hosho-intake backup --config /etc/hosho-intake/config.toml --to /var/backups/hosho-intake --keep 14", run: runBackup},
		"check": {summary: "check [--connect] --config FILE   validate a config file, printing every error; --connect logs in to both servers",
			example: "sudo env CREDENTIALS_DIRECTORY=/etc/hosho-intake hosho-intake check --connect --config /etc/hosho-intake/config.toml", run: runCheck},
		"digest": {summary: "digest --config FILE    send the clerks' digest now",
			example: "hosho-intake digest --config /etc/hosho-intake/config.toml", run: runDigest},
		"demo": {summary: "demo                    read a dozen generated contractor mails and show what was found",
			example: "hosho-intake demo", noFlags: true, run: runDemo},
		"help": {summary: "help [COMMAND]          this list, or one command's flags and an example",
			example: "hosho-intake help queue", noFlags: true, run: runHelp},
		"inspect": {summary: "inspect [--json] (--config FILE | --preset NAME) FILE.eml [PASSWORD.eml]   the whole judgement of one message (or a password-ZIP pair), no side effects",
			example: "hosho-intake inspect --preset shimane received.eml", run: runInspect},
		"oauth-login": {summary: "oauth-login --config FILE [--server imap|smtp]   sign in to Google or Microsoft 365 in a browser and write the refresh token the config uses",
			example: "sudo env CREDENTIALS_DIRECTORY=/etc/hosho-intake hosho-intake oauth-login --config /etc/hosho-intake/config.toml --server imap", run: runOAuthLogin},
		"once": {summary: "once --config FILE      poll the mailbox once and exit",
			example: "sudo -u hosho-intake hosho-intake once --config /etc/hosho-intake/config.toml   (with the daemon stopped)", run: runOnce},
		"run": {summary: "run --config FILE       the daemon: poll on schedule until SIGTERM",
			example: "systemctl start hosho-intake   (the unit runs: hosho-intake run --config /etc/hosho-intake/config.toml)", run: runDaemon},
		"status": {summary: "status [--json]         what the running daemon is doing",
			example: "hosho-intake status --instance keiyaku", run: runStatus},
		"queue": {summary: "queue list | verify N | reject N --reason TEXT   the verification queue (via the daemon)",
			example: "hosho-intake queue list; hosho-intake queue reject R-000012 --reason 工事名が契約と異なります", run: runQueue},
		"reprocess": {summary: "reprocess ID            re-run a stored message through the current rules (via the daemon)",
			example: "hosho-intake reprocess 42", run: runReprocess},
		"restore": {summary: "restore --config FILE --from PATH   a backup into the config's empty state directory",
			example: "sudo -u hosho-intake hosho-intake restore --config /etc/hosho-intake/config.toml --from /var/backups/hosho-intake/hosho-intake-20261207-031500.tar", run: runRestore},
		"parse": {summary: "parse [--json] FILE...  read notices from .pdf and .eml files",
			example: "hosho-intake parse --json notice.pdf received.eml", run: runParse},
		"version":    {summary: "version                 print the version", example: "hosho-intake version", noFlags: true, run: runVersion},
		"pdf-worker": {hidden: true, run: runPDFWorker},
	}
}

// runHelp: `help` lists the commands; `help COMMAND` shows its flags (the command's own
// -h) and an example.
func runHelp(ctx context.Context, e env) error {
	cmds := commands()
	if len(e.args) == 0 {
		usage(e.stdout, cmds)
		return nil
	}
	c, ok := cmds[e.args[0]]
	if !ok || c.hidden {
		fmt.Fprintf(e.stderr, "hosho-intake help: unknown command %q\n", e.args[0])
		usage(e.stderr, cmds)
		return exitCode(2)
	}
	fmt.Fprintf(e.stdout, "hosho-intake %s\n\nexample:\n  %s\n", c.summary, c.example)
	if c.noFlags {
		return nil
	}
	fmt.Fprintln(e.stdout, "\nflags:")
	// The command's own flag set prints its flags for -h; what else it prints is usage noise.
	var flags bytes.Buffer
	_ = c.run(ctx, env{args: []string{"-h"}, getenv: e.getenv, stdin: e.stdin, stdout: &flags, stderr: &flags})
	for _, line := range strings.Split(flags.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "-") || strings.HasPrefix(line, "    \t") || strings.HasPrefix(line, "\t") {
			fmt.Fprintln(e.stdout, line)
		}
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	err := run(ctx, env{args: os.Args[1:], getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, reload: hup})
	stop()
	os.Exit(exitStatus(err))
}

// run dispatches to a subcommand. An error is printed here, once, unless the command has
// reported it itself (exitCode).
func run(ctx context.Context, e env) error {
	cmds := commands()
	if len(e.args) == 0 || e.args[0] == "-h" || e.args[0] == "--help" {
		usage(e.stderr, cmds)
		return exitCode(2)
	}
	name := e.args[0]
	c, ok := cmds[name]
	if !ok {
		fmt.Fprintf(e.stderr, "hosho-intake: unknown command %q\n", name)
		usage(e.stderr, cmds)
		return exitCode(2)
	}
	e.args = e.args[1:]
	err := c.run(ctx, e)
	var cfgErrs *config.Errors
	switch {
	case err == nil, errors.As(err, new(exitCode)):
	case errors.As(err, &cfgErrs):
		fmt.Fprintln(e.stderr, err) // one problem a line, file:line first
	default:
		fmt.Fprintf(e.stderr, "hosho-intake %s: %v\n", name, err)
	}
	return err
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: hosho-intake COMMAND [ARGS]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n, c := range cmds {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s\n", cmds[n].summary)
	}
}

func runVersion(_ context.Context, e env) error {
	fmt.Fprintf(e.stdout, "hosho-intake %s\n", version)
	return nil
}
