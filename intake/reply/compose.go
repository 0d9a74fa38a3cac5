package reply

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"hosho-intake/intake/inbound"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

//go:embed templates/*.tmpl
var builtin embed.FS

// Outcomes an Item can have: the verifier's three, the queue's two, and the clerk's two.
const (
	OutcomeQueued          = verifier.OutcomeQueued
	OutcomeNeedsReview     = verifier.OutcomeNeedsReview
	OutcomeRejected        = verifier.OutcomeRejected
	OutcomeDuplicate       = "duplicate"    // the same notice was received before
	OutcomeResubmission    = "resubmission" // a new key for a number received before: the key is replaced
	OutcomeVerified        = "verified"     // a clerk viewed the certificate on D-Sure
	OutcomeRejectedByClerk = "rejected_by_clerk"
)

// Charsets of Options.Charset.
const (
	CharsetUTF8      = "utf-8"
	CharsetISO2022JP = "iso-2022-jp"
)

// ErrNoRecipient: the message to answer has no address a reply could be sent to.
var ErrNoRecipient = errors.New("no address to reply to")

// Options configure a Composer.
type Options struct {
	// Charset of the body and the encoded words: "utf-8" (the default) or "iso-2022-jp" for old
	// Japanese mail clients.
	Charset string
	// TemplatesDir holds NAME.tmpl files replacing the built-in templates of that name; empty:
	// built-in only. A file whose name is no template is an error, so a typo does not pass silently.
	TemplatesDir string
}

// Composer renders replies. It is immutable and safe for concurrent use.
type Composer struct {
	charset string
	tmpl    *template.Template
	files   map[string]string // template name -> where it came from, for errors
}

// Item is one notice of a received message and what became of it.
type Item struct {
	Notice   parser.Notice
	Tracking string // 受付番号, e.g. R-000123; required
	Outcome  string // one of the Outcome constants
	Reasons  []string
	// CurrentState is, for a duplicate, the state of the earlier item (an Outcome constant or
	// the queue's state name).
	CurrentState string
	ClerkReason  string // for rejected_by_clerk: the clerk's words
	// Missing are the fields the notice did not state (verifier.Decision.Missing), for needs_review.
	Missing []string
	// Accepted are the 区分 the policy accepts for this kind of contract, for category_not_eligible
	// ("業務 only 前払金保証"); empty: not said.
	Accepted []string
	// StartDate is the policy's start date as shown (2023年6月1日) and StartDateLabel the date it
	// applies to (当初契約日), for before_start_date; empty: not said.
	StartDate, StartDateLabel string
}

// Input is what Compose answers.
type Input struct {
	Received *inbound.Message
	Items    []Item
	// Problems are what the sender must be told about (parser and inbound problems); the codes
	// of mail never answered (auto_submitted, bounce, mailing_list) are ignored.
	Problems []parser.Problem
	// Tracking is the 受付番号 of the message itself, shown when it held no notice; optional.
	Tracking                             string
	AgencyName, AgencyAddress, Signature string
	Now                                  time.Time // the Date; zero: time.Now()
	MessageIDDomain                      string    // the agency's domain; empty: AgencyAddress's
}

// OutcomeInput is a clerk's later decision on notices, to tell the contractor.
type OutcomeInput struct {
	To, ToName string   // the contractor, as the original message's From
	Subject    string   // the original message's subject, shown in the text; may be empty
	InReplyTo  string   // the original message's Message-ID, for threading; may be empty
	References []string // the original message's References
	Items      []Item   // Outcome verified or rejected_by_clerk

	AgencyName, AgencyAddress, Signature string
	Now                                  time.Time
	MessageIDDomain                      string
}

// ConfirmationInput is the confirmation to a clerk who recorded decisions by mail.
type ConfirmationInput struct {
	Received *inbound.Message // the clerk's mail
	Items    []Item           // the decisions recorded (verified or rejected_by_clerk)
	Refused  []Refusal        // the instructions not recorded

	AgencyName, AgencyAddress, Signature string
	Now                                  time.Time
	MessageIDDomain                      string
}

// Refusal is an instruction in a clerk's mail that was not recorded.
type Refusal struct {
	Line string // what the clerk wrote
	Why  string // why it was not recorded, in Japanese
}

// Reply is one composed message.
type Reply struct {
	From      string // the agency address: the envelope sender, so a bounce of the reply comes back
	To        string // the recipient's bare address, for the envelope
	Subject   string // decoded
	Text      string // the body as plain UTF-8, "\n" line ends
	MessageID string // "<...@domain>"
	Raw       []byte // the whole RFC 5322 message with CRLF line ends
}

// templateNames are the built-in templates, each templates/NAME.tmpl.
func templateNames() []string {
	return []string{
		"reply", "outcome", "confirmation", "footer", "notice", "body_fallback", "inquiry", "forward",
		OutcomeQueued, OutcomeNeedsReview, OutcomeRejected, OutcomeDuplicate, OutcomeResubmission,
		OutcomeVerified, OutcomeRejectedByClerk,
		"reason_" + verifier.ReasonOrdererMismatch, "reason_" + verifier.ReasonGuarantorNotEligible,
		"reason_" + verifier.ReasonCategoryNotEligible, "reason_" + verifier.ReasonBeforeStartDate,
		"reason_" + verifier.ReasonStartDateUnconfirmed, "reason_other",
		"problem_" + parser.CodeWrongDocument, "problem_" + parser.CodeZipAttachment,
		"problem_" + parser.CodePasswordZip, "problem_" + parser.CodeNoText, "problem_" + parser.CodeEncrypted,
		"problem_" + parser.CodeCorrupt, "problem_" + parser.CodeNotPDF, "problem_" + parser.CodeNoNotice,
		"problem_" + parser.CodeTooLarge, "problem_" + parser.CodeTooSlow, "problem_" + parser.CodeInvalidKey,
		// PPAP (intake/ppap.go): a password ZIP opened with the next mail's password, a wrong
		// password, no password in time, a password without its ZIP.
		"problem_password_unlocked", "problem_wrong_password", "problem_password_expired", "problem_password_without_file",
		"problem_other",
	}
}

// TemplateNames lists the templates a TemplatesDir may override, without ".tmpl".
func TemplateNames() []string { return templateNames() }

// NewComposer parses the built-in templates and the overrides in o.TemplatesDir, and renders
// every one of them once with sample data, so that a broken override fails here.
func NewComposer(o Options) (*Composer, error) {
	cs := strings.ToLower(strings.TrimSpace(o.Charset))
	switch cs {
	case "", "utf-8", "utf8":
		cs = CharsetUTF8
	case "iso-2022-jp", "iso2022jp", "jis":
		cs = CharsetISO2022JP
	default:
		return nil, fmt.Errorf("reply charset %q: want %s or %s", o.Charset, CharsetUTF8, CharsetISO2022JP)
	}
	names := templateNames()
	overrides := map[string][]byte{}
	if o.TemplatesDir != "" {
		entries, err := os.ReadDir(o.TemplatesDir)
		if err != nil {
			return nil, fmt.Errorf("reading reply templates: %w", err)
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".tmpl")
			if !ok || e.IsDir() {
				continue
			}
			if !slices.Contains(names, name) {
				return nil, fmt.Errorf("reply template %s: no such template (known: %s)",
					filepath.Join(o.TemplatesDir, e.Name()), strings.Join(names, ", "))
			}
			b, err := os.ReadFile(filepath.Join(o.TemplatesDir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("reading reply template: %w", err)
			}
			overrides[name] = b
		}
	}
	root := template.New("").Funcs(template.FuncMap{"join": strings.Join})
	files := map[string]string{}
	for _, name := range names {
		src, ok := overrides[name]
		file := filepath.Join(o.TemplatesDir, name+".tmpl")
		if !ok {
			var err error
			if src, err = fs.ReadFile(builtin, "templates/"+name+".tmpl"); err != nil {
				return nil, fmt.Errorf("built-in reply template %s: %w", name, err)
			}
			file = "built-in " + name + ".tmpl"
		}
		if _, err := root.New(name).Parse(string(src)); err != nil {
			return nil, fmt.Errorf("parsing reply template %s: %w", file, err)
		}
		files[name] = file
	}
	c := &Composer{charset: cs, tmpl: root, files: files}
	if err := c.selfTest(); err != nil {
		return nil, fmt.Errorf("checking reply templates: %w", err)
	}
	return c, nil
}

// selfTest renders every template once.
func (c *Composer) selfTest() error {
	now := time.Date(2025, 10, 1, 9, 0, 0, 0, time.FixedZone("JST", 9*3600))
	msg := &inbound.Message{MessageID: "<t@example.com>", Subject: "test", From: "a@example.com", Date: now}
	n := parser.Notice{Category: "前払金保証", ContractNumber: "2070004426", AuthKey: "ABCDEFGH", ProjectName: "工事", Orderer: "X", Guarantor: "Y"}
	var items []Item
	for _, o := range []string{OutcomeQueued, OutcomeNeedsReview, OutcomeRejected, OutcomeDuplicate, OutcomeResubmission, OutcomeVerified, OutcomeRejectedByClerk} {
		items = append(items, Item{Notice: n, Tracking: "R-1", Outcome: o, Missing: []string{verifier.MissingOrderer},
			Reasons: []string{verifier.ReasonOrdererMismatch, verifier.ReasonGuarantorNotEligible, verifier.ReasonCategoryNotEligible,
				verifier.ReasonBeforeStartDate, verifier.ReasonStartDateUnconfirmed, "x"}})
	}
	var problems []parser.Problem
	for _, name := range templateNames() {
		if code, ok := strings.CutPrefix(name, "problem_"); ok {
			problems = append(problems, parser.Problem{Code: code, Attachment: "a.pdf"})
		}
	}
	common := func() (string, string, string, time.Time) { return "機関", "a@agency.example", "署名", now }
	in := Input{Received: msg, Items: items, Problems: problems}
	in.AgencyName, in.AgencyAddress, in.Signature, in.Now = common()
	if _, err := c.Compose(in); err != nil {
		return err
	}
	q := Input{Received: msg, Problems: []parser.Problem{{Code: parser.CodeNoNotice}}, Tracking: "M-1"}
	q.AgencyName, q.AgencyAddress, q.Signature, q.Now = common()
	if _, err := c.Compose(q); err != nil {
		return err
	}
	oi := OutcomeInput{To: "a@example.com", Items: items[5:]}
	oi.AgencyName, oi.AgencyAddress, oi.Signature, oi.Now = common()
	if _, err := c.Outcome(oi); err != nil {
		return err
	}
	fi := ForwardInput{Received: msg, Raw: []byte("Subject: test\r\n\r\nx\r\n"), To: "a@agency.example", Tracking: "M-1"}
	fi.AgencyName, fi.AgencyAddress, _, fi.Now = common()
	if _, err := c.Forward(fi); err != nil {
		return err
	}
	ci := ConfirmationInput{Received: msg, Items: items[5:], Refused: []Refusal{{"x", "y"}}}
	ci.AgencyName, ci.AgencyAddress, ci.Signature, ci.Now = common()
	_, err := c.Confirmation(ci)
	return err
}

// itemView is what the item, notice and reason templates see. Every string is cleaned of
// control characters and the key is masked.
type itemView struct {
	// FromImage: the notice was read from an image (OCR); the sender is told a clerk checks it.
	FromImage      bool
	AgencyName     string
	Tracking       string
	ContractNumber string
	Category       string
	ProjectName    string
	ProjectLabel   string // 工事名 or 業務名
	Orderer        string
	Guarantor      string
	MaskedKey      string
	Attachment     string
	Kind           string // verifier.KindWorks or verifier.KindServices
	KindLabel      string // 工事 or 業務
	Outcome        string
	OutcomeLabel   string
	Reasons        []string
	ReasonTexts    []string // the rendered reason templates
	Missing        []string // in Japanese
	Accepted       []string
	StartDate      string
	StartDateLabel string
	CurrentState   string // in Japanese
	ClerkReason    string
	Reason         string // while a reason template renders: its code
	// Trackings are, for a note said once for several notices, their 受付番号; empty when
	// the reply holds one notice.
	Trackings []string
}

// block is one rendered item or problem, for the layouts.
type block struct {
	itemView
	Code string // problem code
	// MissingField: what a notice typed in the body lacks (parser.MissingKey or
	// parser.MissingNumber), named by its ContractNumber or MaskedKey.
	MissingField string
	Body         string
}

// layoutView is what the layouts (reply, outcome, confirmation) and footer see.
type layoutView struct {
	ToName, AgencyName, AgencyAddress, Signature string
	Subject                                      string // the original subject, or （件名なし）
	ReceivedAt                                   string // 2025年10月1日 9時05分, or ""
	Tracking                                     string // of the message, when it held no notice
	Items                                        []block
	Problems                                     []block
	BodyFallback                                 bool // some problem is solved by typing the number and key
	Refused                                      []Refusal
	// Inquiry: the mail is a question (see Inquiry); the reply acknowledges it.
	Inquiry bool
	// Notes are said once after all the notices: the ※ 契約日 paragraph.
	Notes []string
}

// Compose renders the one reply to in.Received.
func (c *Composer) Compose(in Input) (Reply, error) {
	if in.Received == nil {
		return Reply{}, errors.New("composing reply: no received message")
	}
	msg := in.Received
	env, err := newEnvelope(in.AgencyName, in.AgencyAddress, in.MessageIDDomain, in.Now, msg.From, msg.FromName)
	if err != nil {
		return Reply{}, fmt.Errorf("composing reply to %q: %w", msg.From, err)
	}
	lv := c.layout(env, in.Signature, msg.Subject, msg.Date)
	lv.Tracking = cleanLine(in.Tracking, 40)
	if lv.Items, err = c.items(in.Items, env.agencyName); err != nil {
		return Reply{}, fmt.Errorf("composing reply to %s: %w", env.to, err)
	}
	if note, err := c.dateNote(in.Items, env.agencyName); err != nil {
		return Reply{}, fmt.Errorf("composing reply to %s: %w", env.to, err)
	} else if note != "" {
		lv.Notes = append(lv.Notes, note)
	}
	seen := map[string]bool{}
	for _, p := range in.Problems {
		switch p.Code {
		case parser.CodeAutoSubmitted, parser.CodeBounce, parser.CodeMailingList:
			continue // Should keeps these from being answered at all
		}
		att := fileName(p.Attachment, 120)
		number := plainLine(p.ContractNumber, 20)
		key := Mask(cleanLine(p.AuthKey, 64))
		id := p.Code + "\x00" + att + "\x00" + number + "\x00" + key + "\x00" + p.Missing
		if seen[id] {
			continue
		}
		seen[id] = true
		b := block{Code: p.Code, MissingField: p.Missing}
		b.AgencyName, b.Attachment, b.ContractNumber, b.MaskedKey = env.agencyName, att, number, key
		name := "problem_" + p.Code
		if c.tmpl.Lookup(name) == nil {
			name = "problem_other"
		}
		if b.Body, err = c.render(name, b); err != nil {
			return Reply{}, fmt.Errorf("composing reply to %s: %w", env.to, err)
		}
		lv.Problems = append(lv.Problems, b)
		// A sender whose gateway strips or spoils PDFs can still type the number and key.
		lv.BodyFallback = lv.BodyFallback || (p.Code != parser.CodeZipAttachment && p.Code != "password_unlocked")
	}
	if len(lv.Items) == 0 && Inquiry(msg, in.Problems) {
		// A question, not a failed submission: acknowledged, and a clerk answers it.
		lv.Inquiry, lv.Problems, lv.BodyFallback = true, nil, false
	}
	if len(lv.Items) == 0 && len(lv.Problems) == 0 && !lv.Inquiry {
		// Nothing read and nothing said: the sender still learns what to send.
		b := block{Code: parser.CodeNoNotice}
		b.AgencyName = env.agencyName
		if b.Body, err = c.render("problem_"+parser.CodeNoNotice, b); err != nil {
			return Reply{}, fmt.Errorf("composing reply to %s: %w", env.to, err)
		}
		lv.Problems, lv.BodyFallback = []block{b}, true
	}
	text, err := c.render("reply", lv)
	if err != nil {
		return Reply{}, fmt.Errorf("composing reply to %s: %w", env.to, err)
	}
	env.subject = "Re: " + stripRe(plainLine(msg.Subject, maxSubject))
	if strings.TrimSpace(plainLine(msg.Subject, maxSubject)) == "" {
		env.subject = "Re: （件名なし）"
	}
	env.inReplyTo = msg.MessageID
	env.references = append(slices.Clone(msg.References), msg.MessageID)
	return c.finish(env, text, keysOf(in.Items))
}

// Outcome renders the mail that tells the contractor a clerk's decision (verified, or
// rejected by the clerk with the clerk's reason).
func (c *Composer) Outcome(in OutcomeInput) (Reply, error) {
	env, err := newEnvelope(in.AgencyName, in.AgencyAddress, in.MessageIDDomain, in.Now, in.To, in.ToName)
	if err != nil {
		return Reply{}, fmt.Errorf("composing decision to %q: %w", in.To, err)
	}
	if len(in.Items) == 0 {
		return Reply{}, fmt.Errorf("composing decision to %s: no items", env.to)
	}
	for _, it := range in.Items {
		if it.Outcome != OutcomeVerified && it.Outcome != OutcomeRejectedByClerk {
			return Reply{}, fmt.Errorf("composing decision to %s: item %s has outcome %q, want %s or %s",
				env.to, it.Tracking, it.Outcome, OutcomeVerified, OutcomeRejectedByClerk)
		}
	}
	lv := c.layout(env, in.Signature, in.Subject, time.Time{})
	if strings.TrimSpace(in.Subject) == "" {
		lv.Subject = ""
	}
	if lv.Items, err = c.items(in.Items, env.agencyName); err != nil {
		return Reply{}, fmt.Errorf("composing decision to %s: %w", env.to, err)
	}
	text, err := c.render("outcome", lv)
	if err != nil {
		return Reply{}, fmt.Errorf("composing decision to %s: %w", env.to, err)
	}
	env.subject = "電子証書の確認結果のお知らせ（受付番号 " + cleanLine(in.Items[0].Tracking, 40)
	if len(in.Items) > 1 {
		env.subject += fmt.Sprintf(" ほか%d件", len(in.Items)-1)
	}
	env.subject += "）"
	env.inReplyTo = in.InReplyTo
	env.references = append(slices.Clone(in.References), in.InReplyTo)
	return c.finish(env, text, keysOf(in.Items))
}

// Confirmation renders the short confirmation to a clerk who recorded decisions by mail.
func (c *Composer) Confirmation(in ConfirmationInput) (Reply, error) {
	if in.Received == nil {
		return Reply{}, errors.New("composing confirmation: no received message")
	}
	msg := in.Received
	env, err := newEnvelope(in.AgencyName, in.AgencyAddress, in.MessageIDDomain, in.Now, msg.From, msg.FromName)
	if err != nil {
		return Reply{}, fmt.Errorf("composing confirmation to %q: %w", msg.From, err)
	}
	lv := c.layout(env, in.Signature, msg.Subject, msg.Date)
	if lv.Items, err = c.items(in.Items, env.agencyName); err != nil {
		return Reply{}, fmt.Errorf("composing confirmation to %s: %w", env.to, err)
	}
	for _, r := range in.Refused {
		lv.Refused = append(lv.Refused, Refusal{Line: plainLine(r.Line, 200), Why: plainLine(r.Why, 200)})
	}
	text, err := c.render("confirmation", lv)
	if err != nil {
		return Reply{}, fmt.Errorf("composing confirmation to %s: %w", env.to, err)
	}
	// Never "Re: " + the clerk's subject: a forged decision mail's subject is a stranger's.
	env.subject = "確認結果を記録しました"
	if len(in.Items) == 0 {
		env.subject = "確認結果を記録できませんでした"
	}
	env.inReplyTo = msg.MessageID
	env.references = append(slices.Clone(msg.References), msg.MessageID)
	return c.finish(env, text, keysOf(in.Items))
}

func (c *Composer) layout(env *envelope, signature, subject string, received time.Time) layoutView {
	sig := cleanText(signature, 20, 200)
	if strings.TrimSpace(sig) == "" {
		sig = env.agencyName + "\n" + env.from
	}
	lv := layoutView{
		ToName:        env.toName,
		AgencyName:    env.agencyName,
		AgencyAddress: env.from,
		Signature:     sig,
		Subject:       plainLine(subject, maxSubject),
	}
	if lv.ToName == "" {
		lv.ToName = "ご担当者"
	}
	if lv.Subject == "" {
		lv.Subject = "件名なし"
	}
	if !received.IsZero() {
		lv.ReceivedAt = japaneseTime(received.In(tokyo()))
	}
	return lv
}

// items renders each item with its outcome's template, after its reasons'.
func (c *Composer) items(items []Item, agencyName string) ([]block, error) {
	var out []block
	for _, it := range items {
		if strings.TrimSpace(it.Tracking) == "" {
			return nil, fmt.Errorf("item %s without 受付番号", it.Notice.ContractNumber)
		}
		if c.tmpl.Lookup(it.Outcome) == nil || !isOutcome(it.Outcome) {
			return nil, fmt.Errorf("item %s: unknown outcome %q", it.Tracking, it.Outcome)
		}
		v := view(it, agencyName)
		for _, r := range v.Reasons {
			if r == verifier.ReasonDuplicate || r == verifier.ReasonResubmission {
				continue // said by the outcome's own template
			}
			if r == verifier.ReasonStartDateUnconfirmed {
				continue // said once for the whole reply (dateNote), not once per notice
			}
			name := "reason_" + r
			if c.tmpl.Lookup(name) == nil {
				name = "reason_other"
			}
			rv := v
			rv.Reason = cleanLine(r, 60)
			s, err := c.render(name, rv)
			if err != nil {
				return nil, err
			}
			if s = strings.TrimSpace(s); s != "" {
				v.ReasonTexts = append(v.ReasonTexts, s)
			}
		}
		body, err := c.render(it.Outcome, v)
		if err != nil {
			return nil, err
		}
		out = append(out, block{itemView: v, Body: strings.TrimSpace(body)})
	}
	return out, nil
}

// dateNote renders reason_start_date_unconfirmed once for the notices it concerns (those
// a clerk will look at, not those refused), naming them when there are several, so that a
// mail of five notices does not repeat the same paragraph five times.
func (c *Composer) dateNote(items []Item, agencyName string) (string, error) {
	var first *itemView
	var trackings []string
	for _, it := range items {
		switch it.Outcome {
		case OutcomeQueued, OutcomeNeedsReview, OutcomeResubmission:
		default:
			continue
		}
		if !slices.Contains(it.Reasons, verifier.ReasonStartDateUnconfirmed) {
			continue
		}
		if first == nil {
			v := view(it, agencyName)
			first = &v
		}
		trackings = append(trackings, cleanLine(it.Tracking, 40))
	}
	if first == nil {
		return "", nil
	}
	if len(items) > 1 {
		first.Trackings = trackings
	}
	first.Reason = verifier.ReasonStartDateUnconfirmed
	s, err := c.render("reason_"+verifier.ReasonStartDateUnconfirmed, *first)
	return strings.TrimSpace(s), err
}

func isOutcome(o string) bool {
	switch o {
	case OutcomeQueued, OutcomeNeedsReview, OutcomeRejected, OutcomeDuplicate, OutcomeResubmission,
		OutcomeVerified, OutcomeRejectedByClerk:
		return true
	}
	return false
}

func view(it Item, agencyName string) itemView {
	n := it.Notice
	v := itemView{
		AgencyName:     agencyName,
		Tracking:       cleanLine(it.Tracking, 40),
		ContractNumber: cleanLine(n.ContractNumber, 40),
		Category:       cleanLine(n.Category, 40),
		ProjectName:    plainLine(n.ProjectName, 200),
		Orderer:        plainLine(n.Orderer, 100),
		Guarantor:      plainLine(n.Guarantor, 100),
		MaskedKey:      Mask(cleanLine(n.AuthKey, 64)),
		Attachment:     fileName(n.Attachment, 120),
		Kind:           verifier.ContractKind(n.ProjectName),
		Outcome:        it.Outcome,
		OutcomeLabel:   stateLabel(it.Outcome),
		Reasons:        it.Reasons,
		StartDate:      cleanLine(it.StartDate, 40),
		StartDateLabel: cleanLine(it.StartDateLabel, 40),
		ClerkReason:    cleanText(it.ClerkReason, 10, 300),
		FromImage:      n.OCR != nil,
	}
	v.ProjectLabel, v.KindLabel = "工事名", "工事"
	if v.Kind == verifier.KindServices {
		v.ProjectLabel, v.KindLabel = "業務名", "業務"
	}
	for _, m := range it.Missing {
		v.Missing = append(v.Missing, missingLabel(m))
	}
	for _, a := range it.Accepted {
		v.Accepted = append(v.Accepted, cleanLine(a, 40))
	}
	if it.CurrentState != "" {
		v.CurrentState = stateLabel(it.CurrentState)
	}
	return v
}

func missingLabel(m string) string {
	switch m {
	case verifier.MissingOrderer:
		return "発注者"
	case verifier.MissingCategory:
		return "区分"
	case verifier.MissingGuarantor:
		return "保証機関"
	case verifier.MissingProjectName:
		return "工事名（業務名）"
	}
	return cleanLine(m, 40)
}

// stateLabel says an outcome or a queue state in Japanese; an unknown one is shown as it is.
func stateLabel(s string) string {
	switch s {
	case OutcomeQueued, "pending":
		return "担当職員の確認待ち"
	case OutcomeNeedsReview:
		return "担当職員が内容を確認中"
	case OutcomeRejected:
		return "受付できませんでした"
	case OutcomeResubmission:
		return "認証キー差し替え済み・担当職員の確認待ち"
	case OutcomeVerified:
		return "確認済み"
	case OutcomeRejectedByClerk:
		return "確認の結果、お受けできませんでした"
	}
	return cleanLine(s, 60)
}

func (c *Composer) render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := c.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", c.files[name], err)
	}
	return b.String(), nil
}

// finish tidies the text, masks every key the sender might see in full, and builds the message.
func (c *Composer) finish(env *envelope, text string, keys []string) (Reply, error) {
	text = redact(tidy(text), keys)
	env.subject = redact(env.subject, keys)
	env.toName = redact(env.toName, keys)
	return env.build(c.charset, text)
}

func keysOf(items []Item) []string {
	var keys []string
	for _, it := range items {
		// The cleaned form is what a template prints; the raw one what a sender may have typed.
		keys = append(keys, it.Notice.AuthKey, cleanLine(it.Notice.AuthKey, 64))
	}
	return keys
}

// Mask shows the first two and last two characters of a 認証キー and hides the rest, so a reply
// that lands in the wrong mailbox does not hand out the key: AB******EF. A key of four
// characters or fewer is hidden whole.
func Mask(key string) string {
	r := []rune(key)
	if len(r) == 0 {
		return ""
	}
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:2]) + strings.Repeat("*", len(r)-4) + string(r[len(r)-2:])
}

// redact masks every occurrence of the keys in s: the sender may have typed a key into the
// subject, and a template override may print it.
func redact(s string, keys []string) string {
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if len([]rune(k)) < 6 {
			continue // too short to tell from ordinary text; the templates show it masked anyway
		}
		s = strings.ReplaceAll(s, k, Mask(k))
	}
	return s
}

// tokyo is the zone of every time a contractor or clerk reads, whatever the server's TZ: a
// fixed +09:00 rather than tzdata's Asia/Tokyo, because Japan has kept no daylight saving
// since 1951 and a fixed zone needs no zone files on a minimal host (verifier does the same).
func tokyo() *time.Location { return time.FixedZone("JST", 9*3600) }

func japaneseTime(t time.Time) string {
	return fmt.Sprintf("%d年%d月%d日 %d時%02d分", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute())
}
