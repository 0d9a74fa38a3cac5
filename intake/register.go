package intake

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/config"
	"hosho-intake/verifier"
)

// Where the contract register in effect came from (RegisterInEffect.Source).
const (
	RegisterFromFile = "file" // the config's [register] csv
	RegisterFromPage = "page" // imported by a clerk on the clerks' page, kept in the state
)

// RegisterInEffect is the contract register the judgement uses now, and where it came from.
//
// Which one: the register last imported from the clerks' page, unless the config's
// [register] csv file has changed since that import (its SHA-256 then and now differ):
// whichever was changed last is used, so neither an admin's newer file nor a clerk's newer
// import is silently overridden by the other after a restart.
type RegisterInEffect struct {
	Register *verifier.Register // nil: none
	Source   string             // RegisterFromFile, RegisterFromPage, or "" for none
	// Sum names this version, for verifier.ConfirmImport's check that nothing changed
	// since a preview: the import's sum, "file:" and the file's sum, or "".
	Sum string
	// Import is who imported it and when (Source page), without its bytes.
	Import verifier.RegisterImport
	// Refused counts the imported rows set aside (shown to the clerk before confirming).
	Refused int
	// Shadowed: an import exists but the file changed after it, so the file is used.
	Shadowed bool
}

// registerFile reads the config's register file: the register and the file's sum; none
// when no file is configured.
func registerFile(cfg *config.Config) (*verifier.Register, string, error) {
	if cfg.Register.CSV == "" {
		return nil, "", nil
	}
	b, err := os.ReadFile(cfg.Register.CSV)
	if err != nil {
		return nil, "", fmt.Errorf("contract register: %w", err)
	}
	reg, err := verifier.LoadRegister(bytes.NewReader(b))
	if err != nil {
		return nil, "", fmt.Errorf("contract register %s: %w", cfg.Register.CSV, err)
	}
	return reg, verifier.RegisterSum(b), nil
}

// chooseRegister returns the register in effect for cfg and the state in db.
func chooseRegister(cfg *config.Config, db *bolt.DB) (RegisterInEffect, error) {
	fileReg, fileSum, err := registerFile(cfg)
	if err != nil {
		return RegisterInEffect{}, err
	}
	var imp verifier.RegisterImport
	var imported bool
	if err := db.View(func(tx *bolt.Tx) error {
		imp, imported, err = verifier.ImportedRegister(tx)
		return err
	}); err != nil {
		return RegisterInEffect{}, err
	}
	fromFile := RegisterInEffect{}
	if fileReg != nil {
		fromFile = RegisterInEffect{Register: fileReg, Source: RegisterFromFile, Sum: "file:" + fileSum}
	}
	if !imported {
		return fromFile, nil
	}
	if imp.FileSum != fileSum {
		fromFile.Shadowed = true
		return fromFile, nil
	}
	reg, refused, err := verifier.ReadRegister(bytes.NewReader(imp.CSV))
	if err != nil {
		return RegisterInEffect{}, fmt.Errorf("contract register imported by %s at %s: %w", imp.By, imp.At.Format(time.RFC3339), err)
	}
	imp.CSV = nil
	return RegisterInEffect{Register: reg, Source: RegisterFromPage, Sum: imp.Sum, Import: imp, Refused: len(refused)}, nil
}

// ErrRegisterFileUnreadable: the config's register file cannot be read while confirming an
// import, so whether it changed later could not be told.
var ErrRegisterFileUnreadable = errors.New("contract register file unreadable")

// ImportRegister confirms clerk's previewed import of the CSV whose sum is sum (see
// verifier.ConfirmImport), records it in the audit trail, and puts it in effect at once for
// the polls that follow; it stays in effect after a restart (chooseRegister).
func (s *Service) ImportRegister(clerk, sum string, now time.Time) (verifier.RegisterImport, error) {
	cur := s.Effects.RegisterInEffect()
	_, fileSum, err := registerFile(s.Config)
	if err != nil {
		return verifier.RegisterImport{}, fmt.Errorf("%w: %w", ErrRegisterFileUnreadable, err)
	}
	var imp verifier.RegisterImport
	var reg *verifier.Register
	err = s.Ledger.DB().Update(func(tx *bolt.Tx) error {
		var err error
		imp, reg, err = verifier.ConfirmImport(tx, clerk, sum, cur.Sum, fileSum, cur.Register, now)
		return err
	})
	if err != nil {
		return imp, err
	}
	imp.CSV = nil
	s.Effects.SetRegister(RegisterInEffect{Register: reg, Source: RegisterFromPage, Sum: imp.Sum, Import: imp, Refused: imp.Refused})
	s.log.Info("contract register imported", "by", clerk, "rows", imp.Rows, "refused", imp.Refused,
		"added", imp.Added, "changed", imp.Changed, "removed", imp.Removed)
	return imp, nil
}
