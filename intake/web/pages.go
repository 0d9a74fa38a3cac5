package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/unicode/norm"

	"hosho-intake/intake/inbound"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/web/session"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// pageSize is how many items a list shows at once.
const pageSize = 50

// maxReason bounds a 差戻し reason typed on the page, as verifier bounds one by mail.
const maxReason = 500

// view is what every template is given.
type view struct {
	Title, Detail string
	Base          string // the page's path, ending in /
	Agency        string
	Clerk         string // "" before sign-in
	CSRF          string
	Next, Token   string // the sign-in forms'
	Resume        string // where a clerk already signed in goes from the sign-in form
	DSureURL      string
	Checklist     []string
	Flash         string
	Filter        filter
	Rows          []row
	Total         int
	Prev, NextURL string
	Item          *row
	Mail          *mailView
	History       []change
	Register      *registerView
}

// row is one submission as the page shows it.
type row struct {
	ID                                                         uint64
	Tracking, Number, Category, Project, Orderer, Guarantor    string
	Sender, Received, Filed, State, StateLabel, Rule, KeyShown string
	AgeDays                                                    int
	Waiting, Resubmission, BodyTyped, Unanswerable             bool
	Why, Missing                                               []string
	Decided                                                    string // 確認済 2025-01-01 10:00 by …
	// Base and CSRF are the page's, for the card's forms; Back "item" returns a decision to
	// the item's page.
	Base, CSRF, Back string
}

type change struct{ At, What, By, How, Why string }

type mailView struct {
	From, To, Subject, Date, Received, MessageID string
	Text                                         string
	Files                                        []file
	Gone                                         string // why the original is not shown
	// PageImage names the page a notice read by OCR was read from, when its image is kept
	// (ledger.Entry.Images); "" otherwise.
	PageImage string
}

type file struct {
	N                 int
	Name, Type, Size  string
	PDF, OfThisNotice bool
}

func (s *Server) view(c session.Session, title string) view {
	cfg := s.svc().Config
	v := view{Title: title, Base: s.basePath(), Agency: cfg.Agency.Name, Clerk: c.Clerk, CSRF: c.CSRF,
		DSureURL: cfg.Digest.DSureURL, Checklist: s.svc().Effects.Policy.Checklist}
	if len(v.Checklist) == 0 {
		v.Checklist = verifier.DefaultChecklist
	}
	return v
}

func (s *Server) render(w http.ResponseWriter, status int, page string, v view) {
	if v.Base == "" {
		v.Base = s.basePath()
	}
	if v.Agency == "" {
		v.Agency = s.svc().Config.Agency.Name
	}
	var b bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		s.log.Error("clerks' page: rendering", "page", page, "err", err)
		http.Error(w, "rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"add": func(a, b int) int { return a + b }}
	pages := map[string]*template.Template{}
	for _, p := range []string{"message", "signin", "link", "queue", "item", "register"} {
		t, err := template.New(p).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/card.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("clerks' page templates: %w", err)
		}
		pages[p] = t
	}
	return pages, nil
}

// japan is the agency's time: +09:00, no daylight saving since 1951.
var japan = time.FixedZone("JST", 9*3600)

func jst(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(japan).Format("2006-01-02 15:04")
}

// days counts calendar days in Japan from from to now.
func days(from, now time.Time) int {
	if from.IsZero() {
		return 0
	}
	civil := func(t time.Time) time.Time {
		y, m, d := t.In(japan).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return int(civil(now).Sub(civil(from)).Hours() / 24)
}

var stateLabels = map[string]string{verifier.StateQueued: "確認待ち", verifier.StateNeedsReview: "要確認",
	verifier.StateVerified: "確認済", verifier.StateRejected: "差戻し"}

var howLabels = map[string]string{verifier.HowIntake: "受付", verifier.HowMail: "メール", verifier.HowCommand: "コマンド",
	verifier.HowPage: "画面", verifier.HowKeyShown: "認証キー表示"}

var missingLabels = map[string]string{verifier.MissingOrderer: "発注者", verifier.MissingCategory: "区分",
	verifier.MissingGuarantor: "保証機関", verifier.MissingProjectName: "工事名"}

func rowOf(sub verifier.Submission, now time.Time) row {
	n := sub.Notice
	r := row{ID: sub.ID, Tracking: sub.TrackingNumber(), Number: n.ContractNumber, Category: n.Category, Project: n.ProjectName,
		Orderer: n.Orderer, Guarantor: n.Guarantor, Sender: sub.Sender, Received: jst(sub.Received), Filed: jst(sub.FiledAt()),
		State: sub.State, StateLabel: sub.Label(), Rule: strings.TrimSpace(sub.Decision.Policy + " " + sub.Decision.PolicyVersion),
		AgeDays: days(cmpTime(sub.FiledAt(), sub.Received), now), Waiting: sub.Waiting(), Resubmission: sub.Resubmission,
		BodyTyped: n.Source == "body", Unanswerable: sub.Unanswerable}
	for _, reason := range sub.Decision.Reasons {
		r.Why = append(r.Why, verifier.ReasonLabel(reason))
	}
	for _, m := range sub.Decision.Missing {
		if l, ok := missingLabels[m]; ok {
			m = l
		}
		r.Missing = append(r.Missing, m)
	}
	if c, ok := sub.Decided(); ok {
		r.Decided = fmt.Sprintf("%s %s %s（%s）", stateLabels[c.To], jst(c.At), c.By, howLabels[c.How])
	}
	return r
}

func cmpTime(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	return a
}

// filter is a search of the queue, from the query string.
type filter struct {
	State, Number, Project, Sender, From, To string
	Page                                     int
	// from and to are From and To as times: [from, to) in Japan.
	from, to time.Time
}

// States a filter offers: the waiting ones (the default), one state, or all.
const (
	stateWaiting = "waiting"
	stateAll     = "all"
)

func parseFilter(q map[string][]string) (filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	f := filter{State: get("state"), Number: get("number"), Project: get("project"), Sender: get("sender"), From: get("from"), To: get("to")}
	if f.State == "" {
		f.State = stateWaiting
	}
	if _, ok := stateLabels[f.State]; !ok && f.State != stateWaiting && f.State != stateAll {
		return f, fmt.Errorf("unknown state %q", f.State)
	}
	f.Page, _ = strconv.Atoi(get("page"))
	f.Page = max(f.Page, 1)
	var err error
	if f.From != "" {
		if f.from, err = time.ParseInLocation(time.DateOnly, f.From, japan); err != nil {
			return f, fmt.Errorf("bad date %q", f.From)
		}
	}
	if f.To != "" {
		if f.to, err = time.ParseInLocation(time.DateOnly, f.To, japan); err != nil {
			return f, fmt.Errorf("bad date %q", f.To)
		}
		f.to = f.to.AddDate(0, 0, 1) // the whole day
	}
	return f, nil
}

// fold is s for matching: NFKC (full-width digits and letters, half-width kana), spaces
// removed, lower case; what the parser keeps of 工事名 is matched by what a clerk types.
func fold(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(norm.NFKC.String(s)), ""))
}

func (f filter) states() []string {
	switch f.State {
	case stateWaiting:
		return []string{verifier.StateQueued, verifier.StateNeedsReview}
	case stateAll:
		return nil
	}
	return []string{f.State}
}

func (f filter) match(sub verifier.Submission) bool {
	at := cmpTime(sub.FiledAt(), sub.Received)
	switch {
	case f.Number != "" && !strings.Contains(sub.Notice.ContractNumber, fold(f.Number)):
		return false
	case f.Project != "" && !strings.Contains(fold(sub.Notice.ProjectName), fold(f.Project)):
		return false
	case f.Sender != "" && !strings.Contains(strings.ToLower(sub.Sender), strings.ToLower(f.Sender)):
		return false
	case !f.from.IsZero() && at.Before(f.from):
		return false
	case !f.to.IsZero() && !at.Before(f.to):
		return false
	}
	return true
}

// query is the filter as a query string, at page.
func (f filter) query(page int) string {
	v := map[string]string{"state": f.State, "number": f.Number, "project": f.Project, "sender": f.Sender, "from": f.From, "to": f.To}
	var parts []string
	for _, k := range []string{"state", "number", "project", "sender", "from", "to"} {
		if v[k] != "" {
			parts = append(parts, k+"="+urlEscape(v[k]))
		}
	}
	if page > 1 {
		parts = append(parts, "page="+strconv.Itoa(page))
	}
	return "?" + strings.Join(parts, "&")
}

// search lists the submissions f matches: the waiting ones oldest first (the order they
// are to be done in), any others newest first.
func (s *Server) search(f filter) ([]verifier.Submission, error) {
	svc := s.svc()
	var all []verifier.Submission
	err := svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		var err error
		all, err = svc.Queue.List(tx, f.states()...)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, sub := range all {
		if f.match(sub) {
			out = append(out, sub)
		}
	}
	if f.State != stateWaiting {
		slices.Reverse(out)
	}
	return out, nil
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request, c session.Session) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		s.refuse(w, http.StatusBadRequest, "検索条件が正しくありません", err.Error())
		return
	}
	subs, err := s.search(f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	title := "確認待ち"
	if f.State != stateWaiting || f.Number+f.Project+f.Sender+f.From+f.To != "" {
		title = "検索"
	}
	v := s.view(c, title)
	v.Filter, v.Total = f, len(subs)
	now := s.now()
	start := min((f.Page-1)*pageSize, len(subs))
	end := min(start+pageSize, len(subs))
	for _, sub := range subs[start:end] {
		r := rowOf(sub, now)
		r.Base, r.CSRF = v.Base, v.CSRF
		v.Rows = append(v.Rows, r)
	}
	if f.Page > 1 {
		v.Prev = f.query(f.Page - 1)
	}
	if end < len(subs) {
		v.NextURL = f.query(f.Page + 1)
	}
	v.Flash = flash(r.URL.Query().Get("done"), r.URL.Query().Get("action"))
	s.render(w, http.StatusOK, "queue", v)
}

// flash says what the clerk's last decision did.
func flash(tracking, action string) string {
	if !strings.HasPrefix(tracking, "R-") || len(tracking) > 12 {
		return ""
	}
	switch action {
	case verifier.ActionVerify:
		return tracking + " を確認済として記録しました。受注者に確認済の通知を送ります。"
	case verifier.ActionReject:
		return tracking + " を差戻しとして記録しました。受注者に理由を添えて通知します。"
	}
	return ""
}

// itemID reads the item's ID from the path; not found answers 404.
func (s *Server) submission(w http.ResponseWriter, r *http.Request) (verifier.Submission, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		s.refuse(w, http.StatusNotFound, "見つかりません", "該当する受付はありません。")
		return verifier.Submission{}, false
	}
	svc := s.svc()
	var sub verifier.Submission
	err = svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		sub, err = svc.Queue.Get(tx, id)
		return err
	})
	switch {
	case errors.Is(err, verifier.ErrNotFound):
		// Also an item of another agency's instance: each has its own state, and this one
		// tells nothing of the others'.
		s.refuse(w, http.StatusNotFound, "見つかりません", "該当する受付はありません。")
		return sub, false
	case err != nil:
		s.fail(w, r, err)
		return sub, false
	}
	return sub, true
}

func (s *Server) item(w http.ResponseWriter, r *http.Request, c session.Session) {
	sub, ok := s.submission(w, r)
	if !ok {
		return
	}
	s.itemPage(w, r, c, sub, "")
}

// itemPage shows sub; key is its full 認証キー when the clerk has just been shown it (and
// that was recorded), else "".
func (s *Server) itemPage(w http.ResponseWriter, r *http.Request, c session.Session, sub verifier.Submission, key string) {
	v := s.view(c, sub.TrackingNumber())
	it := rowOf(sub, s.now())
	it.KeyShown, it.Base, it.CSRF, it.Back = key, v.Base, v.CSRF, "item"
	v.Item = &it
	for _, ch := range sub.History {
		what := stateLabels[ch.To]
		switch {
		case ch.How == verifier.HowKeyShown:
			what = "認証キーを表示"
		case ch.From == "":
			what = "受付: " + what
		case ch.From != ch.To:
			what = stateLabels[ch.From] + " → " + what
		}
		why := ch.Why
		if ch.How == verifier.HowIntake && ch.Why != "" {
			var labels []string
			for _, reason := range strings.Split(ch.Why, ",") {
				labels = append(labels, verifier.ReasonLabel(reason))
			}
			why = strings.Join(labels, "・")
		}
		v.History = append(v.History, change{At: jst(ch.At), What: what, By: ch.By, How: howLabels[ch.How], Why: why})
		if ch.From == "" && sub.DroppedResubmissions > 0 {
			v.History = append(v.History, change{What: fmt.Sprintf("ほかに再送 %d 件（古いものは記録を省略）", sub.DroppedResubmissions)})
		}
	}
	v.Mail = s.mail(sub, key != "")
	v.Flash = flash(r.URL.Query().Get("done"), r.URL.Query().Get("action"))
	s.render(w, http.StatusOK, "item", v)
}

// mail is the original message of sub as the item page shows it. Its text shows the 認証キー
// masked unless showKey: a key typed in the body is a key like any other.
func (s *Server) mail(sub verifier.Submission, showKey bool) *mailView {
	svc := s.svc()
	m := &mailView{}
	e, err := svc.Ledger.Get(sub.Entry)
	if err != nil {
		m.Gone = "受信記録を読めません。"
		return m
	}
	m.From, m.Subject, m.Received = e.From, e.Subject, jst(e.TakenAt)
	for _, im := range e.Images {
		if sub.Notice.Source == parser.SourceOCR && im.Attachment == sub.Notice.Attachment && im.Page == sub.Notice.Page {
			m.PageImage = fmt.Sprintf("%s %dページ", im.Attachment, im.Page)
		}
	}
	raw, err := svc.Ledger.Raw(sub.Entry)
	if err != nil || len(raw) == 0 {
		m.Gone = "原本は保存期間を過ぎたため削除されています。"
		return m
	}
	msg, err := inbound.Read(bytes.NewReader(raw), inbound.DefaultLimits())
	if err != nil {
		m.Gone = "原本を読めません。"
		return m
	}
	m.From, m.Subject, m.MessageID = msg.From, msg.Subject, msg.MessageID
	if msg.FromName != "" {
		m.From = msg.FromName + " <" + msg.From + ">"
	}
	m.To = msg.Header.Text("To")
	if !msg.Date.IsZero() {
		m.Date = jst(msg.Date)
	}
	m.Text = strings.Join(msg.Texts, "\n――――\n")
	if k := sub.Notice.AuthKey; k != "" && !showKey {
		m.Text = strings.ReplaceAll(m.Text, k, verifier.MaskKey(k))
	}
	for i, a := range msg.Attachments {
		m.Files = append(m.Files, file{N: i, Name: a.Name, Type: a.ContentType, Size: size(len(a.Data)), PDF: isPDF(a),
			OfThisNotice: a.Path == sub.Notice.Attachment || (sub.Notice.Attachment == "" && sub.Notice.Source == "pdf" && isPDF(a))})
	}
	return m
}

func isPDF(a inbound.Attachment) bool { return bytes.HasPrefix(a.Data, []byte("%PDF-")) }

func size(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.0f KB", float64(n)/1024)
}

// reveal shows the clerk the item's full 認証キー, recorded in its history first.
func (s *Server) reveal(w http.ResponseWriter, r *http.Request, c session.Session) {
	sub, ok := s.submission(w, r)
	if !ok {
		return
	}
	if sub, ok = s.recordReveal(w, r, c, sub.ID); !ok {
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"key": sub.Notice.AuthKey})
		return
	}
	s.itemPage(w, r, c, sub, sub.Notice.AuthKey)
}

// recordReveal records that c was shown the key of item id, and returns the item.
func (s *Server) recordReveal(w http.ResponseWriter, r *http.Request, c session.Session, id uint64) (verifier.Submission, bool) {
	svc := s.svc()
	var sub verifier.Submission
	err := svc.Ledger.DB().Update(func(tx *bolt.Tx) error {
		var err error
		sub, err = svc.Queue.RecordReveal(tx, id, c.Clerk, s.now())
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return sub, false
	}
	s.log.Info("認証キー shown", "item", sub.TrackingNumber(), "by", c.Clerk, "how", "page")
	return sub, true
}

// decide records 確認済 or 差戻し through the one decision path (intake.Service.PageDecide).
func (s *Server) decide(w http.ResponseWriter, r *http.Request, c session.Session) {
	sub, ok := s.submission(w, r)
	if !ok {
		return
	}
	action := r.PostFormValue("action")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	switch {
	case action != verifier.ActionVerify && action != verifier.ActionReject:
		s.refuse(w, http.StatusBadRequest, "操作が正しくありません", "確認済か差戻しを選んでください。")
		return
	case action == verifier.ActionReject && reason == "":
		s.refuse(w, http.StatusBadRequest, "差戻しの理由がありません", "差戻しの理由を入力してください。受注者に伝えます。")
		return
	case utf8.RuneCountInString(reason) > maxReason:
		s.refuse(w, http.StatusBadRequest, "差戻しの理由が長すぎます", fmt.Sprintf("%d文字以内にしてください。", maxReason))
		return
	}
	if action == verifier.ActionVerify {
		reason = "" // only a 差戻し's reason is told to the contractor
	}
	done, err := s.svc().PageDecide(sub.ID, action, c.Clerk, reason, s.now())
	switch {
	case errors.Is(err, verifier.ErrAlreadyDecided):
		s.refuse(w, http.StatusConflict, sub.TrackingNumber()+" は処理済みです",
			fmt.Sprintf("%s は既に%sです。", sub.TrackingNumber(), rowOf(done, s.now()).StateLabel))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	back := s.basePath() + "?"
	if r.PostFormValue("back") == "item" {
		back = fmt.Sprintf("%sitems/%d?", s.basePath(), sub.ID)
	}
	http.Redirect(w, r, back+"done="+done.TrackingNumber()+"&action="+action, http.StatusSeeOther)
}

// file serves an attachment of the item's mail: a PDF inline, for the browser's own viewer,
// anything else as a download. Its content is a stranger's: nothing in it may run, and
// opening the PDF of a notice shows its 認証キー, so that is recorded as a key shown.
func (s *Server) file(w http.ResponseWriter, r *http.Request, c session.Session) {
	sub, ok := s.submission(w, r)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	svc := s.svc()
	raw, rerr := svc.Ledger.Raw(sub.Entry)
	msg := &inbound.Message{}
	if rerr == nil {
		msg, rerr = inbound.Read(bytes.NewReader(raw), inbound.DefaultLimits())
	}
	if err != nil || rerr != nil || n < 0 || n >= len(msg.Attachments) {
		s.refuse(w, http.StatusNotFound, "見つかりません", "該当する添付ファイルはありません。")
		return
	}
	a := msg.Attachments[n]
	if _, ok := s.recordReveal(w, r, c, sub.ID); !ok {
		return
	}
	h := w.Header()
	// The PDF viewer needs its own document; it may be framed by this page alone.
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'")
	h.Del("X-Frame-Options")
	name := a.Name
	if name == "" {
		name = fmt.Sprintf("attachment-%d", n)
	}
	if isPDF(a) {
		h.Set("Content-Type", "application/pdf")
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	} else {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	}
	w.Write(a.Data)
}

// pageImage serves the page a notice read by OCR was read from (a PNG the sandbox worker
// made, kept with the raw message), for the clerk to check the reading against. It shows
// the 認証キー, so it is recorded as a key shown, as opening the PDF is.
func (s *Server) pageImage(w http.ResponseWriter, r *http.Request, c session.Session) {
	sub, ok := s.submission(w, r)
	if !ok {
		return
	}
	img, err := s.svc().Ledger.Image(sub.Entry, sub.Notice.Attachment, sub.Notice.Page)
	switch {
	case sub.Notice.Source != parser.SourceOCR || errors.Is(err, ledger.ErrNotFound):
		s.refuse(w, http.StatusNotFound, "見つかりません", "この受付には読み取った画像がありません（保存期間を過ぎたか、画像から読み取った通知ではありません）。")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	if _, ok := s.recordReveal(w, r, c, sub.ID); !ok {
		return
	}
	h := w.Header()
	// An image and nothing else: no script, no style, no framing by anyone.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; frame-ancestors 'none'")
	h.Set("Content-Type", "image/png")
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": sub.TrackingNumber() + ".png"}))
	w.Write(img)
}

// urlEscape escapes a query value.
func urlEscape(s string) string { return strings.ReplaceAll(template.URLQueryEscaper(s), "+", "%2B") }
