package intake

import (
	"slices"
	"testing"
)

func TestPasswords(t *testing.T) {
	for _, c := range []struct {
		text string
		want string // the first candidate; "" none
	}{
		{"先ほどお送りしたファイルのパスワードをお知らせします。\n\n　パスワード：Hirose0611\n\nよろしくお願いいたします。", "Hirose0611"},
		{"PW: abc-123", "abc-123"},
		{"ＰＷ：ＡＢＣ１２３", "ABC123"},
		{"解凍パスワードは「Zq9#kL2m」です。", "Zq9#kL2m"},
		{"パスワードは 7h3Kx9 です", "7h3Kx9"},
		{"【パスワード】\nK2026-06", "K2026-06"},
		{"パスワードは以下のとおりです。\n\n　Kensetsu0611\n", "Kensetsu0611"},
		{"Password: s3cret!", "s3cret!"},
		{"暗証番号：1234", "1234"},
		{"パスワード：Abc123。", "Abc123。"},
		{"※添付ファイルはパスワード付きZIPです。パスワードは別メールにてお送りします。", ""},
		{"> パスワード：quoted1\nよろしく", ""},
		{"よろしく\n-- \nパスワード：sig123", ""},
		{"電子証書をお送りします。", ""},
	} {
		got := Passwords([]string{c.text})
		first := ""
		if len(got) > 0 {
			first = got[0]
		}
		if c.want == "Abc123。" {
			if !slices.Contains(got, "Abc123") {
				t.Errorf("Passwords(%q) = %q, want Abc123 among them", c.text, got)
			}
			continue
		}
		if first != c.want {
			t.Errorf("Passwords(%q) = %q, want first %q", c.text, got, c.want)
		}
	}
}

// TestSamePPAP: the pairing shapes of issue 13: the same address; the same domain and
// In-Reply-To or References to the ZIP mail; the same domain and the ZIP mail's subject in one
// that names a password (パスワード, PW, 解凍, 暗号, 【パスワード】, full-width folded).
func TestSamePPAP(t *testing.T) {
	zip := &ppapMail{From: "fujiwara@hirose-kensetsu.example", MessageID: "<z@x>", Subject: "【ファイル送付】電子証書閲覧用認証キー"}
	for _, c := range []struct {
		key  ppapMail
		want bool
	}{
		{ppapMail{From: "Fujiwara@Hirose-Kensetsu.example", Subject: "x"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "【パスワード通知】電子証書閲覧用認証キー"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "Re: 別件", InReplyTo: "<z@x>"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "電子証書閲覧用認証キー"}, false},
		{ppapMail{From: "x@evil.example", Subject: "【パスワード通知】電子証書閲覧用認証キー", InReplyTo: "<z@x>"}, false},
		// The same domain and a reference to the ZIP mail, whatever the subject.
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "連絡", References: []string{"<a@x>", "<z@x>"}}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "連絡", References: []string{"<a@x>"}, InReplyTo: "<a@x>"}, false},
		// The same domain and the ZIP mail's subject inside one that names a password.
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "【パスワード】電子証書閲覧用認証キー"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "PW: 電子証書閲覧用認証キー"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "ＰＷ　電子証書閲覧用認証キー"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "解凍キー 電子証書閲覧用認証キー"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "暗号化ファイル：電子証書閲覧用認証キー"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "電子証書閲覧用認証キー（パスワード通知）"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "Re: 電子証書閲覧用認証キー Password"}, true},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "【パスワード】別件の図面"}, false},
		{ppapMail{From: "jimu@hirose-kensetsu.example", Subject: "PWD 電子証書閲覧用認証キー"}, false},
		// Another domain, however alike, is a stranger.
		{ppapMail{From: "jimu@mail.hirose-kensetsu.example", Subject: "【パスワード】電子証書閲覧用認証キー"}, false},
		{ppapMail{From: "jimu@hirose-kensetsu.example.evil", Subject: "【パスワード】電子証書閲覧用認証キー"}, false},
	} {
		if got := samePPAP(zip, &c.key); got != c.want {
			t.Errorf("samePPAP(%+v) = %v, want %v", c.key, got, c.want)
		}
	}
}

// TestSamePPAPShortSubject: a ZIP mail's subject of under 4 characters pairs by address or
// reference only: 「送付」 is in too many subjects.
func TestSamePPAPShortSubject(t *testing.T) {
	zip := &ppapMail{From: "a@kensetsu.example", MessageID: "<z@x>", Subject: "【至急】送付"}
	if samePPAP(zip, &ppapMail{From: "b@kensetsu.example", Subject: "【パスワード】図面送付"}) {
		t.Error("a 2-character subject paired a password mail about something else")
	}
	if !samePPAP(zip, &ppapMail{From: "b@kensetsu.example", Subject: "【パスワード】図面送付", InReplyTo: "<z@x>"}) {
		t.Error("a reply to the ZIP mail was not paired")
	}
}
