package reply

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hosho-intake/intake/inbound"
	"hosho-intake/parser/testkit"
)

// TestSamples checks Should against the shared corpus' should_reply, and that every message to
// be answered can be answered (a usable sender, a reply that composes).
func TestSamples(t *testing.T) {
	dir := testkit.Samples(t, "eml")
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml*"))
	if len(files) == 0 {
		t.Skip("no shared samples")
	}
	c := composer(t, Options{})
	for _, f := range files {
		base := filepath.Base(f)
		stem := strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".eml")
		tb, err := os.ReadFile(filepath.Join(dir, stem+".truth.json"))
		if err != nil {
			continue
		}
		var truth struct {
			ShouldReply *bool `json:"should_reply"`
		}
		if err := json.Unmarshal(tb, &truth); err != nil || truth.ShouldReply == nil {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = fh
		if strings.HasSuffix(f, ".gz") {
			if r, err = gzip.NewReader(fh); err != nil {
				t.Fatal(err)
			}
		}
		m, err := inbound.Read(r, inbound.Limits{})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		pol := Policy{AgencyAddress: "hosho@pref.shimane.example"}
		ok, why := Should(m, Authenticate(m, pol), pol)
		if ok != *truth.ShouldReply {
			t.Errorf("%s: Should = %v (%s), want %v", base, ok, why, *truth.ShouldReply)
			continue
		}
		if !ok {
			continue
		}
		in := input(m.Subject, nil, m.Problems...)
		in.Received = m
		rep, err := c.Compose(in)
		if err != nil {
			t.Errorf("%s: Compose: %v", base, err)
			continue
		}
		parseReply(t, rep.Raw)
	}
}
