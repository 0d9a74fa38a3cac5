package ledger

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// movedEntry is an entry with every field filled, the strings given.
func movedEntry(mailbox, subject, from string, validity, uid uint32, moved bool) *Entry {
	at := time.Date(2026, 6, 2, 9, 14, 7, 0, time.UTC)
	return &Entry{ID: 7, Mailbox: mailbox, UIDValidity: validity, UID: uid, MessageID: "a@b", Digest: Digest([]byte(subject)),
		From: from, Subject: subject, Date: at, Size: 1234, TakenAt: at, Outcome: "notices", Notices: 1,
		Problems: []string{"zip_attachment"}, NoReplyWhy: "rate_limit", Moved: moved, Raw: "seg-00000001.raw:0:10",
		Images: []ImageRef{{Attachment: "n.pdf", Page: 1, Ref: "seg-00000001.raw:10:5", Digest: "x"}}, Reprocessed: []time.Time{at}}
}

// checkMovedInPlace: when movedInPlace takes an entry, what it writes reads as the entry
// moved, and its location is the entry's; taken, when not nil, says whether it must.
func checkMovedInPlace(t *testing.T, e *Entry, taken *bool) {
	t.Helper()
	v, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	out, loc, ok := movedInPlace(v)
	if taken != nil && ok != *taken {
		t.Fatalf("movedInPlace(%s) taken %v, want %v", v, ok, *taken)
	}
	if !ok {
		return
	}
	var got Entry
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("movedInPlace(%s) wrote %s: %v", v, out, err)
	}
	moved := *e
	moved.Moved = true
	if !reflect.DeepEqual(&got, &moved) {
		t.Fatalf("movedInPlace(%s) wrote %s, which reads\n%+v\nwant\n%+v", v, out, got, moved)
	}
	if string(loc) != string(uidKey(e.Mailbox, e.UIDValidity, e.UID)) {
		t.Fatalf("movedInPlace(%s) location %q, want %q", v, loc, uidKey(e.Mailbox, e.UIDValidity, e.UID))
	}
}

func TestMovedInPlace(t *testing.T) {
	aliased := movedEntry("INBOX", "s", "f", 1, 2, false)
	aliased.Aliases = []Alias{{Mailbox: "INBOX", UIDValidity: 3, UID: 4}}
	for _, c := range []struct {
		name  string
		e     *Entry
		taken bool
	}{
		{"plain", movedEntry("INBOX", "認証キー等のお知らせ", "a@b.example", 1, 2, false), true},
		{"quotes in the subject", movedEntry("INBOX", `"moved":false,"mailbox":"X","uid":9}`, `"uid":1,`, 1, 2, false), true},
		{"Japanese mailbox", movedEntry("受信箱", "s", "f", 4294967295, 4294967295, false), true},
		{"mailbox that needs escapes", movedEntry(`a"b\c<d>`, "s", "f", 1, 2, false), false},
		{"already moved", movedEntry("INBOX", "s", "f", 1, 2, true), false},
		{"aliases", aliased, false},
		{"subject aliases", movedEntry("INBOX", "aliases", "f", 1, 2, false), false},
	} {
		t.Run(c.name, func(t *testing.T) { checkMovedInPlace(t, c.e, &c.taken) })
	}
	// Older entries: fields missing, in another order, or unknown here.
	for _, v := range []string{`{"uid":2,"moved":false,"mailbox":"INBOX","uidvalidity":1}`, `{"id":1,"mailbox":"INBOX","uidvalidity":1,"uid":2,"moved":false,"old":[1,2]}`} {
		out, loc, ok := movedInPlace([]byte(v))
		var e Entry
		if !ok || json.Unmarshal(out, &e) != nil || !e.Moved || string(loc) != string(uidKey("INBOX", 1, 2)) {
			t.Errorf("movedInPlace(%s) = %s, %q, %v", v, out, loc, ok)
		}
	}
	for _, v := range []string{``, `{}`, `{"mailbox":"INBOX","uidvalidity":1,"uid":2}`, `{"mailbox":"INBOX","uidvalidity":1,"uid":-2,"moved":false}`,
		`{"mailbox":"INBOX","uidvalidity":99999999999,"uid":2,"moved":false}`, `{"mailbox":"INBOX","uidvalidity":1,"uid":2,"moved":false,"moved":false}`} {
		if _, _, ok := movedInPlace([]byte(v)); ok {
			t.Errorf("movedInPlace(%s) taken", v)
		}
	}
}

// FuzzMovedInPlace: whatever the strings of an entry, movedInPlace either declines or
// writes exactly the entry moved.
func FuzzMovedInPlace(f *testing.F) {
	f.Add("INBOX", "認証", `"moved":false`, uint32(1), uint32(2), false)
	f.Add(`a"b`, `\"mailbox\":\"x\"`, "f", uint32(1), uint32(2), true)
	f.Fuzz(func(t *testing.T, mailbox, subject, from string, validity, uid uint32, withAlias bool) {
		e := movedEntry(mailbox, subject, from, validity, uid, false)
		if withAlias {
			e.Aliases = []Alias{{Mailbox: mailbox, UIDValidity: uid, UID: validity}}
		}
		// Strings as encoding/json reads them back (invalid UTF-8 becomes U+FFFD).
		v, _ := json.Marshal(e)
		var back Entry
		if err := json.Unmarshal(v, &back); err != nil {
			t.Fatal(err)
		}
		checkMovedInPlace(t, &back, nil)
	})
}
