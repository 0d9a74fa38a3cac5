package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"hosho-intake/intake"
	"hosho-intake/intake/control"
	"hosho-intake/verifier"
)

// queueHandlers answer the queue commands on the daemon's socket.
func queueHandlers(svc func() *intake.Service) map[string]control.Handler {
	return map[string]control.Handler{
		"queue.list": func(_ context.Context, args json.RawMessage) (any, error) {
			var a struct{ States []string }
			if len(args) > 0 {
				if err := json.Unmarshal(args, &a); err != nil {
					return nil, err
				}
			}
			return svc().QueueList(a.States...)
		},
		"queue.decide": func(_ context.Context, args json.RawMessage) (any, error) {
			var a struct {
				ID                 uint64
				Action, By, Reason string
			}
			if err := json.Unmarshal(args, &a); err != nil {
				return nil, err
			}
			return svc().QueueDecide(a.ID, a.Action, a.By, a.Reason)
		},
	}
}

// runQueue: `queue list [--all]`, `queue verify N`, `queue reject N --reason TEXT`, through the
// running daemon (it holds the state).
func runQueue(ctx context.Context, e env) int {
	const usage = "usage: hosho-intake queue [--config FILE | --socket PATH] list [--all] | verify N | reject N --reason TEXT"
	fs := flag.NewFlagSet("queue", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	sock, rest, err := clientSocket(e, fs, e.args)
	if err != nil || len(rest) == 0 {
		fmt.Fprintln(e.stderr, usage)
		return 2
	}
	switch rest[0] {
	case "list":
		sub := flag.NewFlagSet("queue list", flag.ContinueOnError)
		sub.SetOutput(e.stderr)
		all := sub.Bool("all", false, "decided items too")
		if err := sub.Parse(rest[1:]); err != nil {
			return 2
		}
		var states []string
		if *all {
			states = []string{verifier.StateQueued, verifier.StateNeedsReview, verifier.StateVerified, verifier.StateRejected}
		}
		var items []verifier.Submission
		if err := control.Call(ctx, sock, "queue.list", map[string][]string{"States": states}, &items); err != nil {
			fmt.Fprintf(e.stderr, "hosho-intake queue: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "受付番号\t状態\t区分\t保証契約番号\t工事名\t送信者\t受信")
		for _, s := range items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.TrackingNumber(), s.State, orDash(s.Notice.Category),
				s.Notice.ContractNumber, orDash(s.Notice.ProjectName), s.Sender, s.Received.Format(time.DateTime))
		}
		tw.Flush()
		return 0
	case "verify", "reject":
		sub := flag.NewFlagSet("queue "+rest[0], flag.ContinueOnError)
		sub.SetOutput(e.stderr)
		reason := sub.String("reason", "", "why (required to reject; shown to the contractor)")
		if len(rest) < 2 {
			fmt.Fprintln(e.stderr, usage)
			return 2
		}
		id, err := itemID(rest[1])
		if err != nil || sub.Parse(rest[2:]) != nil {
			fmt.Fprintln(e.stderr, usage)
			return 2
		}
		action := verifier.ActionVerify
		if rest[0] == "reject" {
			action = verifier.ActionReject
			if strings.TrimSpace(*reason) == "" {
				fmt.Fprintln(e.stderr, "hosho-intake queue reject: --reason is required: the contractor is told it")
				return 2
			}
		}
		by := e.getenv("SUDO_USER")
		if by == "" {
			by = e.getenv("USER")
		}
		var s verifier.Submission
		args := map[string]any{"ID": id, "Action": action, "By": "command:" + by, "Reason": *reason}
		if err := control.Call(ctx, sock, "queue.decide", args, &s); err != nil {
			fmt.Fprintf(e.stderr, "hosho-intake queue %s: %v\n", rest[0], err)
			return 1
		}
		fmt.Fprintf(e.stdout, "%s %s: %s\n", s.TrackingNumber(), s.Notice.ContractNumber, s.State)
		return 0
	}
	fmt.Fprintln(e.stderr, usage)
	return 2
}

// itemID accepts 123 or the tracking number R-000123.
func itemID(s string) (uint64, error) {
	s = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "R-")
	return strconv.ParseUint(s, 10, 64)
}
