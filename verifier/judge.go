package verifier

import (
	"slices"
	"strings"
	"time"

	"hosho-intake/parser"
)

// Outcomes of a decision.
const (
	OutcomeQueued      = "queued"       // waits for a clerk to view it on D-Sure
	OutcomeRejected    = "rejected"     // the contractor is told what to send instead
	OutcomeNeedsReview = "needs_review" // a clerk must look before it can be queued
)

// Decision reasons (DESIGN.md, "Decision reasons"). duplicate and resubmission are the queue's.
const (
	ReasonOrdererMismatch      = "orderer_mismatch"
	ReasonGuarantorNotEligible = "guarantor_not_eligible"
	ReasonCategoryNotEligible  = "category_not_eligible"
	ReasonBeforeStartDate      = "before_start_date"
	ReasonStartDateUnconfirmed = "start_date_unconfirmed"
	ReasonDuplicate            = "duplicate"
	ReasonResubmission         = "resubmission"
)

// Where a decisive date came from (Decision.StartDateSource).
const (
	SourceRegister = "register"
	SourceMail     = "mail"
)

// Fields a notice may leave out (Decision.Missing).
const (
	MissingOrderer     = "orderer"
	MissingCategory    = "category"
	MissingGuarantor   = "guarantor"
	MissingProjectName = "project_name"
)

// Decision is the judgement of one notice under one policy.
type Decision struct {
	Outcome string   `json:"decision"` // OutcomeQueued, OutcomeRejected or OutcomeNeedsReview
	Reasons []string `json:"reasons"`  // in the order of the Reason constants; never nil
	// Missing lists the fields the notice did not state that the judgement needed
	// (orderer, category, guarantor, project_name): what the clerk is to check.
	Missing       []string `json:"missing,omitempty"`
	Policy        string   `json:"policy"` // the policy's name and version it was decided under
	PolicyVersion string   `json:"policy_version"`
	Kind          string   `json:"kind"` // KindWorks or KindServices
	// StartDate is the contract's date the start-date rule was decided on (YYYY-MM-DD),
	// StartDateLabel which date it is (契約日, 入札公告日, …) and StartDateSource where it
	// came from: "register", "mail", or "" when no date decided it.
	StartDate       string `json:"start_date,omitempty"`
	StartDateLabel  string `json:"start_date_label,omitempty"`
	StartDateSource string `json:"start_date_source,omitempty"`
}

// Context is what the mail tells about a notice besides the notice itself.
type Context struct {
	// Received is when the mail arrived; the zero time skips the received-date rule.
	Received time.Time
	// Texts are the mail's text parts, searched for stated dates (契約日：令和5年6月1日).
	Texts []string
	// Register is the agency's contract register; nil when none is configured.
	Register *Register
}

// Judge decides whether n can be queued for a clerk under p.
//
// Rejections (DESIGN.md's table): a 発注者 that is not the policy's (orderer_mismatch); a
// guarantor other than the policy's surety companies, a bank or an insurer
// (guarantor_not_eligible); 契約保証予約, or a 区分 not accepted for the contract's kind,
// as shimane accepts only 前払金保証 for a 業務 (category_not_eligible); a mail received
// before the policy's start date, or a contract whose date is before it (before_start_date).
// A field the notice does not state is never a rejection: it needs review. A contract
// whose date neither the register nor the mail tells is queued with
// start_date_unconfirmed, for the clerk to check on the certificate.
func (p Policy) Judge(n parser.Notice, c Context) Decision {
	d := Decision{Policy: p.Name, PolicyVersion: p.Version, Kind: ContractKind(n.ProjectName)}
	reasons := []string{} // never nil: "reasons":[] in JSON

	if strings.TrimSpace(n.Orderer) == "" {
		d.Missing = append(d.Missing, MissingOrderer)
	} else if !p.ordererMatches(n.Orderer) {
		reasons = append(reasons, ReasonOrdererMismatch)
	}

	if strings.TrimSpace(n.Guarantor) == "" {
		d.Missing = append(d.Missing, MissingGuarantor)
	} else if g := parser.Guarantor(n.Guarantor); !slices.Contains(p.Guarantors, g) {
		reasons = append(reasons, ReasonGuarantorNotEligible)
	}

	if strings.TrimSpace(n.Category) == "" {
		d.Missing = append(d.Missing, MissingCategory)
	} else {
		cat := canonicalCategory(n.Category)
		works, services := slices.Contains(p.Works, cat), slices.Contains(p.Services, cat)
		switch {
		case !works && !services:
			reasons = append(reasons, ReasonCategoryNotEligible)
		case compact(n.ProjectName) == "" && works != services:
			// Accepted for one kind only, and no 工事名 to tell the kind by.
			d.Missing = append(d.Missing, MissingProjectName)
		case d.Kind == KindWorks && !works, d.Kind == KindServices && !services:
			reasons = append(reasons, ReasonCategoryNotEligible)
		}
	}

	reasons = append(reasons, p.startDate(n, c, &d)...)
	d.Reasons = reasons

	switch {
	case slices.ContainsFunc(reasons, func(r string) bool { return r != ReasonStartDateUnconfirmed }):
		// An unconfirmed date is a note for the clerk who verifies; a rejected notice
		// reaches no clerk, and its reply should name only what is wrong.
		d.Reasons = slices.DeleteFunc(d.Reasons, func(r string) bool { return r == ReasonStartDateUnconfirmed })
		d.Outcome = OutcomeRejected
	case len(d.Missing) > 0:
		d.Outcome = OutcomeNeedsReview
	default:
		// start_date_unconfirmed alone still queues: DESIGN.md leaves that check to the
		// clerk and shows it in the digest.
		d.Outcome = OutcomeQueued
	}
	return d
}

// verdict of one known date against the start date.
type verdict int

const (
	unknown verdict = iota
	onOrAfter
	tooEarly
)

// stage orders the dates of one contract: a tender is announced (入札公告日) or firms are
// nominated (指名日, 通知日) before the contract is signed (当初契約日), and a change
// contract (契約日 of a 変更契約) comes after that. A date of another stage than the
// policy's basis still decides when the order settles it: a 契約日 before the start date
// means the 入札公告日 was before it too.
var stage = map[string]int{
	BasisTenderNotice: 0, BasisNomination: 0, BasisNotification: 0,
	BasisOriginalContract: 1,
	BasisContract:         2,
}

// startDate applies the start-date rule and records the date it was decided on in d.
func (p Policy) startDate(n parser.Notice, c Context, d *Decision) []string {
	if !c.Received.IsZero() && c.Received.Before(p.Start()) {
		// DESIGN.md: a mail received before the start date can never be eligible.
		return []string{ReasonBeforeStartDate}
	}
	if e, ok := c.Register.Lookup(n.ProjectName, n.ContractNumber); ok {
		var dates []StatedDate
		for _, b := range dateBases {
			if v, ok := e.Dates[b]; ok {
				dates = append(dates, StatedDate{Label: b, Date: v})
			}
		}
		if v, used := p.decide(dates, false); v != unknown {
			return p.record(d, v, used, SourceRegister)
		}
	}
	var stated []StatedDate
	change := false
	for _, t := range c.Texts {
		nt := parser.Normalize(t) // once for both: compact(t) is nt without its spaces
		stated = append(stated, statedDates(nt)...)
		change = change || strings.Contains(withoutSpaces(nt), "変更契約")
	}
	if v, used := p.decide(stated, change); v != unknown {
		return p.record(d, v, used, SourceMail)
	}
	return []string{ReasonStartDateUnconfirmed}
}

func (p Policy) record(d *Decision, v verdict, used StatedDate, source string) []string {
	d.StartDate, d.StartDateLabel, d.StartDateSource = used.Date.String(), used.Label, source
	if v == tooEarly {
		return []string{ReasonBeforeStartDate}
	}
	return nil
}

// decide judges the start-date rule on the labelled dates of one source. Dates labelled
// with the policy's basis are preferred; without them, another stage's date decides only
// where the order of stages settles it. Dates that disagree decide nothing: a mail about
// several contracts may state several. change says the source speaks of a change contract
// (変更契約), whose 契約日 is not its 当初契約日.
func (p Policy) decide(dates []StatedDate, change bool) (verdict, StatedDate) {
	for _, s := range dates {
		change = change || s.Label == BasisOriginalContract || s.Label == labelChangeContract
	}
	label := func(l string) string {
		// A contract without a change has one date: its 契約日 is its 当初契約日. A source
		// that names a 当初契約日 or a 変更契約 is about a change contract.
		if l == BasisContract && !change && p.DateBasis == BasisOriginalContract {
			return BasisOriginalContract
		}
		return l
	}
	var basis, other []StatedDate
	for _, s := range dates {
		s.Label = label(s.Label)
		switch {
		case s.Label == p.DateBasis:
			basis = append(basis, s)
		case p.ExcludeChangeContracts && s.Label == BasisOriginalContract && before(s.Date, p.StartDate):
			// A change contract of works first contracted before the start date stays on
			// paper (shimane: 変更契約 of contracts from 2023-05-31 or earlier).
			return tooEarly, s
		default:
			if _, ok := stage[s.Label]; ok {
				other = append(other, s)
			}
		}
	}
	if len(basis) > 0 {
		return combine(basis, func(s StatedDate) verdict {
			if before(s.Date, p.StartDate) {
				return tooEarly
			}
			return onOrAfter
		})
	}
	return combine(other, func(s StatedDate) verdict {
		early := before(s.Date, p.StartDate)
		switch ds, bs := stage[s.Label], stage[p.DateBasis]; {
		case ds < bs && !early:
			return onOrAfter // the basis date came later still
		case ds > bs && early:
			return tooEarly // the basis date came earlier still
		}
		return unknown
	})
}

// combine returns the verdict the dates agree on, and the date that decided it.
func combine(dates []StatedDate, judge func(StatedDate) verdict) (verdict, StatedDate) {
	v, used := unknown, StatedDate{}
	for _, s := range dates {
		switch w := judge(s); {
		case w == unknown:
		case v == unknown:
			v, used = w, s
		case v != w:
			return unknown, StatedDate{}
		}
	}
	return v, used
}

// Start returns the first instant a mail may be received under p, in Japan time.
func (p Policy) Start() time.Time { return p.StartDate.In(japan()) }
