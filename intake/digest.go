package intake

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake/inbound"
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
	// The ledger is read before the digest's transaction: its reads open their own, and
	// bbolt forbids a read transaction inside a write one of the same goroutine.
	var last time.Time
	if err := s.Ledger.DB().View(func(tx *bolt.Tx) error {
		var err error
		last, err = s.Queue.LastDigest(tx)
		return err
	}); err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	mails, err := s.mailsSince(last)
	if err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	images, err := s.digestImages(last)
	if err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	err = s.Ledger.DB().Update(func(tx *bolt.Tx) error {
		if l, err := s.Queue.LastDigest(tx); err != nil || !l.Equal(last) {
			return cmp.Or(err, errors.New("another digest was sent meanwhile"))
		}
		failed, err := s.Outbox.Failed(tx, last)
		if err != nil {
			return err
		}
		in := verifier.DigestInput{Now: now, AgencyName: cfg.Agency.Name, AgencyAddress: cfg.Agency.Address.Address,
			MaskKey: cfg.Digest.MaskKey, PollWarning: s.pollWarning(now), DSureURL: cfg.Digest.DSureURL, Checklist: s.Effects.Policy.Checklist}
		if cfg.Web.Addr != "" {
			in.PageURL = cfg.Web.URL // the cards link to their item pages
		}
		for id, im := range images {
			if in.PageImages == nil {
				in.PageImages = map[uint64]string{}
			}
			in.PageImages[id] = im.name
		}
		for _, f := range failed {
			if f.Kind == "digest" {
				continue
			}
			in.Undeliverable = append(in.Undeliverable, verifier.UndeliveredReply{To: strings.Join(f.To, ", "),
				Subject: f.Subject, Reason: f.Reason, At: f.At})
		}
		filed, err := s.Queue.FiledEntries(tx, last, now)
		if err != nil {
			return err
		}
		in.NotAnswered, in.Inquiries, in.Unqueued = mails.notAnswered, mails.inquiries, mails.unqueued(filed)
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
			raw, id, err := digestMessage(cfg.Agency.Name, cfg.Agency.Address.Address, []string{a.Address}, copyFor, images, now)
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

// maxDigestImages bounds the page images one digest carries (each at most
// ocr.MaxPageImageBytes, one copy per recipient); the others are on the clerks' page, when
// it is served, and always in the contractor's mail.
const maxDigestImages = 8

// digestImage is the page image of a waiting notice read by OCR, as the digest attaches it.
type digestImage struct {
	name string // the attachment's file name: the item's tracking number
	png  []byte
}

// digestImages reads the page images of the waiting notices read by OCR, new ones (filed
// since the last digest) first, then the oldest, at most maxDigestImages. None when the
// digest masks keys: the image shows the 認証キー whole. It runs before the digest's
// transaction: the ledger's reads open their own.
func (s *Service) digestImages(last time.Time) (map[uint64]digestImage, error) {
	if s.Config.Digest.MaskKey {
		return nil, nil
	}
	var ocr []verifier.Submission
	err := s.Ledger.DB().View(func(tx *bolt.Tx) error {
		waiting, err := s.Queue.List(tx, verifier.StateQueued, verifier.StateNeedsReview)
		for _, sub := range waiting {
			if sub.Notice.Source == parser.SourceOCR {
				ocr = append(ocr, sub)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(ocr, func(a, b verifier.Submission) int {
		an, bn := a.FiledAt().After(last), b.FiledAt().After(last)
		switch {
		case an && !bn:
			return -1
		case bn && !an:
			return 1
		}
		return a.FiledAt().Compare(b.FiledAt())
	})
	out := map[uint64]digestImage{}
	for _, sub := range ocr {
		if len(out) == maxDigestImages {
			break
		}
		png, err := s.Ledger.Image(sub.Entry, sub.Notice.Attachment, sub.Notice.Page)
		switch {
		case errors.Is(err, ledger.ErrNotFound):
			continue // past retention, or read before images were kept
		case err != nil:
			// A damaged image costs its card the attachment, not the clerks their digest.
			s.log.Warn("digest: page image not attached", "item", sub.TrackingNumber(), "err", err)
			continue
		}
		out[sub.ID] = digestImage{name: sub.TrackingNumber() + ".png", png: png}
	}
	return out, nil
}

// notAnsweredWhy says in the clerks' words why a mail got no reply, or filed no notice.
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
	parser.CodeWrongDocument:  "認証キーのお知らせでなく電子証書そのもの",
	parser.CodeNoText:         "文字のないPDF（スキャン・画像）",
	parser.CodeEncrypted:      "パスワード付きのPDF",
	parser.CodeCorrupt:        "壊れたファイル",
	parser.CodeNotPDF:         "PDFでない添付ファイル",
	parser.CodePasswordZip:    "パスワード付きZIP",
	parser.CodeNoNotice:       "お知らせが見当たらない",
	parser.CodeTooLarge:       "容量の上限超過",
	parser.CodeZipAttachment:  "ZIPで送付",
	whyAwaitingPassword:       "パスワード付きZIP（同じ送信元からのパスワードのメール待ち。開けたら、このメールへの返信で受付状況を通知）",
	whyPasswordMail:           "パスワード付きZIPのパスワードのメール（ZIPのメールへの返信で通知）",
	whyOnlyDuplicates:         "受付済みの通知の再送（重複）",
	whyPartly:                 "一部を受付（本文の保証契約番号・認証キーの一部を読み取れず、送信者に確認を依頼済み）",
	parser.CodeInvalidKey:     "本文の保証契約番号・認証キーを読み取れず（送信者に確認を依頼済み）",
}

// WhyLabel says a problem code or a reason for not answering in the clerks' words, or the
// code itself when it has none.
func WhyLabel(code string) string {
	if l, ok := notAnsweredWhy[code]; ok {
		return l
	}
	return code
}

// whyOnlyDuplicates: a mail whose notices were all received before; whyPartly: a mail
// that queued notices and also held a typed number that could not be used.
const (
	whyOnlyDuplicates = "only_duplicates"
	whyPartly         = "partly"
)

// digestMails are the mails taken in since the last digest that a digest lists apart from
// the queue: every mail that filed no notice is in one of them.
type digestMails struct {
	notAnswered []verifier.NotAnswered
	inquiries   []verifier.Inquiry
	answered    []answeredMail // answered; unqueued picks those that filed nothing
}

type answeredMail struct {
	entry    uint64
	notices  int
	problems []string
	mail     verifier.NotAnswered
}

// mailsSince reads the ledger entries taken in since the last digest.
func (s *Service) mailsSince(since time.Time) (digestMails, error) {
	var m digestMails
	entries, err := s.Ledger.List(ledger.Filter{Since: since}, 500)
	if err != nil {
		return m, err
	}
	for _, e := range entries {
		if e.Outcome == OutcomeInquiry {
			m.inquiries = append(m.inquiries, s.inquiry(e))
			continue
		}
		why := e.NoReplyWhy
		if e.NoReply && len(e.Problems) > 0 {
			why = e.Problems[0] // auto_submitted, bounce or mailing_list
		}
		if why == "" && slices.Contains(e.Problems, parser.CodeTooSlow) {
			// Answered, but only partly read: a clerk looks at the rest.
			why = parser.CodeTooSlow
		}
		if why == "" {
			if e.Outcome != OutcomeDecision {
				m.answered = append(m.answered, answeredMail{entry: e.ID, notices: e.Notices, problems: e.Problems, mail: verifier.NotAnswered{
					From: e.From, Subject: verifier.WithoutToken(e.Subject), Why: problemsWhy(e.Problems), At: e.TakenAt}})
			}
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
		m.notAnswered = append(m.notAnswered, verifier.NotAnswered{From: e.From, Subject: verifier.WithoutToken(e.Subject), Why: why, At: e.TakenAt,
			Attention: attention})
	}
	return m, nil
}

// unqueued are the answered mails that filed no notice in the queue: only problems, or only
// notices received before. filed holds the entries that filed one.
func (m digestMails) unqueued(filed map[uint64]bool) []verifier.NotAnswered {
	var out []verifier.NotAnswered
	for _, a := range m.answered {
		switch {
		case filed[a.entry] && slices.Contains(a.problems, parser.CodeInvalidKey):
			// Some of it was queued, some typed number could not be used: the clerk sees
			// that nothing was dropped in silence.
			a.mail.Why = notAnsweredWhy[whyPartly]
		case filed[a.entry]:
			continue
		case a.notices > 0:
			a.mail.Why = notAnsweredWhy[whyOnlyDuplicates]
		}
		out = append(out, a.mail)
	}
	return out
}

func problemsWhy(codes []string) string {
	var out []string
	for _, c := range codes {
		if l, ok := notAnsweredWhy[c]; ok {
			c = l
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return strings.Join(out, "・")
}

// inquiryLines is how much of an inquiry the digest shows: enough to tell what it asks.
const inquiryLines = 6

// inquiry is an inquiry's entry as the digest shows it, with the first lines of its text
// read from the stored original.
func (s *Service) inquiry(e ledger.Entry) verifier.Inquiry {
	iq := verifier.Inquiry{From: e.From, Subject: e.Subject, Tracking: inquiryTracking(e.ID), At: e.TakenAt}
	switch why := e.NoReplyWhy; {
	case why != "":
		// Not answered, so not forwarded either (see Effects.record).
		iq.Note = "返信なし: " + cmp.Or(notAnsweredWhy[why], why)
	case s.Config.Digest.InquiriesTo != nil:
		iq.Note = s.Config.Digest.InquiriesTo.Address + " に転送済み"
	}
	raw, err := s.Ledger.Raw(e.ID)
	if err != nil {
		iq.Lines = []string{"（原本を読めません: " + err.Error() + "）"}
		return iq
	}
	msg, err := inbound.Read(bytes.NewReader(raw), inbound.DefaultLimits())
	if err != nil || len(msg.Texts) == 0 {
		iq.Lines = []string{"（本文なし）"}
		return iq
	}
	iq.Lines = firstLines(msg.Texts[0], inquiryLines)
	return iq
}

// firstLines are the first n lines of a mail's text that say something: blank lines and
// quoted lines skipped, nothing from the signature ("-- ") on.
func firstLines(text string, n int) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "--" || strings.HasPrefix(l, "-- ") {
			break
		}
		if l == "" || strings.HasPrefix(l, ">") {
			continue
		}
		if r := []rune(l); len(r) > 100 {
			l = string(r[:100]) + "…"
		}
		if out = append(out, l); len(out) == n {
			break
		}
	}
	return out
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

// digestMessage renders the digest as multipart/alternative (text and HTML, UTF-8); when
// its cards name page images (d.Attached), inside multipart/mixed with each image as an
// image/png attachment named as its card says.
func digestMessage(agencyName, from string, to []string, d verifier.Digest, images map[uint64]digestImage, now time.Time) ([]byte, string, error) {
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
	ctype := `multipart/alternative; boundary="` + mw.Boundary() + `"`
	if len(d.Attached) > 0 {
		var mixed bytes.Buffer
		xw := multipart.NewWriter(&mixed)
		w, err := xw.CreatePart(textproto.MIMEHeader{"Content-Type": {ctype}})
		if err != nil {
			return nil, "", err
		}
		w.Write(body.Bytes())
		for _, sid := range d.Attached {
			im, ok := images[sid]
			if !ok {
				continue
			}
			w, err := xw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {mime.FormatMediaType("image/png", map[string]string{"name": im.name})},
				"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": im.name})},
				"Content-Transfer-Encoding": {"base64"},
			})
			if err != nil {
				return nil, "", err
			}
			w.Write([]byte(base64Lines(im.png)))
		}
		if err := xw.Close(); err != nil {
			return nil, "", err
		}
		body, ctype = mixed, `multipart/mixed; boundary="`+xw.Boundary()+`"`
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
	h("Content-Type", ctype)
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
