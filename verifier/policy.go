// Package verifier judges 認証キー notices by an agency's published rules.
//
// The contract (DESIGN.md, "The agencies' rules (presets)" and "Decision reasons"):
//
//   - A Policy is data: a rule file in TOML with the key names of the config file's [policy]
//     table (name, version, orderers, guarantors, works_categories, services_categories,
//     start_date, date_basis, exclude_change_contracts, checklist). The presets shimane, tottori-ctc and
//     mlit are such files, embedded from presets/*.toml; an admin writes the same format.
//   - Policy.Judge turns one parser.Notice, with the mail's received time, text parts and
//     the agency's contract register, into a Decision: outcome "queued", "rejected" or
//     "needs_review", with reasons from orderer_mismatch, guarantor_not_eligible,
//     category_not_eligible, before_start_date and start_date_unconfirmed (duplicate and
//     resubmission are the queue's). Any of the first four rejects. start_date_unconfirmed
//     alone still queues: the clerk checks the date on D-Sure and the digest says so. A
//     notice that names no orderer, 区分 or 保証機関 (typed in a mail body) needs review:
//     missing is not wrong.
//   - Every Decision records the policy's name and version, so a decision made under an
//     earlier rule can be told apart after the rule changes.
//
// Judging is pure: no state, no I/O beyond the readers and files it is handed.
// Dates are civil dates (config.Date); instants are compared in Japan time (UTC+9, no
// daylight saving since 1951).
//
// # The verification queue
//
// Queue (queue.go, decide.go, token.go, digest.go) is the package's state: every judged
// notice becomes a Submission in the states queued, needs_review, verified or rejected,
// each change recorded with who, when, how (intake, mail, command) and why. Its methods
// that write take the caller's *bolt.Tx, so a message's ledger entry, its submissions and
// its replies commit together (intake/ledger's contract). Duplicates go by 保証契約番号
// (see Queue.Submit). A clerk decides by a mail whose subject a digest's mailto link
// prefilled, "確認済 2070004426 R-000123 TOKEN"; the token is an HMAC of the action,
// number and item under a secret kept in the state, so the links of a digest keep
// working after a restart, and the From address alone decides nothing.
//
// # On-disk layout
//
// Buckets of the queue in the shared bbolt file, schema owner "verifier" in the meta bucket
// of verifier/store (Schema); integers are big-endian uint64:
//
//	verifier-items      ID (bucket sequence) -> Submission as JSON
//	verifier-by-number  保証契約番号 0x00 ID -> empty
//	verifier-by-state   state 0x00 ID -> empty; exactly one key per item
//	verifier-changes    time of a change (Unix ns, 0 before 1970) ID -> empty; one key
//	                    per change, kept, for the digest's "since the last digest"
//	verifier-state      "secret" -> the token secret (32 random bytes; absent when the
//	                    config gives one); "digest-sent" -> time of the last digest
//	                    (RFC 3339 text)
//	verifier-register   "current" -> the register imported from the clerks' page
//	                    (RegisterImport as JSON, with its CSV bytes); "import" 0x00
//	                    sequence -> each import without its bytes (the audit trail,
//	                    kept); "pending" 0x00 clerk -> an upload previewed, not yet
//	                    confirmed (PendingImport)
//
// The items hold contractors' 認証キー: store keeps the file 0600, ledger its directory 0700.
package verifier

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"hosho-intake/config"
	"hosho-intake/parser"
)

// Contract kinds: a works contract (工事) or a design, survey or consultancy contract (業務).
const (
	KindWorks    = "works"
	KindServices = "services"
)

// Categories (区分) a notice can state.
const (
	CategoryAdvance             = "前払金保証"
	CategoryIntermediateAdvance = "中間前払金保証"
	CategoryContract            = "契約保証"
	// CategoryContractReservation is a promise to guarantee once the contract is signed, not a
	// guarantee: no agency accepts it in place of one.
	CategoryContractReservation = "契約保証予約"
)

// Date bases: which date of a contract a policy's start date applies to.
const (
	BasisContract         = "契約日"
	BasisOriginalContract = "当初契約日"
	BasisTenderNotice     = "入札公告日"
	BasisNomination       = "指名日"
	BasisNotification     = "通知日"
)

var dateBases = []string{BasisContract, BasisOriginalContract, BasisTenderNotice, BasisNomination, BasisNotification}

var acceptableCategories = []string{CategoryContract, CategoryAdvance, CategoryIntermediateAdvance}

// Policy is one agency's eligibility rules.
type Policy struct {
	Name    string
	Version string
	// Orderers are the 発注者 names a notice must show. A "*" matches any text
	// ("国土交通省*"). Spaces, full-width forms and a person's name after the title are
	// tolerated: 島根県知事 丸山達也 matches 島根県知事.
	Orderers []string
	// Guarantors are the surety companies accepted, by official name; only the three
	// 保証事業会社 issue certificates that D-Sure shows.
	Guarantors []string
	// Works and Services are the categories accepted for works contracts (工事) and for
	// design, survey and consultancy contracts (業務).
	Works, Services []string
	// StartDate is the first day DateBasis may fall on.
	StartDate config.Date
	// DateBasis is 契約日, 当初契約日, 入札公告日, 指名日 or 通知日.
	DateBasis string
	// ExcludeChangeContracts keeps change contracts (変更契約) of works whose original
	// contract date (当初契約日) is before StartDate on paper, whatever DateBasis says.
	ExcludeChangeContracts bool
	// Checklist is what a clerk compares on the certificate (the digest shows it); empty:
	// the digest's default.
	Checklist []string
}

// ruleFile is a rule file as written; its keys are config.Policy's.
type ruleFile struct {
	Name                   string      `toml:"name"`
	Version                string      `toml:"version"`
	Orderers               []string    `toml:"orderers"`
	Guarantors             []string    `toml:"guarantors"`
	WorksCategories        []string    `toml:"works_categories"`
	ServicesCategories     []string    `toml:"services_categories"`
	StartDate              config.Date `toml:"start_date"`
	DateBasis              string      `toml:"date_basis"`
	ExcludeChangeContracts bool        `toml:"exclude_change_contracts"`
	Checklist              []string    `toml:"checklist"`
}

//go:embed presets/*.toml
var presetFiles embed.FS

// ErrUnknownPreset is returned by Preset for a name that is not built in.
var ErrUnknownPreset = errors.New("unknown preset")

// PresetNames returns the names of the built-in presets, sorted.
func PresetNames() []string {
	// The directory is compiled in: reading it cannot fail.
	entries, _ := fs.ReadDir(presetFiles, "presets")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".toml"); ok {
			names = append(names, n)
		}
	}
	return names
}

// Preset returns the built-in policy called name (see PresetNames).
func Preset(name string) (Policy, error) {
	if !slices.Contains(PresetNames(), name) {
		return Policy{}, fmt.Errorf("%w %q: known are %s", ErrUnknownPreset, name, strings.Join(PresetNames(), ", "))
	}
	data, err := presetFiles.ReadFile(path.Join("presets", name+".toml"))
	if err != nil {
		return Policy{}, fmt.Errorf("preset %s: %w", name, err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return Policy{}, fmt.Errorf("preset %s: %w", name, err)
	}
	return p, nil
}

// ParsePolicy reads a rule file. Its errors do not name the file; the caller does. Unknown keys are errors: a misspelt key would otherwise
// silently leave a rule out.
func ParsePolicy(data []byte) (Policy, error) {
	var f ruleFile
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		return Policy{}, err
	}
	if u := md.Undecoded(); len(u) > 0 {
		keys := make([]string, len(u))
		for i, k := range u {
			keys[i] = k.String()
		}
		return Policy{}, fmt.Errorf("unknown keys %s", strings.Join(keys, ", "))
	}
	return f.policy()
}

// FromConfig returns the custom policy of the config file: its rule file, or its inline keys.
func FromConfig(c config.Policy) (Policy, error) {
	if c.File != "" {
		data, err := os.ReadFile(c.File)
		if err != nil {
			return Policy{}, fmt.Errorf("policy: %w", err)
		}
		p, err := ParsePolicy(data)
		if err != nil {
			return Policy{}, fmt.Errorf("policy %s: %w", c.File, err)
		}
		return p, nil
	}
	p, err := ruleFile{
		Name:                   c.Name,
		Version:                c.Version,
		Orderers:               c.Orderers,
		Guarantors:             c.Guarantors,
		WorksCategories:        c.WorksCategories,
		ServicesCategories:     c.ServicesCategories,
		StartDate:              c.StartDate,
		DateBasis:              c.DateBasis,
		ExcludeChangeContracts: c.ExcludeChangeContracts,
		Checklist:              c.Checklist,
	}.policy()
	if err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

// policy checks the rule file and returns it as a Policy, with every problem at once.
func (f ruleFile) policy() (Policy, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(f.Name) == "" {
		bad("name: required")
	}
	if strings.TrimSpace(f.Version) == "" {
		bad("version: required (every decision records it)")
	}
	if len(f.Orderers) == 0 {
		bad("orderers: required: the 発注者 names a notice must show, e.g. [\"島根県知事\"]")
	}
	for _, o := range f.Orderers {
		if strings.Trim(compact(o), "*") == "" {
			bad("orderers: %q matches every orderer", o)
		}
	}
	p := Policy{
		Name:                   strings.TrimSpace(f.Name),
		Version:                strings.TrimSpace(f.Version),
		Orderers:               slices.Clone(f.Orderers),
		Works:                  slices.Clone(f.WorksCategories),
		Services:               slices.Clone(f.ServicesCategories),
		StartDate:              f.StartDate,
		DateBasis:              f.DateBasis,
		ExcludeChangeContracts: f.ExcludeChangeContracts,
		Checklist:              slices.Clone(f.Checklist),
	}
	if len(f.Guarantors) == 0 {
		bad("guarantors: required")
	}
	for _, g := range f.Guarantors {
		// Only the three surety companies issue certificates viewable on D-Sure; a bank's or
		// an insurer's guarantee goes through another system (DESIGN.md).
		official := parser.Guarantor(g)
		if !parser.IsSurety(official) {
			bad("guarantors: %q is not one of %s, %s, %s", g, parser.WestJapan, parser.EastJapan, parser.Hokkaido)
			continue
		}
		p.Guarantors = append(p.Guarantors, official)
	}
	if len(f.WorksCategories) == 0 && len(f.ServicesCategories) == 0 {
		bad("works_categories: required: works_categories or services_categories (or both)")
	}
	for _, k := range []struct {
		key  string
		list []string
	}{{"works_categories", f.WorksCategories}, {"services_categories", f.ServicesCategories}} {
		for _, c := range k.list {
			if !slices.Contains(acceptableCategories, c) {
				bad("%s: unknown category %q: want %s", k.key, c, strings.Join(acceptableCategories, ", "))
			}
		}
	}
	if f.StartDate.IsZero() {
		bad("start_date: required, e.g. 2023-06-01")
	}
	if !slices.Contains(dateBases, f.DateBasis) {
		bad("date_basis: %q: want one of %s", f.DateBasis, strings.Join(dateBases, ", "))
	}
	if err := errors.Join(errs...); err != nil {
		return Policy{}, err
	}
	return p, nil
}
