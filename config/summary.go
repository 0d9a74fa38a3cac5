package config

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Summary is what `hosho-intake check` prints for a good file: what will be polled, when,
// where replies go, and where state lives. It shows no secret.
func (c *Config) Summary() string { return c.SummaryAt(time.Now()) }

// SummaryAt is Summary with the next run times computed from now.
func (c *Config) SummaryAt(now time.Time) string {
	var b strings.Builder
	row := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-9s %s\n", label, fmt.Sprintf(format, args...))
	}
	row("config", "%s", c.File)
	rules := "preset " + c.Agency.Preset
	switch {
	case c.Policy.File != "":
		rules = "policy file " + c.Policy.File
	case c.Policy.Inline():
		rules = fmt.Sprintf("policy %s v%s (inline)", c.Policy.Name, c.Policy.Version)
	}
	addr := ""
	if c.Agency.Address != nil {
		addr = " <" + c.Agency.Address.Address + ">"
	}
	row("agency", "%s%s, %s", c.Agency.Name, addr, rules)

	m := c.IMAP
	dest := "flag them (no processed_mailbox)"
	if m.ProcessedMailbox != "" {
		dest = "move to " + m.ProcessedMailbox
	}
	row("imap", "%s@%s (tls %s, auth %s), mailbox %s, then %s", m.Username, m.Addr, m.TLS, m.Auth, m.Mailbox, dest)
	row("poll", "%s", schedule(m.Schedule, now))

	s := c.SMTP
	user := ""
	if s.Username != "" {
		user = s.Username + "@"
	}
	row("smtp", "%s%s (tls %s, auth %s), from %s, retry for %s", user, s.Addr, s.TLS, s.Auth, addrString(s.From), durationString(s.RetryFor))
	row("replies", "%s, at most %d an hour per sender", c.Reply.Charset, c.Reply.RateLimit)

	d := c.Digest
	row("digest", "to %s, %s", addrList(d.To), schedule(d.Schedule, now))
	if addrList(d.Clerks) != addrList(d.To) {
		row("clerks", "%s", addrList(d.Clerks))
	}
	keep := "forever"
	if c.State.Retention > 0 {
		keep = durationString(c.State.Retention)
	}
	row("state", "%s (raw messages kept %s)", c.State.Dir, keep)
	if c.Register.CSV != "" {
		row("register", "%s", c.Register.CSV)
	}
	metrics := "off"
	if !c.Metrics.Addr.IsZero() {
		metrics = "http://" + c.Metrics.Addr.String() + "/metrics"
	}
	row("metrics", "%s", metrics)
	for _, w := range c.Warnings {
		row("warning", "%s", w.Error())
	}
	return b.String()
}

func schedule(s Schedule, now time.Time) string {
	next := s.Next(now)
	if next.IsZero() {
		return fmt.Sprintf("%q (never runs)", s.Spec)
	}
	return fmt.Sprintf("%q, next %s", s.Spec, next.In(s.Location()).Format("2006-01-02 15:04 MST"))
}

func addrString(a *mail.Address) string {
	if a == nil {
		return ""
	}
	if a.Name == "" {
		return a.Address
	}
	// Not a.String(): that is RFC 2047 encoded, unreadable for a Japanese name.
	return fmt.Sprintf("%s <%s>", a.Name, a.Address)
}

func addrList(l []*mail.Address) string {
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = a.Address
	}
	return strings.Join(s, ", ")
}

func durationString(d time.Duration) string {
	switch {
	case d > 0 && d%(24*time.Hour) == 0 && d > 24*time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
