package reply

import (
	"net/mail"
	"net/netip"
	"slices"
	"strings"

	"hosho-intake/intake/inbound"
	"hosho-intake/parser"
)

// Reasons Should gives for not answering. The first three are the problem codes of DESIGN.md, so
// that the ledger and the digest name them alike.
const (
	WhyAutoSubmitted    = parser.CodeAutoSubmitted // Auto-Submitted, Precedence, X-Auto-Response-Suppress
	WhyBounce           = parser.CodeBounce        // multipart/report, null return path, MAILER-DAEMON, postmaster
	WhyMailingList      = parser.CodeMailingList   // List-Id, List-Unsubscribe, List-Post, Precedence: list
	WhyNoSender         = "no_sender"              // no usable From address to answer
	WhyRobotAddress     = "robot_address"          // noreply-style sender or return path
	WhyOwnAddress       = "own_address"            // the agency's own mailbox: answering would loop
	WhyNotAuthenticated = "not_authenticated"      // no dmarc/dkim/spf pass from our authserv-id
)

// Policy is what Should needs from the configuration.
type Policy struct {
	// AgencyAddress is the agency mailbox; mail from it is never answered.
	AgencyAddress string
	// RequireAuthResults answers only senders that Authenticate passes.
	RequireAuthResults bool
	// AuthservID is the agency's own receiving server's authserv-id (RFC 8601 §2.5).
	AuthservID string
	// TrustedRelays are the agency's own mail relays and networks: mail whose every hop came
	// from them is authenticated as internal (MethodRelay).
	TrustedRelays []netip.Prefix
}

// Should tells whether msg, whose sender Authenticate found to be a, may be answered, and if
// not, why (one of the Why constants).
//
// RFC 3834 §2 asks a responder not to answer automatic submissions, delivery reports and list
// traffic; §3.1.8 leaves Precedence to convention, which we honour because vacation programs
// and list servers still set it. The rest is common sense: a robot address reads nothing, and
// our own address would answer itself forever.
func Should(msg *inbound.Message, a Auth, p Policy) (ok bool, why string) {
	if msg == nil {
		return false, WhyNoSender
	}
	h := msg.Header

	// RFC 3834 §5.1: any Auto-Submitted value but "no" marks automatic mail.
	for _, v := range h.Values("Auto-Submitted") {
		kw := firstWord(stripComments(v))
		if kw != "" && kw != "no" {
			return false, WhyAutoSubmitted
		}
	}
	list := h.Has("List-Id") || h.Has("List-Unsubscribe") || h.Has("List-Post")
	switch firstWord(stripComments(h.Get("Precedence"))) {
	case "auto_reply", "auto-reply":
		return false, WhyAutoSubmitted
	case "list":
		return false, WhyMailingList
	case "bulk", "junk":
		if !list {
			return false, WhyAutoSubmitted
		}
	}
	// [MS-OXCMAIL] 2.2.3.2.14: Exchange marks its own automatic replies so that nobody answers them.
	for _, v := range h.Values("X-Auto-Response-Suppress") {
		for _, w := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if w == "all" || w == "autoreply" || w == "oof" {
				return false, WhyAutoSubmitted
			}
		}
	}
	if list {
		// RFC 2919 (List-Id), RFC 2369 (List-Unsubscribe, List-Post).
		return false, WhyMailingList
	}
	// RFC 6522: multipart/report carries DSNs (RFC 3464) and MDNs (RFC 8098).
	if ct := firstWord(strings.SplitN(h.Get("Content-Type"), ";", 2)[0]); ct == "multipart/report" {
		return false, WhyBounce
	}
	// RFC 5321 §4.5.5: notifications are sent with a null reverse path; an empty one is the same
	// thing badly written. An absent Return-Path (a message read from a file) says nothing.
	if h.Has("Return-Path") || msg.ReturnPath != "" {
		rp := strings.TrimSpace(msg.ReturnPath)
		if rp == "" || rp == "<>" {
			return false, WhyBounce
		}
	}
	// inbound classifies more than the rules above (X-Autoreply, ...); trust it too.
	for _, c := range []string{parser.CodeBounce, parser.CodeAutoSubmitted, parser.CodeMailingList} {
		if slices.Contains(msg.Classes, c) {
			return false, c
		}
	}

	from, ok := address(msg.From)
	if !ok {
		return false, WhyNoSender
	}
	for _, a := range []string{from, msg.ReturnPath} {
		switch robot(a) {
		case WhyBounce:
			return false, WhyBounce
		case WhyRobotAddress:
			return false, WhyRobotAddress
		}
	}
	if own, ok := address(p.AgencyAddress); ok {
		if strings.EqualFold(from, own) || strings.EqualFold(strings.TrimSpace(msg.ReturnPath), own) {
			return false, WhyOwnAddress
		}
	}
	if p.RequireAuthResults && !a.Pass() {
		return false, WhyNotAuthenticated
	}
	return true, ""
}

// address returns the bare addr-spec of a, or false when a is not one mailbox.
func address(a string) (string, bool) {
	a = strings.TrimSpace(a)
	if a == "" || a == "<>" {
		return "", false
	}
	pa, err := mail.ParseAddress(a)
	if err != nil {
		return "", false
	}
	return pa.Address, true
}

// robot classifies an address: WhyBounce for MAILER-DAEMON and postmaster (RFC 5321 §4.5.1:
// they send the notifications), WhyRobotAddress for a noreply-style one, "" otherwise.
func robot(addr string) string {
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	local = strings.Trim(local, `"<>`)
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i] // subaddress: noreply+tag@ is still noreply@
	}
	if local == "mailer-daemon" || local == "postmaster" || strings.HasPrefix(local, "mailer-daemon") {
		return WhyBounce
	}
	// Local parts of mailboxes nobody reads. A prefix match catches the VERP forms bulk senders
	// use (bounce-1234, bounces, noreply.shop).
	for _, r := range []string{"noreply", "no-reply", "no_reply", "do-not-reply", "donotreply", "do_not_reply", "bounce"} {
		if strings.HasPrefix(local, r) {
			return WhyRobotAddress
		}
	}
	return ""
}

// firstWord is the first token of v, lower-cased: "auto-replied; owner=x" -> "auto-replied".
func firstWord(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if i := strings.IndexAny(v, "; \t"); i >= 0 {
		v = v[:i]
	}
	return v
}

// stripComments drops RFC 5322 §3.2.2 comments ("auto-replied (vacation)"), respecting quoted
// strings and backslash escapes in both.
func stripComments(v string) string {
	if !strings.ContainsAny(v, "(") {
		return v
	}
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(v):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(v[i+1])
			}
			i++
		case c == '"' && depth == 0:
			quoted = !quoted
			b.WriteByte(c)
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}
