package verifier

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/parser"
	"hosho-intake/verifier/store"
)

// DigestInput is what a digest needs besides the queue.
type DigestInput struct {
	// Now is the time of the digest; Since the end of the last one. A zero Since means the
	// time of the last MarkDigestSent, or the beginning when there was none.
	Now, Since    time.Time
	AgencyName    string // shown in the heading
	AgencyAddress string // the mailbox decision links write to
	// MaskKey shows 認証キー as first two, ***, last two: for agencies whose digests go to a
	// shared list. The clerk then reads the key in the contractor's mail.
	MaskKey bool
	// Clerk is the clerk this copy of the digest goes to: its decision links work for that
	// clerk alone, until LinksExpire. Empty: the copy has no decision links (a recipient who
	// is not a clerk, or decisions by mail switched off).
	Clerk       string
	LinksExpire time.Time
	// PollWarning, when not empty, says why polling has failed since the last digest
	// (credentials, server); clerks are the first to notice a silent intake.
	PollWarning string
	// Undeliverable are the replies that could not be delivered since the last digest.
	Undeliverable []UndeliveredReply
	// NotAnswered are the mails taken in since the last digest that got no reply, and why
	// (auto-replies, bounces, list mail, robots' addresses, the rate limit): a clerk sees
	// that nothing was lost in silence.
	NotAnswered []NotAnswered
	// Inquiries are the mails since the last digest that ask rather than submit (no
	// attachment, nothing like a notice): a clerk answers them.
	Inquiries []Inquiry
	// Unqueued are the other mails since the last digest that were answered but filed no
	// notice (a wrong document, a scan, a duplicate): listed, so that every mail is seen.
	Unqueued []NotAnswered
	// DSureURL is D-Sure's login page, linked from the digest; empty: named without a link.
	DSureURL string
	// Checklist is what to compare on the certificate (the agency's rule file's); empty:
	// DefaultChecklist.
	Checklist []string
	// PageURL is the clerks' page ([web] url, ending in /) whose item pages the cards link
	// to; empty: the page is off and the cards link nowhere.
	PageURL string
	// PageImages name, by submission ID, the page images (of notices read by OCR) the
	// caller attaches to the mail: a waiting card whose ID is here says so, and
	// Digest.Attached lists it.
	PageImages map[uint64]string
}

// DefaultChecklist is what a clerk compares on the certificate in D-Sure with the notice,
// unless the agency's rule file says otherwise.
var DefaultChecklist = []string{
	"保証契約番号が通知と同じか",
	"工事名（業務名）と発注者が契約のとおりか",
	"保証機関が保証事業会社（西日本・東日本・北海道）か",
	"区分（前払金保証・中間前払金保証・契約保証）が求めたものか",
}

// Inquiry is a mail that asks a question, as the digest shows it to the clerks.
type Inquiry struct {
	From, Subject, Tracking string
	At                      time.Time
	// Lines are the first lines of its text, as the sender wrote them (the digest goes only
	// to clerks; the HTML part escapes them).
	Lines []string
	// Note says what else happened to it (forwarded, not answered and why); may be empty.
	Note string
}

// NotAnswered is a received mail that was deliberately not answered.
type NotAnswered struct {
	From, Subject, Why string
	At                 time.Time
	// Attention: a person's mail a clerk should read (not a robot's), which alone makes a
	// digest worth sending.
	Attention bool
}

// UndeliveredReply is a reply to a contractor that could not be delivered.
type UndeliveredReply struct {
	To, Subject, Reason string
	At                  time.Time
}

// Digest is one digest mail for the clerks.
type Digest struct {
	Subject    string
	Text, HTML string // the text/plain and text/html parts, UTF-8
	// Empty is set when there is nothing to say: nothing new, waiting, decided,
	// undelivered or left unanswered that a clerk should read, and no poll warning. Whether to send it anyway is the caller's choice.
	Empty bool
	// Items is the number of waiting items (queued and needs_review) listed with links.
	Items int
	// Attached are the submissions whose cards name their page image
	// (DigestInput.PageImages): the mail must carry exactly these.
	Attached []uint64
}

// Section headings of the text part. Tests read the text part by them, a clerk's mail
// client shows them as they are, and the subject counts by the same names.
const (
	headPollWarning   = "受信エラー"
	headWaiting       = "確認待ち"
	headNeedsReview   = "要確認"
	headInquiries     = "問い合わせ"
	headRefused       = "対象外（自動判定）" // never 差戻し: that is the clerk's word
	headUnqueued      = "受付できなかったメール"
	headNotAnswered   = "返信しなかったメール"
	headDecided       = "処理済み"
	headUndeliverable = "返信の送信不能"
)

var reasonLabels = map[string]string{
	ReasonOrdererMismatch:      "発注者が対象外",
	ReasonGuarantorNotEligible: "保証機関が対象外",
	ReasonCategoryNotEligible:  "区分が対象外",
	ReasonBeforeStartDate:      "電子証書の対象となる日付より前",
	ReasonStartDateUnconfirmed: "契約日等が未確認",
	ReasonDuplicate:            "重複",
	ReasonResubmission:         "再提出",
}

var missingLabels = map[string]string{
	MissingOrderer:     "発注者",
	MissingCategory:    "区分",
	MissingGuarantor:   "保証機関",
	MissingProjectName: "工事名",
}

// stateLabels name a clerk's decisions; an item rejected at intake is headRefused.
var stateLabels = map[string]string{
	StateQueued:      "確認待ち",
	StateNeedsReview: "要確認",
	StateVerified:    "確認済",
	StateRejected:    "差戻し",
}

// digestItem is one submission as a digest shows it.
type digestItem struct {
	Tracking, Number, Category, Key, Project, Guarantor, Sender, Received string
	State, Reasons                                                        string
	AgeDays                                                               int
	New, Resubmission                                                     bool
	Checks                                                                []string
	Verify, Reject                                                        string
	Page                                                                  string // the item's page; "" when off
}

// decidedItem is one clerk's decision as a digest shows it.
type decidedItem struct {
	Tracking, Number, Project, Action, By, At, How, Why string
}

type undelivered struct{ To, Subject, Reason, At string }

type notAnswered struct{ From, Subject, Why, At string }

type inquiry struct {
	From, Subject, Tracking, At, Note string
	Lines                             []string
}

// digestView is what both parts are made of.
type digestView struct {
	Subject, Agency, Now, Since string
	PollWarning                 string
	DSureURL                    string
	Checklist                   []string
	Waiting, NeedsReview        []digestItem
	Refused                     []digestItem // new since the last digest, rejected at intake
	Inquiries                   []inquiry
	Unqueued                    []notAnswered
	Decided                     []decidedItem
	Undeliverable               []undelivered
	NotAnswered                 []notAnswered
}

// keyStyle sets the 認証キー and 保証契約番号, which a clerk types into D-Sure: large, in a
// monospace font that tells 0 from O and 1 from l (Consolas; BIZ UDゴシック, which Windows
// ships for this), spaced, and selected whole with one click.
const keyStyle = `font-family:Consolas,'BIZ UDGothic','BIZ UDゴシック','Source Code Pro',monospace;` +
	`font-size:1.5em;font-weight:bold;letter-spacing:0.12em;user-select:all;-webkit-user-select:all`

// Digest gathers what the clerks are to know: the poll warning; what was filed since the
// last digest; what waits for verification, oldest first with its age in days and two
// decision links; what needs review and what to check; what clerks decided since the last
// digest; and the replies that could not be delivered. It only reads: record it with
// MarkDigestSent in the same transaction that hands the mail to the outbox, so that a
// crash neither loses the digest nor sends it twice.
func (q *Queue) Digest(tx *bolt.Tx, in DigestInput) (Digest, error) {
	since := in.Since
	if since.IsZero() {
		var err error
		if since, err = q.LastDigest(tx); err != nil {
			return Digest{}, err
		}
	}
	inWindow := func(t time.Time) bool { return (since.IsZero() || t.After(since)) && !t.After(in.Now) }

	changed, err := q.changedSince(tx, since, in.Now)
	if err != nil {
		return Digest{}, err
	}
	v := digestView{Agency: in.AgencyName, Now: jstFormat(in.Now), PollWarning: oneLine(in.PollWarning),
		DSureURL: in.DSureURL, Checklist: in.Checklist}
	if len(v.Checklist) == 0 {
		v.Checklist = DefaultChecklist
	}
	if !since.IsZero() {
		v.Since = jstFormat(since)
	}
	isNew := map[uint64]bool{}
	for _, s := range changed {
		for _, c := range s.History {
			if !inWindow(c.At) {
				continue
			}
			switch c.How {
			case HowIntake:
				if !isNew[s.ID] {
					isNew[s.ID] = true
					// A new item that waits is a card flagged 【新着】; one refused at intake
					// is listed once here; one decided since is under 処理済み.
					if s.State == StateRejected && !hasClerkDecision(s) {
						v.Refused = append(v.Refused, q.item(s, in))
					}
				}
			case HowMail, HowCommand, HowPage:
				v.Decided = append(v.Decided, decided(s, c))
			}
		}
	}
	waiting, err := q.List(tx, StateQueued, StateNeedsReview)
	if err != nil {
		return Digest{}, err
	}
	var attached []uint64
	for _, s := range waiting {
		it := q.item(s, in)
		if _, ok := in.PageImages[s.ID]; ok && s.Notice.Source == parser.SourceOCR {
			attached = append(attached, s.ID)
		}
		it.New = isNew[s.ID]
		if s.State == StateQueued {
			v.Waiting = append(v.Waiting, it)
		} else {
			v.NeedsReview = append(v.NeedsReview, it)
		}
	}
	for _, u := range in.Undeliverable {
		v.Undeliverable = append(v.Undeliverable, undelivered{
			To: oneLine(u.To), Subject: oneLine(u.Subject), Reason: oneLine(u.Reason), At: jstFormat(u.At),
		})
	}

	mails := func(ns []NotAnswered) []notAnswered {
		var out []notAnswered
		for _, n := range ns {
			out = append(out, notAnswered{From: oneLine(n.From), Subject: oneLine(n.Subject), Why: oneLine(n.Why), At: jstFormat(n.At)})
		}
		return out
	}
	v.NotAnswered, v.Unqueued = mails(in.NotAnswered), mails(in.Unqueued)
	for _, n := range in.Inquiries {
		iq := inquiry{From: oneLine(n.From), Subject: oneLine(n.Subject), Tracking: oneLine(n.Tracking), At: jstFormat(n.At), Note: oneLine(n.Note)}
		for _, l := range n.Lines {
			iq.Lines = append(iq.Lines, oneLine(l))
		}
		v.Inquiries = append(v.Inquiries, iq)
	}
	v.Subject = v.subject(in.Now)

	var html bytes.Buffer
	if err := digestHTML.Execute(&html, v); err != nil {
		return Digest{}, fmt.Errorf("writing digest: %w", err)
	}
	return Digest{
		Subject: v.Subject,
		Text:    v.text(),
		HTML:    html.String(),
		Empty: len(isNew)+len(waiting)+len(v.Decided)+len(v.Undeliverable)+len(v.Inquiries) == 0 && v.PollWarning == "" &&
			!attention(in.NotAnswered),
		Items:    len(waiting),
		Attached: attached,
	}, nil
}

// subject counts what the sections list, by the sections' own names: a clerk who reads
// 確認待ち3件 in the subject finds three cards under 確認待ち.
func (v digestView) subject(now time.Time) string {
	var notes []string
	if v.PollWarning != "" {
		notes = append(notes, headPollWarning+"あり")
	}
	notes = append(notes, fmt.Sprintf("%s%d件", headWaiting, len(v.Waiting)))
	for _, c := range []struct {
		head string
		n    int
	}{{headNeedsReview, len(v.NeedsReview)}, {headInquiries, len(v.Inquiries)}, {headRefused, len(v.Refused)},
		{headUnqueued, len(v.Unqueued)}, {headUndeliverable, len(v.Undeliverable)}} {
		if c.n > 0 {
			notes = append(notes, fmt.Sprintf("%s%d件", c.head, c.n))
		}
	}
	return fmt.Sprintf("【電子証書】%s (%s)", strings.Join(notes, "・"), now.In(japan()).Format(time.DateOnly))
}

func attention(ns []NotAnswered) bool {
	return slices.ContainsFunc(ns, func(n NotAnswered) bool { return n.Attention })
}

// changedSince returns the items with a change in (since, now], in ID order.
func (q *Queue) changedSince(tx *bolt.Tx, since, now time.Time) ([]Submission, error) {
	c := tx.Bucket([]byte(changesBucket)).Cursor()
	k, _ := c.First()
	if !since.IsZero() {
		k, _ = c.Seek(store.BE64(store.TimeKey(since) + 1))
	}
	seen := map[uint64]bool{}
	var out []Submission
	for ; k != nil && store.U64(k[:8]) <= store.TimeKey(now); k, _ = c.Next() {
		id := store.U64(k[8:])
		if seen[id] {
			continue
		}
		seen[id] = true
		s, err := q.Get(tx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Submission) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// FiledEntries are the ledger entries whose notices were filed in (since, now]: a mail with
// notices that is not among them only repeated notices received before.
func (q *Queue) FiledEntries(tx *bolt.Tx, since, now time.Time) (map[uint64]bool, error) {
	changed, err := q.changedSince(tx, since, now)
	if err != nil {
		return nil, err
	}
	out := map[uint64]bool{}
	for _, s := range changed {
		for _, c := range s.History {
			if c.How == HowIntake && (since.IsZero() || c.At.After(since)) && !c.At.After(now) {
				out[s.Entry] = true
			}
		}
	}
	return out, nil
}

// MarkDigestSent records at as the end of the last digest: the next one tells what
// happened after it.
func (q *Queue) MarkDigestSent(tx *bolt.Tx, at time.Time) error {
	b, err := at.MarshalText()
	if err != nil {
		return fmt.Errorf("recording digest: %w", err)
	}
	if err := tx.Bucket([]byte(queueStateBucket)).Put([]byte(digestSentKey), b); err != nil {
		return fmt.Errorf("recording digest: %w", err)
	}
	return nil
}

// LastDigest is the time MarkDigestSent last recorded; zero when no digest was sent.
func (q *Queue) LastDigest(tx *bolt.Tx) (time.Time, error) {
	var t time.Time
	b := tx.Bucket([]byte(queueStateBucket)).Get([]byte(digestSentKey))
	if b == nil {
		return t, nil
	}
	if err := t.UnmarshalText(b); err != nil {
		return t, fmt.Errorf("reading the time of the last digest: %w", err)
	}
	return t, nil
}

// ocrFieldLabels name a notice's fields (parser.OCRMarks.Unsure) for the clerk.
var ocrFieldLabels = map[string]string{"category": "区分", "contract_number": "保証契約番号", "auth_key": "認証キー",
	"project_name": "工事名", "orderer": "発注者", "guarantor": "保証機関"}

func (q *Queue) item(s Submission, in DigestInput) digestItem {
	n := s.Notice
	key := n.AuthKey
	if in.MaskKey {
		key = MaskKey(key)
	}
	it := digestItem{
		Tracking: s.TrackingNumber(), Number: stated(n.ContractNumber), Category: stated(n.Category), Key: stated(key),
		Project: stated(n.ProjectName), Guarantor: stated(n.Guarantor), Sender: oneLine(s.Sender), Received: jstFormat(s.Received),
		State: stateLabels[s.State], Resubmission: s.Resubmission,
		// The age counts from the first filing, whose time is the mailbox's INTERNALDATE
		// (Meta.Received), never the sender's Date header.
		AgeDays: days(firstNonZero(s.FiledAt(), s.Received), in.Now),
	}
	if s.State == StateRejected && !hasClerkDecision(s) {
		it.State = headRefused
	}
	if in.PageURL != "" {
		it.Page = fmt.Sprintf("%sitems/%d", in.PageURL, s.ID)
	}
	var reasons []string
	for _, r := range s.Decision.Reasons {
		reasons = append(reasons, ReasonLabel(r))
	}
	it.Reasons = strings.Join(reasons, "・")
	if !s.Waiting() {
		return it
	}
	if len(s.Decision.Missing) > 0 {
		var m []string
		for _, f := range s.Decision.Missing {
			m = append(m, missingLabel(f))
		}
		it.Checks = append(it.Checks, "通知に記載のない項目（"+strings.Join(m, "・")+"）を証書で確認してください。")
	}
	if slices.Contains(s.Decision.Reasons, ReasonStartDateUnconfirmed) {
		it.Checks = append(it.Checks, "契約日・入札公告日等が未確認です。電子証書の対象となる契約か証書で確認してください。")
	}
	if n.Source == "body" {
		it.Checks = append(it.Checks, "メール本文に入力された番号・キーです。誤記がないか確認してください。")
	}
	if n.Source == parser.SourceOCR {
		// Read from an image (issue 12): never shown as certain. The unsure fields are named
		// so that the clerk compares them first.
		check := "画像から読み取り: D-Sureで照合してください。"
		if n.OCR != nil && len(n.OCR.Unsure) > 0 {
			var u []string
			for _, f := range n.OCR.Unsure {
				u = append(u, ocrFieldLabels[f])
			}
			check += "読み取りが不確かな項目: " + strings.Join(u, "・") + "（画像で確認してください）"
		}
		if name, ok := in.PageImages[s.ID]; ok {
			check += "読み取ったページの画像を添付しています（" + name + "）。"
		}
		it.Checks = append(it.Checks, check)
	}
	if s.Resubmission {
		it.Checks = append(it.Checks, "認証キーが再提出で差し替えられました。このキーで確認してください。")
	}
	if in.Clerk != "" {
		verify, reject := DecisionLinks(in.AgencyAddress, s, func(action string) string { return q.Token(action, s, in.Clerk, in.LinksExpire) })
		it.Verify, it.Reject = verify, reject // html/template lets mailto: through and escapes it
	}
	return it
}

func decided(s Submission, c Change) decidedItem {
	how := "メール"
	switch c.How {
	case HowCommand:
		how = "コマンド"
	case HowPage:
		how = "画面"
	}
	return decidedItem{
		Tracking: s.TrackingNumber(), Number: s.Notice.ContractNumber, Project: s.Notice.ProjectName,
		Action: stateLabels[c.To], By: oneLine(c.By), At: jstFormat(c.At), How: how, Why: oneLine(c.Why),
	}
}

// MaskKey hides most of a 認証キー: the first two and last two characters stay, enough to
// tell keys apart; a key too short for that is hidden whole.
func MaskKey(key string) string {
	r := []rune(key)
	if len(r) < 6 {
		return "***"
	}
	return string(r[:2]) + "***" + string(r[len(r)-2:])
}

// notStated stands for a field the notice does not state, so that a clerk sees it is
// missing rather than a blank.
const notStated = "（記載なし）"

func stated(s string) string {
	if s == "" {
		return notStated
	}
	return s
}

// ReasonLabel is a decision reason in the clerks' words (契約日等が未確認 for
// start_date_unconfirmed), or the reason itself when it has none.
func ReasonLabel(r string) string {
	if l, ok := reasonLabels[r]; ok {
		return l
	}
	return r
}

func missingLabel(f string) string {
	if l, ok := missingLabels[f]; ok {
		return l
	}
	return f
}

// days is the number of calendar days in Japan from from to now: a notice filed
// yesterday evening is one day old this morning.
func days(from, now time.Time) int {
	if from.IsZero() {
		return 0
	}
	civil := func(t time.Time) time.Time {
		y, m, d := t.In(japan()).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return int(civil(now).Sub(civil(from)).Hours() / 24)
}

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func jstFormat(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(japan()).Format("2006-01-02 15:04")
}

// oneLine keeps a value from breaking the text part's layout.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// text is the text/plain part: headings "■ name N件", items "◆ R-000123" with one
// "label: value" line each, and one-line entries "- …", readable in any mail client.
func (v digestView) text() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteByte('\n') }
	p("%s 電子証書 確認状況（%s 現在）", v.Agency, v.Now)
	if v.Since != "" {
		p("前回の通知: %s", v.Since)
	}
	if len(v.Waiting)+len(v.NeedsReview) > 0 {
		p("確認済・差戻しは、各項目のリンクから開くメールを件名を変えずに送信してください。差戻しの理由は本文の1行目に書いてください。")
		if v.DSureURL != "" {
			p("D-Sure（発注者用保証確認サービス）: %s", v.DSureURL)
		} else {
			p("D-Sure（発注者用保証確認サービス）: リンク未設定（設定ファイルの [digest] dsure_url）")
		}
		p("証書で確かめること:")
		for _, c := range v.Checklist {
			p("  ・%s", oneLine(c))
		}
	}
	if v.PollWarning != "" {
		p("\n■ %s", headPollWarning)
		p("前回の通知以降、メールボックスを確認できていません。新しい提出が届いていない可能性があります。")
		p("原因: %s", v.PollWarning)
	}
	items := func(head, note string, list []digestItem) {
		if len(list) == 0 {
			return
		}
		p("\n■ %s %d件（%s）", head, len(list), note)
		for _, it := range list {
			var flags string
			if it.New {
				flags += "【新着】"
			}
			if it.Resubmission {
				flags += "【再提出】"
			}
			p("\n◆ %s（受付から%d日）%s", it.Tracking, it.AgeDays, flags)
			p("  保証契約番号: %s", it.Number)
			p("  認証キー: %s", it.Key)
			p("  区分: %s", it.Category)
			p("  工事名: %s", it.Project)
			p("  保証機関: %s", it.Guarantor)
			p("  送信者: %s", it.Sender)
			p("  受信日時: %s", it.Received)
			for _, c := range it.Checks {
				p("  確認事項: %s", c)
			}
			if it.Page != "" {
				p("  画面で開く: %s", it.Page)
			}
			if it.Verify != "" {
				p("  確認済にする: %s", it.Verify)
				p("  差し戻す: %s", it.Reject)
			}
		}
	}
	items(headWaiting, "古い順", v.Waiting)
	items(headNeedsReview, "確認事項を確かめてから判断してください", v.NeedsReview)
	if len(v.Inquiries) > 0 {
		p("\n■ %s %d件（担当職員から回答してください）", headInquiries, len(v.Inquiries))
		for _, n := range v.Inquiries {
			line := fmt.Sprintf("- %s %s 差出人: %s 件名: %s", n.At, n.Tracking, n.From, n.Subject)
			if n.Note != "" {
				line += "（" + n.Note + "）"
			}
			p("%s", line)
			for _, l := range n.Lines {
				p("  | %s", l)
			}
		}
	}
	if len(v.Refused) > 0 {
		p("\n■ %s %d件（前回の通知以降。受注者には理由を返信済み）", headRefused, len(v.Refused))
		for _, it := range v.Refused {
			p("- %s %s %s %s 理由: %s %s", it.Tracking, it.Number, it.Category, it.Project, or(it.Reasons, "（なし）"), it.Sender)
		}
	}
	mails := func(head, note string, list []notAnswered) {
		if len(list) == 0 {
			return
		}
		p("\n■ %s %d件%s", head, len(list), note)
		for _, n := range list {
			p("- %s 差出人: %s 件名: %s 理由: %s", n.At, n.From, n.Subject, n.Why)
		}
	}
	mails(headUnqueued, "（受注者には送り直しを依頼済み）", v.Unqueued)
	mails(headNotAnswered, "", v.NotAnswered)
	if len(v.Decided) > 0 {
		p("\n■ %s %d件（前回の通知以降）", headDecided, len(v.Decided))
		for _, d := range v.Decided {
			line := fmt.Sprintf("- %s %s %s %s %s（%s）", d.Tracking, d.Number, d.Action, d.By, d.At, d.How)
			if d.Why != "" {
				line += " 理由: " + d.Why
			}
			p("%s", line)
		}
	}
	if len(v.Undeliverable) > 0 {
		p("\n■ %s %d件", headUndeliverable, len(v.Undeliverable))
		for _, u := range v.Undeliverable {
			p("- %s 宛先: %s 件名: %s 理由: %s", u.At, u.To, u.Subject, u.Reason)
		}
	}
	return b.String()
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// digestHTML escapes every value: 工事名, sender and an inquiry's lines come from the
// internet. The only links are the configured D-Sure page and the decision mailto links.
var digestHTML = template.Must(template.New("digest").Funcs(template.FuncMap{"keyStyle": func() template.CSS { return keyStyle }}).Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:'BIZ UDPGothic','Yu Gothic UI','Hiragino Sans','Noto Sans CJK JP',sans-serif;line-height:1.5;max-width:46em">
<h1 style="font-size:1.2em">{{.Agency}} 電子証書 確認状況</h1>
<p>{{.Now}} 現在{{if .Since}}（前回の通知: {{.Since}}）{{end}}</p>
{{- if or .Waiting .NeedsReview}}
<div class="how" style="background:#f4f6f8;padding:0.5em 1em;border-radius:4px">
<p style="margin:0.3em 0">{{if .DSureURL}}<a href="{{.DSureURL}}" style="font-weight:bold">D-Sure（発注者用保証確認サービス）を開く</a>{{else}}D-Sure（発注者用保証確認サービス）: リンク未設定（設定ファイルの [digest] dsure_url）{{end}}
 に、各項目の保証契約番号と認証キーを入力して証書を表示し、次を確かめてください。</p>
<ul class="checklist" style="margin:0.3em 0">
{{- range .Checklist}}
<li>{{.}}</li>
{{- end}}
</ul>
<p style="margin:0.3em 0;font-size:0.9em">確認済・差戻しは、各項目のリンクから開くメールを件名を変えずに送信してください。差戻しの理由は本文の1行目に書いてください。</p>
</div>
{{- end}}
{{- if .PollWarning}}
<section class="poll-warning" style="border:2px solid #c00;padding:0.5em">
<h2 style="font-size:1.1em;color:#c00">受信エラー</h2>
<p>前回の通知以降、メールボックスを確認できていません。新しい提出が届いていない可能性があります。</p>
<p>原因: {{.PollWarning}}</p>
</section>
{{- end}}
{{- define "items"}}
{{- range .}}
<table class="item" style="border-collapse:collapse;margin:0.8em 0;border:1px solid #999;min-width:32em">
<caption style="text-align:left;font-weight:bold;padding:0.2em 0">{{if .Page}}<a href="{{.Page}}">{{.Tracking}}</a>{{else}}{{.Tracking}}{{end}}（受付から{{.AgeDays}}日）{{if .New}}<span style="color:#06c">【新着】</span>{{end}}{{if .Resubmission}}<span style="color:#c60">【再提出】</span>{{end}}</caption>
<tr><th align="left" style="padding:0.3em 0.6em;width:8em">保証契約番号</th><td style="padding:0.3em 0.6em"><span class="number" style="{{keyStyle}}">{{.Number}}</span></td></tr>
<tr><th align="left" style="padding:0.3em 0.6em">認証キー</th><td style="padding:0.3em 0.6em"><span class="key" style="{{keyStyle}}">{{.Key}}</span></td></tr>
<tr><th align="left" style="padding:0.3em 0.6em">区分</th><td style="padding:0.3em 0.6em">{{.Category}}</td></tr>
<tr><th align="left" style="padding:0.3em 0.6em">工事名</th><td style="padding:0.3em 0.6em">{{.Project}}</td></tr>
<tr><th align="left" style="padding:0.3em 0.6em">保証機関</th><td style="padding:0.3em 0.6em">{{.Guarantor}}</td></tr>
<tr><th align="left" style="padding:0.3em 0.6em">送信者</th><td style="padding:0.3em 0.6em">{{.Sender}}</td></tr>
<tr><th align="left" style="padding:0.3em 0.6em">受信日時</th><td style="padding:0.3em 0.6em">{{.Received}}</td></tr>
{{- range .Checks}}
<tr><th align="left" style="padding:0.3em 0.6em;color:#c60">確認事項</th><td style="padding:0.3em 0.6em">{{.}}</td></tr>
{{- end}}
{{- if .Verify}}
<tr><td colspan="2" style="padding:0.3em 0.6em"><a href="{{.Verify}}">確認済にする</a> ／ <a href="{{.Reject}}">差し戻す</a></td></tr>
{{- end}}
</table>
{{- end}}
{{- end}}
{{- if .Waiting}}
<section class="waiting"><h2 style="font-size:1.1em">確認待ち {{len .Waiting}}件（古い順）</h2>
{{- template "items" .Waiting}}
</section>
{{- end}}
{{- if .NeedsReview}}
<section class="needs-review"><h2 style="font-size:1.1em">要確認 {{len .NeedsReview}}件（確認事項を確かめてから判断してください）</h2>
{{- template "items" .NeedsReview}}
</section>
{{- end}}
{{- if .Inquiries}}
<section class="inquiries"><h2 style="font-size:1.1em">問い合わせ {{len .Inquiries}}件（担当職員から回答してください）</h2>
{{- range .Inquiries}}
<div class="inquiry" style="border-left:3px solid #06c;padding:0.2em 0.8em;margin:0.6em 0">
<p style="margin:0.2em 0">{{.At}} {{.Tracking}} 差出人: {{.From}}<br>件名: {{.Subject}}{{if .Note}}（{{.Note}}）{{end}}</p>
<blockquote style="margin:0.2em 0;color:#333;white-space:pre-wrap">{{range $i, $l := .Lines}}{{if $i}}<br>{{end}}{{$l}}{{end}}</blockquote>
</div>
{{- end}}
</section>
{{- end}}
{{- if .Refused}}
<section class="refused"><h2 style="font-size:1.1em">対象外（自動判定） {{len .Refused}}件（前回の通知以降。受注者には理由を返信済み）</h2><ul>
{{- range .Refused}}
<li>{{.Tracking}} {{.Number}} {{.Category}} {{.Project}} 理由: {{or .Reasons "（なし）"}} {{.Sender}}</li>
{{- end}}
</ul></section>
{{- end}}
{{- if .Unqueued}}
<section class="unqueued"><h2 style="font-size:1.1em">受付できなかったメール {{len .Unqueued}}件（受注者には送り直しを依頼済み）</h2><ul>
{{- range .Unqueued}}
<li>{{.At}} 差出人: {{.From}} 件名: {{.Subject}} 理由: {{.Why}}</li>
{{- end}}
</ul></section>
{{- end}}
{{- if .NotAnswered}}
<section class="not-answered"><h2 style="font-size:1.1em">返信しなかったメール {{len .NotAnswered}}件</h2><ul>
{{- range .NotAnswered}}
<li>{{.At}} 差出人: {{.From}} 件名: {{.Subject}} 理由: {{.Why}}</li>
{{- end}}
</ul></section>
{{- end}}
{{- if .Decided}}
<section class="decided"><h2 style="font-size:1.1em">処理済み {{len .Decided}}件（前回の通知以降）</h2><ul>
{{- range .Decided}}
<li>{{.Tracking}} {{.Number}} {{.Action}} {{.By}} {{.At}}（{{.How}}）{{if .Why}} 理由: {{.Why}}{{end}}</li>
{{- end}}
</ul></section>
{{- end}}
{{- if .Undeliverable}}
<section class="undeliverable"><h2 style="font-size:1.1em">返信の送信不能 {{len .Undeliverable}}件</h2><ul>
{{- range .Undeliverable}}
<li>{{.At}} 宛先: {{.To}} 件名: {{.Subject}} 理由: {{.Reason}}</li>
{{- end}}
</ul></section>
{{- end}}
</body></html>
`))
