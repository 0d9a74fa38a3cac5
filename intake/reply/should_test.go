package reply

import (
	"reflect"
	"strings"
	"testing"

	"hosho-intake/intake/inbound"
)

// readMsg reads a message of the given header lines (joined with CRLF) and a short body.
func readMsg(t testing.TB, headers ...string) *inbound.Message {
	t.Helper()
	raw := strings.Join(headers, "\r\n") + "\r\n\r\nよろしくお願いします。\r\n"
	m, err := inbound.Read(strings.NewReader(raw), inbound.Limits{})
	if err != nil {
		t.Fatalf("inbound.Read: %v", err)
	}
	return m
}

func TestShould(t *testing.T) {
	const (
		person = "From: Yamada <yamada@kensetsu.example>"
		rp     = "Return-Path: <yamada@kensetsu.example>"
		ours   = "mx.pref.shimane.example"
	)
	pol := Policy{AgencyAddress: "hosho@pref.shimane.example"}
	auth := Policy{AgencyAddress: pol.AgencyAddress, RequireAuthResults: true, AuthservID: ours}
	tests := []struct {
		name    string
		p       Policy
		headers []string
		want    string // "" when the message may be answered
		// inboundOnly: a rule only inbound's Classes know, so Should must give the same answer
		// only with Classes kept.
		inboundOnly bool
	}{
		{"person", pol, []string{person, rp}, "", false},
		{"person without Return-Path", pol, []string{person}, "", false},
		{"Auto-Submitted auto-replied", pol, []string{person, rp, "Auto-Submitted: auto-replied"}, WhyAutoSubmitted, false},
		{"Auto-Submitted with comment", pol, []string{person, rp, "Auto-Submitted: auto-generated (daily report)"}, WhyAutoSubmitted, false},
		{"Auto-Submitted with parameter", pol, []string{person, rp, "Auto-Submitted: auto-notified; owner-email=a@b.example"}, WhyAutoSubmitted, false},
		{"Auto-Submitted no", pol, []string{person, rp, "Auto-Submitted: no"}, "", false},
		{"Auto-Submitted No with comment", pol, []string{person, rp, "Auto-Submitted: No (typed by a person)"}, "", false},
		{"Precedence bulk", pol, []string{person, rp, "Precedence: bulk"}, WhyAutoSubmitted, false},
		{"Precedence junk", pol, []string{person, rp, "Precedence: JUNK"}, WhyAutoSubmitted, false},
		{"Precedence auto_reply", pol, []string{person, rp, "Precedence: auto_reply"}, WhyAutoSubmitted, false},
		{"Precedence list", pol, []string{person, rp, "Precedence: list"}, WhyMailingList, false},
		{"List-Id", pol, []string{person, rp, "List-Id: Kensetsu news <news.kensetsu.example>"}, WhyMailingList, false},
		{"List-Unsubscribe", pol, []string{person, rp, "List-Unsubscribe: <mailto:leave@kensetsu.example>"}, WhyMailingList, false},
		{"List-Id with Precedence bulk", pol, []string{person, rp, "Precedence: bulk", "List-Id: <n.example>"}, WhyMailingList, false},
		{"X-Auto-Response-Suppress All", pol, []string{person, rp, "X-Auto-Response-Suppress: All"}, WhyAutoSubmitted, false},
		{"X-Auto-Response-Suppress AutoReply", pol, []string{person, rp, "X-Auto-Response-Suppress: DR, AutoReply"}, WhyAutoSubmitted, false},
		{"X-Auto-Response-Suppress OOF", pol, []string{person, rp, "X-Auto-Response-Suppress: oof"}, WhyAutoSubmitted, false},
		{"X-Auto-Response-Suppress DR RN", pol, []string{person, rp, "X-Auto-Response-Suppress: DR, RN, NRN"}, "", false},
		{"multipart/report", pol, []string{person, rp, `Content-Type: multipart/report; report-type=delivery-status; boundary="b"`}, WhyBounce, false},
		{"null return path", pol, []string{person, "Return-Path: <>"}, WhyBounce, false},
		{"empty return path", pol, []string{person, "Return-Path:"}, WhyBounce, false},
		{"MAILER-DAEMON", pol, []string{"From: MAILER-DAEMON@mx.kensetsu.example (Mail Delivery System)", rp}, WhyBounce, false},
		{"postmaster", pol, []string{"From: Postmaster <postmaster@kensetsu.example>", rp}, WhyBounce, false},
		{"noreply", pol, []string{"From: noreply@esp.example", rp}, WhyRobotAddress, false},
		{"no-reply capitals", pol, []string{"From: No-Reply <No-Reply@esp.example>", rp}, WhyRobotAddress, false},
		{"do-not-reply", pol, []string{"From: do-not-reply@esp.example", rp}, WhyRobotAddress, false},
		{"donotreply", pol, []string{"From: DoNotReply@esp.example", rp}, WhyRobotAddress, false},
		{"bounce", pol, []string{"From: bounce@esp.example", rp}, WhyRobotAddress, false},
		{"noreply +tag", pol, []string{"From: noreply+notice-42@esp.example", rp}, WhyRobotAddress, false},
		{"NOREPLY +Tag", pol, []string{"From: NOREPLY+Tag@esp.example", rp}, WhyRobotAddress, false},
		{"mailer-daemon +tag", pol, []string{"From: mailer-daemon+x@esp.example", rp}, WhyBounce, false},
		{"VERP bounce return path", pol, []string{person, "Return-Path: <bounce-1234-yamada@esp.example>"}, WhyRobotAddress, false},
		{"noreply only in the name", pol, []string{`From: "noreply" <yamada@kensetsu.example>`, rp}, "", false},
		{"own address", pol, []string{"From: hosho@pref.shimane.example", rp}, WhyOwnAddress, false},
		{"own address other case", pol, []string{"From: 技術管理課 <HoSho@Pref.Shimane.Example>", rp}, WhyOwnAddress, false},
		{"own address as return path", pol, []string{person, "Return-Path: <HOSHO@pref.shimane.example>"}, WhyOwnAddress, false},
		{"no From", pol, []string{rp, "Subject: x"}, WhyNoSender, false},
		{"From not an address", pol, []string{"From: 山田", rp}, WhyNoSender, false},
		{"X-Autoreply (inbound's rule)", pol, []string{person, rp, "X-Autoreply: yes"}, WhyAutoSubmitted, true},

		{"auth dmarc pass", auth, []string{person, rp, "Authentication-Results: mx.pref.shimane.example; dkim=fail; spf=softfail; dmarc=pass header.from=kensetsu.example"}, "", false},
		{"auth dkim pass", auth, []string{person, rp, "Authentication-Results: mx.pref.shimane.example; dkim=pass header.d=kensetsu.example"}, "", false},
		{"auth spf pass with version and comments", auth, []string{person, rp, "Authentication-Results: mx.pref.shimane.example 1; (checked) spf=pass (sender SPF authorized) smtp.mailfrom=kensetsu.example"}, "", false},
		{"auth quoted authserv-id, other case", auth, []string{person, rp, `Authentication-Results: "MX.Pref.Shimane.Example"; dkim/1=pass header.d=Kensetsu.example`}, "", false},
		{"auth all fail", auth, []string{person, rp, "Authentication-Results: mx.pref.shimane.example; dkim=fail; spf=fail; dmarc=fail"}, WhyNotAuthenticated, false},
		{"auth none", auth, []string{person, rp, "Authentication-Results: mx.pref.shimane.example; none"}, WhyNotAuthenticated, false},
		{"auth missing", auth, []string{person, rp}, WhyNotAuthenticated, false},
		{"auth forged by another authserv-id", auth, []string{person, rp, "Authentication-Results: mx.kensetsu.example; dmarc=pass; dkim=pass; spf=pass"}, WhyNotAuthenticated, false},
		{"auth forged beside our fail", auth, []string{person, rp,
			"Authentication-Results: mx.pref.shimane.example; spf=fail; dmarc=fail",
			"Authentication-Results: evil.example; dmarc=pass"}, WhyNotAuthenticated, false},
		{"auth forged with our id below ours", auth, []string{person, rp,
			"Authentication-Results: mx.pref.shimane.example; spf=fail; dmarc=fail",
			"Authentication-Results: mx.pref.shimane.example; dmarc=pass"}, WhyNotAuthenticated, false},
		{"auth pass in a comment only", auth, []string{person, rp, "Authentication-Results: mx.pref.shimane.example; spf=fail (dmarc=pass)"}, WhyNotAuthenticated, false},
		{"auth id as a prefix only", auth, []string{person, rp, "Authentication-Results: mx.pref.shimane.example.evil.example; dmarc=pass"}, WhyNotAuthenticated, false},
		{"auth required, no id configured", Policy{RequireAuthResults: true}, []string{person, rp, "Authentication-Results: mx.pref.shimane.example; dmarc=pass"}, WhyNotAuthenticated, false},
		{"auth pass but auto-submitted", auth, []string{person, rp, "Auto-Submitted: auto-replied", "Authentication-Results: mx.pref.shimane.example; dmarc=pass"}, WhyAutoSubmitted, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := readMsg(t, tt.headers...)
			ok, why := Should(m, Authenticate(m, tt.p), tt.p)
			if ok != (tt.want == "") || why != tt.want {
				t.Errorf("Should(%q) = %v, %q, want %v, %q", tt.headers, ok, why, tt.want == "", tt.want)
			}
			if tt.inboundOnly {
				return
			}
			// The rule is Should's own: it holds for a message built without inbound's Classes.
			m.Classes = nil
			if ok2, why2 := Should(m, Authenticate(m, tt.p), tt.p); ok2 != ok || why2 != why {
				t.Errorf("Should(%q) without Classes = %v, %q, want %v, %q", tt.headers, ok2, why2, ok, why)
			}
		})
	}
}

func TestShouldNil(t *testing.T) {
	if ok, why := Should(nil, Auth{}, Policy{}); ok || why != WhyNoSender {
		t.Errorf("Should(nil) = %v, %q, want false, %q", ok, why, WhyNoSender)
	}
}

func TestParseAuthResults(t *testing.T) {
	id, res := parseAuthResults(`mx.example 1; (c; with; semicolons) dkim=pass (good "sig") header.d="a;b"; spf = softfail; dmarc=PASS`)
	if id != "mx.example" {
		t.Errorf("authserv-id = %q, want mx.example", id)
	}
	want := []authResult{{"dkim", "pass", map[string]string{"header.d": "a;b"}}, {"spf", "softfail", map[string]string{}}, {"dmarc", "pass", map[string]string{}}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("results = %v, want %v", res, want)
	}
	// Exchange Online's form: no authserv-id, and the tenant's domain after a ";" here and there.
	id, res = parseAuthResults("spf=pass (sender IP is 203.0.113.5) smtp.mailfrom=kensetsu.example; pref.shimane.example; dkim=pass (signature was verified) header.d=kensetsu.example;pref.shimane.example; dmarc=pass action=none header.from=kensetsu.example;compauth=pass reason=100")
	want = []authResult{{"spf", "pass", map[string]string{"smtp.mailfrom": "kensetsu.example"}}, {"dkim", "pass", map[string]string{"header.d": "kensetsu.example"}},
		{"dmarc", "pass", map[string]string{"header.from": "kensetsu.example"}}, {"compauth", "pass", map[string]string{}}}
	if id != "" || !reflect.DeepEqual(res, want) {
		t.Errorf("Exchange Online's field: authserv-id %q, results %v; want none, %v", id, res, want)
	}
}
