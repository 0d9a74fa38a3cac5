package verifier

// Label is the item's state in the clerks' words: 確認待ち, 要確認, 確認済, 差戻し for a clerk's
// rejection, and 対象外（自動判定） for one the rules made at intake, so that nobody reads an
// automatic judgement as a colleague's decision.
func (s Submission) Label() string {
	switch s.State {
	case StateQueued:
		return "確認待ち"
	case StateNeedsReview:
		return "要確認"
	case StateVerified:
		return "確認済"
	case StateRejected:
		if _, byClerk := s.Decided(); byClerk {
			return "差戻し"
		}
		return "対象外（自動判定）"
	}
	return s.State
}
