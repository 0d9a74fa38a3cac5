package intake

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/ledger"
	"hosho-intake/intake/outbox"
	"hosho-intake/intake/reply"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// SendDigest writes the clerks' digest into the outbox, in one transaction with the mark
// that it was sent, so that "since the last digest" never skips or repeats anything. It
// sends nothing when there is nothing to say, unless the config asks for empty digests.
func (s *Service) SendDigest(now time.Time) (verifier.Digest, error) {
	cfg := s.Config
	var d verifier.Digest
	err := s.Ledger.DB().Update(func(tx *bolt.Tx) error {
		last, err := s.Queue.LastDigest(tx)
		if err != nil {
			return err
		}
		failed, err := s.Outbox.Failed(tx, last)
		if err != nil {
			return err
		}
		in := verifier.DigestInput{Now: now, AgencyName: cfg.Agency.Name, AgencyAddress: cfg.Agency.Address.Address,
			MaskKey: cfg.Digest.MaskKey, PollWarning: s.pollWarning(now)}
		for _, f := range failed {
			if f.Kind == "digest" {
				continue
			}
			in.Undeliverable = append(in.Undeliverable, verifier.UndeliveredReply{To: strings.Join(f.To, ", "),
				Subject: f.Subject, Reason: f.Reason, At: f.At})
		}
		if in.NotAnswered, err = s.notAnswered(last); err != nil {
			return err
		}
		if d, err = s.Queue.Digest(tx, in); err != nil {
			return err
		}
		if d.Empty && !cfg.Digest.SendEmpty {
			return nil
		}
		// One copy per recipient: its decision links carry tokens for that clerk alone, so a
		// forwarded or archived digest decides nothing for whoever reads it.
		for _, a := range cfg.Digest.To {
			in := in
			if cfg.Digest.DecideByMail && verifier.IsClerk(a.Address, s.Effects.Clerks) {
				in.Clerk, in.LinksExpire = a.Address, now.Add(cfg.Digest.TokenLifetime)
			}
			copyFor, err := s.Queue.Digest(tx, in)
			if err != nil {
				return err
			}
			raw, id, err := digestMessage(cfg.Agency.Name, cfg.Agency.Address.Address, []string{a.Address}, copyFor, now)
			if err != nil {
				return err
			}
			if _, err := s.Outbox.Enqueue(tx, outbox.Message{Kind: "digest", From: cfg.Agency.Address.Address, To: []string{a.Address}, MessageID: id, Raw: raw}); err != nil {
				return err
			}
		}
		return s.Queue.MarkDigestSent(tx, now)
	})
	if err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	return d, nil
}

// notAnsweredWhy says in the clerks' words why a mail got no reply.
var notAnsweredWhy = map[string]string{
	parser.CodeAutoSubmitted:  "自動応答（不在通知など）",
	parser.CodeBounce:         "配送エラー通知",
	parser.CodeMailingList:    "メーリングリスト・メールマガジン",
	reply.WhyNoSender:         "差出人アドレスなし",
	reply.WhyRobotAddress:     "自動送信用アドレス（noreply など）",
	reply.WhyOwnAddress:       "受付アドレス自身",
	reply.WhyNotAuthenticated: "送信元の認証（DMARC/DKIM/SPF）なし",
	reply.WhyRateLimited:      "同じ差出人への返信が1時間の上限に達した",
	reply.WhyGlobalLimit:      "全体の返信数が1時間の上限に達した",
	whyNotClerk:               "職員以外からの確認済・差戻し操作",
	whyDecisionNotAuthed:      "職員名義だが送信元の認証（DMARC/DKIM）がない確認済・差戻し操作（なりすましの疑い）",
	whyDecisionRefused:        "記録できなかった確認済・差戻し操作（リンクの誤り・期限切れ・処理済み）",
	whyDecisionsOff:           "メールでの確認済・差戻し操作（設定で停止中）",
	"answer_to_our_reply":     "受付の返信への返事（内容をご確認ください）",
	parser.CodeSetAside:       "取り込みに続けて失敗したため保留（原本をご確認ください）",
	parser.CodeTooSlow:        "読み取りの上限（時間・PDFの数）を超えたため途中で打ち切り（原本をご確認ください）",
}

// notAnswered lists the mails taken in since the last digest that got no reply.
func (s *Service) notAnswered(since time.Time) ([]verifier.NotAnswered, error) {
	entries, err := s.Ledger.List(ledger.Filter{Since: since}, 500)
	if err != nil {
		return nil, err
	}
	var out []verifier.NotAnswered
	for _, e := range entries {
		why := e.NoReplyWhy
		if e.NoReply && len(e.Problems) > 0 {
			why = e.Problems[0] // auto_submitted, bounce or mailing_list
		}
		if why == "" && slices.Contains(e.Problems, parser.CodeTooSlow) {
			// Answered, but only partly read: a clerk looks at the rest.
			why = parser.CodeTooSlow
		}
		if why == "" {
			continue
		}
		// Robots' mail is listed but does not make a digest worth sending; a person's
		// unanswered mail (a sender who could not be authenticated, a refused decision, a
		// mail read only in part) does.
		attention := !slices.Contains([]string{parser.CodeAutoSubmitted, parser.CodeBounce, parser.CodeMailingList,
			reply.WhyRobotAddress, reply.WhyOwnAddress, reply.WhyNoSender}, why)
		if label, ok := notAnsweredWhy[why]; ok {
			why = label
		}
		out = append(out, verifier.NotAnswered{From: e.From, Subject: verifier.WithoutToken(e.Subject), Why: why, At: e.TakenAt,
			Attention: attention})
	}
	return out, nil
}

// pollWarning is what the digest says when polling has been failing, or a credential is
// about to fail.
func (s *Service) pollWarning(now time.Time) string {
	h := s.Health(now)
	var w []string
	if h.Failures > 0 {
		w = append(w, fmt.Sprintf("メールボックスの受信が%d回続けて失敗しています（最後の成功: %s）: %s", h.Failures, formatJST(h.LastOK), h.LastErr))
	}
	if h.Warning != "" {
		w = append(w, "認証情報: "+h.Warning)
	}
	return strings.Join(w, "\n")
}

func formatJST(t time.Time) string {
	if t.IsZero() {
		return "なし"
	}
	return t.In(time.FixedZone("JST", 9*3600)).Format("2006-01-02 15:04")
}

// digestMessage renders the digest as multipart/alternative (text and HTML, UTF-8).
func digestMessage(agencyName, from string, to []string, d verifier.Digest, now time.Time) ([]byte, string, error) {
	var id [12]byte
	rand.Read(id[:])
	domain := from[strings.LastIndexByte(from, '@')+1:]
	msgID := "<digest." + hex.EncodeToString(id[:]) + "@" + domain + ">"
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ ctype, text string }{{"text/plain", d.Text}, {"text/html", d.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype + "; charset=UTF-8"},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, "", err
		}
		w.Write([]byte(base64Lines([]byte(strings.ReplaceAll(part.text, "\n", "\r\n")))))
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", mime.BEncoding.Encode("UTF-8", agencyName)+" <"+from+">")
	h("To", strings.Join(to, ", "))
	h("Subject", mime.BEncoding.Encode("UTF-8", d.Subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", msgID)
	h("Auto-Submitted", "auto-generated") // RFC 3834: nobody should answer it automatically
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return b.Bytes(), msgID, nil
}

func base64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.String()
}
