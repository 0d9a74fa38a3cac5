package reply

import (
	"net/netip"
	"strings"
	"testing"

	"hosho-intake/parser"
)

// linkish are the shapes a stranger uses to put a link or an address in front of a reader.
var linkish = []string{
	"https://evil.example/reset", "http://evil.example", "HTTPS://EVIL.EXAMPLE/x?y=1",
	"ｈｔｔｐｓ：／／ｅｖｉｌ．ｅｘａｍｐｌｅ／ｒｅｓｅｔ", "www.evil.example", "evil.example/reset",
	"evil.example", "kaikei@evil.example", "ｋａｉｋｅｉ＠ｅｖｉｌ．ｅｘａｍｐｌｅ", "mailto:kaikei@evil.example",
	"tel:0852000000", "javascript:alert(1)", "evil.example:8443/x", "xn--r8jz45g.example",
}

func TestWithoutLinks(t *testing.T) {
	for _, l := range linkish {
		for _, s := range []string{l, "口座確認は" + l + "へ", "【至急】パスワード再設定 " + l, "(" + l + ")"} {
			got := withoutLinks(s)
			if hasLink(got) {
				t.Errorf("withoutLinks(%q) = %q: still a link", s, got)
			}
			for _, part := range []string{"evil", "ｅｖｉｌ", "kaikei", "0852000000", "alert"} {
				if strings.Contains(strings.ToLower(got), part) {
					t.Errorf("withoutLinks(%q) = %q: keeps %q", s, got, part)
				}
			}
		}
	}
	// Ordinary Japanese text and the numbers of a notice stay as they are.
	for _, s := range []string{"県道玉湯吾妻山線道路改良工事（その1）", "R5.6.1 契約分", "2070004426 の件", "令和7年度 第3号",
		"見積書.pdf を送ります", "島根県知事", "Re: 電子証書の提出（株式会社山陰建設）", "No.12 工区"} {
		if got := withoutLinks(s); got != s {
			t.Errorf("withoutLinks(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"山田太郎", "山田太郎"},
		{"株式会社山陰建設 山田太郎", "株式会社山陰建設 山田太郎"},
		{"Yamada Taro (Sanin Kensetsu)", "Yamada Taro (Sanin Kensetsu)"},
		{"島根県 会計課（口座確認は https://evil.example/ へ）", ""},
		{"会計課 kaikei@evil.example", ""},
		{"会計課 evil.example", ""},
		{"【至急】口座変更のお知らせ：下記へご連絡ください！", ""},
		{strings.Repeat("長", maxName+1), ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := displayName(tt.in); got != tt.want {
			t.Errorf("displayName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFileName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"認証キー通知.pdf", "認証キー通知.pdf"},
		{"hosho.pdf", "hosho.pdf"},
		{"notice_2070004426.pdf", "notice_2070004426.pdf"},
		{"evil.example.pdf", "添付ファイル"},
		{"https://evil.example/x.pdf", "添付ファイル"},
		{"../../etc/passwd", "添付ファイル"},
	}
	for _, tt := range tests {
		if got := fileName(tt.in, 120); got != tt.want {
			t.Errorf("fileName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestReplyCarriesNoStrangerLinks: whatever a stranger puts in the display name, the subject,
// the 工事名 or 発注者 of a body-typed notice and the attachment's name, the agency's reply
// carries none of it as a link or address; the greeting falls back to ご担当者.
func TestReplyCarriesNoStrangerLinks(t *testing.T) {
	c := composer(t, Options{})
	const evil = "https://evil.example/reset"
	in := input("【至急】パスワード再設定 "+evil, nil, parser.Problem{Code: parser.CodeNotPDF, Attachment: "evil.example.pdf"})
	in.Received.FromName = "島根県 会計課（口座確認は " + evil + " へ）"
	n := notice(1)
	n.ProjectName = "道路改良工事 詳細は " + evil + " kaikei@evil.example"
	n.Orderer = "島根県知事 www.evil.example"
	n.Attachment = "ｅｖｉｌ．ｅｘａｍｐｌｅ.pdf"
	in.Items = []Item{{Notice: n, Tracking: "R-000001", Outcome: OutcomeQueued}}
	r, err := c.Compose(in)
	if err != nil {
		t.Fatal(err)
	}
	p := parseReply(t, r.Raw)
	all := p.header["Subject"] + "\n" + p.header["To"] + "\n" + p.body
	if strings.Contains(strings.ToLower(all), "evil") || strings.Contains(all, "ｅｖｉｌ") {
		t.Errorf("the reply quotes the stranger's link or address:\n%s", all)
	}
	if !strings.Contains(p.body, "ご担当者 様") {
		t.Errorf("a name with a link is not greeted as ご担当者:\n%s", p.body)
	}
	if !strings.Contains(p.body, "道路改良工事") || !strings.Contains(p.header["Subject"], "パスワード再設定") {
		t.Errorf("the plain words around the links are lost: subject %q\n%s", p.header["Subject"], p.body)
	}
}

func TestAuthenticate(t *testing.T) {
	const ours = "mx.pref.shimane.example"
	relays := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}
	p := Policy{AuthservID: ours, TrustedRelays: relays}
	clerk := "From: 田中 <tanaka@pref.shimane.example>"
	border := "Received: from attacker.example (attacker.example [203.0.113.9]) by mx.pref.shimane.example (Postfix) with ESMTP id A1; Mon, 1 Dec 2025 09:00:00 +0900"
	internal := "Received: from relay.pref.shimane.example (relay [10.20.1.5]) by mx.pref.shimane.example (Postfix) with ESMTP id B2; Mon, 1 Dec 2025 09:00:00 +0900"
	pc := "Received: from PC-123 ([10.20.9.77]) by relay.pref.shimane.example with ESMTPSA id C3; Mon, 1 Dec 2025 08:59:59 +0900"
	lmtp := "Received: from mx.pref.shimane.example ([127.0.0.1]) by imap.pref.shimane.example with LMTP id D4; Mon, 1 Dec 2025 09:00:01 +0900"
	tests := []struct {
		name    string
		p       Policy
		headers []string
		want    string
	}{
		{"dmarc pass for the From domain", p, []string{clerk, "Authentication-Results: " + ours + "; dmarc=pass header.from=pref.shimane.example"}, MethodDMARC},
		{"dmarc pass for another domain", p, []string{clerk, "Authentication-Results: " + ours + "; dmarc=pass header.from=evil.example"}, ""},
		{"dmarc fail, spf fail", p, []string{clerk, "Authentication-Results: " + ours + "; dmarc=fail; spf=fail"}, ""},
		{"aligned dkim", p, []string{clerk, "Authentication-Results: " + ours + "; dkim=pass header.d=pref.shimane.example"}, MethodDKIM},
		{"dkim of a parent domain", p, []string{clerk, "Authentication-Results: " + ours + "; dkim=pass header.i=@shimane.example"}, MethodDKIM},
		{"unaligned dkim", p, []string{clerk, "Authentication-Results: " + ours + "; dkim=pass header.d=evil.example"}, ""},
		{"dkim without a domain", p, []string{clerk, "Authentication-Results: " + ours + "; dkim=pass"}, ""},
		{"aligned spf", p, []string{clerk, "Authentication-Results: " + ours + "; spf=pass smtp.mailfrom=tanaka@pref.shimane.example"}, MethodSPF},
		{"unaligned spf", p, []string{clerk, "Authentication-Results: " + ours + "; spf=pass smtp.mailfrom=x@evil.example"}, ""},
		{"pass from another authserv-id", p, []string{clerk, "Authentication-Results: evil.example; dmarc=pass header.from=pref.shimane.example"}, ""},
		{"forged pass below ours", p, []string{clerk, "Authentication-Results: " + ours + "; dmarc=fail", "Authentication-Results: " + ours + "; dmarc=pass"}, ""},
		{"no Authentication-Results", p, []string{clerk}, ""},
		{"internal relay and PC", p, []string{clerk, lmtp, internal, pc}, MethodRelay},
		{"from outside, forged internal hops below", p, []string{clerk, lmtp, border, internal, pc}, ""},
		{"a hop without an address", p, []string{clerk, "Received: from relay.pref.shimane.example by mx.pref.shimane.example with ESMTP", pc}, ""},
		{"relays not configured", Policy{AuthservID: ours}, []string{clerk, internal, pc}, ""},
		{"only loopback hops", p, []string{clerk, lmtp}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := readMsg(t, tt.headers...)
			a := Authenticate(m, tt.p)
			if a.Method != tt.want || !a.Checked {
				t.Errorf("Authenticate = %+v, want method %q, checked", a, tt.want)
			}
		})
	}
	if a := Authenticate(readMsg(t, clerk, "Authentication-Results: "+ours+"; dmarc=pass"), Policy{}); a.Checked || a.Pass() {
		t.Errorf("with nothing configured, Authenticate = %+v, want unchecked and not passed", a)
	}
}
