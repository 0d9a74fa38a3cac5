package reply

import (
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"

	"hosho-intake/intake/inbound"
	"hosho-intake/parser"
)

// noticeLike finds what a sender writes when a mail is about a notice, after NFKC: a
// labelled 保証契約番号, 認証キー or password with a value, or a number in one of the forms
// notices print a 保証契約番号 in (2070004426, 2070-004426, 207-0004-426, 2070 004 426).
// Telephone numbers (0854-45-0707, 0854450707) do not match: they start with 0 or group
// otherwise. Words of sending (添付, 送付, 提出) count too: 「認証キーを送付します」 whose PDF a
// gateway stripped is a failed submission, and its sender must learn what to send instead.
var noticeLike = regexp.MustCompile(`(?i)(保証契約番号|保証番号|契約番号|認証キー|認証コード|パスワード|password)[\s:=]*[a-z0-9][a-z0-9-]{3,}` +
	`|添付|送付|提出|お送り(します|いたします)|送ります|送信します` +
	`|(^|[^0-9-])([1-9][0-9]{9}|[0-9]{4}-[0-9]{6}|[0-9]{3}-[0-9]{4}-[0-9]{3}|[0-9]{4} [0-9]{3} [0-9]{3})($|[^0-9-])`)

// Inquiry reports whether a message is a question for the clerks rather than a failed
// submission: it has no attachment, nothing was found in it but no_notice, and its text has
// nothing notice-like. The shared sample se13 (「紙の保証証書も別途郵送が必要か教えてくださ
// い。」) is one; a password sent after a PPAP ZIP (「パスワード：…」) or a body with a number
// the reader could not use is not, and keeps its no_notice answer.
func Inquiry(msg *inbound.Message, problems []parser.Problem) bool {
	if msg == nil || len(msg.Attachments) > 0 || len(msg.Classes) > 0 {
		return false
	}
	if len(problems) != 1 || problems[0].Code != parser.CodeNoNotice {
		return false
	}
	// An empty mail asks nothing: it is a submission whose attachment went missing.
	if !slices.ContainsFunc(msg.Texts, func(t string) bool { return strings.TrimSpace(t) != "" }) {
		return false
	}
	return !slices.ContainsFunc(msg.Texts, func(t string) bool { return noticeLike.MatchString(norm.NFKC.String(t)) })
}
