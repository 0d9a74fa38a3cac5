package reply

import (
	"net/netip"
	"slices"
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

// TestAuthenticateMicrosoft365 is a mailbox in Exchange Online. Exchange writes
// Authentication-Results without an authserv-id ("spf=pass (sender IP is ...) ...", the form
// Microsoft Learn's "Anti-spam message headers in Microsoft 365" shows), and Microsoft does
// not document that it removes the ones a sender wrote: such a field is anyone's, so none of
// them authenticates, whatever authserv_id an admin copies from a message, and however the
// forgeries sit around Exchange's own. A gateway of the agency's own in front of Exchange
// that writes RFC 8601 fields with its authserv-id still works (the last case).
func TestAuthenticateMicrosoft365(t *testing.T) {
	const (
		ours    = "mx.pref.shimane.example"
		clerk   = "From: 田中 <tanaka@pref.shimane.example>"
		mailbox = "Received: from TYWPR01MB1234.jpnprd01.prod.outlook.com (2603:1096:400:1::5) by OS3PR01MB5678.jpnprd01.prod.outlook.com with HTTPS; Mon, 1 Dec 2025 00:00:03 +0000"
		inner   = "Received: from TY2PEPF0000AB12.apcprd03.prod.outlook.com (2603:1096:404:8000::3) by TYWPR01MB1234.jpnprd01.prod.outlook.com (2603:1096:400:1::5) with Microsoft SMTP Server (version=TLS1_2) id 15.20.1; Mon, 1 Dec 2025 00:00:02 +0000"
		spf     = "Received-SPF: Fail (protection.outlook.com: domain of pref.shimane.example does not designate 203.0.113.9 as permitted sender) receiver=protection.outlook.com; client-ip=203.0.113.9; helo=mail.attacker.example;"
		accept  = "Received: from mail.attacker.example (203.0.113.9) by TY2PEPF0000AB12.mail.protection.outlook.com (10.167.1.2) with Microsoft SMTP Server (version=TLS1_3) id 15.20.2; Mon, 1 Dec 2025 00:00:01 +0000"
		// What Exchange stamps for the attacker's mail, and what the attacker writes.
		exoFail = "Authentication-Results: spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=pref.shimane.example; dkim=none (message not signed) header.d=none;dmarc=fail action=quarantine header.from=pref.shimane.example;compauth=fail reason=000"
		forged  = "Authentication-Results: spf=pass (sender IP is 192.0.2.25) smtp.mailfrom=pref.shimane.example; dkim=pass (signature was verified) header.d=pref.shimane.example;dmarc=pass action=none header.from=pref.shimane.example;compauth=pass reason=100"
		exoPass = forged
	)
	policies := []Policy{
		{AuthservID: ours},
		{AuthservID: "spf=pass"}, // the first word of Exchange's field, copied by an admin (config refuses it)
		{AuthservID: "protection.outlook.com"},
		{AuthservID: "outlook.com"},
		{AuthservID: "mx.microsoft.com"},
	}
	tests := []struct {
		name    string
		headers []string
	}{
		{"Exchange's own pass", []string{clerk, mailbox, inner, exoPass, spf, accept}},
		{"a forged pass below Exchange's fail", []string{clerk, mailbox, inner, exoFail, spf, accept, forged}},
		{"a forged pass above Exchange's fail", []string{clerk, forged, mailbox, inner, exoFail, spf, accept}},
		{"Exchange wrote none, a forged pass below its hops", []string{clerk, mailbox, inner, spf, accept, forged}},
		{"forwarded: another tenant's pass below ours", []string{clerk, mailbox, inner, exoFail, spf, accept,
			"Received: from mail.other.example (198.51.100.7) by OS0P286CA0001.mail.protection.outlook.com with Microsoft SMTP Server; Mon, 1 Dec 2025 00:00:00 +0000", exoPass}},
		{"a forged ARC-Authentication-Results of mx.microsoft.com", []string{clerk, mailbox, inner, exoFail, spf, accept,
			"ARC-Authentication-Results: i=1; mx.microsoft.com 1; spf=pass smtp.mailfrom=pref.shimane.example; dmarc=pass action=none header.from=pref.shimane.example; dkim=pass header.d=pref.shimane.example; arc=none"}},
	}
	for _, tt := range tests {
		for _, p := range policies {
			t.Run(tt.name+"/"+p.AuthservID, func(t *testing.T) {
				if a := Authenticate(readMsg(t, tt.headers...), p); a.Pass() {
					t.Errorf("Authenticate = %+v, want not authenticated", a)
				}
			})
		}
	}
	// The agency's own gateway (a 無害化 gateway, an on-premises MTA) writes its field before
	// relaying to Exchange, which stamps its own above: the gateway's topmost field counts,
	// a forgery of the gateway's id below it does not.
	gateway := []string{clerk, mailbox, inner,
		"Authentication-Results: spf=pass (sender IP is 192.0.2.25) smtp.mailfrom=pref.shimane.example; dkim=none (message not signed) header.d=none;dmarc=none action=none header.from=pref.shimane.example;compauth=pass reason=109",
		"Received: from mx.pref.shimane.example (192.0.2.25) by TY2PEPF0000AB12.mail.protection.outlook.com with Microsoft SMTP Server; Mon, 1 Dec 2025 00:00:01 +0000",
		"Authentication-Results: " + ours + "; dmarc=pass header.from=pref.shimane.example",
		"Received: from PC-123 ([10.20.9.77]) by mx.pref.shimane.example with ESMTPSA id C3; Mon, 1 Dec 2025 08:59:59 +0900"}
	if a := Authenticate(readMsg(t, gateway...), Policy{AuthservID: ours}); a.Method != MethodDMARC {
		t.Errorf("through the agency's gateway: Authenticate = %+v, want dmarc", a)
	}
	fail := slices.Clone(gateway)
	fail[5] = "Authentication-Results: " + ours + "; dmarc=fail header.from=pref.shimane.example"
	fail = append(fail, "Authentication-Results: "+ours+"; dmarc=pass header.from=pref.shimane.example")
	if a := Authenticate(readMsg(t, fail...), Policy{AuthservID: ours}); a.Pass() {
		t.Errorf("through the gateway, a forged pass of its id below its fail: Authenticate = %+v, want not authenticated", a)
	}
}
