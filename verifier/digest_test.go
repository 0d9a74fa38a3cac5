package verifier

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/parser"
)

// digestSection is one "■" section of a digest's text part.
type digestSection struct {
	head  string              // the heading after the name: "2件（前回の通知以降）"
	lines []string            // its "- " lines and free text
	items []map[string]string // its "◆" items: "id" and "flags" from the item's line, then its labels
}

// parseDigestText reads a text part the way a clerk's eye does: sections by "■ name",
// items by "◆ R-…", fields by "label: value".
func parseDigestText(t *testing.T, text string) (heading []string, sections map[string]*digestSection) {
	t.Helper()
	sections = map[string]*digestSection{}
	var cur *digestSection
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "■ "):
			name, head, _ := strings.Cut(strings.TrimPrefix(line, "■ "), " ")
			if sections[name] != nil {
				t.Errorf("section %s twice", name)
			}
			cur = &digestSection{head: head}
			sections[name] = cur
		case cur == nil:
			heading = append(heading, line)
		case strings.HasPrefix(line, "◆ "):
			id, rest, _ := strings.Cut(strings.TrimPrefix(line, "◆ "), "（")
			cur.items = append(cur.items, map[string]string{"id": id, "flags": rest})
		case strings.HasPrefix(line, "  ") && len(cur.items) > 0:
			label, value, ok := strings.Cut(strings.TrimSpace(line), ": ")
			if !ok {
				t.Errorf("item line %q has no label", line)
			}
			it := cur.items[len(cur.items)-1]
			if _, dup := it[label]; dup {
				value = it[label] + "\n" + value // 確認事項 may repeat
			}
			it[label] = value
		case line != "":
			cur.lines = append(cur.lines, line)
		}
	}
	return heading, sections
}

func TestDigest(t *testing.T) {
	db, q := newQueue(t)
	const script = `<script>alert("x")</script>橋梁補修工事`
	days := func(n float64) time.Time { return qt0.Add(time.Duration(n * 24 * float64(time.Hour))) }
	at := func(n float64) Meta {
		m := meta(uint64(n*100+1000), days(n))
		m.At = days(n).Add(time.Minute)
		return m
	}

	// Before the last digest: item 1 waits, item 2 was verified.
	submit(t, db, q, queueNotice("2070000001", "OLDKEY0001"), decision(OutcomeQueued), at(-3))
	submit(t, db, q, queueNotice("2070000002", "KEY0000002"), decision(OutcomeQueued), at(-3))
	update(t, db, func(tx *bolt.Tx) error {
		if _, err := q.Decide(tx, 2, ActionVerify, "tanto@pref.shimane.lg.jp", HowMail, "", days(-2)); err != nil {
			return err
		}
		return q.MarkDigestSent(tx, days(-1))
	})

	// Since: item 3 (date unconfirmed), 4 (typed in a body, no 区分), 5 (rejected at
	// intake), a new key for item 1, and item 6, rejected by a clerk.
	n3 := queueNotice("2070000003", "KEY0000003")
	n3.ProjectName, n3.Guarantor = script, parser.EastJapan
	submit(t, db, q, n3, decision(OutcomeQueued, ReasonStartDateUnconfirmed), at(-0.5))
	n4 := parser.Notice{ContractNumber: "2070000004", AuthKey: "KEY0000004", ProjectName: "測量業務委託", Orderer: "島根県知事", Guarantor: parser.Hokkaido, Source: "body"}
	d4 := decision(OutcomeNeedsReview, ReasonStartDateUnconfirmed)
	d4.Missing = []string{MissingCategory}
	submit(t, db, q, n4, d4, at(-0.4))
	submit(t, db, q, queueNotice("2070000005", "KEY0000005"), decision(OutcomeRejected, ReasonGuarantorNotEligible), at(-0.3))
	m := at(-0.2)
	m.Sender = "Koji Tanaka <tanaka@example.co.jp>"
	if f := submit(t, db, q, queueNotice("2070000001", "NEWKEY0001"), decision(OutcomeQueued), m); f.Outcome != OutcomeResubmission {
		t.Fatalf("resubmission filed as %s", f.Outcome)
	}
	submit(t, db, q, queueNotice("2070000006", "KEY0000006"), decision(OutcomeQueued), at(-0.1))
	update(t, db, func(tx *bolt.Tx) error {
		_, err := q.Decide(tx, 6, ActionReject, "kakari@pref.shimane.lg.jp", HowCommand, "契約保証ではなく前払金保証の通知を送ってください", days(-0.05))
		return err
	})

	in := DigestInput{
		Now: qt0, AgencyName: "島根県 土木部", AgencyAddress: agency, Clerk: testClerk, LinksExpire: testExpiry,
		PollWarning:   "IMAP LOGIN failed:\nAUTHENTICATIONFAILED",
		Undeliverable: []UndeliveredReply{{To: "gone@example.co.jp", Subject: "【受付】電子証書", Reason: "550 5.1.1 user unknown", At: days(-0.5)}},
	}
	var d Digest
	view(t, db, func(tx *bolt.Tx) error {
		var err error
		d, err = q.Digest(tx, in)
		return err
	})

	if want := "【電子証書】受信エラーあり・確認待ち2件・要確認1件・対象外（自動判定）1件・返信の送信不能1件 (2025-06-02)"; d.Subject != want {
		t.Errorf("Subject = %q, want %q", d.Subject, want)
	}
	if d.Empty || d.Items != 3 {
		t.Errorf("Empty %v Items %d, want false 3", d.Empty, d.Items)
	}

	heading, sections := parseDigestText(t, d.Text)
	checkSubjectCounts(t, d)
	if len(heading) < 3 || !strings.HasPrefix(heading[2], "確認済・差戻しは") || !strings.Contains(heading[0], "島根県 土木部") || !strings.Contains(heading[0], "2025-06-02 09:00") ||
		heading[1] != "前回の通知: 2025-06-01 09:00" {
		t.Errorf("heading %q", heading)
	}
	var names []string
	for name := range sections {
		names = append(names, name)
	}
	slices.Sort(names)
	wantNames := []string{headPollWarning, headRefused, headWaiting, headNeedsReview, headDecided, headUndeliverable}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Fatalf("sections %q, want %q", names, wantNames)
	}

	t.Run("poll warning", func(t *testing.T) {
		s := sections[headPollWarning]
		if !slices.Contains(s.lines, "原因: IMAP LOGIN failed: AUTHENTICATIONFAILED") {
			t.Errorf("lines %q", s.lines)
		}
	})
	// New items that wait are cards flagged 【新着】, not listed twice; the one refused at
	// intake is listed as 対象外（自動判定）, never 差戻し; the one a clerk rejected is under 処理済み.
	t.Run("refused at intake", func(t *testing.T) {
		s := sections[headRefused]
		want := []string{
			"- R-000005 2070000005 前払金保証 県道松江木次線道路改良工事 理由: 保証機関が対象外 koji@example.co.jp",
		}
		if !strings.HasPrefix(s.head, "1件") || !slices.Equal(s.lines, want) {
			t.Errorf("head %q lines\n%s\nwant\n%s", s.head, strings.Join(s.lines, "\n"), strings.Join(want, "\n"))
		}
	})
	checkItem := func(t *testing.T, got map[string]string, want map[string]string, s Submission) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s = %q, want %q", got["id"], k, got[k], v)
			}
		}
		for _, link := range []struct{ label, action string }{{"確認済にする", ActionVerify}, {"差し戻す", ActionReject}} {
			u, err := url.Parse(got[link.label])
			if err != nil || u.Scheme != "mailto" || u.Opaque != agency {
				t.Errorf("%s %s = %q (%v)", got["id"], link.label, got[link.label], err)
				continue
			}
			subject, _ := url.PathUnescape(strings.TrimPrefix(u.RawQuery, "subject="))
			a, n, id, tok, ok := DecisionMail(subject)
			if !ok || a != link.action || n != s.Notice.ContractNumber || id != s.ID || tok != q.Token(link.action, s, testClerk, testExpiry) {
				t.Errorf("%s %s: subject %q reads as %q %q %d %q %v", got["id"], link.label, subject, a, n, id, tok, ok)
			}
		}
	}
	t.Run("waiting", func(t *testing.T) {
		s := sections[headWaiting]
		if !strings.HasPrefix(s.head, "2件") || len(s.items) != 2 {
			t.Fatalf("head %q, %d items", s.head, len(s.items))
		}
		checkItem(t, s.items[0], map[string]string{
			"id": "R-000001", "flags": "受付から3日）【新着】【再提出】",
			"区分": "前払金保証", "保証契約番号": "2070000001", "認証キー": "NEWKEY0001", "工事名": "県道松江木次線道路改良工事",
			"保証機関": parser.WestJapan, "送信者": "Koji Tanaka <tanaka@example.co.jp>", "受信日時": "2025-06-02 04:12",
			"確認事項": "認証キーが再提出で差し替えられました。このキーで確認してください。",
		}, get(t, db, q, 1))
		checkItem(t, s.items[1], map[string]string{
			"id": "R-000003", "flags": "受付から1日）【新着】",
			"区分": "前払金保証", "保証契約番号": "2070000003", "認証キー": "KEY0000003", "工事名": script,
			"保証機関": parser.EastJapan, "送信者": "koji@example.co.jp", "受信日時": "2025-06-01 21:00",
			"確認事項": "契約日・入札公告日等が未確認です。電子証書の対象となる契約か証書で確認してください。",
		}, get(t, db, q, 3))
	})
	t.Run("needs review", func(t *testing.T) {
		s := sections[headNeedsReview]
		if !strings.HasPrefix(s.head, "1件") || len(s.items) != 1 {
			t.Fatalf("head %q, %d items", s.head, len(s.items))
		}
		checkItem(t, s.items[0], map[string]string{
			"id": "R-000004", "区分": "（記載なし）", "保証契約番号": "2070000004", "認証キー": "KEY0000004", "工事名": "測量業務委託",
			"保証機関": parser.Hokkaido,
			"確認事項": "通知に記載のない項目（区分）を証書で確認してください。\n" +
				"契約日・入札公告日等が未確認です。電子証書の対象となる契約か証書で確認してください。\n" +
				"メール本文に入力された番号・キーです。誤記がないか確認してください。",
		}, get(t, db, q, 4))
	})
	t.Run("decided", func(t *testing.T) {
		s := sections[headDecided]
		want := []string{"- R-000006 2070000006 差戻し kakari@pref.shimane.lg.jp 2025-06-02 07:48（コマンド） 理由: 契約保証ではなく前払金保証の通知を送ってください"}
		if !slices.Equal(s.lines, want) {
			t.Errorf("lines %q, want %q", s.lines, want)
		}
	})
	t.Run("undeliverable", func(t *testing.T) {
		s := sections[headUndeliverable]
		want := []string{"- 2025-06-01 21:00 宛先: gone@example.co.jp 件名: 【受付】電子証書 理由: 550 5.1.1 user unknown"}
		if !slices.Equal(s.lines, want) {
			t.Errorf("lines %q, want %q", s.lines, want)
		}
	})
	t.Run("html", func(t *testing.T) {
		if strings.Contains(d.HTML, "<script>") || !strings.Contains(d.HTML, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;橋梁補修工事") {
			t.Errorf("工事名 not escaped in HTML:\n%s", d.HTML)
		}
		if strings.Contains(d.HTML, "<tanaka@") || !strings.Contains(d.HTML, "Koji Tanaka &lt;tanaka@example.co.jp&gt;") {
			t.Error("sender not escaped in HTML")
		}
		for _, want := range []string{`class="poll-warning"`, `class="refused"`, `class="waiting"`, `class="needs-review"`, `class="decided"`, `class="undeliverable"`,
			`<span class="key" style="font-family:Consolas,&#39;BIZ UDGothic&#39;`, `user-select:all">NEWKEY0001</span>`, "R-000001（受付から3日）<span style=\"color:#06c\">【新着】</span>"} {
			if !strings.Contains(d.HTML, want) {
				t.Errorf("HTML lacks %q", want)
			}
		}
		s1 := get(t, db, q, 1)
		verify, reject := DecisionLinks(agency, s1, func(a string) string { return q.Token(a, s1, testClerk, testExpiry) })
		for _, link := range []string{verify, reject} {
			if !strings.Contains(d.HTML, `href="`+link+`"`) {
				t.Errorf("HTML lacks the link %s", link)
			}
		}
	})

	// After MarkDigestSent, what was new is no longer; the waiting items stay.
	update(t, db, func(tx *bolt.Tx) error { return q.MarkDigestSent(tx, qt0) })
	view(t, db, func(tx *bolt.Tx) error {
		if last, err := q.LastDigest(tx); err != nil || !last.Equal(qt0) {
			t.Errorf("LastDigest = %v, %v", last, err)
		}
		d, err := q.Digest(tx, DigestInput{Now: qt0.Add(24 * time.Hour), AgencyAddress: agency})
		if err != nil {
			return err
		}
		_, sections := parseDigestText(t, d.Text)
		if d.Subject != "【電子証書】確認待ち2件・要確認1件 (2025-06-03)" || sections[headRefused] != nil || sections[headDecided] != nil ||
			len(sections[headWaiting].items) != 2 || sections[headWaiting].items[0]["flags"] != "受付から4日）【再提出】" {
			t.Errorf("next digest %q:\n%s", d.Subject, d.Text)
		}
		// An explicit Since reaches back.
		d, err = q.Digest(tx, DigestInput{Now: qt0, Since: days(-1), AgencyAddress: agency})
		if err != nil {
			return err
		}
		if _, sections := parseDigestText(t, d.Text); sections[headRefused] == nil || len(sections[headRefused].lines) != 1 ||
			sections[headWaiting].items[0]["flags"] != "受付から3日）【新着】【再提出】" {
			t.Errorf("digest since %v:\n%s", days(-1), d.Text)
		}
		return nil
	})
}

func TestDigestMaskKey(t *testing.T) {
	db, q := newQueue(t)
	submit(t, db, q, queueNotice("2070004426", "JT4E3MR8IT"), decision(OutcomeQueued), meta(1, qt0))
	view(t, db, func(tx *bolt.Tx) error {
		d, err := q.Digest(tx, DigestInput{Now: qt0.Add(time.Hour), AgencyAddress: agency, MaskKey: true})
		if err != nil {
			return err
		}
		_, sections := parseDigestText(t, d.Text)
		if got := sections[headWaiting].items[0]["認証キー"]; got != "JT***IT" {
			t.Errorf("masked key %q, want JT***IT", got)
		}
		if strings.Contains(d.Text, "JT4E3MR8IT") || strings.Contains(d.HTML, "JT4E3MR8IT") || !strings.Contains(d.HTML, "JT***IT") {
			t.Error("the key shows in the digest")
		}
		return nil
	})
	for key, want := range map[string]string{"JT4E3MR8IT": "JT***IT", "ABCDEF": "AB***EF", "ABCDE": "***", "": "***", "認証キー用文字": "認証***文字"} {
		if got := MaskKey(key); got != want {
			t.Errorf("MaskKey(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestDigestEmpty(t *testing.T) {
	db, q := newQueue(t)
	digest := func(in DigestInput) Digest {
		t.Helper()
		var d Digest
		view(t, db, func(tx *bolt.Tx) error {
			var err error
			d, err = q.Digest(tx, in)
			return err
		})
		return d
	}
	in := DigestInput{Now: qt0, AgencyAddress: agency}
	if d := digest(in); !d.Empty || d.Items != 0 || d.Subject != "【電子証書】確認待ち0件 (2025-06-02)" {
		t.Errorf("empty queue: %+v", d)
	}
	// Decided and reported: nothing more to say.
	submit(t, db, q, queueNotice("2070004426", "KEY"), decision(OutcomeQueued), meta(1, qt0))
	update(t, db, func(tx *bolt.Tx) error {
		if _, err := q.Decide(tx, 1, ActionVerify, "tanto@pref.shimane.lg.jp", HowMail, "", qt0.Add(time.Hour)); err != nil {
			return err
		}
		return q.MarkDigestSent(tx, qt0.Add(2*time.Hour))
	})
	in.Now = qt0.Add(24 * time.Hour)
	if d := digest(in); !d.Empty {
		t.Errorf("after the decision was reported: not empty:\n%s", d.Text)
	}
	// A poll warning alone is worth a digest.
	in.PollWarning = "connection refused"
	if d := digest(in); d.Empty {
		t.Error("a poll warning made an empty digest")
	}
}

// TestDigestNotAnswered: mails that got no reply are listed with why, escaped in HTML, and
// do not by themselves make a digest worth sending.
func TestDigestNotAnswered(t *testing.T) {
	db, q := newQueue(t)
	in := DigestInput{Now: qt0, AgencyAddress: agency, NotAnswered: []NotAnswered{
		{From: "kimura@hikawa.example", Subject: "不在通知", Why: "自動応答（不在通知など）", At: qt0},
		{From: "x@example.jp", Subject: "<b>news</b>", Why: "メーリングリスト", At: qt0},
	}}
	var d Digest
	view(t, db, func(tx *bolt.Tx) error {
		var err error
		d, err = q.Digest(tx, in)
		return err
	})
	if !d.Empty {
		t.Error("a digest of only unanswered robots is not empty")
	}
	in.NotAnswered = append(in.NotAnswered, NotAnswered{From: "yamada@kensetsu.example", Subject: "電子証書", Why: "送信元の認証なし", At: qt0, Attention: true})
	view(t, db, func(tx *bolt.Tx) error {
		d2, err := q.Digest(tx, in)
		if err == nil && d2.Empty {
			t.Error("a digest listing a person's unanswered mail is empty: it would not be sent")
		}
		return err
	})
	if !strings.Contains(d.Text, "■ 返信しなかったメール 2件") || !strings.Contains(d.Text, "差出人: kimura@hikawa.example 件名: 不在通知 理由: 自動応答（不在通知など）") {
		t.Errorf("text part:\n%s", d.Text)
	}
	if strings.Contains(d.HTML, "<b>news</b>") || !strings.Contains(d.HTML, "&lt;b&gt;news&lt;/b&gt;") {
		t.Errorf("HTML part does not escape the subject:\n%s", d.HTML)
	}
}

// TestDigestWithoutClerk: a copy of the digest for someone who may not decide (a shared list,
// or decisions by mail switched off) carries no decision link at all.
func TestDigestWithoutClerk(t *testing.T) {
	db, q := newQueue(t)
	submit(t, db, q, queueNotice("2070004426", "JT4E3MR8IT"), decision(OutcomeQueued), meta(1, qt0))
	view(t, db, func(tx *bolt.Tx) error {
		for _, clerk := range []string{"", testClerk} {
			d, err := q.Digest(tx, DigestInput{Now: qt0.Add(time.Hour), AgencyAddress: agency, Clerk: clerk, LinksExpire: testExpiry})
			if err != nil {
				return err
			}
			if got := strings.Contains(d.Text, "mailto:") || strings.Contains(d.HTML, "mailto:"); got != (clerk != "") {
				t.Errorf("digest for %q has decision links: %v\n%s", clerk, got, d.Text)
			}
			if d.Items != 1 {
				t.Errorf("digest for %q lists %d waiting items, want 1", clerk, d.Items)
			}
		}
		return nil
	})
}

// checkSubjectCounts: every "NAME N件" of the subject is a section "■ NAME N件" of the text,
// and the section lists N entries (cards, or "- " lines).
func checkSubjectCounts(t *testing.T, d Digest) {
	t.Helper()
	_, sections := parseDigestText(t, d.Text)
	subject := strings.TrimPrefix(d.Subject, "【電子証書】")
	subject, _, _ = strings.Cut(subject, " (")
	for _, part := range strings.Split(subject, "・") {
		if part == headPollWarning+"あり" {
			if sections[headPollWarning] == nil {
				t.Errorf("subject %q: no %s section", d.Subject, headPollWarning)
			}
			continue
		}
		name, count, ok := strings.Cut(part, "件")
		if !ok || count != "" {
			t.Errorf("subject %q: %q is not NAME N件", d.Subject, part)
			continue
		}
		head := strings.TrimRightFunc(name, func(r rune) bool { return r >= '0' && r <= '9' })
		name, n := head, name[len(head):]
		s := sections[name]
		if n == "0" {
			if s != nil {
				t.Errorf("subject %q says %s 0件, the text has the section", d.Subject, name)
			}
			continue
		}
		if s == nil || !strings.HasPrefix(s.head, n+"件") {
			t.Errorf("subject %q says %s %s件; section: %+v", d.Subject, name, n, s)
			continue
		}
		entries := len(s.items)
		for _, l := range s.lines {
			if strings.HasPrefix(l, "- ") {
				entries++
			}
		}
		if fmt.Sprint(entries) != n {
			t.Errorf("subject %q says %s %s件; the section lists %d", d.Subject, name, n, entries)
		}
	}
}

// TestDigestMails: inquiries (with their first lines), mails answered without a notice
// filed, and the robots' mail each have their section, counted in the subject; an inquiry
// alone makes a digest worth sending; the HTML escapes what senders wrote.
func TestDigestMails(t *testing.T) {
	db, q := newQueue(t)
	submit(t, db, q, queueNotice("2070004426", "JT4E3MR8IT"), decision(OutcomeQueued), meta(1, qt0.Add(-time.Hour)))
	in := DigestInput{Now: qt0, AgencyAddress: agency, DSureURL: "https://d-sure.example/login",
		Checklist: []string{"保証金額が契約書のとおりか"},
		Inquiries: []Inquiry{{From: "ishihara@mitoya-kensetsu.example", Subject: "電子証書の提出方法について（質問）", Tracking: "M-000013",
			At: qt0.Add(-2 * time.Hour), Lines: []string{"紙の保証証書も別途郵送が必要か教えてください。", "<a href=\"https://evil.example\">詳細</a>"}, Note: "keiyaku@pref.shimane.example に転送済み"}},
		Unqueued:    []NotAnswered{{From: "scanner@gotsu-kogyo.example", Subject: "スキャンデータ", Why: "画像のみのPDF（no_text）", At: qt0}},
		NotAnswered: []NotAnswered{{From: "news@kensetsu-joho.example", Subject: "メールマガジン", Why: "メーリングリスト", At: qt0}},
	}
	var d Digest
	view(t, db, func(tx *bolt.Tx) error {
		var err error
		d, err = q.Digest(tx, in)
		return err
	})
	if want := "【電子証書】確認待ち1件・問い合わせ1件・受付できなかったメール1件 (2025-06-02)"; d.Subject != want {
		t.Errorf("Subject = %q, want %q", d.Subject, want)
	}
	checkSubjectCounts(t, d)
	heading, sections := parseDigestText(t, d.Text)
	if !slices.Contains(heading, "D-Sure（発注者用保証確認サービス）: https://d-sure.example/login") || !slices.Contains(heading, "  ・保証金額が契約書のとおりか") {
		t.Errorf("heading lacks the D-Sure link or the rule file's checklist: %q", heading)
	}
	want := []string{
		"- 2025-06-02 07:00 M-000013 差出人: ishihara@mitoya-kensetsu.example 件名: 電子証書の提出方法について（質問）（keiyaku@pref.shimane.example に転送済み）",
		"  | 紙の保証証書も別途郵送が必要か教えてください。",
		"  | <a href=\"https://evil.example\">詳細</a>",
	}
	if s := sections[headInquiries]; s == nil || !slices.Equal(s.lines, want) {
		t.Errorf("inquiries section %+v, want lines %q", s, want)
	}
	if s := sections[headUnqueued]; s == nil || len(s.lines) != 1 || !strings.Contains(s.lines[0], "スキャンデータ") {
		t.Errorf("unqueued section %+v", s)
	}
	if s := sections[headNotAnswered]; s == nil || len(s.lines) != 1 {
		t.Errorf("not-answered section %+v", s)
	}
	for _, w := range []string{`<a href="https://d-sure.example/login"`, `class="inquiries"`, "紙の保証証書も別途郵送が必要か教えてください。",
		"&lt;a href=&#34;https://evil.example&#34;&gt;詳細&lt;/a&gt;", "<li>保証金額が契約書のとおりか</li>", `class="unqueued"`} {
		if !strings.Contains(d.HTML, w) {
			t.Errorf("HTML lacks %q", w)
		}
	}
	if strings.Contains(d.HTML, `href="https://evil.example"`) {
		t.Error("an inquiry's link became a link in the HTML part")
	}

	// Without a rule file's checklist, the default; without a D-Sure URL, where to set it.
	db2, q2 := newQueue(t)
	submit(t, db2, q2, queueNotice("2070004426", "JT4E3MR8IT"), decision(OutcomeQueued), meta(1, qt0))
	view(t, db2, func(tx *bolt.Tx) error {
		d, err := q2.Digest(tx, DigestInput{Now: qt0, AgencyAddress: agency})
		if err != nil {
			return err
		}
		for _, w := range append([]string{"dsure_url"}, DefaultChecklist...) {
			if !strings.Contains(d.Text, w) || !strings.Contains(d.HTML, w) {
				t.Errorf("digest without a checklist or D-Sure URL lacks %q", w)
			}
		}
		// An inquiry alone is worth a digest.
		empty, err := q.Digest(tx, DigestInput{Now: qt0, AgencyAddress: agency, Inquiries: in.Inquiries})
		if err == nil && empty.Empty {
			t.Error("a digest with an inquiry is empty: it would not be sent")
		}
		return err
	})
}

// TestDigestTokyoTime: on a server whose zone is UTC, the digest's times are Japan's.
func TestDigestTokyoTime(t *testing.T) {
	saved := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = saved })
	db, q := newQueue(t)
	sent := time.Date(2026, 6, 15, 0, 1, 0, 0, time.UTC)    // 09:01 in Japan
	early := time.Date(2026, 6, 14, 23, 30, 0, 0, time.UTC) // 08:30 on the 15th in Japan, the 14th in UTC
	submit(t, db, q, queueNotice("2070004425", "AB4E3MR8IT"), decision(OutcomeQueued), meta(1, early))
	submit(t, db, q, queueNotice("2070004426", "JT4E3MR8IT"), decision(OutcomeQueued), meta(2, sent))
	view(t, db, func(tx *bolt.Tx) error {
		d, err := q.Digest(tx, DigestInput{Now: sent.Add(14 * time.Hour), AgencyAddress: agency,
			Inquiries: []Inquiry{{From: "a@example.jp", Subject: "質問", At: sent}}})
		if err != nil {
			return err
		}
		_, sections := parseDigestText(t, d.Text)
		if got := sections[headWaiting].items[1]["受信日時"]; got != "2026-06-15 09:01" {
			t.Errorf("受信日時 %q, want 2026-06-15 09:01", got)
		}
		if got := sections[headWaiting].items[0]["flags"]; !strings.HasPrefix(got, "受付から0日") {
			t.Errorf("age %q: 08:30 and 23:01 on the 15th in Japan are the same day", got)
		}
		if !strings.HasPrefix(sections[headInquiries].lines[0], "- 2026-06-15 09:01") || !strings.HasSuffix(d.Subject, "(2026-06-15)") {
			t.Errorf("inquiry line %q, subject %q", sections[headInquiries].lines[0], d.Subject)
		}
		return nil
	})
}

// TestDigestPageDecision: a decision on the clerks' page is a clerk's decision like any
// other (Decided, the digest's 処理済み, named 画面), and with the page on each card links to
// its item page.
func TestDigestPageDecision(t *testing.T) {
	db, q := newQueue(t)
	submit(t, db, q, queueNotice("2070004426", "JT4E3MR8IT"), decision(OutcomeQueued), meta(1, qt0))
	submit(t, db, q, queueNotice("2070004427", "JT4E3MR8IU"), decision(OutcomeQueued), meta(2, qt0))
	update(t, db, func(tx *bolt.Tx) error {
		_, err := q.Decide(tx, 1, ActionReject, "yamada@example.jp", HowPage, "番号違い", qt0.Add(time.Minute))
		return err
	})
	s := get(t, db, q, 1)
	if c, ok := s.Decided(); !ok || c.How != HowPage || s.Label() != "差戻し" {
		t.Errorf("a page decision: Decided %+v %v, label %s", c, ok, s.Label())
	}
	view(t, db, func(tx *bolt.Tx) error {
		d, err := q.Digest(tx, DigestInput{Now: qt0.Add(time.Hour), AgencyAddress: agency, PageURL: "https://hosho.example.jp/"})
		if err != nil {
			return err
		}
		if !strings.Contains(d.Text, "R-000001 2070004426 差戻し yamada@example.jp") || !strings.Contains(d.Text, "（画面） 理由: 番号違い") {
			t.Errorf("the page decision is not under 処理済み:\n%s", d.Text)
		}
		if !strings.Contains(d.Text, "画面で開く: https://hosho.example.jp/items/2") || !strings.Contains(d.HTML, `<a href="https://hosho.example.jp/items/2">R-000002</a>`) {
			t.Errorf("the card does not link to its page:\n%s", d.Text)
		}
		return nil
	})
}
