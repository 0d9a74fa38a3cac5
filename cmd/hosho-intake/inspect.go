package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"runtime"
	"time"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/intake/inbound"
	"hosho-intake/intake/reply"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// inspected is `inspect --json`: the parse output, each notice's decision, and the reply
// that would be sent. Nothing is recorded or sent.
type inspected struct {
	File     string            `json:"file"`
	Notices  []inspectedNotice `json:"notices"`
	Problems []parser.Problem  `json:"problems"`
	Reply    inspectedReply    `json:"reply"`
}

type inspectedNotice struct {
	parser.Notice
	Decision verifier.Decision
}

// MarshalJSON flattens the notice and its decision into one object, as DESIGN.md has it.
func (n inspectedNotice) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(n.Notice)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["decision"], m["reasons"] = n.Decision.Outcome, n.Decision.Reasons
	m["policy"] = n.Decision.Policy + " " + n.Decision.PolicyVersion
	if len(n.Decision.Missing) > 0 {
		m["missing"] = n.Decision.Missing
	}
	if n.Decision.StartDate != "" {
		m["start_date"] = map[string]string{"date": n.Decision.StartDate, "label": n.Decision.StartDateLabel, "source": n.Decision.StartDateSource}
	}
	return json.Marshal(m)
}

type inspectedReply struct {
	Send    bool   `json:"send"`
	Why     string `json:"why,omitempty"` // why not, when Send is false
	To      string `json:"to,omitempty"`
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body,omitempty"`
}

// runInspect shows the whole judgement of one message, with no side effects: the admin's
// answer to "why did this mail get that answer?".
func runInspect(ctx context.Context, e env) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	cfgPath := fs.String("config", "", "config file (policy, register, agency, reply settings)")
	preset := fs.String("preset", "", "judge by a built-in policy instead: "+fmt.Sprint(verifier.PresetNames()))
	if err := fs.Parse(e.args); err != nil {
		return exitCode(2)
	}
	if fs.NArg() < 1 || fs.NArg() > 2 || (*cfgPath == "") == (*preset == "") {
		fmt.Fprintln(e.stderr, "usage: hosho-intake inspect [--json] (--config FILE | --preset NAME) FILE.eml [PASSWORD.eml]")
		return exitCode(2)
	}
	cfg := config.Default()
	var policy verifier.Policy
	var register *verifier.Register
	var err error
	if *cfgPath != "" {
		c, err := config.Load(*cfgPath, config.LoadOptions{Getenv: e.getenv, KnownPresets: verifier.PresetNames()})
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			return exitCode(1)
		}
		cfg = *c
		if policy, register, err = intake.PolicyOf(&cfg); err != nil {
			fmt.Fprintf(e.stderr, "hosho-intake inspect: %v\n", err)
			return exitCode(1)
		}
	} else if policy, err = verifier.Preset(*preset); err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake inspect: %v\n", err)
		return exitCode(2)
	}
	lim := inbound.DefaultLimits()
	lim.MaxMessageBytes = int64(cfg.IMAP.MaxMessageSize)
	data, _, err := readInput(fs.Arg(0), lim, nil)
	tooLarge := errors.Is(err, errTooLarge)
	if tooLarge {
		// Only the head was read: its header gives the reply's address, as the daemon
		// answers a message over the limit from its header alone.
		lim.MaxMessageBytes, err = int64(len(data))-1, nil
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake inspect: %v\n", err)
		return exitCode(1)
	}
	pool, err := newPDFPool(ctx, runtime.NumCPU(), cfg.Sandbox.Timeout, cfg.Sandbox.OCR)
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake inspect: %v\n", err)
		return exitCode(1)
	}
	defer pool.Close()
	c, err := intake.ReadWithin(ctx, bytes.NewReader(data), lim, pool, intake.Budget{Time: cfg.Sandbox.MessageBudget,
		MaxPDFs: cfg.Sandbox.MaxPDFsPerMessage, Parallel: runtime.NumCPU()})
	if err != nil {
		fmt.Fprintf(e.stderr, "hosho-intake inspect: %v\n", err)
		return exitCode(1)
	}
	if tooLarge {
		c.Notices = nil
		c.Problems = []parser.Problem{{Code: parser.CodeTooLarge, Detail: fmt.Sprintf("the message is larger than the limit of %d bytes", cfg.IMAP.MaxMessageSize)}}
	}
	if fs.NArg() == 2 && len(c.Message.Locked) > 0 {
		// A PPAP pair: the second mail states the password of the first one's locked files,
		// opened as the daemon would (the pairing rules apart: the admin names the pair).
		if err := inspectPair(ctx, c, fs.Arg(1), lim, pool, cfg); err != nil {
			fmt.Fprintf(e.stderr, "hosho-intake inspect: %v\n", err)
			return exitCode(1)
		}
	}
	received := c.Message.Date
	if received.IsZero() {
		received = time.Now()
	}
	out := inspected{File: fs.Arg(0), Notices: []inspectedNotice{}, Problems: c.Problems}
	var items []reply.Item
	for i := range c.Notices {
		// The daemon's own judgement (intake.Judge): an OCR'd 発注者 is settled as it would be.
		n := &c.Notices[i]
		d := intake.Judge(policy, n, verifier.Context{Received: received, Texts: c.Message.Texts, Register: register})
		out.Notices = append(out.Notices, inspectedNotice{Notice: *n, Decision: d})
		items = append(items, intake.ReplyItem(policy, *n, "（受付時に採番）", d.Outcome, d.Reasons, d.Missing, d.Kind))
	}
	agencyAddr := "agency@example.invalid" // --preset: no agency configured; the preview needs a sender
	if cfg.Agency.Address != nil {
		agencyAddr = cfg.Agency.Address.Address
	}
	out.Reply = previewReply(c, items, cfg, agencyAddr)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(e.stderr, "hosho-intake inspect: %v\n", err)
			return exitCode(1)
		}
		return nil
	}
	printTable(e.stdout, parseResult{File: out.File, Notices: c.Notices, Problems: c.Problems})
	for _, n := range out.Notices {
		fmt.Fprintf(e.stdout, "  %s: %s %v (policy %s %s)\n", n.ContractNumber, n.Decision.Outcome, n.Decision.Reasons, n.Decision.Policy, n.Decision.PolicyVersion)
	}
	if !out.Reply.Send {
		fmt.Fprintf(e.stdout, "reply: none (%s)\n", out.Reply.Why)
		return nil
	}
	fmt.Fprintf(e.stdout, "reply to %s: %s\n\n%s\n", out.Reply.To, out.Reply.Subject, out.Reply.Body)
	return nil
}

// previewReply composes the reply the daemon would send (tracking numbers are given when a
// notice is filed, so the preview shows none), or says why there would be none.
func previewReply(c *intake.Contents, items []reply.Item, cfg config.Config, agencyAddr string) inspectedReply {
	pol := intake.ReplyPolicy(&cfg)
	pol.AgencyAddress = agencyAddr
	if ok, why := reply.Should(c.Message, reply.Authenticate(c.Message, pol), pol); !ok {
		return inspectedReply{Why: why}
	}
	composer, err := reply.NewComposer(reply.Options{Charset: cfg.Reply.Charset, TemplatesDir: cfg.Reply.TemplatesDir})
	if err != nil {
		return inspectedReply{Why: err.Error()}
	}
	name := cfg.Agency.Name
	if name == "" {
		name = "（発注機関）"
	}
	rep, err := composer.Compose(reply.Input{Received: c.Message, Items: items, Problems: c.Problems, AgencyName: name,
		AgencyAddress: agencyAddr, Signature: cfg.Reply.Signature, Tracking: "（受付時に採番）"})
	if err != nil {
		return inspectedReply{Why: err.Error()}
	}
	return inspectedReply{Send: true, To: rep.To, Subject: rep.Subject, Body: rep.Text}
}

// inspectPair opens c's locked files with the passwords the mail in path states, and puts
// what they hold in c in place of the password_zip problems.
func inspectPair(ctx context.Context, c *intake.Contents, path string, lim inbound.Limits, pdfs intake.PDFReader, cfg config.Config) error {
	data, _, err := readInput(path, lim, nil)
	if err != nil {
		return err
	}
	key, err := inbound.Read(bytes.NewReader(data), lim)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	notices, problems, _, err := intake.OpenLocked(ctx, c.Message.Locked, intake.Passwords(key.Texts), lim, pdfs,
		intake.Budget{Time: cfg.Sandbox.MessageBudget, MaxPDFs: cfg.Sandbox.MaxPDFsPerMessage, Parallel: runtime.NumCPU()})
	if err != nil {
		return err
	}
	var kept []parser.Problem
	for _, p := range c.Problems {
		if p.Code != parser.CodePasswordZip && p.Code != parser.CodeEncrypted && p.Code != parser.CodeNoNotice {
			kept = append(kept, p)
		}
	}
	c.Notices = append(c.Notices, notices...)
	c.Problems = append(append([]parser.Problem{}, kept...), problems...)
	return nil
}
