package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"hosho-intake/intake/control"
	"hosho-intake/intake/daemon"
	"hosho-intake/verifier"
)

// runQueue: `queue list [--all] [--show-keys]`, `queue verify N`, `queue reject N --reason
// TEXT`, through the running daemon (it holds the state, and records who asked).
func runQueue(ctx context.Context, e env) error {
	const usage = "usage: hosho-intake queue [--config FILE | --socket PATH] list [--all] [--show-keys] | verify N | reject N --reason TEXT"
	fs := flag.NewFlagSet("queue", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	sock, rest, err := clientSocket(e, fs, e.args)
	if err != nil || len(rest) == 0 {
		fmt.Fprintln(e.stderr, usage)
		return exitCode(2)
	}
	switch rest[0] {
	case "list":
		sub := flag.NewFlagSet("queue list", flag.ContinueOnError)
		sub.SetOutput(e.stderr)
		all := sub.Bool("all", false, "decided items too")
		showKeys := sub.Bool("show-keys", false, "the full 認証キー (recorded in each item's history); masked otherwise")
		if err := sub.Parse(rest[1:]); err != nil {
			return exitCode(2)
		}
		var states []string
		if *all {
			states = []string{verifier.StateQueued, verifier.StateNeedsReview, verifier.StateVerified, verifier.StateRejected}
		}
		var items []verifier.Submission
		if err := control.Call(ctx, sock, "queue.list", map[string]any{"States": states, "ShowKeys": *showKeys}, &items); err != nil {
			return socketTrouble(err, sock)
		}
		rows := [][]string{{"受付番号", "状態", "区分", "保証契約番号", "認証キー", "工事名", "送信者", "受信"}}
		for _, s := range items {
			rows = append(rows, []string{s.TrackingNumber(), s.Label(), orDash(s.Notice.Category), s.Notice.ContractNumber,
				orDash(s.Notice.AuthKey), orDash(s.Notice.ProjectName), s.Sender, s.Received.In(daemon.Tokyo).Format("2006-01-02 15:04")})
		}
		writeTable(e.stdout, rows)
		return nil
	case "verify", "reject":
		sub := flag.NewFlagSet("queue "+rest[0], flag.ContinueOnError)
		sub.SetOutput(e.stderr)
		reason := sub.String("reason", "", "why (required to reject; shown to the contractor)")
		if len(rest) < 2 {
			fmt.Fprintln(e.stderr, usage)
			return exitCode(2)
		}
		id, err := itemID(rest[1])
		if err != nil || sub.Parse(rest[2:]) != nil {
			fmt.Fprintln(e.stderr, usage)
			return exitCode(2)
		}
		action := verifier.ActionVerify
		if rest[0] == "reject" {
			action = verifier.ActionReject
			if strings.TrimSpace(*reason) == "" {
				fmt.Fprintln(e.stderr, "hosho-intake queue reject: --reason is required: the contractor is told it")
				return exitCode(2)
			}
		}
		var s verifier.Submission
		args := map[string]any{"ID": id, "Action": action, "Reason": *reason}
		if err := control.Call(ctx, sock, "queue.decide", args, &s); err != nil {
			if errors.Is(err, control.ErrNoDaemon) || errors.Is(err, os.ErrPermission) {
				return socketTrouble(err, sock)
			}
			fmt.Fprintf(e.stderr, "hosho-intake queue %s: %v\n", rest[0], err)
			return exitCode(1)
		}
		c, _ := s.Decided()
		fmt.Fprintf(e.stdout, "%s %s: %s, %s by %s\n", s.TrackingNumber(), s.Notice.ContractNumber, s.Label(), s.State, c.By)
		return nil
	}
	fmt.Fprintln(e.stderr, usage)
	return exitCode(2)
}

// itemID accepts 123 or the tracking number R-000123.
func itemID(s string) (uint64, error) {
	s = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "R-")
	return strconv.ParseUint(s, 10, 64)
}
