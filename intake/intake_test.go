package intake_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"hosho-intake/intake"
	"hosho-intake/intake/inbound"
	"hosho-intake/intake/samplemail"
	"hosho-intake/parser"
)

// TestReadScenarios reads every generated scenario mail and checks the notices and problem
// codes found against what the scenario says a correct reader finds.
func TestReadScenarios(t *testing.T) {
	set, err := samplemail.Set(7)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range set {
		t.Run(s.Name, func(t *testing.T) { checkScenario(t, s) })
	}
}

// readMail reads m as the poll would, and the codes of its problems.
func readMail(t *testing.T, m samplemail.Mail) (*intake.Contents, []string) {
	t.Helper()
	raw, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	c, err := intake.Read(context.Background(), bytes.NewReader(raw), inbound.DefaultLimits(), intake.InProcess{})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, p := range c.Problems {
		codes = append(codes, p.Code)
	}
	return c, codes
}

// checkScenario reads a scenario's mail and compares the notices, the problem codes and
// whether it is answered with what the scenario says a correct reader finds.
func checkScenario(t *testing.T, s samplemail.Scenario) {
	t.Helper()
	c, codes := readMail(t, s.Mail)
	if !slices.Equal(codes, s.Problems) {
		t.Errorf("problems = %+v, want codes %v", c.Problems, s.Problems)
	}
	if len(c.Notices) != len(s.Notices) {
		t.Fatalf("notices = %+v, want %+v\ntexts: %q", c.Notices, s.Notices, c.Message.Texts)
	}
	for i := range s.Notices {
		if c.Notices[i] != s.Notices[i] {
			t.Errorf("notice %d = %+v, want %+v", i, c.Notices[i], s.Notices[i])
		}
	}
	if c.NoReply() == s.Reply {
		t.Errorf("NoReply() = %v, want %v", c.NoReply(), !s.Reply)
	}
}

// TestReadTypingMistakes: a number and key typed with a mistake is asked to be checked
// (invalid_key), never queued as a notice nor answered "nothing found"; beside a good body
// notice, or a plain question, there is no such problem.
func TestReadTypingMistakes(t *testing.T) {
	tests := []struct {
		name, body string
		notices    int
		codes      []string
	}{
		{"key of a length nobody issues", "保証契約番号：2070004426\n認証キー：43H5ZEOH3\n", 0, []string{parser.CodeInvalidKey}},
		{"key mixing case", "保証機関：東日本建設業保証株式会社\n保証契約番号：2070004426\n認証キー：43H5efgH3h\n", 0, []string{parser.CodeInvalidKey}},
		{"number of 9 digits", "保証契約番号：207000442\n認証キー：43H5ZEOH3X\n", 0, []string{parser.CodeInvalidKey}},
		{"a good notice", "保証契約番号：2070004426\n認証キー：43H5ZEOH3X\n", 1, nil},
		// Issue 18: the second line is read, the first is named, not dropped.
		{"two lines, one key unreadable", "保証番号:2070000401 認証キー:ab12-cd34-ef\n保証番号:2070000402 認証キー:ZZ99YY88XX\n", 1, []string{parser.CodeInvalidKey}},
		{"a question", "紙の保証証書も別途郵送が必要か教えてください。\n", 0, []string{parser.CodeNoNotice}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, codes := readMail(t, samplemail.Mail{From: "yamada@kensetsu.example", To: "denshi@pref.shimane.example", Subject: "電子証書", Body: tt.body})
			if len(c.Notices) != tt.notices || !slices.Equal(codes, tt.codes) {
				t.Errorf("Read(%q) = %d notices, problems %v; want %d, %v", tt.body, len(c.Notices), codes, tt.notices, tt.codes)
			}
		})
	}
}

// TestReadTyped reads the generated mails whose notices are typed in the body (issue 11's
// shapes, in text/plain and HTML-only bodies) and checks notices and problem codes.
func TestReadTyped(t *testing.T) {
	for _, s := range samplemail.Typed(3) {
		t.Run(s.Name, func(t *testing.T) { checkScenario(t, s) })
	}
}
