package intake

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// Judge judges a notice as the daemon does wherever it meets one: the poll's record, the
// PPAP step, reprocess and inspect. A 発注者 read by OCR is settled against the policy's
// names first (settleOrderer, which changes n), so that the clerk, the reply and `inspect`
// all see the one same notice and decision.
func Judge(p verifier.Policy, n *parser.Notice, jc verifier.Context) verifier.Decision {
	settleOrderer(n, p)
	return p.Judge(*n, jc)
}

// settleOrderer checks the 発注者 of a notice read from an image against the agency's own
// orderer names (issue 12): OCR misreads one glyph of a name (知 as 和) where a text layer
// cannot. A name the policy matches as it is stays as read. One within a few edits of
// exactly one of the policy's names (wildcard patterns name no single orderer) is shown
// as that name, with a remark saying what the image gave; anything else is unsure, so the
// clerk checks it on D-Sure rather than trusting a wrong glyph. parser cannot do this: it
// does not know the agency's names.
func settleOrderer(n *parser.Notice, p verifier.Policy) {
	if n.OCR == nil || n.Orderer == "" || p.OrdererMatches(n.Orderer) {
		return
	}
	read := strings.Join(strings.Fields(n.Orderer), "")
	match, d, count := "", 0, 0
	for _, name := range p.Orderers {
		if strings.Contains(name, "*") {
			continue
		}
		name = strings.Join(strings.Fields(name), "")
		if e := parser.EditDistance(read, name); e <= maxOrdererEdits(name) {
			match, d, count = name, e, count+1
		}
	}
	if count == 1 {
		n.Remark = joinRemark(n.Remark, fmt.Sprintf("発注者 read from the image as 「%s」, shown as the agency's 「%s」 (%d glyph(s) differ)", n.Orderer, match, d))
		n.Orderer = match
		n.OCR.Unsure = slices.DeleteFunc(n.OCR.Unsure, func(f string) bool { return f == "orderer" })
		return
	}
	if !slices.Contains(n.OCR.Unsure, "orderer") {
		n.OCR.Unsure = append(n.OCR.Unsure, "orderer")
	}
}

// maxOrdererEdits bounds the glyphs OCR may have changed in a name: one in a short name
// (島根県知事: two edits would make 鳥取県知事 of 島根県知事's neighbour), two from ten glyphs
// (国土交通省中国地方整備局長), so that a correction never crosses to another agency.
func maxOrdererEdits(name string) int {
	if utf8.RuneCountInString(name) >= 10 {
		return 2
	}
	return 1
}

func joinRemark(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
