package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"hosho-intake/intake/inbound"
	"hosho-intake/intake/samplemail"
)

// runDemo writes a dozen realistic contractor mails that the repo's own code generates into
// a temporary folder, reads each through the real isolated path, and prints what was found
// and whether the sender would be answered. (The mailbox, queue and reply parts of the
// daemon are later work; this shows the reading that exists.)
func runDemo(ctx context.Context, e env) int {
	dir, err := os.MkdirTemp("", "hosho-intake-demo-")
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake demo: %v\n", err)
		return 1
	}
	set, err := samplemail.Set(1)
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake demo: generating mails: %v\n", err)
		return 1
	}
	pool, err := newPDFPool(runtime.NumCPU())
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake demo: %v\n", err)
		return 1
	}
	defer pool.Close()
	fmt.Fprintf(e.stdout, "hosho-intake demo: %d generated mails in %s\n\n", len(set), dir)
	for i, s := range set {
		raw, err := s.Mail.Bytes()
		if err != nil {
			fmt.Fprintf(e.stderr, "hosho-intake demo: %v\n", err)
			return 1
		}
		name := filepath.Join(dir, fmt.Sprintf("%02d.eml", i+1))
		if err := os.WriteFile(name, raw, 0o600); err != nil {
			fmt.Fprintf(e.stderr, "hosho-intake demo: %v\n", err)
			return 1
		}
		r := parseFile(ctx, name, inbound.DefaultLimits(), pool)
		if r.err != nil {
			fmt.Fprintf(e.stderr, "hosho-intake demo: %s: %v\n", name, r.err)
			return 1
		}
		fmt.Fprintf(e.stdout, "%02d %s — from %s, 「%s」\n", i+1, s.Name, s.Mail.From, s.Mail.Subject)
		printTable(e.stdout, r)
		fmt.Fprintf(e.stdout, "   reply: %s\n\n", replyVerdict(r))
	}
	fmt.Fprintf(e.stdout, "The mails are in %s (remove it when done).\n", dir)
	return 0
}

// replyVerdict says whether the sender would be answered: never for auto-replies, bounces
// and list mail.
func replyVerdict(r parseResult) string {
	for _, p := range r.Problems {
		switch p.Code {
		case "auto_submitted", "bounce", "mailing_list":
			return "none (" + p.Code + ": never answered)"
		}
	}
	if len(r.Notices) == 0 {
		var codes []string
		for _, p := range r.Problems {
			codes = append(codes, p.Code)
		}
		return "yes, asking for the right document (" + strings.Join(codes, ", ") + ")"
	}
	return fmt.Sprintf("yes, acknowledging %d notice(s)", len(r.Notices))
}
