package intake

import "testing"

func TestAnswersUs(t *testing.T) {
	const agency = "denshi-shosho@pref.shimane.example"
	for _, tc := range []struct {
		inReplyTo string
		refs      []string
		want      bool
	}{
		{"<20260615.abc@pref.shimane.example>", nil, true},
		{"", []string{"<x@gmail.example>", "<20260615.abc@PREF.SHIMANE.EXAMPLE>"}, true},
		{"<x@gmail.example>", nil, false},
		{"<x@evil-pref.shimane.example>", nil, false},
		{"", nil, false},
	} {
		if got := answersUs(tc.inReplyTo, tc.refs, agency); got != tc.want {
			t.Errorf("answersUs(%q, %q) = %v, want %v", tc.inReplyTo, tc.refs, got, tc.want)
		}
	}
}
