// Package session keeps the clerks' page's sign-in links and sessions in the state file, so
// that a restart or a reload signs nobody out and a link mailed before it still works.
//
// # Contract
//
// A sign-in link carries a random token that works once, for the clerk it was made for,
// until it expires; a session is a random id in a cookie that ends after an idle time, or
// after MaxAge whatever the use, or when the clerk signs out. Only SHA-256 hashes of tokens
// and ids are stored: a backup of the state (which holds every 認証キー anyway) signs
// nobody in. Every function that changes state takes the caller's *bolt.Tx.
//
// # On-disk layout (owner "web")
//
//	web-links     sha256(token) -> JSON Link
//	web-sessions  sha256(id) -> JSON Session
//	web-state     "secret" -> 32 random bytes, the HMAC key of the sign-in form's tokens
package session

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier/store"
)

const (
	owner          = "web"
	linksBucket    = "web-links"
	sessionsBucket = "web-sessions"
	stateBucket    = "web-state"
	secretKey      = "secret"
)

// MaxAge ends a session however busy it is: a clerk signs in again each working day.
const MaxAge = 12 * time.Hour

// seenEvery is how stale Session.Seen may grow before a request records it again: a write
// transaction per page view would be wasted.
const seenEvery = time.Minute

// Sentinel errors, for what the page tells the clerk.
var (
	ErrUnknownLink = errors.New("unknown sign-in link")
	ErrUsedLink    = errors.New("sign-in link already used")
	ErrExpiredLink = errors.New("sign-in link expired")
	ErrNoSession   = errors.New("no session")
)

// Schema is the page's part of the state file, for ledger.Options.Schemas. Append only.
func Schema() store.Schema {
	return store.Schema{Owner: owner, Steps: []func(*bolt.Tx) error{
		// 1: the layout in the package comment.
		store.CreateBuckets(linksBucket, sessionsBucket, stateBucket),
	}}
}

// Link is a mailed sign-in link as stored.
type Link struct {
	Clerk   string    `json:"clerk"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Used    time.Time `json:"used,omitzero"` // zero until used
}

// Session is a signed-in clerk.
type Session struct {
	Clerk   string    `json:"clerk"`
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
	// CSRF is the token every form of this session carries.
	CSRF string `json:"csrf"`
	// id is the cookie's value, set by Lookup and New, never stored.
	id string
}

// ID is the session's cookie value.
func (s Session) ID() string { return s.id }

func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// NewLink stores a sign-in link for clerk, valid for lifetime from now, and returns its
// token. It also drops links and sessions that can no longer work.
func NewLink(tx *bolt.Tx, clerk string, now time.Time, lifetime, idle time.Duration) (string, error) {
	if err := sweep(tx, now, idle); err != nil {
		return "", err
	}
	token, err := random()
	if err != nil {
		return "", err
	}
	if err := put(tx, linksBucket, hash(token), Link{Clerk: clerk, Created: now, Expires: now.Add(lifetime)}); err != nil {
		return "", fmt.Errorf("storing a sign-in link: %w", err)
	}
	return token, nil
}

// PeekLink returns the link of token if it can still sign its clerk in, without spending
// it: ErrUnknownLink, ErrUsedLink or ErrExpiredLink otherwise.
func PeekLink(tx *bolt.Tx, token string, now time.Time) (Link, error) {
	var l Link
	ok, err := get(tx, linksBucket, hash(token), &l)
	switch {
	case err != nil:
		return Link{}, err
	case !ok || token == "":
		return Link{}, ErrUnknownLink
	case !l.Used.IsZero():
		return l, ErrUsedLink
	case !now.Before(l.Expires):
		return l, ErrExpiredLink
	}
	return l, nil
}

// UseLink spends the link of token at now and returns it: ErrUnknownLink, ErrUsedLink or
// ErrExpiredLink when it cannot sign anyone in.
func UseLink(tx *bolt.Tx, token string, now time.Time) (Link, error) {
	l, err := PeekLink(tx, token, now)
	if err != nil {
		return l, err
	}
	l.Used = now
	if err := put(tx, linksBucket, hash(token), l); err != nil {
		return Link{}, fmt.Errorf("spending a sign-in link: %w", err)
	}
	return l, nil
}

// New starts a session for clerk.
func New(tx *bolt.Tx, clerk string, now time.Time) (Session, error) {
	id, err := random()
	if err != nil {
		return Session{}, err
	}
	csrf, err := random()
	if err != nil {
		return Session{}, err
	}
	s := Session{Clerk: clerk, Created: now, Seen: now, CSRF: csrf, id: id}
	if err := put(tx, sessionsBucket, hash(id), s); err != nil {
		return Session{}, fmt.Errorf("storing a session: %w", err)
	}
	return s, nil
}

// Lookup returns the session of id if it is alive at now: used within idle, and younger
// than MaxAge. stale reports that Seen should be recorded again (Touch).
func Lookup(tx *bolt.Tx, id string, now time.Time, idle time.Duration) (s Session, stale bool, err error) {
	if id == "" {
		return Session{}, false, ErrNoSession
	}
	ok, err := get(tx, sessionsBucket, hash(id), &s)
	switch {
	case err != nil:
		return Session{}, false, err
	case !ok || !alive(s, now, idle):
		return Session{}, false, ErrNoSession
	}
	s.id = id
	return s, now.Sub(s.Seen) >= seenEvery, nil
}

func alive(s Session, now time.Time, idle time.Duration) bool {
	return now.Sub(s.Seen) < idle && now.Sub(s.Created) < MaxAge
}

// Touch records that the session of id was used at now.
func Touch(tx *bolt.Tx, id string, now time.Time) error {
	var s Session
	k := hash(id)
	if ok, err := get(tx, sessionsBucket, k, &s); err != nil || !ok {
		return err
	}
	s.Seen = now
	return put(tx, sessionsBucket, k, s)
}

// End ends the session of id.
func End(tx *bolt.Tx, id string) error {
	if err := tx.Bucket([]byte(sessionsBucket)).Delete(hash(id)); err != nil {
		return fmt.Errorf("ending a session: %w", err)
	}
	return nil
}

// sweep drops the links past their expiry (a used one stays until then, so that its reuse
// is told apart from a forged one) and the sessions no longer alive.
func sweep(tx *bolt.Tx, now time.Time, idle time.Duration) error {
	err := drop(tx, linksBucket, func(v []byte) bool {
		var l Link
		return json.Unmarshal(v, &l) != nil || now.After(l.Expires.Add(time.Hour))
	})
	if err != nil {
		return err
	}
	return drop(tx, sessionsBucket, func(v []byte) bool {
		var s Session
		return json.Unmarshal(v, &s) != nil || !alive(s, now, idle)
	})
}

// drop deletes the records of bucket that dead says are dead.
func drop(tx *bolt.Tx, bucket string, dead func(v []byte) bool) error {
	b := tx.Bucket([]byte(bucket))
	var keys [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if dead(v) {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweeping %s: %w", bucket, err)
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("sweeping %s: %w", bucket, err)
		}
	}
	return nil
}

// FormToken is the token the sign-in form carries for a browser whose pre-sign-in cookie
// holds nonce: an HMAC with the state's secret, so that another site cannot post the form
// (or spend a link) for the clerk's browser.
func FormToken(tx *bolt.Tx, nonce string) (string, error) {
	secret := tx.Bucket([]byte(stateBucket)).Get([]byte(secretKey))
	if len(secret) == 0 {
		return "", errors.New("no form secret: the state was not prepared (session.Prepare)")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("hosho-intake sign-in form\x00"))
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// CheckFormToken reports whether token is FormToken(nonce).
func CheckFormToken(tx *bolt.Tx, nonce, token string) bool {
	if nonce == "" || token == "" {
		return false
	}
	want, err := FormToken(tx, nonce)
	return err == nil && hmac.Equal([]byte(want), []byte(token))
}

// Prepare creates the form secret on first use.
func Prepare(tx *bolt.Tx) error {
	b := tx.Bucket([]byte(stateBucket))
	if b == nil {
		return errors.New("the page's buckets are missing: session.Schema was not applied")
	}
	if len(b.Get([]byte(secretKey))) > 0 {
		return nil
	}
	s := make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		return fmt.Errorf("creating the form secret: %w", err)
	}
	return b.Put([]byte(secretKey), s)
}

func put(tx *bolt.Tx, bucket string, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket([]byte(bucket)).Put(k, b)
}

func get(tx *bolt.Tx, bucket string, k []byte, v any) (bool, error) {
	b := tx.Bucket([]byte(bucket)).Get(k)
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("reading %s: %w", bucket, err)
	}
	return true, nil
}
