package verifier

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/parser"
	"hosho-intake/verifier/store"
)

// qt0 is a Monday morning in Japan; the queue tests count from it.
var qt0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.FixedZone("JST", 9*3600))

// openQueue opens the state file in dir as the daemon does, with the queue's schema.
func openQueue(t *testing.T, dir string) (*bolt.DB, *Queue) {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "hosho-intake.db"), &bolt.Options{Timeout: time.Second}, Schema())
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpenQueue(db, nil)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db, q
}

func newQueue(t *testing.T) (*bolt.DB, *Queue) {
	t.Helper()
	db, q := openQueue(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	return db, q
}

func update(t *testing.T, db *bolt.DB, f func(tx *bolt.Tx) error) {
	t.Helper()
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, db *bolt.DB, f func(tx *bolt.Tx) error) {
	t.Helper()
	if err := db.View(f); err != nil {
		t.Fatal(err)
	}
}

func queueNotice(number, key string) parser.Notice {
	return parser.Notice{
		Category: CategoryAdvance, ContractNumber: number, AuthKey: key,
		ProjectName: "県道松江木次線道路改良工事", Orderer: "島根県知事", Guarantor: parser.WestJapan, Source: "pdf",
	}
}

func decision(outcome string, reasons ...string) Decision {
	if reasons == nil {
		reasons = []string{}
	}
	return Decision{Outcome: outcome, Reasons: reasons, Policy: "shimane", PolicyVersion: "2023-06-01", Kind: KindWorks}
}

func meta(entry uint64, at time.Time) Meta {
	return Meta{Entry: entry, Sender: "koji@example.co.jp", MessageID: "<m" + itoa(int(entry)) + "@example.co.jp>", Received: at}
}

// submit files n and fails the test on an error.
func submit(t *testing.T, db *bolt.DB, q *Queue, n parser.Notice, d Decision, m Meta) Filed {
	t.Helper()
	var f Filed
	update(t, db, func(tx *bolt.Tx) error {
		var err error
		f, err = q.Submit(tx, n, d, m)
		return err
	})
	return f
}

func get(t *testing.T, db *bolt.DB, q *Queue, id uint64) Submission {
	t.Helper()
	var s Submission
	view(t, db, func(tx *bolt.Tx) error {
		var err error
		s, err = q.Get(tx, id)
		return err
	})
	return s
}

func TestSubmitStates(t *testing.T) {
	tests := []struct {
		name      string
		d         Decision
		wantState string
	}{
		{"queued", decision(OutcomeQueued), StateQueued},
		{"start date unconfirmed", decision(OutcomeQueued, ReasonStartDateUnconfirmed), StateQueued},
		{"needs review", func() Decision { d := decision(OutcomeNeedsReview); d.Missing = []string{MissingCategory}; return d }(), StateNeedsReview},
		{"rejected", decision(OutcomeRejected, ReasonOrdererMismatch), StateRejected},
	}
	db, q := newQueue(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := queueNotice("20700044"+itoa(10+i), "KEY"+itoa(i))
			m := meta(uint64(i+1), qt0.Add(time.Duration(i)*time.Minute))
			f := submit(t, db, q, n, tt.d, m)
			if f.Outcome != tt.d.Outcome || !slices.Equal(f.Reasons, tt.d.Reasons) {
				t.Errorf("Submit = %s %v, want %s %v", f.Outcome, f.Reasons, tt.d.Outcome, tt.d.Reasons)
			}
			s := get(t, db, q, f.Submission.ID)
			if s.ID != uint64(i+1) || s.TrackingNumber() != "R-00000"+itoa(i+1) {
				t.Errorf("ID %d %s, want %d", s.ID, s.TrackingNumber(), i+1)
			}
			if s.State != tt.wantState || s.Notice != n || s.Entry != m.Entry || s.Sender != m.Sender ||
				!s.Received.Equal(m.Received) || s.MessageID != m.MessageID || s.Resubmission {
				t.Errorf("stored %+v", s)
			}
			if s.Decision.Policy != "shimane" || s.Decision.PolicyVersion != "2023-06-01" {
				t.Errorf("decision %+v does not name its policy", s.Decision)
			}
			want := Change{At: m.Received, From: "", To: tt.wantState, By: BySystem, How: HowIntake, Why: strings.Join(tt.d.Reasons, ",")}
			if len(s.History) != 1 || !sameChange(s.History[0], want) {
				t.Errorf("history %+v, want [%+v]", s.History, want)
			}
		})
	}
	view(t, db, func(tx *bolt.Tx) error {
		counts, err := q.Counts(tx)
		want := map[string]int{StateQueued: 2, StateNeedsReview: 1, StateRejected: 1, StateVerified: 0}
		if err != nil || !equalCounts(counts, want) {
			t.Errorf("Counts = %v, %v, want %v", counts, err, want)
		}
		all, err := q.List(tx)
		if err != nil || len(all) != 4 || all[0].ID != 1 || all[3].ID != 4 {
			t.Errorf("List() = %d items, %v", len(all), err)
		}
		waiting, err := q.List(tx, StateNeedsReview, StateQueued)
		if err != nil || len(waiting) != 3 || waiting[0].ID != 1 || waiting[1].ID != 2 || waiting[2].ID != 3 {
			t.Errorf("List(waiting) = %v, %v, want items 1-3 in order", ids(waiting), err)
		}
		return nil
	})
}

func TestSubmitUnknownOutcome(t *testing.T) {
	db, q := newQueue(t)
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := q.Submit(tx, queueNotice("2070004426", "K"), Decision{Outcome: "maybe"}, meta(1, qt0))
		return err
	})
	if err == nil {
		t.Error("Submit with outcome maybe: no error")
	}
}

func sameChange(a, b Change) bool {
	return a.At.Equal(b.At) && a.From == b.From && a.To == b.To && a.By == b.By && a.How == b.How && a.Why == b.Why
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func ids(s []Submission) []uint64 {
	var out []uint64
	for _, x := range s {
		out = append(out, x.ID)
	}
	return out
}

// TestSubmitNumbersSharingAPrefix: Submit reads a number's items newest first from the
// end of its keys; a number that another starts with, or that starts another, is not read
// as its own.
func TestSubmitNumbersSharingAPrefix(t *testing.T) {
	db, q := newQueue(t)
	at := time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC)
	for i, c := range []struct{ number, key, want string }{
		{"207000442", "KEYA", OutcomeQueued},
		{"2070004426", "KEYB", OutcomeQueued},
		{"20700044", "KEYC", OutcomeQueued},
		{"207000442", "KEYA", OutcomeDuplicate},
		{"2070004426", "KEYA", OutcomeResubmission},
		{"20700044", "KEYA", OutcomeResubmission},
		{"2070004426", "KEYA", OutcomeDuplicate},
		{"207000442", "KEYB", OutcomeResubmission},
	} {
		f := submit(t, db, q, queueNotice(c.number, c.key), decision(OutcomeQueued), meta(uint64(i+1), at))
		if f.Outcome != c.want || f.Submission.Notice.ContractNumber != c.number {
			t.Errorf("step %d: %s %s filed %s as item of %s, want %s", i+1, c.number, c.key, f.Outcome, f.Submission.Notice.ContractNumber, c.want)
		}
	}
}

// TestSubmitDuplicates plays one 保証契約番号 through its duplicates and resubmissions.
func TestSubmitDuplicates(t *testing.T) {
	const number = "2070004426"
	type step struct {
		name    string
		key     string
		outcome string // of the judgement
		decide  string // instead of submitting: decide item id with this action
		id      uint64
		// want
		outcome2  string // Filed.Outcome
		wantID    uint64
		wantState string
		wantKey   string // of item wantID after the step
		wantResub bool
		wantItems int
	}
	steps := []step{
		{name: "first", key: "KEYONE", outcome: OutcomeQueued, outcome2: OutcomeQueued, wantID: 1, wantState: StateQueued, wantKey: "KEYONE", wantItems: 1},
		{name: "same key again", key: "KEYONE", outcome: OutcomeQueued, outcome2: OutcomeDuplicate, wantID: 1, wantState: StateQueued, wantKey: "KEYONE", wantItems: 1},
		{name: "same key, now rejected", key: "KEYONE", outcome: OutcomeRejected, outcome2: OutcomeDuplicate, wantID: 1, wantState: StateQueued, wantKey: "KEYONE", wantItems: 1},
		{name: "other key rejected does not replace", key: "KEYBAD", outcome: OutcomeRejected, outcome2: OutcomeRejected, wantID: 2, wantState: StateRejected, wantKey: "KEYBAD", wantItems: 2},
		{name: "other key while waiting", key: "KEYTWO", outcome: OutcomeQueued, outcome2: OutcomeResubmission, wantID: 1, wantState: StateQueued, wantKey: "KEYTWO", wantResub: true, wantItems: 2},
		{name: "replaced key again", key: "KEYTWO", outcome: OutcomeQueued, outcome2: OutcomeDuplicate, wantID: 1, wantState: StateQueued, wantKey: "KEYTWO", wantResub: true, wantItems: 2},
		{name: "clerk verifies", decide: ActionVerify, id: 1, wantID: 1, wantState: StateVerified, wantKey: "KEYTWO", wantResub: true, wantItems: 2},
		{name: "other key after the decision", key: "KEYTHREE", outcome: OutcomeNeedsReview, outcome2: OutcomeNeedsReview, wantID: 3, wantState: StateNeedsReview, wantKey: "KEYTHREE", wantResub: true, wantItems: 3},
		{name: "verified key again", key: "KEYTWO", outcome: OutcomeQueued, outcome2: OutcomeDuplicate, wantID: 1, wantState: StateVerified, wantKey: "KEYTWO", wantResub: true, wantItems: 3},
		{name: "intake-rejected key, now accepted", key: "KEYBAD", outcome: OutcomeQueued, outcome2: OutcomeResubmission, wantID: 3, wantState: StateQueued, wantKey: "KEYBAD", wantResub: true, wantItems: 3},
	}
	db, q := newQueue(t)
	for i, st := range steps {
		at := qt0.Add(time.Duration(i) * time.Hour)
		var got Submission
		if st.decide != "" {
			update(t, db, func(tx *bolt.Tx) error {
				var err error
				got, err = q.Decide(tx, st.id, st.decide, "clerk@pref.shimane.lg.jp", HowCommand, "", at)
				return err
			})
		} else {
			d := decision(st.outcome)
			if st.outcome == OutcomeRejected {
				d.Reasons = []string{ReasonOrdererMismatch}
			}
			f := submit(t, db, q, queueNotice(number, st.key), d, meta(uint64(i+1), at))
			if f.Outcome != st.outcome2 {
				t.Errorf("%s: Outcome %s, want %s", st.name, f.Outcome, st.outcome2)
			}
			switch st.outcome2 {
			case OutcomeDuplicate:
				if !slices.Equal(f.Reasons, []string{ReasonDuplicate}) {
					t.Errorf("%s: reasons %v, want [duplicate]", st.name, f.Reasons)
				}
			case OutcomeResubmission:
				if !slices.Contains(f.Reasons, ReasonResubmission) || !slices.Contains(f.Submission.Decision.Reasons, ReasonResubmission) {
					t.Errorf("%s: reasons %v, decision %v, want resubmission", st.name, f.Reasons, f.Submission.Decision.Reasons)
				}
			}
			if st.wantResub && st.outcome2 != OutcomeDuplicate && !slices.Contains(f.Reasons, ReasonResubmission) {
				t.Errorf("%s: reasons %v, want resubmission", st.name, f.Reasons)
			}
			got = f.Submission
		}
		s := get(t, db, q, st.wantID)
		if got.ID != st.wantID || s.State != st.wantState || s.Notice.AuthKey != st.wantKey || s.Resubmission != st.wantResub {
			t.Errorf("%s: got item %d; item %d is %s key %s resubmission %v, want %s %s %v",
				st.name, got.ID, s.ID, s.State, s.Notice.AuthKey, s.Resubmission, st.wantState, st.wantKey, st.wantResub)
		}
		view(t, db, func(tx *bolt.Tx) error {
			all, err := q.ByNumber(tx, number)
			if err != nil || len(all) != st.wantItems {
				t.Errorf("%s: ByNumber = %v, %v, want %d items", st.name, ids(all), err, st.wantItems)
			}
			return nil
		})
	}
	// The replaced key's history says what happened, and the item now names the newer message.
	s := get(t, db, q, 1)
	if len(s.History) != 3 || s.History[1].How != HowIntake || !strings.HasPrefix(s.History[1].Why, ReasonResubmission) ||
		s.History[2].To != StateVerified || s.Entry != 5 {
		t.Errorf("item 1 history %+v entry %d", s.History, s.Entry)
	}
}

// A newer notice typed in the body names no 区分: its key replaces the waiting PDF's, but
// the item keeps the PDF's fields and judgement.
func TestResubmissionKeepsFields(t *testing.T) {
	db, q := newQueue(t)
	submit(t, db, q, queueNotice("2070004426", "OLDKEY"), decision(OutcomeQueued), meta(1, qt0))
	body := parser.Notice{ContractNumber: "2070004426", AuthKey: "NEWKEY", Source: "body"}
	d := Decision{Outcome: OutcomeNeedsReview, Reasons: []string{}, Missing: []string{MissingCategory, MissingOrderer, MissingGuarantor}}
	f := submit(t, db, q, body, d, meta(2, qt0.Add(time.Hour)))
	s := f.Submission
	want := queueNotice("2070004426", "NEWKEY")
	want.Source = "body"
	if f.Outcome != OutcomeResubmission || s.State != StateQueued || s.Notice != want || len(s.Decision.Missing) != 0 {
		t.Errorf("Submit = %s, item %s %+v missing %v", f.Outcome, s.State, s.Notice, s.Decision.Missing)
	}
}

// TestResubmissionHistoryBounded: a notice resent 30 times while it waits keeps its filing,
// a clerk's look at the key and the latest 20 replacements in its history, and counts the
// rest; so a flood of resends (a stranger's, or a hurried contractor's) does not make each
// later one rewrite a longer item.
func TestResubmissionHistoryBounded(t *testing.T) {
	db, q := newQueue(t)
	f := submit(t, db, q, queueNotice("2070004426", "KEY00"), decision(OutcomeQueued), meta(1, qt0))
	id := f.Submission.ID
	for i := 1; i <= 30; i++ {
		if i == 5 {
			if err := db.Update(func(tx *bolt.Tx) error {
				_, err := q.RecordReveal(tx, id, "tanto@pref.shimane.lg.jp", qt0.Add(time.Duration(i)*time.Minute))
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		f = submit(t, db, q, queueNotice("2070004426", fmt.Sprintf("KEY%02d", i)), decision(OutcomeQueued), meta(uint64(i+1), qt0.Add(time.Duration(i)*time.Hour)))
	}
	s := f.Submission
	if s.ID != id || s.Notice.AuthKey != "KEY30" {
		t.Fatalf("item %d key %s, want item %d with the latest key", s.ID, s.Notice.AuthKey, id)
	}
	replacements, shown := 0, 0
	for _, c := range s.History[1:] {
		switch c.How {
		case HowIntake:
			replacements++
		case HowKeyShown:
			shown++
		}
	}
	last := s.History[len(s.History)-1]
	if s.History[0].From != "" || replacements != maxResubmissionChanges || shown != 1 || s.DroppedResubmissions != 30-maxResubmissionChanges ||
		!strings.Contains(last.Why, "ledger entry 31") {
		t.Errorf("history: filing %+v, %d replacements, %d key views, %d dropped, last %+v; want the filing, %d, 1, %d, entry 31",
			s.History[0], replacements, shown, s.DroppedResubmissions, last, maxResubmissionChanges, 30-maxResubmissionChanges)
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name      string
		outcome   string
		action    string
		how       string
		why       string
		wantState string
		wantErr   error
	}{
		{"verify queued by mail", OutcomeQueued, ActionVerify, HowMail, "", StateVerified, nil},
		{"reject needs review by command", OutcomeNeedsReview, ActionReject, HowCommand, "認証キーが違います", StateRejected, nil},
		{"verify a notice rejected at intake", OutcomeRejected, ActionVerify, HowCommand, "", StateRejected, ErrAlreadyDecided},
	}
	db, q := newQueue(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decision(tt.outcome)
			f := submit(t, db, q, queueNotice("30000000"+itoa(10+i), "KEY"), d, meta(uint64(i+1), qt0))
			before := f.Submission.State
			at := qt0.Add(26 * time.Hour)
			var s Submission
			err := db.Update(func(tx *bolt.Tx) error {
				var err error
				s, err = q.Decide(tx, f.Submission.ID, tt.action, "tanto@pref.shimane.lg.jp", tt.how, tt.why, at)
				return err
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decide = %v, want %v", err, tt.wantErr)
			}
			stored := get(t, db, q, f.Submission.ID)
			if stored.State != tt.wantState {
				t.Errorf("state %s, want %s", stored.State, tt.wantState)
			}
			if err != nil {
				if len(stored.History) != 1 {
					t.Errorf("a refused decision changed the history: %+v", stored.History)
				}
				return
			}
			want := Change{At: at, From: before, To: tt.wantState, By: "tanto@pref.shimane.lg.jp", How: tt.how, Why: tt.why}
			if len(stored.History) != 2 || !sameChange(stored.History[1], want) || !sameChange(s.History[1], want) {
				t.Errorf("history %+v, want second %+v", stored.History, want)
			}
			if c, ok := stored.Decided(); !ok || !sameChange(c, want) {
				t.Errorf("Decided() = %+v, %v", c, ok)
			}
			// A decision is final, whichever way the second one goes.
			for _, again := range []string{ActionVerify, ActionReject} {
				err := db.Update(func(tx *bolt.Tx) error {
					_, err := q.Decide(tx, f.Submission.ID, again, "other@pref.shimane.lg.jp", HowMail, "", at.Add(time.Hour))
					return err
				})
				if !errors.Is(err, ErrAlreadyDecided) {
					t.Errorf("second Decide(%s) = %v, want ErrAlreadyDecided", again, err)
				}
			}
		})
	}
	bad := []struct {
		name        string
		id          uint64
		action, how string
		by          string
		want        error
	}{
		{"unknown item", 99, ActionVerify, HowMail, "a@b", ErrNotFound},
		{"unknown action", 1, "approve", HowMail, "a@b", nil},
		{"intake is not a clerk's way", 1, ActionVerify, HowIntake, "a@b", nil},
		{"nobody", 1, ActionVerify, HowMail, " ", nil},
	}
	for _, tt := range bad {
		err := db.Update(func(tx *bolt.Tx) error {
			_, err := q.Decide(tx, tt.id, tt.action, tt.by, tt.how, "", qt0)
			return err
		})
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: Decide = %v, want an error (%v)", tt.name, err, tt.want)
		}
	}
	view(t, db, func(tx *bolt.Tx) error {
		counts, err := q.Counts(tx)
		want := map[string]int{StateQueued: 0, StateNeedsReview: 0, StateVerified: 1, StateRejected: 2}
		if err != nil || !equalCounts(counts, want) {
			t.Errorf("Counts = %v, %v, want %v", counts, err, want)
		}
		return nil
	})
}

func TestLabel(t *testing.T) {
	clerk := []Change{{From: StateQueued, To: StateRejected, By: "tanto@pref.shimane.lg.jp", How: HowMail}}
	tests := []struct {
		s    Submission
		want string
	}{
		{Submission{State: StateQueued}, "確認待ち"},
		{Submission{State: StateNeedsReview}, "要確認"},
		{Submission{State: StateVerified}, "確認済"},
		{Submission{State: StateRejected, History: []Change{{To: StateRejected, By: BySystem, How: HowIntake}}}, "対象外（自動判定）"},
		{Submission{State: StateRejected, History: clerk}, "差戻し"},
	}
	for _, tt := range tests {
		if got := tt.s.Label(); got != tt.want {
			t.Errorf("%+v.Label() = %q, want %q", tt.s, got, tt.want)
		}
	}
}
