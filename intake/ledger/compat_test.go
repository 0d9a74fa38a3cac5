package ledger_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/config"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/outbox"
	"hosho-intake/intake/reply"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// stateV1 is a state directory written by commit 5500cbd, before the schemas of the
// ledger, the outbox, the reply limiter and the verification queue moved to verifier/store:
// every owner at schema version 1, one record of each. Never regenerate it with newer code:
// it is what an agency's existing file looks like.
const stateV1 = "testdata/state-v1"

var writeV1 = flag.Bool("write-state-v1", false, "write "+stateV1+" (only with the code of commit 5500cbd)")

var v1Time = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

var v1Raw = []byte("Message-ID: <v1@contractor.example.jp>\r\nFrom: a@contractor.example.jp\r\nSubject: notice\r\n\r\nbody\r\n")

var v1Notice = parser.Notice{Category: "前払金保証", ContractNumber: "1234567890", AuthKey: "ABCD1234",
	ProjectName: "道路改良工事", Orderer: "市", Guarantor: "東日本建設業保証株式会社", Source: "body"}

func v1SMTP() outbox.Options {
	return outbox.Options{SMTP: config.SMTP{Addr: config.HostPort{Host: "127.0.0.1", Port: "25"}, TLS: config.TLSNone, Auth: config.AuthNone},
		HelloName: "intake.example.jp", Now: func() time.Time { return v1Time }}
}

func v1Outbound() outbox.Message {
	return outbox.Message{Kind: "reply", From: "intake@agency.example.jp", To: []string{"a@contractor.example.jp"},
		Raw: []byte("Message-ID: <r1@agency.example.jp>\r\nSubject: re\r\n\r\nok\r\n"), Ref: 1}
}

// writeStateV1 makes stateV1 with the code of the day.
func writeStateV1(t *testing.T) {
	if err := os.RemoveAll(stateV1); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(stateV1, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	db := l.DB()
	ob, err := outbox.Open(db, v1SMTP())
	if err != nil {
		t.Fatal(err)
	}
	lim, err := reply.OpenLimiter(db, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	q, err := verifier.OpenQueue(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &ledger.Entry{Mailbox: "INBOX", UIDValidity: 7, UID: 3, MessageID: "<v1@contractor.example.jp>",
		Digest: ledger.Digest(v1Raw), Size: int64(len(v1Raw)), TakenAt: v1Time, Outcome: "notices", Notices: 1}
	err = l.Record(e, v1Raw, func(tx *bolt.Tx, e *ledger.Entry) error {
		d := verifier.Decision{Outcome: verifier.OutcomeQueued, Reasons: []string{}, Kind: verifier.KindWorks}
		if _, err := q.Submit(tx, v1Notice, d, verifier.Meta{Entry: e.ID, Sender: "a@contractor.example.jp",
			MessageID: e.MessageID, Received: v1Time}); err != nil {
			return err
		}
		if why, err := lim.Allow(tx, "a@contractor.example.jp", v1Time); err != nil || why != "" {
			return fmt.Errorf("Allow = %q, %v", why, err)
		}
		_, err := ob.Enqueue(tx, v1Outbound())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Advance("INBOX", 7, 3); err != nil {
		t.Fatal(err)
	}
}

// copyState copies stateV1 to a new directory with the modes Open makes.
func copyState(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	err := filepath.WalkDir(stateV1, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(stateV1, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// dump is every key and value of the file, buckets nested as "a/b", values as bytes.
func dump(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				out[prefix+string(k)+"/"] = "bucket"
				return walk(prefix+string(k)+"/", b.Bucket(k))
			}
			out[prefix+string(k)] = string(v)
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)+"/"] = "bucket"
			return walk(string(name)+"/", b)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStateV1 opens a state file written before the schemas moved, through every owner of
// buckets: it opens, nothing is migrated or lost, and each owner reads its records.
func TestStateV1(t *testing.T) {
	if *writeV1 {
		writeStateV1(t)
	}
	dir := copyState(t)
	path := filepath.Join(dir, ledger.DBName)
	before := dump(t, path)
	for _, owner := range []string{"ledger", "outbox", "reply", "verifier"} {
		if v := before["meta/"+owner]; v != "\x00\x00\x00\x01" {
			t.Fatalf("%s: meta/%s = %q, want version 1", stateV1, owner, v)
		}
	}

	l, err := ledger.Open(dir, ledger.Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v", stateV1, err)
	}
	defer l.Close()
	db := l.DB()
	ob, err := outbox.Open(db, v1SMTP())
	if err != nil {
		t.Fatalf("outbox.Open = %v", err)
	}
	lim, err := reply.OpenLimiter(db, 1, 1000)
	if err != nil {
		t.Fatalf("OpenLimiter = %v", err)
	}
	q, err := verifier.OpenQueue(db, nil)
	if err != nil {
		t.Fatalf("OpenQueue = %v", err)
	}

	e, err := l.Get(1)
	if err != nil {
		t.Fatalf("Get(1) = %v", err)
	}
	if e.MessageID != "<v1@contractor.example.jp>" || e.UID != 3 || !e.TakenAt.Equal(v1Time) {
		t.Errorf("Get(1) = %+v, want the recorded entry", e)
	}
	if raw, err := l.Raw(1); err != nil || !bytes.Equal(raw, v1Raw) {
		t.Errorf("Raw(1) = %q, %v, want %q", raw, err, v1Raw)
	}
	if c, err := l.Cursor("INBOX"); err != nil || c.UIDValidity != 7 || c.LastUID != 3 {
		t.Errorf("Cursor(INBOX) = %+v, %v, want 7/3", c, err)
	}
	if s, err := l.Stats(); err != nil || s.Messages != 1 {
		t.Errorf("Stats = %+v, %v, want 1 message", s, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		s, err := q.Get(tx, 1)
		if err != nil || s.Notice != v1Notice || s.State != verifier.StateQueued {
			t.Errorf("queue Get(1) = %+v, %v, want the queued notice", s, err)
		}
		m, state, err := ob.Get(tx, 1)
		if err != nil || state != outbox.StatePending || !reflect.DeepEqual(m.Raw, v1Outbound().Raw) {
			t.Errorf("outbox Get(1) = %+v, %q, %v, want the pending reply", m, state, err)
		}
		// The sender's reply an hour ago still counts: the limiter kept its times.
		if why, err := lim.Allow(tx, "a@contractor.example.jp", v1Time.Add(time.Minute)); err != nil || why != reply.WhyRateLimited {
			t.Errorf("Allow = %q, %v, want %s", why, err, reply.WhyRateLimited)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// What the owners' later steps add, and nothing else: verifier step 2, the bucket of
	// the contract register imported on the clerks' page.
	want := maps.Clone(before)
	want["meta/verifier"] = "\x00\x00\x00\x02"
	want["verifier-register/"] = "bucket"
	after := dump(t, path)
	if !reflect.DeepEqual(after, want) {
		for k, v := range after {
			if want[k] != v {
				t.Errorf("after opening: %q = %q, want %q (was %q)", k, v, want[k], before[k])
			}
		}
		for k, v := range want {
			if _, ok := after[k]; !ok {
				t.Errorf("after opening: %q gone, want %q", k, v)
			}
		}
	}
}

var errRollback = errors.New("roll back")
