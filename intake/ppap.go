package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/unicode/norm"

	"hosho-intake/intake/inbound"
	"hosho-intake/intake/ledger"
	"hosho-intake/intake/reply"
	"hosho-intake/parser"
	"hosho-intake/verifier"
	"hosho-intake/verifier/store"
)

// PPAP: a password ZIP mailed first, its password in the sender's next mail (issue 13).
//
// A message whose only findings are password ZIPs (inbound.Message.Locked) from a sender who may
// be answered is not answered at once: its ZIPs wait for a password, in the message's own
// transaction, for PPAP.Wait. A later message that states a password (Passwords) and comes
// from the same sender (the same address; or the same domain and a reference to the first mail,
// In-Reply-To, References, or its subject inside one that names a password: パスワード, PW, 解凍,
// 暗号, password) is paired with it in its
// own transaction, and is not answered either. A password mail that comes first waits the
// same way for its ZIP. The pairing is a row of ppap-pairs; Step, after each poll and outside
// any transaction, opens the ZIP with the stated passwords (inbound.Unlock: the same bounds as
// any ZIP), reads its PDFs through the same isolated readers and per-message budget as any
// message, and in one transaction that first checks the pair is still there: files the notices
// as the first message's, writes the one reply to the first message, and deletes the pair, the
// ZIP and the passwords. A crash before that commit repeats the step; after it, nothing is left
// to repeat. A wrong password is answered (to the password mail) and the ZIP waits on until its
// time ends; a ZIP or a password whose time ends is answered once and dropped.
//
// Trust (README "Trust"): only senders reply.Should admits take part (an unauthenticated
// sender, where the agency's server can tell, is handled as before: not answered), and the
// password mail must come from the ZIP's sender, so a stranger can neither open someone's ZIP
// nor make the agency write to anyone the ZIP's sender did not write from.
//
// Buckets (schema "intake.ppap"): ppap-zips and ppap-keys, by ledger entry (store.BE64), each a
// JSON ppapMail; ppap-files, by the ZIP mail's entry, a JSON ppapFiles (the locked files' bytes
// and the mail's text, read only to unlock or answer it, never to pair); ppap-zip-domains and
// ppap-key-domains, lower-cased sender domain, 0x00, BE64(entry), empty values, so that pairing
// reads only the waiting mails of the sender's own domain (issue 14: decoding the whole backlog,
// files included, for each new mail made a flood of password ZIPs cost quadratically);
// ppap-pairs, BE64(ZIP entry)+BE64(password entry), empty values. Passwords are kept only
// there, only while they wait, and never logged, put in a digest or a reply.
//
// At most ppapWaitPerDomain mails of each kind wait per sender domain: past it a new one takes
// the usual path (a password ZIP is answered password_zip at once), so a stranger's flood
// cannot grow the waiting set of one domain without end.
type PPAP struct {
	DB      *bolt.DB
	Effects *Effects
	PDFs    PDFReader
	Budget  Budget
	Limits  inbound.Limits
	// Wait is how long a password ZIP waits for its password, and a password for its ZIP.
	Wait time.Duration
	Log  *slog.Logger
	// Readers is how many pairs Step reads at once (the PDF workers); 0 is one.
	Readers int
}

// Codes of the replies PPAP writes (README, problem codes).
const (
	CodePasswordUnlocked = "password_unlocked" // the ZIP was opened with the password of the next mail
	CodeWrongPassword    = inbound.CodeWrongPassword
	CodePasswordExpired  = "password_expired"      // no password came within the wait
	CodePasswordNoFile   = "password_without_file" // a password came, and no password ZIP within the wait
)

// Ledger outcomes and reasons for not answering at once.
const (
	OutcomeAwaitingPassword = "awaiting_password"
	OutcomePasswordMail     = "password_mail"
	whyAwaitingPassword     = "awaiting_password"
	whyPasswordMail         = "password_mail"
)

const (
	ppapOwner   = "intake.ppap"
	zipsBucket  = "ppap-zips"
	keysBucket  = "ppap-keys"
	pairBucket  = "ppap-pairs"
	filesBucket = "ppap-files"
)

// domainIndex is the bucket that indexes bucket (zipsBucket or keysBucket) by sender domain.
var domainIndex = map[string]string{zipsBucket: "ppap-zip-domains", keysBucket: "ppap-key-domains"}

// ppapWaitPerDomain bounds the mails of each kind waiting per sender domain. A contractor has a
// handful of notices in flight at once; 50 is far above that and keeps a pairing's scan small.
const ppapWaitPerDomain = 50

// PPAPSchema declares the PPAP buckets.
func PPAPSchema() store.Schema {
	return store.Schema{Owner: ppapOwner, Steps: []func(*bolt.Tx) error{
		store.CreateBuckets(zipsBucket, keysBucket, pairBucket),
		splitPPAPFiles,
	}}
}

// splitPPAPFiles (version 2) moves each waiting ZIP mail's files and text out of its record into
// ppap-files, and indexes the waiting mails by sender domain.
func splitPPAPFiles(tx *bolt.Tx) error {
	if err := store.CreateBuckets(filesBucket, domainIndex[zipsBucket], domainIndex[keysBucket])(tx); err != nil {
		return err
	}
	for _, bucket := range []string{zipsBucket, keysBucket} {
		b := tx.Bucket([]byte(bucket))
		var ids []uint64
		if err := b.ForEach(func(k, _ []byte) error { ids = append(ids, store.U64(k)); return nil }); err != nil {
			return err
		}
		for _, id := range ids {
			var v1 struct {
				ppapMail
				Zips []inbound.Locked
			}
			if _, err := store.GetJSON(b, id, &v1); err != nil {
				return fmt.Errorf("reading waiting mail %d: %w", id, err)
			}
			m := v1.ppapMail
			if bucket == zipsBucket {
				if err := store.PutJSON(tx.Bucket([]byte(filesBucket)), id, ppapFiles{Texts: m.Texts, Zips: v1.Zips}); err != nil {
					return err
				}
				m.Texts = nil
			}
			if err := store.PutJSON(b, id, m); err != nil {
				return err
			}
			if err := tx.Bucket([]byte(domainIndex[bucket])).Put(domainKey(m.From, id), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// domainPrefix is the key prefix of from's domain in a domain index.
func domainPrefix(from string) []byte {
	return append([]byte(strings.ToLower(domainOf(from))), 0)
}

func domainKey(from string, id uint64) []byte { return append(domainPrefix(from), store.BE64(id)...) }

// sameDomain lists the entries indexed under from's domain in bucket's domain index. A key
// whose length does not fit is another domain that merely starts the same way (a domain with
// a NUL in it), not counted.
func sameDomain(tx *bolt.Tx, bucket, from string) []uint64 {
	prefix := domainPrefix(from)
	var ids []uint64
	c := tx.Bucket([]byte(domainIndex[bucket])).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) == len(prefix)+8 {
			ids = append(ids, store.U64(k[len(prefix):]))
		}
	}
	return ids
}

// ppapMail is what a waiting mail keeps: enough to pair it, answer it and judge what it held.
type ppapMail struct {
	Entry      uint64
	From       string
	FromName   string
	Subject    string
	MessageID  string
	InReplyTo  string
	References []string
	Date       time.Time
	Received   time.Time
	Deadline   time.Time
	Texts      []string `json:",omitempty"` // only in memory, from ppapFiles (a version 1 record held it)
	Passwords  []string `json:",omitempty"`
}

// ppapFiles is what a waiting ZIP mail keeps apart from its ppapMail: its locked files and its
// text (for dates stated in it, and the reply).
type ppapFiles struct {
	Texts []string         `json:",omitempty"`
	Zips  []inbound.Locked `json:",omitempty"`
}

// withFiles is m with its text, and the files of the ZIP mail m.
func withFiles(tx *bolt.Tx, m ppapMail) (ppapMail, []inbound.Locked, error) {
	var f ppapFiles
	if _, err := store.GetJSON(tx.Bucket([]byte(filesBucket)), m.Entry, &f); err != nil {
		return m, nil, fmt.Errorf("reading the files of waiting mail %d: %w", m.Entry, err)
	}
	m.Texts = f.Texts
	return m, f.Zips, nil
}

func (m *ppapMail) message() *inbound.Message {
	return &inbound.Message{MessageID: m.MessageID, Subject: m.Subject, From: m.From, FromName: m.FromName, Date: m.Date,
		InReplyTo: m.InReplyTo, References: m.References, Texts: m.Texts}
}

// record is Effects' hook: it takes a ZIP mail or a password mail out of the usual path and
// reports whether it did.
func (p *PPAP) record(tx *bolt.Tx, e *ledger.Entry, c *Contents, answerable bool) (bool, error) {
	msg := c.Message
	if !answerable || len(c.Notices) > 0 || c.DecisionMail {
		return false, nil
	}
	m := ppapMail{Entry: e.ID, From: msg.From, FromName: msg.FromName, Subject: msg.Subject, MessageID: msg.MessageID,
		InReplyTo: msg.InReplyTo, References: msg.References, Date: msg.Date, Received: c.Received, Deadline: c.Received.Add(p.Wait)}
	switch {
	case len(msg.Locked) > 0:
		if n := len(sameDomain(tx, zipsBucket, msg.From)); n >= ppapWaitPerDomain {
			p.Log.Warn("password ZIP not kept waiting: too many wait from its domain", "entry", e.ID, "from", msg.From, "waiting", n)
			return false, nil
		}
		if err := p.keep(tx, zipsBucket, m); err != nil {
			return true, err
		}
		if err := store.PutJSON(tx.Bucket([]byte(filesBucket)), e.ID, ppapFiles{Texts: msg.Texts, Zips: msg.Locked}); err != nil {
			return true, err
		}
		// A password that came first (out of order) waits for this ZIP.
		if k, ok, err := p.find(tx, keysBucket, &m, c.Received); err != nil || ok {
			if err == nil {
				err = pair(tx, e.ID, k.Entry)
			}
			if err != nil {
				return true, err
			}
		}
		e.Outcome, c.NoReplyWhy = OutcomeAwaitingPassword, whyAwaitingPassword
		p.Log.Info("password ZIP waits for its password", "entry", e.ID, "from", msg.From, "until", m.Deadline)
		return true, nil
	case len(msg.Attachments) == 0:
		m.Passwords = Passwords(msg.Texts)
		if len(m.Passwords) == 0 {
			return false, nil
		}
		if n := len(sameDomain(tx, keysBucket, msg.From)); n >= ppapWaitPerDomain {
			p.Log.Warn("password mail not kept waiting: too many wait from its domain", "entry", e.ID, "from", msg.From, "waiting", n)
			return false, nil
		}
		if err := p.keep(tx, keysBucket, m); err != nil {
			return true, err
		}
		z, ok, err := p.find(tx, zipsBucket, &m, c.Received)
		if err != nil {
			return true, err
		}
		if ok {
			if err := pair(tx, z.Entry, e.ID); err != nil {
				return true, err
			}
		}
		e.Outcome, c.NoReplyWhy = OutcomePasswordMail, whyPasswordMail
		p.Log.Info("password mail taken in", "entry", e.ID, "from", msg.From, "paired", ok, "zip_entry", z.Entry)
		return true, nil
	}
	return false, nil
}

// keep stores the waiting mail m in bucket and its domain index.
func (p *PPAP) keep(tx *bolt.Tx, bucket string, m ppapMail) error {
	if err := store.PutJSON(tx.Bucket([]byte(bucket)), m.Entry, m); err != nil {
		return err
	}
	return tx.Bucket([]byte(domainIndex[bucket])).Put(domainKey(m.From, m.Entry), nil)
}

func pair(tx *bolt.Tx, zip, key uint64) error {
	return tx.Bucket([]byte(pairBucket)).Put(append(store.BE64(zip), store.BE64(key)...), nil)
}

// find returns the newest waiting mail of bucket from m's sender that m may be paired with. It
// reads only the mails of m's sender domain (samePPAP pairs no other), and no files.
func (p *PPAP) find(tx *bolt.Tx, bucket string, m *ppapMail, now time.Time) (ppapMail, bool, error) {
	var best ppapMail
	found := false
	for _, id := range sameDomain(tx, bucket, m.From) {
		var w ppapMail
		if ok, err := store.GetJSON(tx.Bucket([]byte(bucket)), id, &w); err != nil || !ok {
			if err != nil {
				return best, false, fmt.Errorf("reading waiting mail %d: %w", id, err)
			}
			continue
		}
		if w.Entry == m.Entry || now.After(w.Deadline) {
			continue
		}
		zip, key := &w, m
		if bucket == keysBucket {
			zip, key = m, &w
		}
		if samePPAP(zip, key) && (!found || w.Received.After(best.Received)) {
			best, found = w, true
		}
	}
	return best, found, nil
}

// samePPAP: the password mail key comes from the sender of the ZIP mail zip: the same address,
// or the same domain and a reference to the ZIP mail or its subject.
func samePPAP(zip, key *ppapMail) bool {
	if strings.EqualFold(zip.From, key.From) {
		return true
	}
	if !strings.EqualFold(domainOf(zip.From), domainOf(key.From)) || domainOf(zip.From) == "" {
		return false
	}
	if zip.MessageID != "" && (key.InReplyTo == zip.MessageID || slices.Contains(key.References, zip.MessageID)) {
		return true
	}
	// The password mail's subject names a password and holds the ZIP mail's subject, however it
	// is tagged: 「【パスワード】電子証書」, 「電子証書（パスワード通知）」, 「PW: 電子証書」. A subject
	// of under 4 characters is too common to tell one mail from another.
	zc := subjectCore(zip.Subject)
	return passwordSubject.MatchString(norm.NFKC.String(key.Subject)) && utf8.RuneCountInString(zc) >= 4 &&
		strings.Contains(subjectCore(key.Subject), zc)
}

func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }

var (
	passwordSubject = regexp.MustCompile(`(?i)パスワード|\bPW\b|解凍|暗号|password`)
	subjectNoise    = regexp.MustCompile(`(?i)^\s*((re|fw|fwd|転送)\s*:\s*)+|【[^】]*】|\[[^\]]*\]|[\s　]+`)
)

// subjectCore is a subject without Re:/Fw:, 【…】 and […] tags and spaces, NFKC-folded and
// lower-cased: 「【ファイル送付】電子証書」 and 「【パスワード通知】電子証書」 share 「電子証書」.
func subjectCore(s string) string {
	return strings.ToLower(subjectNoise.ReplaceAllString(norm.NFKC.String(s), ""))
}

var (
	passwordLabel = `(?:解凍|展開|ZIP|ファイル|添付)?\s*(?:パスワード|パスワ-ド|password|pass\s?word|passwd|PW|暗証番号|解凍キー)`
	// 「パスワード：xxxx」「PW: xxxx」「解凍パスワードは「xxxx」です」「パスワードは xxxx です」
	inlinePassword = regexp.MustCompile(`(?i)` + passwordLabel + `\s*(?:は|:|=|;)?\s*(?:[「『"'“(\[]\s*)?([\x21-\x7E]{1,64})`)
	// A line that names the password and leaves it to the next line.
	labelOnly = regexp.MustCompile(`(?i)^\s*[【\[]?\s*` + passwordLabel + `\s*[】\]]?\s*(?:[:=]|は|を)?[^\x21-\x7E]*$`)
	asciiLine = regexp.MustCompile(`^[・\-*■●◆>\s]*([\x21-\x7E]{1,64})\s*$`)
	closing   = regexp.MustCompile(`[」』"'”)\]。、．,.]+$`)
)

// Passwords are the passwords a mail's text states, as candidates to try in order: 「パスワード：xxxx」,
// 「PW: xxxx」, 「解凍パスワードは「xxxx」です」, a label line followed by the password on the next line,
// full-width characters NFKC-folded. Quoted lines (">") and the signature ("-- ") are not read.
func Passwords(texts []string) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		for _, c := range []string{s, closing.ReplaceAllString(s, "")} {
			if c != "" && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	for _, t := range texts {
		lines := strings.Split(norm.NFKC.String(t), "\n")
		for i := 0; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			if l == "--" || strings.HasPrefix(l, "-- ") {
				break
			}
			if strings.HasPrefix(l, ">") {
				continue
			}
			if labelOnly.MatchString(l) {
				for j := i + 1; j < len(lines) && j <= i+3; j++ {
					next := strings.TrimSpace(lines[j])
					if next == "" {
						continue
					}
					if m := asciiLine.FindStringSubmatch(next); m != nil {
						add(m[1])
					}
					break
				}
				continue
			}
			for _, m := range inlinePassword.FindAllStringSubmatch(l, -1) {
				add(m[1])
			}
		}
	}
	return out
}

// ppapPair is one ZIP mail and one password mail to try together.
type ppapPair struct {
	zip, key ppapMail
}

// Step unlocks the paired ZIPs and answers what waited too long. It runs after each poll, so
// that a crash between a pairing's commit and its outcome is finished by the next one, and in
// the daemon also when the earliest waiting mail's time ends (Service.runPPAP, NextDeadline),
// so that an expiry is answered on time, not at the next poll.
func (p *PPAP) Step(ctx context.Context, now time.Time) error {
	db := p.DB
	var errs []error
	var pairs []ppapPair
	var expiredZips, expiredKeys []ppapMail
	err := db.View(func(tx *bolt.Tx) error {
		zb, kb := tx.Bucket([]byte(zipsBucket)), tx.Bucket([]byte(keysBucket))
		paired := map[uint64]bool{}
		err := tx.Bucket([]byte(pairBucket)).ForEach(func(k, _ []byte) error {
			var pp ppapPair
			okz, err := store.GetJSON(zb, store.U64(k[:8]), &pp.zip)
			if err != nil {
				return err
			}
			okk, err := store.GetJSON(kb, store.U64(k[8:]), &pp.key)
			if err != nil {
				return err
			}
			paired[pp.zip.Entry], paired[pp.key.Entry] = true, true
			if okz && okk {
				pairs = append(pairs, pp)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range []struct {
			bucket *bolt.Bucket
			into   *[]ppapMail
		}{{zb, &expiredZips}, {kb, &expiredKeys}} {
			err := b.bucket.ForEach(func(k, v []byte) error {
				var m ppapMail
				if _, err := store.GetJSON(b.bucket, store.U64(k), &m); err != nil {
					return err
				}
				if now.After(m.Deadline) && !paired[m.Entry] {
					m.Passwords = nil
					*b.into = append(*b.into, m)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading waiting password ZIPs: %w", err)
	}
	if err := p.unlockAll(ctx, pairs, now); ctx.Err() != nil {
		return ctx.Err()
	} else if err != nil {
		errs = append(errs, err)
	}
	for _, m := range expiredZips {
		errs = append(errs, p.expire(m, zipsBucket, CodePasswordExpired, now))
	}
	for _, m := range expiredKeys {
		errs = append(errs, p.expire(m, keysBucket, CodePasswordNoFile, now))
	}
	return errors.Join(errs...)
}

// NextDeadline is when the earliest waiting mail that Step would answer as expired (one not
// paired) runs out of time; ok is false when none waits. The daemon sets its PPAP timer by it.
func (p *PPAP) NextDeadline() (next time.Time, ok bool, err error) {
	err = p.DB.View(func(tx *bolt.Tx) error {
		paired := map[uint64]bool{}
		err := tx.Bucket([]byte(pairBucket)).ForEach(func(k, _ []byte) error {
			paired[store.U64(k[:8])], paired[store.U64(k[8:])] = true, true
			return nil
		})
		if err != nil {
			return err
		}
		for _, name := range []string{zipsBucket, keysBucket} {
			b := tx.Bucket([]byte(name))
			err := b.ForEach(func(k, _ []byte) error {
				var m ppapMail
				if _, err := store.GetJSON(b, store.U64(k), &m); err != nil {
					return err
				}
				if !paired[m.Entry] && (!ok || m.Deadline.Before(next)) {
					next, ok = m.Deadline, true
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading waiting password ZIPs: %w", err)
	}
	return next, ok, nil
}

// OpenLocked opens a message's locked files (password ZIPs, 7z archives, PDFs that need a
// user password) with the stated passwords and reads their PDFs through pdfs within b: what
// the PPAP step does for a pair, and `inspect` for a pair of files. opened is false when no
// password opened anything.
func OpenLocked(ctx context.Context, zips []inbound.Locked, passwords []string, lim inbound.Limits, pdfs PDFReader, b Budget) (notices []parser.Notice, problems []parser.Problem, opened bool, err error) {
	var atts []inbound.Attachment
	images := readsImages(pdfs)
	lim = withSevenZip(ctx, lim, pdfs, &b)
	locked := map[int]bool{} // indexes in atts of the PDFs that needed a password
	for _, z := range zips {
		if z.PDF {
			// A PDF that needs a user password: the PDF reader opens it with the passwords.
			locked[len(atts)] = true
			atts = append(atts, inbound.Attachment{Name: path.Base(z.Path), Path: z.Path, Data: z.Data, PDF: true})
			continue
		}
		u := inbound.Unlock(z, passwords, lim)
		for _, a := range u.Attachments {
			opened = true
			if a.PDF || images && noticeImage(a) {
				atts = append(atts, a)
			}
		}
		for _, pr := range u.Problems {
			if pr.Code != parser.CodeZipAttachment && pr.Code != parser.CodePasswordZip {
				problems = append(problems, pr)
			}
		}
	}
	if !opened && len(locked) == 0 {
		return nil, problems, false, nil
	}
	docs, over, err := readPDFs(ctx, atts, pdfs, b, passwords)
	if err != nil {
		return nil, nil, false, err
	}
	for i, doc := range docs {
		if doc == nil {
			continue
		}
		if locked[i] {
			if hasProblem(doc.Problems, parser.CodeEncrypted) {
				problems = append(problems, parser.Problem{Code: inbound.CodeWrongPassword, Attachment: atts[i].Path,
					Detail: "no stated password opens the PDF"})
				continue
			}
			opened = true
		}
		for _, n := range doc.Notices {
			n.Attachment = atts[i].Path
			notices = append(notices, n)
		}
		for _, pr := range doc.Problems {
			pr.Attachment = atts[i].Path
			problems = append(problems, pr)
		}
	}
	if over != "" {
		problems = append(problems, parser.Problem{Code: parser.CodeTooSlow, Detail: over})
	}
	if len(notices) == 0 && len(problems) == 0 {
		problems = append(problems, parser.Problem{Code: parser.CodeNoNotice, Detail: "no notice in the unlocked ZIP"})
	}
	return notices, problems, opened, nil
}

// unlockedPair is one pair opened and read, waiting for its commit: its notices and
// problems, not the files (read only while opening).
type unlockedPair struct {
	pp       ppapPair
	notices  []parser.Notice
	problems []parser.Problem
	opened   bool
	err      error
}

// stepCommitMax bounds the pairs recorded in one transaction (one fsync for them all).
const stepCommitMax = 32

// unlockAll opens the pairs, at most Readers at a time (each holds one pair's files while it
// reads them through the PDF workers, so both workers stay busy), and records their outcomes
// in the pairs' order, what is ready committed together. Each pair's outcome is all-or-nothing
// as before: a crash before a commit repeats its pairs, after it none of them; when a group's
// transaction fails, its pairs are recorded one by one, so one bad pair does not hold the
// others back. The errors of the pairs are returned together.
func (p *PPAP) unlockAll(ctx context.Context, pairs []ppapPair, now time.Time) error {
	if len(pairs) == 0 {
		return nil
	}
	results := make([]chan unlockedPair, len(pairs))
	for i := range results {
		results[i] = make(chan unlockedPair, 1)
	}
	readers := make(chan struct{}, max(p.Readers, 1))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i, pp := range pairs {
			select {
			case readers <- struct{}{}:
			case <-stop:
				return
			}
			go func() {
				r := p.open(ctx, pp)
				<-readers
				results[i] <- r
			}()
		}
	}()
	var errs []error
	for i := 0; i < len(pairs); {
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		group := []unlockedPair{<-results[i]}
		i++
		for i < len(pairs) && len(group) < stepCommitMax {
			select {
			case r := <-results[i]:
				group = append(group, r)
				i++
				continue
			default:
			}
			break
		}
		var ready []unlockedPair
		for _, r := range group {
			if r.err != nil {
				errs = append(errs, r.err)
				continue
			}
			ready = append(ready, r)
		}
		errs = append(errs, p.commitUnlocked(ready, now)...)
	}
	return errors.Join(errs...)
}

// open reads one pair's ZIPs with its passwords; the files are read from the state here, so
// that only the pairs being read hold theirs.
func (p *PPAP) open(ctx context.Context, pp ppapPair) unlockedPair {
	var zips []inbound.Locked
	err := p.DB.View(func(tx *bolt.Tx) (err error) {
		pp.zip, zips, err = withFiles(tx, pp.zip)
		return err
	})
	if err != nil {
		return unlockedPair{pp: pp, err: err}
	}
	notices, problems, opened, err := OpenLocked(ctx, zips, pp.key.Passwords, p.Limits, p.PDFs, p.Budget)
	if err != nil {
		return unlockedPair{pp: pp, err: fmt.Errorf("reading the PDFs of password ZIP entry %d: %w", pp.zip.Entry, err)}
	}
	return unlockedPair{pp: pp, notices: notices, problems: problems, opened: opened}
}

// commitUnlocked records opened pairs in one transaction, or one by one when that fails.
func (p *PPAP) commitUnlocked(group []unlockedPair, now time.Time) []error {
	if len(group) == 0 {
		return nil
	}
	var logs []func()
	err := p.DB.Update(func(tx *bolt.Tx) error {
		logs = logs[:0]
		for i := range group {
			if err := p.recordUnlocked(tx, &group[i], now, &logs); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, l := range logs {
			l()
		}
		return nil
	}
	if len(group) == 1 {
		return []error{err}
	}
	var errs []error
	for _, r := range group {
		errs = append(errs, p.commitUnlocked([]unlockedPair{r}, now)...)
	}
	return errs
}

// recordUnlocked records one opened pair in tx: the pair and its password mail deleted; the
// ZIP, when it opened, deleted with its notices queued as the ZIP mail's and its reply
// written; when it did not, the sender told. What to log once committed is added to logs.
func (p *PPAP) recordUnlocked(tx *bolt.Tx, r *unlockedPair, now time.Time, logs *[]func()) error {
	pp := r.pp
	key := append(store.BE64(pp.zip.Entry), store.BE64(pp.key.Entry)...)
	f := p.Effects
	if tx.Bucket([]byte(pairBucket)).Get(key) == nil {
		return nil // done before a crash, by another step, or by an earlier pair of this ZIP
	}
	if err := tx.Bucket([]byte(pairBucket)).Delete(key); err != nil {
		return err
	}
	if err := deleteMail(tx, keysBucket, pp.key.Entry); err != nil {
		return err
	}
	if !r.opened {
		// The ZIP waits on for a right password until its time ends; the sender is told.
		*logs = append(*logs, func() {
			p.Log.Warn("stated password does not open the ZIP", "zip_entry", pp.zip.Entry, "password_entry", pp.key.Entry, "from", pp.key.From)
		})
		return p.reply(tx, &pp.key, nil, []parser.Problem{{Code: CodeWrongPassword}}, now)
	}
	if err := deleteMail(tx, zipsBucket, pp.zip.Entry); err != nil {
		return err
	}
	if err := deletePairs(tx, pp.zip.Entry); err != nil {
		return err
	}
	var filed []verifier.Filed
	for i := range r.notices {
		n := &r.notices[i]
		d := Judge(f.Policy, n, verifier.Context{Received: pp.zip.Received, Texts: pp.zip.Texts, Register: f.Register()})
		fl, err := f.Queue.Submit(tx, *n, d, verifier.Meta{Entry: pp.zip.Entry, Sender: pp.zip.From, MessageID: pp.zip.MessageID,
			Received: pp.zip.Received, At: now})
		if err != nil {
			return fmt.Errorf("filing notice %s: %w", n.ContractNumber, err)
		}
		filed = append(filed, fl)
	}
	*logs = append(*logs, func() {
		p.Log.Info("password ZIP opened", "zip_entry", pp.zip.Entry, "password_entry", pp.key.Entry, "notices", len(r.notices))
	})
	return p.reply(tx, &pp.zip, filed, append([]parser.Problem{{Code: CodePasswordUnlocked}}, r.problems...), now)
}

// expire drops a mail whose partner did not come in time, and answers it.
func (p *PPAP) expire(m ppapMail, bucket, code string, now time.Time) error {
	return p.DB.Update(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucket)).Get(store.BE64(m.Entry)) == nil {
			return nil
		}
		if bucket == zipsBucket {
			var err error
			if m, _, err = withFiles(tx, m); err != nil {
				return err
			}
		}
		if err := deleteMail(tx, bucket, m.Entry); err != nil {
			return err
		}
		p.Log.Info("waiting mail expired", "entry", m.Entry, "from", m.From, "code", code)
		return p.reply(tx, &m, nil, []parser.Problem{{Code: code}}, now)
	})
}

// reply answers the waiting mail m, within the reply rate limits.
func (p *PPAP) reply(tx *bolt.Tx, m *ppapMail, filed []verifier.Filed, problems []parser.Problem, now time.Time) error {
	f := p.Effects
	r := f.Replying
	if r == nil {
		return nil
	}
	if why, err := r.Limiter.Allow(tx, m.From, now); err != nil || why != "" {
		if why != "" {
			p.Log.Warn("not answered: reply rate limit", "entry", m.Entry, "to", m.From, "why", why)
		}
		return err
	}
	in := reply.Input{Received: m.message(), Problems: problems, AgencyName: r.Agency, AgencyAddress: r.Policy.AgencyAddress,
		Signature: r.Signature, Tracking: inquiryTracking(m.Entry)}
	in.Items = f.replyItems(filed)
	rep, err := r.Composer.Compose(in)
	if err != nil {
		return fmt.Errorf("composing the reply to entry %d: %w", m.Entry, err)
	}
	return r.enqueue(tx, "reply", rep, m.Entry)
}

// deleteMail removes a waiting mail: its record, its domain index key and its files.
func deleteMail(tx *bolt.Tx, bucket string, id uint64) error {
	b := tx.Bucket([]byte(bucket))
	var m ppapMail
	ok, err := store.GetJSON(b, id, &m)
	if err != nil || !ok {
		return err
	}
	if err := tx.Bucket([]byte(domainIndex[bucket])).Delete(domainKey(m.From, id)); err != nil {
		return err
	}
	if bucket == zipsBucket {
		if err := tx.Bucket([]byte(filesBucket)).Delete(store.BE64(id)); err != nil {
			return err
		}
	}
	return b.Delete(store.BE64(id))
}

// deletePairs removes the other pairings of an opened ZIP and their password mails: the
// ZIP's sender has had their answer.
func deletePairs(tx *bolt.Tx, zip uint64) error {
	b := tx.Bucket([]byte(pairBucket))
	prefix := store.BE64(zip)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Next() {
		keys = append(keys, slices.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
		if err := deleteMail(tx, keysBucket, store.U64(k[8:])); err != nil {
			return err
		}
	}
	return nil
}
