package reply

import (
	"net/netip"
	"strings"

	"hosho-intake/intake/inbound"
)

// Ways a sender's domain was authenticated (Auth.Method).
const (
	MethodDMARC = "dmarc" // dmarc=pass for the From domain
	MethodDKIM  = "dkim"  // dkim=pass with a signing domain aligned with the From domain
	MethodSPF   = "spf"   // spf=pass with an envelope domain aligned with the From domain
	MethodRelay = "relay" // every hop came from the trusted relays the config names
)

// Auth is how a message's sender was authenticated. It is decided once, when the message is
// recorded (Authenticate), and carried to everything that acts for the sender: a clerk's
// decision, a reply, a confirmation. Nothing acts on a raw From string.
type Auth struct {
	// Checked: the agency's server can vouch for senders (an authserv-id or trusted relays
	// are configured). When false nothing can be authenticated, and a decision link's token
	// is the only proof that a decision mail comes from the clerk it was sent to.
	Checked bool
	// Method is what authenticated the From address's domain, or "" (not authenticated).
	Method string
}

// Pass reports whether the sender is authenticated at all.
func (a Auth) Pass() bool { return a.Method != "" }

// Clerk reports whether the authentication is strong enough for a clerk's decision: a DMARC
// pass, an aligned DKIM pass, or a trusted internal relay. An aligned SPF pass alone is not:
// it vouches for the envelope, which a relay shared with others may carry for anyone.
func (a Auth) Clerk() bool {
	return a.Method == MethodDMARC || a.Method == MethodDKIM || a.Method == MethodRelay
}

// Authenticate decides how msg's sender is authenticated under p: by the newest
// Authentication-Results field (RFC 8601) that p.AuthservID wrote, or by the Received trail
// through p.TrustedRelays.
//
// Fields of any other authserv-id are ignored: anyone can write them, and RFC 8601 §5 lets a
// receiver trust only its own. Only the topmost field of our id counts, because our server
// prepends its own (§5: fields are added at the top like trace fields) and a forged one with
// our id can only sit below it; our border server should also delete such forgeries (§5), but
// this does not rely on it when our field is there. A pass counts only for the From domain
// (RFC 7489 §3.1 alignment): dmarc=pass whose header.from is that domain, dkim=pass whose
// header.d, or spf=pass whose smtp.mailfrom, is that domain or a parent or child of it.
func Authenticate(msg *inbound.Message, p Policy) Auth {
	a := Auth{Checked: strings.TrimSpace(p.AuthservID) != "" || len(p.TrustedRelays) > 0}
	if msg == nil {
		return a
	}
	from, ok := address(msg.From)
	if !ok {
		return a
	}
	domain := strings.ToLower(from[strings.LastIndexByte(from, '@')+1:])
	if m := authResultsMethod(msg.Header, p.AuthservID, domain); m != "" {
		a.Method = m
	} else if relayed(msg.Header, p.TrustedRelays) {
		a.Method = MethodRelay
	}
	return a
}

// authResultsMethod is the strongest aligned pass for domain in our topmost
// Authentication-Results field, or "".
func authResultsMethod(h inbound.Header, authservID, domain string) string {
	id := strings.TrimSpace(authservID)
	if id == "" || domain == "" {
		return ""
	}
	for _, v := range h.Values("Authentication-Results") {
		serv, results := parseAuthResults(v)
		if !strings.EqualFold(serv, id) {
			continue
		}
		found := ""
		for _, r := range results {
			if r.result != "pass" {
				continue
			}
			switch {
			case r.method == MethodDMARC && (r.props["header.from"] == "" || strings.EqualFold(r.props["header.from"], domain)):
				return MethodDMARC
			case r.method == MethodDKIM && aligned(propDomain(r.props, "header.d", "header.i"), domain):
				found = MethodDKIM
			case r.method == MethodSPF && found == "" && aligned(propDomain(r.props, "smtp.mailfrom", "smtp.helo"), domain):
				found = MethodSPF
			}
		}
		return found
	}
	return ""
}

// propDomain is the domain of the first of the properties present: a bare domain, or the
// part after the last @ of an address (header.i=@example.jp, smtp.mailfrom=a@example.jp).
func propDomain(props map[string]string, names ...string) string {
	for _, n := range names {
		if v := props[n]; v != "" {
			return strings.ToLower(strings.Trim(v[strings.LastIndexByte(v, '@')+1:], "."))
		}
	}
	return ""
}

// aligned is RFC 7489's relaxed alignment approximated without the public suffix list: the
// same domain, or one a subdomain of the other. Approximating is safe here: a pass for a
// parent domain (lg.jp) needs that domain's own keys or SPF record, which no stranger has.
func aligned(d, from string) bool {
	if d == "" || from == "" {
		return false
	}
	return d == from || strings.HasSuffix(from, "."+d) || strings.HasSuffix(d, "."+from)
}

// relayed reports whether every hop of the Received trail, read from the top (our own
// servers' newest records) down, came from a loopback address or one of the trusted relays,
// and at least one from a relay: mail that a clerk sent inside the agency's own network. The
// first hop from anywhere else ends the walk with false, so the records a stranger writes
// below it are never read; so does a record whose sender address cannot be read.
func relayed(h inbound.Header, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	saw := false
	for _, v := range h.Values("Received") {
		ip, hasFrom, ok := receivedFromIP(v)
		switch {
		case !hasFrom:
			continue // a local pickup (by host; from userid 1000) names no peer
		case !ok:
			return false
		case ip.IsLoopback():
			continue
		}
		in := false
		for _, p := range trusted {
			if p.Contains(ip) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
		saw = true
	}
	return saw
}

// receivedFromIP reads the peer address of a Received field's from clause (RFC 5321 §4.4:
// "from host (name [192.0.2.1])", "[IPv6:2001:db8::1]").
func receivedFromIP(v string) (ip netip.Addr, hasFrom, ok bool) {
	v = strings.Join(strings.Fields(v), " ")
	lower := strings.ToLower(v)
	if !strings.HasPrefix(lower, "from ") {
		return netip.Addr{}, false, false
	}
	clause := v
	if i := strings.Index(lower, " by "); i >= 0 {
		clause = v[:i]
	}
	for rest := clause; ; {
		i := strings.IndexByte(rest, '[')
		if i < 0 {
			return netip.Addr{}, true, false
		}
		j := strings.IndexByte(rest[i:], ']')
		if j < 0 {
			return netip.Addr{}, true, false
		}
		lit := rest[i+1 : i+j]
		if len(lit) > 5 && strings.EqualFold(lit[:5], "IPv6:") {
			lit = lit[5:]
		}
		if a, err := netip.ParseAddr(lit); err == nil {
			return a.Unmap(), true, true
		}
		rest = rest[i+j+1:]
	}
}

// authResult is one resinfo of RFC 8601 §2.2: method=result.
type authResult struct {
	method, result string
	props          map[string]string // ptype.property=value, lower-case keys: header.d, smtp.mailfrom
}

// parseAuthResults reads "authserv-id [version] ; method=result ... ; ..." (RFC 8601 §2.2), after
// dropping comments. The authserv-id may be a quoted string; methods lose their "/version".
//
// A field that starts with method=result has no authserv-id (""): an RFC 8601 token cannot
// hold "=", and Exchange Online writes its fields so ("spf=pass (sender IP is ...) ..."). Its
// first word is a result, never an id: an admin who copied "spf=pass" into authserv_id
// would otherwise trust every field a sender writes in that form.
func parseAuthResults(v string) (authservID string, results []authResult) {
	parts := splitUnquoted(stripComments(v), ';')
	if len(parts) == 0 {
		return "", nil
	}
	head := strings.TrimSpace(parts[0])
	switch f := strings.Fields(head); {
	case strings.HasPrefix(head, `"`):
		if end := strings.IndexByte(head[1:], '"'); end >= 0 {
			authservID = head[1 : 1+end]
		}
		parts = parts[1:]
	case len(f) > 0 && strings.Contains(f[0], "="):
		// No authserv-id: the first part is a result like the rest.
	case len(f) > 0:
		authservID = f[0]
		parts = parts[1:]
	default:
		parts = parts[1:]
	}
	for _, p := range parts {
		method, rest, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue // "none" or garbage
		}
		method, _, _ = strings.Cut(method, "/")
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		r := authResult{method: strings.ToLower(strings.TrimSpace(method)), result: strings.ToLower(f[0]), props: map[string]string{}}
		for _, kv := range f[1:] {
			if k, val, ok := strings.Cut(kv, "="); ok && strings.Contains(k, ".") {
				r.props[strings.ToLower(k)] = strings.Trim(val, `"`)
			}
		}
		results = append(results, r)
	}
	return authservID, results
}

// splitUnquoted splits s at sep outside RFC 5322 quoted strings.
func splitUnquoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// AuthservIDs lists the authserv-ids of h's Authentication-Results fields, newest first:
// `check --connect` shows them, so an admin sees which id their server writes. A field
// without one (Exchange Online's) is listed as NoAuthservID.
func AuthservIDs(h inbound.Header) []string {
	var ids []string
	for _, v := range h.Values("Authentication-Results") {
		id, results := parseAuthResults(v)
		switch {
		case id != "":
			ids = append(ids, id)
		case len(results) > 0:
			ids = append(ids, NoAuthservID)
		}
	}
	return ids
}

// NoAuthservID stands in AuthservIDs for a field written without an authserv-id, as
// Exchange Online (Microsoft 365) writes them. No such field is trusted: anyone can write
// one, and Microsoft does not document that it removes those a sender wrote.
const NoAuthservID = "(no authserv-id)"
