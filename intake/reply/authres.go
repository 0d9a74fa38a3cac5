package reply

import (
	"strings"

	"hosho-intake/intake/inbound"
)

// authenticated reports whether the newest Authentication-Results field (RFC 8601) written by
// authservID shows dmarc=pass, dkim=pass or spf=pass.
//
// Fields of any other authserv-id are ignored: anyone can write them, and RFC 8601 §5 lets a
// receiver trust only its own. Only the topmost field of our id counts, because our server
// prepends its own (§5: fields are added at the top like trace fields) and a forged one with
// our id can only sit below it; our border server should also delete such forgeries (§5), but
// this does not rely on it when our field is there. As the configuration asks, a dkim=pass of
// any domain counts, although only DMARC ties the pass to the From domain.
func authenticated(h inbound.Header, authservID string) bool {
	id := strings.TrimSpace(authservID)
	if id == "" {
		return false
	}
	for _, v := range h.Values("Authentication-Results") {
		serv, results := parseAuthResults(v)
		if !strings.EqualFold(serv, id) {
			continue
		}
		for _, r := range results {
			if r.result == "pass" && (r.method == "dmarc" || r.method == "dkim" || r.method == "spf") {
				return true
			}
		}
		return false
	}
	return false
}

// authResult is one resinfo of RFC 8601 §2.2: method=result.
type authResult struct {
	method, result string
}

// parseAuthResults reads "authserv-id [version] ; method=result ... ; ..." (RFC 8601 §2.2), after
// dropping comments. The authserv-id may be a quoted string; methods lose their "/version".
func parseAuthResults(v string) (authservID string, results []authResult) {
	parts := splitUnquoted(stripComments(v), ';')
	if len(parts) == 0 {
		return "", nil
	}
	head := strings.TrimSpace(parts[0])
	if strings.HasPrefix(head, `"`) {
		if end := strings.IndexByte(head[1:], '"'); end >= 0 {
			authservID = head[1 : 1+end]
		}
	} else if f := strings.Fields(head); len(f) > 0 {
		authservID = f[0]
	}
	for _, p := range parts[1:] {
		method, rest, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue // "none" or garbage
		}
		method, _, _ = strings.Cut(method, "/")
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		results = append(results, authResult{
			method: strings.ToLower(strings.TrimSpace(method)),
			result: strings.ToLower(f[0]),
		})
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
