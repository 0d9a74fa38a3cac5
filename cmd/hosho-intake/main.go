// Command hosho-intake takes in contractors' 電子証書閲覧用「認証キー」等のお知らせ from an
// agency mailbox. main only wires: it reads flags and the environment and hands them to run.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
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
}

type command struct {
	summary string
	hidden  bool
	run     func(ctx context.Context, e env) int
}

func commands() map[string]command {
	return map[string]command{
		"check":      {summary: "check --config FILE     validate a config file, printing every error", run: runCheck},
		"digest":     {summary: "digest --config FILE    send the clerks' digest now", run: runDigest},
		"demo":       {summary: "demo                    read a dozen generated contractor mails and show what was found", run: runDemo},
		"inspect":    {summary: "inspect [--json] (--config FILE | --preset NAME) FILE.eml   the whole judgement of one message, no side effects", run: runInspect},
		"once":       {summary: "once --config FILE      poll the mailbox once and exit", run: runOnce},
		"run":        {summary: "run --config FILE       the daemon: poll on schedule until SIGTERM", run: runDaemon},
		"status":     {summary: "status [--json]         what the running daemon is doing", run: runStatus},
		"queue":      {summary: "queue list | verify N | reject N --reason TEXT   the verification queue (via the daemon)", run: runQueue},
		"reprocess":  {summary: "reprocess ID            re-run a stored message through the current rules (via the daemon)", run: runReprocess},
		"parse":      {summary: "parse [--json] FILE...  read notices from .pdf and .eml files", run: runParse},
		"version":    {summary: "version                 print the version", run: runVersion},
		"pdf-worker": {hidden: true, run: runPDFWorker},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := run(ctx, env{args: os.Args[1:], getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, reload: hup})
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the exit code: 0 success, 1 failure, 2 usage.
func run(ctx context.Context, e env) int {
	cmds := commands()
	if len(e.args) == 0 || e.args[0] == "-h" || e.args[0] == "--help" || e.args[0] == "help" {
		usage(e.stderr, cmds)
		return 2
	}
	c, ok := cmds[e.args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "hosho-intake: unknown command %q\n", e.args[0])
		usage(e.stderr, cmds)
		return 2
	}
	e.args = e.args[1:]
	return c.run(ctx, e)
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

func runVersion(_ context.Context, e env) int {
	fmt.Fprintf(e.stdout, "hosho-intake %s\n", version)
	return 0
}
