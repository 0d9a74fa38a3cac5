package daemon

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"hosho-intake/config"
	"hosho-intake/intake/credential"
	"hosho-intake/intake/inbound"
	"hosho-intake/intake/mailbox"
	"hosho-intake/intake/outbox"
	"hosho-intake/intake/reply"
)

// Step is one thing `check --connect` tried.
type Step struct {
	Name string // imap-oauth2, imap, mailbox, processed, capabilities, authentication-results, smtp-oauth2, smtp
	// OK: it worked. A step that is only a remark (a capability the server lacks, no mail
	// to look at yet) is OK with a Detail.
	OK     bool
	Detail string // what was found, or the server's own words when it failed
}

// Probe logs in to the IMAP server and the SMTP relay as the daemon would, and says for each
// step what happened: the mailbox and the processed folder exist, the capabilities the poll
// uses (IDLE, MOVE, UIDPLUS), whether the newest message carries Authentication-Results of
// the configured authserv-id, and whether the relay accepts MAIL FROM the agency. It
// changes nothing on either server and opens no state, so it runs beside a live daemon.
func Probe(ctx context.Context, cfg *config.Config) []Step {
	var steps []Step
	add := func(name string, err error, detail string) bool {
		if err != nil {
			steps = append(steps, Step{Name: name, Detail: err.Error()})
			return false
		}
		steps = append(steps, Step{Name: name, OK: true, Detail: detail})
		return true
	}
	steps = append(steps, probeIMAP(ctx, cfg)...)

	s := cfg.SMTP
	key, err := credential.New("smtp", s.Auth, s.Password, s.OAuth2, cfg.State.Dir, nil)
	if err != nil {
		add("smtp", err, "")
		return steps
	}
	if st, ok := tokenStep(ctx, "smtp", s.Auth, key); !ok {
		return append(steps, st)
	} else if st.Name != "" {
		steps = append(steps, st)
	}
	from := cfg.Agency.Address.Address
	ext, err := outbox.Probe(ctx, outbox.Options{SMTP: s, Secret: key.Secret}, from)
	who := "without AUTH"
	if s.Username != "" && s.Auth != config.AuthNone {
		who = "as " + s.Username + " (" + s.Auth + ")"
	}
	add("smtp", err, fmt.Sprintf("%s, TLS %s, logged in %s, MAIL FROM:<%s> accepted (%s)", s.Addr, s.TLS, who, from, ext))
	return steps
}

func probeIMAP(ctx context.Context, cfg *config.Config) []Step {
	m := cfg.IMAP
	fail := func(name string, err error) []Step { return []Step{{Name: name, Detail: err.Error()}} }
	key, err := credential.New("imap", m.Auth, m.Password, m.OAuth2, cfg.State.Dir, nil)
	if err != nil {
		return fail("imap", err)
	}
	var steps []Step
	if st, ok := tokenStep(ctx, "imap", m.Auth, key); !ok {
		return []Step{st}
	} else if st.Name != "" {
		steps = append(steps, st)
	}
	sess, err := mailbox.Dial(ctx, mailbox.Options{Addr: m.Addr.String(), TLS: m.TLS, RootCAs: m.RootCAs,
		Username: m.Username, Auth: m.Auth, Secret: key.Secret, Timeout: m.Timeout})
	if err != nil {
		return append(steps, Step{Name: "imap", Detail: err.Error()})
	}
	defer sess.Close()
	steps = append(steps, Step{Name: "imap", OK: true, Detail: fmt.Sprintf("%s, TLS %s, logged in as %s (%s)", m.Addr, m.TLS, m.Username, m.Auth)})

	caps, err := sess.Caps(ctx)
	if err != nil {
		return append(steps, Step{Name: "capabilities", Detail: err.Error()})
	}
	var missing []string
	for _, c := range []string{"IDLE", "MOVE", "UIDPLUS"} {
		if !slices.ContainsFunc(caps, func(s string) bool { return strings.EqualFold(s, c) }) {
			missing = append(missing, c)
		}
	}
	detail := "IDLE, MOVE, UIDPLUS"
	if len(missing) > 0 {
		detail = "without " + strings.Join(missing, ", ") + " (the poll falls back: COPY, flags and EXPUNGE instead of MOVE; no IDLE)"
	}
	steps = append(steps, Step{Name: "capabilities", OK: true, Detail: detail})

	if m.ProcessedMailbox != "" {
		if _, err := sess.Select(ctx, m.ProcessedMailbox); err != nil {
			// The poll creates it at its first move (TRYCREATE); not a fault.
			steps = append(steps, Step{Name: "processed", OK: true, Detail: fmt.Sprintf("folder %q does not exist yet: the first poll creates it (the server said: %v)", m.ProcessedMailbox, err)})
		} else {
			steps = append(steps, Step{Name: "processed", OK: true, Detail: fmt.Sprintf("folder %q exists", m.ProcessedMailbox)})
		}
	}
	st, err := sess.Select(ctx, m.Mailbox)
	if err != nil {
		return append(steps, Step{Name: "mailbox", Detail: fmt.Sprintf("%q: %v", m.Mailbox, err)})
	}
	steps = append(steps, Step{Name: "mailbox", OK: true, Detail: fmt.Sprintf("%q: %d messages", m.Mailbox, st.Messages)})
	return append(steps, authResultsStep(ctx, sess, cfg, st))
}

// tokenStep fetches the OAuth 2.0 access token as the login will, so that a refused refresh
// token or service account shows as its own step with the provider's words, not as a failed
// login. The token itself is never shown. A zero Step for a password; ok false ends the probe
// of that server.
func tokenStep(ctx context.Context, name, auth string, key *credential.Source) (st Step, ok bool) {
	if auth != config.AuthXOAuth2 && auth != config.AuthOAuthBearer {
		return Step{}, true
	}
	st.Name = name + "-oauth2"
	if _, err := key.Secret(ctx); err != nil {
		st.Detail = err.Error()
		return st, false
	}
	st.OK, st.Detail = true, "access token fetched"
	if exp := key.Health().Expiry; !exp.IsZero() {
		st.Detail += ", valid until " + exp.Format(time.RFC3339)
	}
	return st, true
}

// authResultsStep looks at the newest message's header for Authentication-Results of the
// configured authserv-id: whether replies and decisions can rely on it.
func authResultsStep(ctx context.Context, sess *mailbox.Session, cfg *config.Config, st mailbox.Status) Step {
	id := cfg.Reply.AuthservID
	step := Step{Name: "authentication-results", OK: true}
	after := uint32(0)
	if st.UIDNext > 20 {
		after = st.UIDNext - 20
	}
	infos, err := sess.Since(ctx, after)
	if err != nil || len(infos) == 0 {
		step.Detail = "no message to look at yet"
		if err != nil {
			step.Detail = err.Error()
		}
		return step
	}
	raw, err := sess.FetchHeader(ctx, infos[len(infos)-1].UID)
	if err != nil {
		step.Detail = err.Error()
		return step
	}
	msg, err := inbound.Read(bytes.NewReader(append(raw, "\r\n"...)), inbound.DefaultLimits())
	if err != nil {
		step.Detail = err.Error()
		return step
	}
	ids := reply.AuthservIDs(msg.Header)
	switch {
	case id == "" && len(ids) > 0 && ids[0] == reply.NoAuthservID:
		step.Detail = "the newest message's Authentication-Results has no authserv-id (Microsoft 365 writes them so); hosho-intake cannot trust such fields: nothing authenticates senders (admin guide, Microsoft 365)"
	case id == "" && len(ids) == 0:
		step.Detail = "the newest message has none, and [reply] authserv_id is not set: nothing authenticates senders"
	case id == "":
		step.Detail = fmt.Sprintf("the newest message has Authentication-Results of %s; set [reply] authserv_id to the one your own server writes", strings.Join(ids, ", "))
	case len(ids) > 0 && strings.EqualFold(ids[0], id):
		step.Detail = fmt.Sprintf("the newest message has Authentication-Results of %s", id)
	default:
		step.OK = false
		step.Detail = fmt.Sprintf("the newest message has no Authentication-Results of %s (it has: %s): check [reply] authserv_id, or the message came in another way", id, orNone(ids))
	}
	return step
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
