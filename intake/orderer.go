package intake

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/agnivade/levenshtein"

	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// Judge judges a notice as the daemon does wherever it meets one: the poll's record, the
// PPAP step, reprocess and inspect. A 発注者 and a 工事名 read by OCR are settled against
// the agency's own words first (settleOrderer, settleProject; they change n), so that the
// clerk, the reply and `inspect` all see the one same notice and decision.
func Judge(p verifier.Policy, n *parser.Notice, jc verifier.Context) verifier.Decision {
	settleOrderer(n, p)
	settleProject(n, jc.Register)
	return p.Judge(*n, jc)
}

// settleProject checks a 工事名 read from an image against the agency's contract register.
// parser marks every OCR'd 工事名 unsure: it is free text, and a misread glyph of a river's
// name (千代川 read as 十代川) comes at full confidence, so nothing in the image alone can
// make it certain. The register can: the 工事名 its entry for this 保証契約番号 gives, or else
// the one register name within a few edits of what was read, is shown (with a remark when
// it differs) and certain. Without a register, or with no single match, it stays unsure.
func settleProject(n *parser.Notice, r *verifier.Register) {
	if n.OCR == nil || n.ProjectName == "" || r == nil {
		return
	}
	read := strings.Join(strings.Fields(n.ProjectName), "")
	near := func(name string) (int, bool) {
		name = strings.Join(strings.Fields(name), "")
		e := levenshtein.ComputeDistance(read, name)
		return e, e <= maxGlyphEdits(name)
	}
	match, d, count := "", 0, 0
	if e, ok := r.Lookup("", n.ContractNumber); ok && e.ProjectName != "" && !n.UnsureField("contract_number") {
		if e2, ok := near(e.ProjectName); ok {
			match, d, count = e.ProjectName, e2, 1
		}
	} else {
		for _, name := range r.ProjectNames() {
			if e, ok := near(name); ok {
				match, d, count = name, e, count+1
			}
		}
	}
	if count != 1 {
		return
	}
	if d > 0 {
		n.Remark = joinRemark(n.Remark, fmt.Sprintf("工事名 read from the image as 「%s」, shown as the register's 「%s」 (%d glyph(s) differ)", n.ProjectName, match, d))
		n.ProjectName = match
	}
	n.OCR.Unsure = slices.DeleteFunc(n.OCR.Unsure, func(f string) bool { return f == "project_name" })
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
		if e := levenshtein.ComputeDistance(read, name); e <= maxGlyphEdits(name) {
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

// maxGlyphEdits bounds the glyphs OCR may have changed in a name: one in a short name
// (島根県知事: two edits would make 鳥取県知事 of 島根県知事's neighbour), two from ten glyphs
// (国土交通省中国地方整備局長), so that a correction never crosses to another agency or contract.
func maxGlyphEdits(name string) int {
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
