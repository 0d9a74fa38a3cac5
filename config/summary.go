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
	row("imap", "%s@%s (tls %s, auth %s%s), mailbox %s, then %s", m.Username, m.Addr, m.TLS, m.Auth, m.OAuth2.source(m.Auth), m.Mailbox, dest)
	row("poll", "%s", schedule(m.Schedule, now))

	s := c.SMTP
	user := ""
	if s.Username != "" {
		user = s.Username + "@"
	}
	row("smtp", "%s%s (tls %s, auth %s%s), from %s, retry for %s", user, s.Addr, s.TLS, s.Auth, s.OAuth2.source(s.Auth), addrString(s.From), durationString(s.RetryFor))
	row("replies", "%s, at most %d an hour per sender and %d in all", c.Reply.Charset, c.Reply.RateLimit, c.Reply.GlobalRateLimit)
	row("trust", "%s", c.TrustSummary())

	d := c.Digest
	row("digest", "to %s, %s", addrList(d.To), schedule(d.Schedule, now))
	if addrList(d.Clerks) != addrList(d.To) {
		row("clerks", "%s", addrList(d.Clerks))
	}
	if d.InquiriesTo != nil {
		row("inquiries", "forwarded at once to %s", d.InquiriesTo.Address)
	}
	if d.DSureURL == "" {
		row("d-sure", "no link in the digest (set digest.dsure_url to D-Sure's login page)")
	} else {
		row("d-sure", "%s", d.DSureURL)
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
	if c.Web.Addr != "" {
		row("web", "%s (listening on %s)", c.Web.URL, c.Web.Addr)
	}
	for _, w := range c.Warnings {
		row("warning", "%s", w.Error())
	}
	return b.String()
}

// TrustSummary says in one line who is answered and what a decision by mail needs: what
// `check` and `status` tell an admin, so that nobody believes in an authentication the
// server cannot give.
func (c *Config) TrustSummary() string {
	r := c.Reply
	var parts []string
	if r.Authenticates() {
		by := []string{}
		if r.AuthservID != "" {
			by = append(by, "Authentication-Results of "+r.AuthservID)
		}
		if len(r.TrustedRelays) > 0 {
			by = append(by, "trusted relays "+strings.Join(r.TrustedRelays, ", "))
		}
		parts = append(parts, "senders authenticated by "+strings.Join(by, " and "))
		if r.RequireAuthResults {
			parts = append(parts, "only authenticated senders are answered")
		} else {
			parts = append(parts, "WARNING: unauthenticated senders are answered too (require_auth_results = false)")
		}
	} else {
		parts = append(parts, "WARNING: nothing authenticates senders (no reply.authserv_id or reply.trusted_relays): any From is answered")
	}
	switch {
	case !c.Digest.DecideByMail:
		parts = append(parts, "decisions by mail off (queue verify/reject only)")
	case r.Authenticates():
		parts = append(parts, fmt.Sprintf("decisions by mail need an authenticated clerk and the clerk's own link (valid %s)", durationString(c.Digest.TokenLifetime)))
	default:
		parts = append(parts, fmt.Sprintf("WARNING: a decision mail is proven only by the clerk's own link (valid %s): anyone who reads a clerk's digest can decide; set reply.authserv_id or digest.decide_by_mail = false", durationString(c.Digest.TokenLifetime)))
	}
	return strings.Join(parts, "; ")
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

// source says where an OAuth 2.0 token comes from, for the summary: "" for other auths.
func (o OAuth2) source(auth string) string {
	switch {
	case auth != AuthXOAuth2 && auth != AuthOAuthBearer:
		return ""
	case o.ServiceAccountFile != "":
		return ": Google service account with domain-wide delegation, as " + o.Subject
	case o.TokenFile != "":
		return ": token_file"
	}
	return ": client credentials"
}
