package reply

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"

	"hosho-intake/intake/inbound"
	"hosho-intake/parser"
)

// The header fields a reply has; anything else in its header was injected.
var replyFields = map[string]bool{
	"Date": true, "From": true, "To": true, "Subject": true, "Message-ID": true, "In-Reply-To": true,
	"References": true, "Auto-Submitted": true, "X-Auto-Response-Suppress": true, "MIME-Version": true,
	"Content-Type": true, "Content-Transfer-Encoding": true,
}

// checkHeader fails when raw's header holds a field a reply does not write, a field twice, or
// a line that is neither a field nor a continuation (RFC 5322 §2.2).
func checkHeader(t *testing.T, raw []byte) {
	t.Helper()
	head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no end of header in %q", raw)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(head), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("bare CR or LF in header line %q", line)
		}
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			if line == "" || strings.TrimSpace(line) == "" {
				t.Fatalf("empty header line in %q", head)
			}
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok || !replyFields[name] || seen[name] {
			t.Fatalf("injected or repeated header line %q in\n%s", line, head)
		}
		seen[name] = true
	}
	if _, err := mail.ReadMessage(bytes.NewReader(raw)); err != nil {
		t.Fatalf("net/mail cannot read the reply: %v", err)
	}
}

// FuzzReply feeds hostile header values to Should and Compose, both through inbound.Read and
// straight into an inbound.Message (where CR and LF survive): nothing may panic, and no value may
// make a header line of its own.
func FuzzReply(f *testing.F) {
	f.Add("認証キー送付", "山田 太郎", "yamada@kensetsu.example", "<a@b.example>", "Kx7Qp1m2Zt", "県道工事", "auto-replied", "mx.example; dmarc=pass")
	f.Add("Re: x\r\nBcc: victim@example.com", "a\r\nBcc: v@example.com", "a@b.example", "<x@y>\r\nBcc: z@w", "AB", "\r\n", "no", "")
	f.Add("=?UTF-8?B?5pel5pys?=\n\tX-Evil: 1", "\"quoted\\\" name\"", "\"odd local\"@b.example", "<>", "", "", "", "mx.example (;) spf=pass")
	f.Add(strings.Repeat("長", 500), strings.Repeat("x", 300), "noreply+a@b.example", strings.Repeat("<a@b>", 50), "ABCDEFGHIJKLMNOP", "", "No", "\"mx.example\"; dkim=pass")
	f.Add("\x00\x1b$B\x7f\u202e\u2028", "\xff\xfe", "a@b.example", "<a@b>", "ABCDEFGH", "ＡＢＣ", "auto-generated (x", "mx.example; dmarc")
	cu := composer(f, Options{})
	cj := composer(f, Options{Charset: "iso-2022-jp"})
	pol := Policy{AgencyAddress: "hosho@pref.shimane.example", RequireAuthResults: true, AuthservID: "mx.example"}
	f.Fuzz(func(t *testing.T, subject, name, from, msgid, key, project, autoSubmitted, authResults string) {
		raw := "From: " + name + " <" + from + ">\r\nSubject: " + subject + "\r\nMessage-ID: " + msgid +
			"\r\nReferences: " + msgid + "\r\nAuto-Submitted: " + autoSubmitted +
			"\r\nAuthentication-Results: " + authResults + "\r\n\r\nbody\r\n"
		read, err := inbound.Read(strings.NewReader(raw), inbound.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		direct := &inbound.Message{
			Subject: subject, From: from, FromName: name, MessageID: msgid, References: []string{msgid, "<ok@x>"},
			ReturnPath: from, Header: inbound.Header{{Name: "Auto-Submitted", Value: autoSubmitted}, {Name: "Authentication-Results", Value: authResults}},
		}
		items := []Item{{
			Notice:   parser.Notice{AuthKey: key, ProjectName: project, Category: project, ContractNumber: key, Orderer: name},
			Tracking: "R-" + key, Outcome: OutcomeRejected, Reasons: []string{"orderer_mismatch", subject}, ClerkReason: subject,
		}}
		for _, m := range []*inbound.Message{read, direct} {
			Should(m, Authenticate(m, pol), pol)
			for _, c := range []*Composer{cu, cj} {
				r, err := c.Compose(Input{
					Received: m, Items: items, Problems: []parser.Problem{{Code: project, Attachment: name}},
					AgencyName: name + "課", AgencyAddress: "hosho@pref.shimane.example", Signature: subject,
					Now: time.Date(2025, 10, 1, 9, 0, 0, 0, time.UTC),
				})
				if err != nil {
					continue // no usable recipient: no reply
				}
				checkHeader(t, r.Raw)
				if k := strings.TrimSpace(key); len([]rune(k)) >= 6 && bytes.Contains(r.Raw, []byte(k)) && !strings.Contains(Mask(k), k) {
					// The key may appear by coincidence in base64 or encoded words only if it is
					// plain ASCII text of the header; the decoded text must never hold it.
					if strings.Contains(r.Text, k) || strings.Contains(r.Subject, k) {
						t.Fatalf("key %q unmasked in the reply", k)
					}
				}
				if strings.ContainsAny(r.Subject, "\r\n") {
					t.Fatalf("Subject %q holds a line break", r.Subject)
				}
			}
		}
	})
}
