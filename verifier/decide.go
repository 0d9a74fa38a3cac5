package verifier

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/parser"
)

// The words a decision mail's subject starts with: what clerks see in the digest's links
// and in their mail client.
const (
	VerifyWord = "確認済"
	RejectWord = "差戻し"
)

// actionWords are the words DecisionMail accepts, longest first so that 確認済み is not
// read as 確認済 followed by junk. Clerks retype subjects; the usual spellings of 差戻し
// are accepted.
var actionWords = []struct{ word, action string }{
	{"確認済み", ActionVerify}, {"確認済", ActionVerify},
	{"差し戻し", ActionReject}, {"差戻し", ActionReject}, {"差し戻", ActionReject}, {"差戻", ActionReject},
}

// maxReason bounds a clerk's reason: it is stored in every copy of the item and sent to
// the contractor.
const maxReason = 500

// Decide records a clerk's decision on a waiting item: ActionVerify or ActionReject, by the
// clerk's address, how (HowMail, HowCommand or HowPage), why (the reason of a 差戻し, told to the
// contractor), at. A decision is final: an item already verified or rejected gives
// ErrAlreadyDecided, with the item as it stands so the caller can say how it was decided;
// a replayed decision mail changes nothing.
func (q *Queue) Decide(tx *bolt.Tx, id uint64, action, by, how, why string, at time.Time) (Submission, error) {
	var to string
	switch action {
	case ActionVerify:
		to = StateVerified
	case ActionReject:
		to = StateRejected
	default:
		return Submission{}, fmt.Errorf("deciding %s: unknown action %q", fmt.Sprintf(trackingNumberForm, id), action)
	}
	if how != HowMail && how != HowCommand && how != HowPage {
		return Submission{}, fmt.Errorf("deciding %s: unknown way %q", fmt.Sprintf(trackingNumberForm, id), how)
	}
	if strings.TrimSpace(by) == "" {
		return Submission{}, fmt.Errorf("deciding %s: no clerk named", fmt.Sprintf(trackingNumberForm, id))
	}
	s, err := q.Get(tx, id)
	if err != nil {
		return Submission{}, err
	}
	if !s.Waiting() {
		return s, fmt.Errorf("%s is %s: %w", s.TrackingNumber(), s.State, ErrAlreadyDecided)
	}
	from := s.State
	s.State = to
	s.History = append(s.History, Change{At: at, From: from, To: to, By: by, How: how, Why: why})
	if err := q.put(tx, s, from); err != nil {
		return Submission{}, err
	}
	return s, nil
}

// ApplyDecisionMail applies a clerk's decision mail: from is its From address, which the
// caller has authenticated as far as the agency's server allows; clerks the addresses
// allowed to decide, subject its decoded Subject and body its text part; sent is when the
// agency's server received it (the token must be valid then) and at when it is recorded
// (the digest tells decisions since the last one by it: a mail received before a digest
// but read after it is still news). It refuses, with an
// error the caller logs (it never holds the token), a subject that holds no decision
// (ErrNotDecisionMail), a sender who is not a clerk (ErrNotClerk), a token not made for the
// action, number, item and this clerk (ErrBadToken) or past its lifetime (ErrTokenExpired),
// and an item no longer waiting (ErrAlreadyDecided, also for a replayed mail). The token
// proves that the mail answers a digest sent to this clerk. The action is returned whenever
// the subject held one.
func (q *Queue) ApplyDecisionMail(tx *bolt.Tx, from string, clerks []string, subject, body string, sent, at time.Time) (Submission, string, error) {
	action, number, id, token, ok := DecisionMail(subject)
	if !ok {
		return Submission{}, "", ErrNotDecisionMail
	}
	tracking := fmt.Sprintf(trackingNumberForm, id)
	addr, ok := clerk(from, clerks)
	if !ok {
		return Submission{}, action, fmt.Errorf("decision on %s: %w", tracking, ErrNotClerk)
	}
	if err := q.checkToken(action, number, id, addr, token, sent); err != nil {
		return Submission{}, action, fmt.Errorf("decision on %s by %s: %w", tracking, addr, err)
	}
	s, err := q.Decide(tx, id, action, addr, HowMail, clerkReason(body), at)
	return s, action, err
}

// IsClerk reports whether from's address is one of clerks.
func IsClerk(from string, clerks []string) bool {
	_, ok := clerk(from, clerks)
	return ok
}

// clerk returns from's address if it is one of clerks, compared case-insensitively: mail
// clients and directories disagree on case, and no agency gives two clerks addresses
// that differ only in it.
func clerk(from string, clerks []string) (string, bool) {
	addr := address(from)
	if addr == "" {
		return "", false
	}
	for _, c := range clerks {
		if strings.EqualFold(addr, address(c)) {
			return addr, true
		}
	}
	return "", false
}

// address is the addr-spec of a From value ("名前 <a@b>" or "a@b").
func address(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return strings.TrimSpace(s)
}

// DecisionMail reads a decision out of a clerk's reply subject:
// "確認済 2070004426 R-000123 TOKEN" or "差戻し …", as DecisionLinks writes it, also after
// "Re:" or "AW:" prefixes, with full-width characters or spaces, with the parts in
// brackets (【確認済】, [R-000123]) and with text before or after. subject is the decoded
// Subject (RFC 2047 already undone). The action word, the number, the 受付番号 and the
// token must follow each other; the token is checked elsewhere.
func DecisionMail(subject string) (action, number string, id uint64, token string, ok bool) {
	fields := strings.FieldsFunc(parser.Normalize(subject), separator)
	for i := range fields {
		act, rest, found := actionWord(fields[i])
		if !found {
			continue
		}
		next := fields[i+1:]
		if rest != "" {
			next = append([]string{rest}, next...)
		}
		if len(next) < 3 {
			continue
		}
		n, okN := contractNumber(next[0])
		item, okID := trackingNumber(next[1])
		tok, okT := tokenField(next[2])
		if okN && okID && okT {
			return act, n, item, tok, true
		}
	}
	return "", "", 0, "", false
}

// WithoutToken is subject with the token of a decision it holds replaced by …, for showing
// a decision mail's subject to anyone (the digest lists refused ones): a token is a clerk's
// alone, and where nothing authenticates mail it is the whole proof.
func WithoutToken(subject string) string {
	_, _, _, token, ok := DecisionMail(subject)
	if !ok {
		return subject
	}
	// The token is ASCII; in the subject it may be in either case or full-width.
	re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(token))
	out := re.ReplaceAllString(subject, "…")
	if out == subject {
		return "（確認コードを含む件名のため省略）"
	}
	return out
}

// separator splits a subject: white space, brackets, and the colons of "Re:".
func separator(r rune) bool {
	if unicode.IsSpace(r) {
		return true
	}
	return strings.ContainsRune("[](){}<>【】「」『』〔〕〈〉《》:;,、。|\"'", r)
}

func actionWord(f string) (action, rest string, ok bool) {
	for _, w := range actionWords {
		if r, found := strings.CutPrefix(f, w.word); found {
			return w.action, r, true
		}
	}
	return "", "", false
}

// contractNumber accepts a 保証契約番号: ASCII digits, as parser.Notice holds them.
func contractNumber(f string) (string, bool) {
	if len(f) < 4 || len(f) > 20 {
		return "", false
	}
	for _, r := range f {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return f, true
}

// trackingNumber accepts a 受付番号, R-000123 (r-123 and R123 too).
func trackingNumber(f string) (uint64, bool) {
	rest, ok := strings.CutPrefix(strings.ToUpper(f), "R")
	if !ok {
		return 0, false
	}
	rest = strings.TrimPrefix(rest, "-")
	if rest == "" || rest[0] == '+' {
		return 0, false
	}
	id, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	return id, true
}

// tokenField accepts a token's shape: TokenLen characters of the base32 alphabet, in any
// case. A token of the old length is taken too, so that it is refused as a bad token (the
// clerk is told to use a newer digest) rather than as a mail holding no decision.
func tokenField(f string) (string, bool) {
	if len(f) != TokenLen && len(f) != oldTokenLen {
		return "", false
	}
	f = strings.ToUpper(f)
	for _, r := range f {
		if !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') {
			return "", false
		}
	}
	return f, true
}

// clerkReason is what a clerk wrote on top of a decision mail: the first paragraph that is
// not quoted, before the quoted digest or the client's "On … wrote:" line.
func clerkReason(body string) string {
	var lines []string
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, ">") || strings.HasPrefix(t, "＞") || strings.HasPrefix(t, "|"):
			if len(lines) > 0 {
				return joinReason(lines)
			}
			continue
		case replyHeader(line, t):
			return joinReason(lines)
		case t == "":
			if len(lines) > 0 {
				return joinReason(lines)
			}
			continue
		}
		lines = append(lines, t)
	}
	return joinReason(lines)
}

// replyHeader tells the lines mail clients put above a quote, and the signature separator
// ("-- ", RFC 3676 section 4.3).
func replyHeader(line, t string) bool {
	switch {
	case line == "-- " || t == "--":
		return true
	case strings.HasPrefix(t, "-----") && (strings.Contains(t, "Original") || strings.Contains(t, "元のメッセージ") ||
		strings.Contains(t, "転送") || strings.Contains(t, "Forwarded")):
		return true
	case strings.HasPrefix(t, "On ") && strings.HasSuffix(t, "wrote:"):
		return true
	case strings.HasSuffix(t, "書きました:") || strings.HasSuffix(t, "書きました："),
		strings.HasSuffix(t, "のメッセージ:") || strings.HasSuffix(t, "のメッセージ："):
		return true
	case strings.HasPrefix(t, "From:") || strings.HasPrefix(t, "差出人:") || strings.HasPrefix(t, "差出人："):
		return true
	}
	return false
}

func joinReason(lines []string) string {
	s := strings.Join(lines, "\n")
	if utf8.RuneCountInString(s) <= maxReason {
		return s
	}
	r := []rune(s)
	return string(r[:maxReason]) + "…"
}

// oldTokenLen is the length of v1 tokens, in digests sent before tokens were bound to clerks.
const oldTokenLen = 20

// DecisionLinks returns the two mailto links (RFC 6068) of a waiting item: to the agency
// mailbox, with the subject "確認済 2070004426 R-000123 TOKEN" or "差戻し …" prefilled, so
// that a clerk decides by sending the mail the link opens. token gives the token of an
// action, usually the queue's Token for s.
func DecisionLinks(agencyAddress string, s Submission, token func(action string) string) (verify, reject string) {
	to := "mailto:" + mailtoEscape(address(agencyAddress), true)
	link := func(word, action string) string {
		subject := strings.Join([]string{word, s.Notice.ContractNumber, s.TrackingNumber(), token(action)}, " ")
		return to + "?subject=" + mailtoEscape(subject, false)
	}
	return link(VerifyWord, ActionVerify), link(RejectWord, ActionReject)
}

// mailtoEscape percent-encodes the UTF-8 bytes of s (RFC 6068 section 2). In an address
// the some-delims that addr-spec needs stay; in a header value only the unreserved
// characters do: some clients read '+' in a query as a space.
func mailtoEscape(s string, addr bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', strings.IndexByte("-._~", c) >= 0:
			b.WriteByte(c)
		case addr && strings.IndexByte("!$'()*+,;:@", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
