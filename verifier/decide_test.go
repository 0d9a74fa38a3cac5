package verifier

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var clerks = []string{"Tanto@Pref.Shimane.lg.jp", "kakari <kakari@pref.shimane.lg.jp>"}

const agency = "denshi-shosho@pref.shimane.lg.jp"

func subjectFor(word string, s Submission, token string) string {
	return word + " " + s.Notice.ContractNumber + " " + s.TrackingNumber() + " " + token
}

// TestApplyDecisionMail: only a clerk with a token made for the action, number and item
// decides, once.
func TestApplyDecisionMail(t *testing.T) {
	db, q := newQueue(t)
	a := submit(t, db, q, queueNotice("2070004426", "KEYA"), decision(OutcomeQueued), meta(1, qt0)).Submission
	b := submit(t, db, q, queueNotice("2070009999", "KEYB"), decision(OutcomeNeedsReview), meta(2, qt0)).Submission
	c := submit(t, db, q, queueNotice("2070005555", "KEYC"), decision(OutcomeQueued), meta(3, qt0)).Submission
	forged := strings.Repeat("A", TokenLen)
	const tanto, kakari = "tanto@pref.shimane.lg.jp", "kakari@pref.shimane.lg.jp"
	expires := qt0.Add(14 * 24 * time.Hour)
	tok := func(action string, s Submission, clerk string) string { return q.Token(action, s, clerk, expires) }

	tests := []struct {
		name       string
		from       string
		subject    string
		body       string
		want       error
		wantID     uint64
		wantState  string
		wantAction string
		wantWhy    string
	}{
		{"not a decision", clerks[0], "お世話になっております", "", ErrNotDecisionMail, 0, "", "", ""},
		{"forged token", tanto, subjectFor(VerifyWord, a, forged), "", ErrBadToken, a.ID, StateQueued, ActionVerify, ""},
		{"wrong action", tanto, subjectFor(RejectWord, a, tok(ActionVerify, a, tanto)), "", ErrBadToken, a.ID, StateQueued, ActionReject, ""},
		{"wrong number", tanto, "確認済 2070009999 " + a.TrackingNumber() + " " + tok(ActionVerify, a, tanto), "", ErrBadToken, a.ID, StateQueued, ActionVerify, ""},
		{"another item's token", tanto, "確認済 2070004426 " + a.TrackingNumber() + " " + tok(ActionVerify, b, tanto), "", ErrBadToken, a.ID, StateQueued, ActionVerify, ""},
		{"another clerk's token", tanto, subjectFor(VerifyWord, a, tok(ActionVerify, a, kakari)), "", ErrBadToken, a.ID, StateQueued, ActionVerify, ""},
		{"expired token", tanto, subjectFor(VerifyWord, a, q.Token(ActionVerify, a, tanto, qt0.Add(-24*time.Hour))), "", ErrTokenExpired, a.ID, StateQueued, ActionVerify, ""},
		{"expiry day altered", tanto, subjectFor(VerifyWord, a, "7777"+tok(ActionVerify, a, tanto)[4:]), "", ErrBadToken, a.ID, StateQueued, ActionVerify, ""},
		{"v1 token of an older digest", tanto, subjectFor(VerifyWord, a, strings.Repeat("B", oldTokenLen)), "", ErrBadToken, a.ID, StateQueued, ActionVerify, ""},
		{"wrong sender", "contractor@example.co.jp", subjectFor(VerifyWord, a, tok(ActionVerify, a, "contractor@example.co.jp")), "", ErrNotClerk, a.ID, StateQueued, ActionVerify, ""},
		{"lookalike sender", "tanto@pref.shimane.lg.jp.example.com", subjectFor(VerifyWord, a, tok(ActionVerify, a, tanto)), "", ErrNotClerk, a.ID, StateQueued, ActionVerify, ""},
		{"verify", "担当 <TANTO@pref.shimane.lg.jp>", "Re: " + subjectFor(VerifyWord, a, tok(ActionVerify, a, tanto)), "確認しました。\n\n> 電子証書 確認状況", nil, a.ID, StateVerified, ActionVerify, "確認しました。"},
		{"replayed after the decision", tanto, subjectFor(VerifyWord, a, tok(ActionVerify, a, tanto)), "", ErrAlreadyDecided, a.ID, StateVerified, ActionVerify, "確認しました。"},
		{"reject after verify", tanto, subjectFor(RejectWord, a, tok(ActionReject, a, tanto)), "", ErrAlreadyDecided, a.ID, StateVerified, ActionReject, "確認しました。"},
		{"reject with reason", kakari, "RE: [" + RejectWord + "] " + b.Notice.ContractNumber + " [" + b.TrackingNumber() + "] " + strings.ToLower(tok(ActionReject, b, kakari)),
			"\r\n認証キーでD-Sureに入れません。\r\n正しいキーを送ってください。\r\n\r\n2025年6月2日 9:00 電子証書 <denshi@pref> のメッセージ:\r\n> 確認待ち", nil,
			b.ID, StateRejected, ActionReject, "認証キーでD-Sureに入れません。\n正しいキーを送ってください。"},
		{"token made by another secret", tanto, subjectFor(VerifyWord, c, (&Queue{secret: []byte("other")}).Token(ActionVerify, c, tanto, expires)), "", ErrBadToken, c.ID, StateQueued, ActionVerify, ""},
	}
	for i, tt := range tests {
		at := qt0.Add(time.Duration(i+1) * time.Hour)
		var got Submission
		var action string
		var err error
		update(t, db, func(tx *bolt.Tx) error {
			// A refused mail is logged by the caller, and the rest of its transaction goes on.
			got, action, err = q.ApplyDecisionMail(tx, tt.from, clerks, tt.subject, tt.body, at, at)
			return nil
		})
		if err != nil && !errors.Is(err, ErrAlreadyDecided) && got.ID != 0 {
			t.Errorf("%s: refused, yet returned item %d", tt.name, got.ID)
		}
		if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
			t.Errorf("%s: ApplyDecisionMail = %v, want %v", tt.name, err, tt.want)
		}
		if action != tt.wantAction {
			t.Errorf("%s: action %q, want %q", tt.name, action, tt.wantAction)
		}
		if tt.wantID == 0 {
			continue
		}
		s := get(t, db, q, tt.wantID)
		if s.State != tt.wantState {
			t.Errorf("%s: item %d is %s, want %s", tt.name, s.ID, s.State, tt.wantState)
		}
		if c, ok := s.Decided(); ok != (tt.wantState == StateVerified || tt.wantState == StateRejected) || c.Why != tt.wantWhy {
			t.Errorf("%s: decision %+v %v, want why %q", tt.name, c, ok, tt.wantWhy)
		} else if ok && (c.How != HowMail || !strings.EqualFold(c.By, "tanto@pref.shimane.lg.jp") && c.By != "kakari@pref.shimane.lg.jp") {
			t.Errorf("%s: decided by %q how %q", tt.name, c.By, c.How)
		}
	}
}

func TestTokenShape(t *testing.T) {
	q := &Queue{secret: []byte("0123456789abcdef0123456789abcdef")}
	s := Submission{ID: 123, Notice: queueNotice("2070004426", "K")}
	v, r := q.Token(ActionVerify, s, testClerk, testExpiry), q.Token(ActionReject, s, testClerk, testExpiry)
	if v == r || len(v) != TokenLen || len(r) != TokenLen {
		t.Errorf("tokens %q %q", v, r)
	}
	if _, ok := tokenField(v); !ok {
		t.Errorf("token %q has not the shape DecisionMail reads", v)
	}
	if q.Token(ActionVerify, s, testClerk, testExpiry) != v {
		t.Error("Token is not deterministic")
	}
	s2 := s
	s2.ID = 124
	if q.Token(ActionVerify, s2, testClerk, testExpiry) == v {
		t.Error("the token does not depend on the item")
	}
}

// The secret is kept in the state: links of a digest sent before a restart still decide.
func TestSecretPersists(t *testing.T) {
	dir := t.TempDir()
	db, q := openQueue(t, dir)
	var s Submission
	update(t, db, func(tx *bolt.Tx) error {
		f, err := q.Submit(tx, queueNotice("2070004426", "KEY"), decision(OutcomeQueued), meta(1, qt0))
		s = f.Submission
		return err
	})
	token := q.Token(ActionVerify, s, testClerk, testExpiry)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, q = openQueue(t, dir)
	defer db.Close()
	if q.Token(ActionVerify, s, testClerk, testExpiry) != token {
		t.Fatal("the token changed over a reopen")
	}
	update(t, db, func(tx *bolt.Tx) error {
		_, _, err := q.ApplyDecisionMail(tx, clerks[0], clerks, subjectFor(VerifyWord, s, token), "", qt0.Add(time.Hour), qt0.Add(time.Hour))
		return err
	})
	// A secret given by the config wins, and is not stored.
	q2, err := OpenQueue(db, []byte("from the config"))
	if err != nil {
		t.Fatal(err)
	}
	if q2.Token(ActionVerify, s, testClerk, testExpiry) == token {
		t.Error("a configured secret made the stored secret's token")
	}
	q3, err := OpenQueue(db, nil)
	if err != nil || q3.Token(ActionVerify, s, testClerk, testExpiry) != token {
		t.Errorf("the stored secret changed after opening with a configured one (%v)", err)
	}
}

func TestDecisionMail(t *testing.T) {
	const tok = "ABCDEFGHIJKLMNOPQRST"
	type want struct {
		action, number string
		id             uint64
		ok             bool
	}
	verify := want{ActionVerify, "2070004426", 123, true}
	reject := want{ActionReject, "2070004426", 123, true}
	tests := []struct {
		subject string
		want    want
	}{
		{"確認済 2070004426 R-000123 " + tok, verify},
		{"差戻し 2070004426 R-000123 " + tok, reject},
		{"Re: 確認済 2070004426 R-000123 " + tok, verify},
		{"RE: Re: Fwd: 差戻し 2070004426 R-000123 " + tok, reject},
		{"AW: 確認済 2070004426 R-000123 " + tok, verify},
		{"Re:確認済 2070004426 R-000123 " + tok, verify},
		{"返信: 確認済 2070004426 R-000123 " + tok, verify},
		{"確認済\u30002070004426\u3000R-000123\u3000" + tok, verify}, // 全角スペース
		{"確認済 ２０７０００４４２６ Ｒ－０００１２３ " + "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴ", verify}, // full-width digits and letters
		{"【確認済】2070004426 R-000123 " + tok, verify},
		{"[確認済] [2070004426] [R-000123] [" + tok + "]", verify},
		{"（差戻し）2070004426 (R-000123) " + tok, reject},
		{"[shimane-ml:42] 確認済 2070004426 R-000123 " + tok + " (返信)", verify},
		{"確認済み 2070004426 R-000123 " + tok, verify},
		{"差し戻し 2070004426 R-000123 " + tok, reject},
		{"確認済2070004426 R-000123 " + tok, verify},
		{"確認済 2070004426 r-123 " + strings.ToLower(tok), verify},
		{"確認済 2070004426 R000123 " + tok, verify},
		{"確認済 2070004426\r\n R-000123 " + tok, verify}, // a folded header decoded as is
		{"", want{}},
		{"Re: 電子証書の確認について", want{}},
		{"確認済 2070004426 R-000123", want{}},                         // no token
		{"確認済 2070004426 " + tok, want{}},                           // no item
		{"確認済 R-000123 2070004426 " + tok, want{}},                  // out of order
		{"確認済 20700O4426 R-000123 " + tok, want{}},                  // a letter O in the number
		{"確認済 2070004426 R-0 " + tok, want{}},                       // item 0 does not exist
		{"確認済 2070004426 R-+5 " + tok, want{}},                      // a sign is no digit
		{"確認済 2070004426 R-000123 ABCDEFGHIJKLMNOPQRS1", want{}},    // 1 is not base32
		{"確認済 2070004426 R-000123 ABCDEFGHIJKLMNOPQRSTU", want{}},   // too long
		{"確認 2070004426 R-000123 " + tok, want{}},                   // not an action word
		{"承認 2070004426 R-000123 " + tok, want{}},                   // not an action word
		{"確認済 差戻し 2070004426 R-000123 " + tok, reject},              // the first complete decision counts
		{"確認済 2070004426 R-99999999999999999999999 " + tok, want{}}, // overflows uint64
	}
	for _, tt := range tests {
		action, number, id, token, ok := DecisionMail(tt.subject)
		got := want{action, number, id, ok}
		if got != tt.want || ok && token != tok {
			t.Errorf("DecisionMail(%q) = %v %q, want %v", tt.subject, got, token, tt.want)
		}
	}
}

func FuzzDecisionMail(f *testing.F) {
	for _, s := range []string{
		"確認済 2070004426 R-000123 ABCDEFGHIJKLMNOPQRST",
		"Re: 【差戻し】２０７０００４４２６ Ｒ－０００１２３ abcdefghijklmnopqrst",
		"差し戻し2070004426 r1 AAAAAAAAAAAAAAAAAAAA",
		"\xff\xfe確認済",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		action, number, id, token, ok := DecisionMail(subject)
		if !ok {
			if action != "" || number != "" || id != 0 || token != "" {
				t.Fatalf("DecisionMail(%q) not ok, yet returned %q %q %d %q", subject, action, number, id, token)
			}
			return
		}
		if action != ActionVerify && action != ActionReject || id == 0 {
			t.Fatalf("DecisionMail(%q) = %q %d", subject, action, id)
		}
		if _, okN := contractNumber(number); !okN {
			t.Fatalf("DecisionMail(%q): number %q", subject, number)
		}
		if _, okT := tokenField(token); !okT || token != strings.ToUpper(token) {
			t.Fatalf("DecisionMail(%q): token %q", subject, token)
		}
		// What it read, written as DecisionLinks writes it, reads back the same.
		word := VerifyWord
		if action == ActionReject {
			word = RejectWord
		}
		s := Submission{ID: id}
		s.Notice.ContractNumber = number
		a2, n2, id2, t2, ok2 := DecisionMail(subjectFor(word, s, token))
		if !ok2 || a2 != action || n2 != number || id2 != id || t2 != token {
			t.Fatalf("round trip of %q: %q %q %d %q %v", subject, a2, n2, id2, t2, ok2)
		}
	})
}

func TestDecisionLinks(t *testing.T) {
	q := &Queue{secret: []byte("secret")}
	s := Submission{ID: 123, Notice: queueNotice("2070004426", "KEY")}
	verify, reject := DecisionLinks("電子証書 <denshi+shosho@pref.shimane.lg.jp>", s, func(a string) string { return q.Token(a, s, testClerk, testExpiry) })
	for _, tt := range []struct {
		link, word, action string
	}{{verify, VerifyWord, ActionVerify}, {reject, RejectWord, ActionReject}} {
		if strings.ContainsAny(tt.link, " \"<>") || strings.Contains(tt.link[strings.Index(tt.link, "?"):], "+") || strings.ContainsFunc(tt.link, func(r rune) bool { return r > 0x7e }) {
			t.Errorf("link %q is not percent-encoded ASCII", tt.link)
		}
		u, err := url.Parse(tt.link)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.link, err)
		}
		to, err := url.PathUnescape(u.Opaque)
		if u.Scheme != "mailto" || err != nil || to != "denshi+shosho@pref.shimane.lg.jp" {
			t.Errorf("link %q: scheme %q to %q (%v)", tt.link, u.Scheme, to, err)
		}
		subject, err := url.PathUnescape(strings.TrimPrefix(u.RawQuery, "subject="))
		want := tt.word + " 2070004426 R-000123 " + q.Token(tt.action, s, testClerk, testExpiry)
		if err != nil || subject != want {
			t.Errorf("link %q: subject %q, want %q", tt.link, subject, want)
		}
		if a, n, id, tok, ok := DecisionMail(subject); !ok || a != tt.action || n != "2070004426" || id != 123 || tok != q.Token(tt.action, s, testClerk, testExpiry) {
			t.Errorf("DecisionMail(%q) = %q %q %d %q %v", subject, a, n, id, tok, ok)
		}
	}
}

func TestClerkReason(t *testing.T) {
	tests := []struct{ body, want string }{
		{"", ""},
		{"認証キーが違います", "認証キーが違います"},
		{"\n\n  認証キーが違います  \n再送を依頼します\n\n以上", "認証キーが違います\n再送を依頼します"},
		{"> 引用だけ\n> です", ""},
		{"> 引用\n\n理由はこちら\n> 引用", "理由はこちら"},
		{"On Mon, Jun 2, 2025 at 9:00 AM 電子証書 wrote:\n> 確認待ち", ""},
		{"証書が保険会社のものです\nOn Mon, Jun 2, 2025 at 9:00 AM 電子証書 wrote:\n> x", "証書が保険会社のものです"},
		{"差し戻します\r\n-----Original Message-----\r\nFrom: x", "差し戻します"},
		{"差し戻します\n-- \n島根県 土木部", "差し戻します"},
		{"差し戻します\n差出人: 電子証書", "差し戻します"},
		{"＞全角の引用\n本文", "本文"},
		{strings.Repeat("長", maxReason+10), strings.Repeat("長", maxReason) + "…"},
	}
	for _, tt := range tests {
		if got := clerkReason(tt.body); got != tt.want {
			t.Errorf("clerkReason(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// testClerk and testExpiry make the tokens of tests that are not about whom a token is for
// or when it expires.
const testClerk = "tanto@pref.shimane.lg.jp"

var testExpiry = qt0.Add(14 * 24 * time.Hour)

func TestWithoutToken(t *testing.T) {
	s := Submission{ID: 7, Notice: queueNotice("2070004426", "K")}
	tok := (&Queue{secret: []byte("k")}).Token(ActionVerify, s, testClerk, testExpiry)
	for _, subject := range []string{
		"確認済 2070004426 R-000007 " + tok,
		"Re: 【確認済】 2070004426 [R-000007] " + strings.ToLower(tok) + " 【至急】",
		"確認済 ２０７０００４４２６ Ｒ－０００００７ " + toFullWidth(tok),
	} {
		got := WithoutToken(subject)
		if strings.Contains(strings.ToUpper(got), tok) || strings.Contains(got, toFullWidth(tok)) {
			t.Errorf("WithoutToken(%q) = %q: the token is still there", subject, got)
		}
	}
	if got := WithoutToken("お世話になっております"); got != "お世話になっております" {
		t.Errorf("WithoutToken changed a subject without a decision: %q", got)
	}
}

func toFullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r - '!' + '！')
	}
	return b.String()
}
