package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Actions of a clerk's decision.
const (
	ActionVerify = "verify" // 確認済: the certificate was viewed on D-Sure
	ActionReject = "reject" // 差戻し: the contractor must send something else
)

// TokenLen is the length of a decision token: 20 base32 characters carry 100 bits of the
// HMAC, beyond guessing by mail, and stay short enough for a subject line.
const TokenLen = 20

// tokenDomain separates these HMACs from any other use of the secret.
const tokenDomain = "hosho-intake decision v1"

// Token is the token a decision link for action on s carries: an HMAC-SHA256 with the
// queue's secret over the action, the 保証契約番号 and the item, so a token for one of them
// decides nothing else, and a link from an older item of the same number cannot decide a
// newer one.
func (q *Queue) Token(action string, s Submission) string {
	return q.token(action, s.Notice.ContractNumber, s.ID)
}

func (q *Queue) token(action, number string, id uint64) string {
	m := hmac.New(sha256.New, q.secret)
	m.Write([]byte(tokenDomain))
	for _, f := range []string{action, number} {
		m.Write([]byte{0})
		m.Write([]byte(f))
	}
	m.Write([]byte{0})
	m.Write(be64(id))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil))
	return enc[:TokenLen]
}

// validToken compares in constant time, so the time of a refusal tells nothing about how
// much of a forged token was right.
func (q *Queue) validToken(action, number string, id uint64, token string) bool {
	return hmac.Equal([]byte(q.token(action, number, id)), []byte(strings.ToUpper(token)))
}
