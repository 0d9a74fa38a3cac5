package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"

	"hosho-intake/verifier/store"
)

// Actions of a clerk's decision.
const (
	ActionVerify = "verify" // 確認済: the certificate was viewed on D-Sure
	ActionReject = "reject" // 差戻し: the contractor must send something else
)

// TokenLen is the length of a decision token: 4 base32 characters carry the last day it is
// valid (20 bits of days since 1970), then 20 carry 100 bits of the HMAC, beyond guessing by
// mail, and the whole stays short enough for a subject line.
const TokenLen = 24

const (
	expiryLen = 4
	macLen    = TokenLen - expiryLen
	day       = 24 * time.Hour
)

// tokenDomain separates these HMACs from any other use of the secret. v1 tokens (bound to
// no clerk, never expiring) are refused.
const tokenDomain = "hosho-intake decision v2"

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Token is the token a decision link for action on s carries, for the clerk the link is
// sent to, valid through the UTC day of expires: an HMAC-SHA256 with the queue's secret over
// the action, the 保証契約番号, the item, the clerk's address and that day. So a token
// decides nothing but that action on that item, for nobody but that clerk (a forwarded or
// archived digest gives its readers nothing), and not after it expires; a link from an older
// item of the same number cannot decide a newer one.
func (q *Queue) Token(action string, s Submission, clerk string, expires time.Time) string {
	d := uint32(expires.Unix() / int64(day/time.Second))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], d<<12) // the top 20 bits: 4 base32 characters
	return tokenEncoding.EncodeToString(b[:])[:expiryLen] + q.mac(action, s.Notice.ContractNumber, s.ID, clerk, d)
}

func (q *Queue) mac(action, number string, id uint64, clerk string, expiryDay uint32) string {
	m := hmac.New(sha256.New, q.secret)
	m.Write([]byte(tokenDomain))
	for _, f := range []string{action, number, strings.ToLower(address(clerk))} {
		m.Write([]byte{0})
		m.Write([]byte(f))
	}
	m.Write([]byte{0})
	m.Write(store.BE64(id))
	m.Write(binary.BigEndian.AppendUint32(nil, expiryDay))
	return tokenEncoding.EncodeToString(m.Sum(nil))[:macLen]
}

// checkToken returns nil for a token made for this action, number, item and clerk that has
// not expired at now; ErrBadToken or ErrTokenExpired otherwise. The MAC is compared in
// constant time, so the time of a refusal tells nothing about how much of a forged token
// was right, and before the expiry, so that a forged expiry day is never reported as expired.
func (q *Queue) checkToken(action, number string, id uint64, clerk, token string, now time.Time) error {
	token = strings.ToUpper(token)
	if len(token) != TokenLen {
		return ErrBadToken
	}
	b, err := tokenEncoding.DecodeString(token[:expiryLen] + "AAAA") // 8 characters: 5 bytes
	if err != nil {
		return ErrBadToken
	}
	d := binary.BigEndian.Uint32(b[:4]) >> 12
	if !hmac.Equal([]byte(q.mac(action, number, id, clerk, d)), []byte(token[expiryLen:])) {
		return ErrBadToken
	}
	if now.Unix() >= (int64(d)+1)*int64(day/time.Second) {
		return ErrTokenExpired
	}
	return nil
}
