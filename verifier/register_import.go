package verifier

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier/store"
)

// The contract register imported from the clerks' page lives in the state, not in the
// config's [register] csv file: the service cannot write its config directory (the unit's
// ProtectSystem=strict, and /etc/hosho-intake belongs to root), the state is what backup
// and restore carry, and the import, its record in the audit trail and the register in
// effect then commit in one transaction.

// Keys of registerBucket.
const (
	registerBucket     = "verifier-register"
	registerCurrentKey = "current"
	registerPending    = "pending\x00" // + clerk's address
	registerImportKey  = "import\x00"  // + sequence (big-endian uint64)
)

// Sentinel errors of an import, for what the page branches on.
var (
	// ErrNoPendingImport: nothing previewed by this clerk waits (or it was for other bytes).
	ErrNoPendingImport = errors.New("no register import waits for confirmation")
	// ErrImportStale: the register in effect changed since the preview, or the preview is
	// older than PendingImportLifetime.
	ErrImportStale = errors.New("register changed since the preview")
)

// PendingImportLifetime is how long a previewed import may wait for its confirmation.
const PendingImportLifetime = 30 * time.Minute

// RegisterSum is the SHA-256 of a register file's bytes, hex: what tells two versions of
// it apart.
func RegisterSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// RegisterImport is one import of the register from the clerks' page, as the audit trail
// keeps it (CSV only in the current one).
type RegisterImport struct {
	CSV  []byte    `json:"csv,omitempty"` // the bytes as uploaded
	Name string    `json:"name"`          // the file's name on the clerk's PC
	Sum  string    `json:"sum"`           // RegisterSum(CSV)
	By   string    `json:"by"`            // the clerk
	At   time.Time `json:"at"`
	// Base is the sum of the register it replaced (an import's Sum, "file:" and the
	// config file's sum, or "" for none).
	Base string `json:"base"`
	// FileSum is the sum of the config's [register] csv file when it was imported (""
	// none): when the file has changed since, the admin's newer file is used instead.
	FileSum                                string `json:"file_sum"`
	Rows, Refused, Added, Changed, Removed int
}

// PendingImport is an upload previewed and waiting for the clerk's confirmation.
type PendingImport struct {
	CSV  []byte    `json:"csv"`
	Name string    `json:"name"`
	Sum  string    `json:"sum"`
	Base string    `json:"base"` // the register in effect at the preview
	At   time.Time `json:"at"`
}

// SavePendingImport keeps clerk's previewed upload until ConfirmImport, replacing an
// earlier one of theirs.
func SavePendingImport(tx *bolt.Tx, clerk string, p PendingImport) error {
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return tx.Bucket([]byte(registerBucket)).Put([]byte(registerPending+strings.ToLower(clerk)), v)
}

// ConfirmImport makes clerk's pending import of the bytes with sum the register in effect,
// if base (naming old) is still the register in effect and the preview is recent, and
// records it in the audit trail with what it changed against old. fileSum is the config
// file's now. It returns the import (with its bytes) and the register read from them.
func ConfirmImport(tx *bolt.Tx, clerk, sum, base, fileSum string, old *Register, now time.Time) (RegisterImport, *Register, error) {
	b := tx.Bucket([]byte(registerBucket))
	key := []byte(registerPending + strings.ToLower(clerk))
	var p PendingImport
	v := b.Get(key)
	if v == nil {
		return RegisterImport{}, nil, ErrNoPendingImport
	}
	if err := json.Unmarshal(v, &p); err != nil {
		return RegisterImport{}, nil, fmt.Errorf("pending register import: %w", err)
	}
	switch {
	case p.Sum != sum:
		return RegisterImport{}, nil, ErrNoPendingImport
	case p.Base != base || now.Sub(p.At) > PendingImportLifetime:
		return RegisterImport{}, nil, ErrImportStale
	}
	reg, refused, err := ReadRegister(bytes.NewReader(p.CSV))
	if err != nil {
		return RegisterImport{}, nil, err
	}
	diff := DiffRegisters(old, reg)
	imp := RegisterImport{CSV: p.CSV, Name: p.Name, Sum: p.Sum, By: clerk, At: now, Base: base, FileSum: fileSum,
		Rows: diff.Rows, Refused: len(refused), Added: len(diff.Added), Changed: len(diff.Changed), Removed: len(diff.Removed)}
	cur, err := json.Marshal(imp)
	if err != nil {
		return imp, nil, err
	}
	if err := b.Put([]byte(registerCurrentKey), cur); err != nil {
		return imp, nil, err
	}
	rec := imp
	rec.CSV = nil
	audit, err := json.Marshal(rec)
	if err != nil {
		return imp, nil, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return imp, nil, err
	}
	if err := b.Put(append([]byte(registerImportKey), store.BE64(seq)...), audit); err != nil {
		return imp, nil, err
	}
	return imp, reg, b.Delete(key)
}

// ImportedRegister returns the register last imported from the page, if any.
func ImportedRegister(tx *bolt.Tx) (RegisterImport, bool, error) {
	var imp RegisterImport
	v := tx.Bucket([]byte(registerBucket)).Get([]byte(registerCurrentKey))
	if v == nil {
		return imp, false, nil
	}
	if err := json.Unmarshal(v, &imp); err != nil {
		return imp, false, fmt.Errorf("imported register: %w", err)
	}
	return imp, true, nil
}

// RegisterImports returns the audit trail of imports, newest first.
func RegisterImports(tx *bolt.Tx) ([]RegisterImport, error) {
	var out []RegisterImport
	c := tx.Bucket([]byte(registerBucket)).Cursor()
	prefix := []byte(registerImportKey)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var imp RegisterImport
		if err := json.Unmarshal(v, &imp); err != nil {
			return nil, fmt.Errorf("register import record: %w", err)
		}
		out = append(out, imp)
	}
	slices.Reverse(out)
	return out, nil
}

// Entries returns the register's contracts in file order.
func (r *Register) Entries() []RegisterEntry {
	if r == nil {
		return nil
	}
	return slices.Clone(r.entries)
}

// RegisterDiff is what an import changes: contracts added, changed and removed, by their
// 契約番号 when the row has one, else by 工事名 (normalised as Lookup compares them).
type RegisterDiff struct {
	Added, Changed, Removed []RegisterChange
	Same                    int
	Rows                    int // contracts in the new register
}

// RegisterChange is one contract's rows before and after (one side empty when added or
// removed; more than one row when the register lists the same 工事名 twice).
type RegisterChange struct {
	Old, New []RegisterEntry
}

// DiffRegisters compares the register in effect (nil: none) with a new one.
func DiffRegisters(old, next *Register) RegisterDiff {
	group := func(r *Register) (map[string][]RegisterEntry, []string) {
		m := map[string][]RegisterEntry{}
		var order []string
		for _, e := range r.Entries() {
			k := "name:" + projectKey(e.ProjectName)
			if e.ContractNumber != "" {
				k = "number:" + e.ContractNumber
			}
			if _, ok := m[k]; !ok {
				order = append(order, k)
			}
			m[k] = append(m[k], e)
		}
		return m, order
	}
	before, oldOrder := group(old)
	after, newOrder := group(next)
	d := RegisterDiff{Rows: next.Len()}
	for _, k := range newOrder {
		o, ok := before[k]
		switch {
		case !ok:
			d.Added = append(d.Added, RegisterChange{New: after[k]})
		case !sameEntries(o, after[k]):
			d.Changed = append(d.Changed, RegisterChange{Old: o, New: after[k]})
		default:
			d.Same++
		}
	}
	for _, k := range oldOrder {
		if _, ok := after[k]; !ok {
			d.Removed = append(d.Removed, RegisterChange{Old: before[k]})
		}
	}
	return d
}

// sameEntries reports whether two lists of rows say the same, in any order and on any line,
// 工事名 compared as Lookup compares them.
func sameEntries(a, b []RegisterEntry) bool {
	sig := func(es []RegisterEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, projectKey(e.ProjectName)+"\x00"+e.ContractNumber+"\x00"+e.DatesText())
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(sig(a), sig(b))
}

// DatesText is the entry's dates as a line: "契約日 2023-06-01、入札公告日 2023-04-10".
func (e RegisterEntry) DatesText() string {
	var parts []string
	for _, k := range slices.SortedFunc(maps.Keys(e.Dates), func(a, b string) int { return cmp.Compare(a, b) }) {
		parts = append(parts, k+" "+e.Dates[k].String())
	}
	return strings.Join(parts, "、")
}
