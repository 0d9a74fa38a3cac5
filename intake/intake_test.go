package intake_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"hosho-intake/intake"
	"hosho-intake/intake/inbound"
	"hosho-intake/intake/samplemail"
)

// TestReadScenarios reads every generated scenario mail and checks the notices and problem
// codes found against what the scenario says a correct reader finds.
func TestReadScenarios(t *testing.T) {
	set, err := samplemail.Set(7)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range set {
		t.Run(s.Name, func(t *testing.T) {
			raw, err := s.Mail.Bytes()
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
			if !slices.Equal(codes, s.Problems) {
				t.Errorf("problems = %+v, want codes %v", c.Problems, s.Problems)
			}
			if len(c.Notices) != len(s.Notices) {
				t.Fatalf("notices = %+v, want %+v", c.Notices, s.Notices)
			}
			for i := range s.Notices {
				if c.Notices[i] != s.Notices[i] {
					t.Errorf("notice %d = %+v, want %+v", i, c.Notices[i], s.Notices[i])
				}
			}
			if c.NoReply() == s.Reply {
				t.Errorf("NoReply() = %v, want %v", c.NoReply(), !s.Reply)
			}
		})
	}
}
