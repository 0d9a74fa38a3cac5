package verifier

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestReadRegisterRefusesRows(t *testing.T) {
	in := "工事名,契約日,契約番号\n" +
		"A工事,2023-06-01,\n" + // 2
		"\"=HYPERLINK(\"\"http://evil.example/\"\",\"\"B工事\"\")\",2023-06-01,\n" + // 3
		",2023-06-01,\n" + // 4
		"C工事,2023/13/01,\n" + // 5
		" +SUM(1),2023-06-01,\n" + // 6
		"@cmd,2023-06-01,\n" + // 7
		"D工事 https://evil.example/,2023-06-02,2070004426\n" + // 8: a link is only text
		"-1号水路工事,2023-06-03,\n" // 9: a leading minus is a name, not refused
	reg, refused, err := ReadRegister(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line int
		why  string
	}{{3, "formula"}, {4, "no 工事名"}, {5, "not a date"}, {6, "formula"}, {7, "formula"}}
	if len(refused) != len(want) {
		t.Fatalf("ReadRegister refused %v, want lines %v", refused, want)
	}
	for i, w := range want {
		if refused[i].Line != w.line || !strings.Contains(refused[i].Why, w.why) || refused[i].Ja == "" {
			t.Errorf("refused[%d] = %+v, want line %d: %s", i, refused[i], w.line, w.why)
		}
	}
	if reg.Len() != 3 {
		t.Errorf("Len() = %d, want 3 (lines 2, 8, 9)", reg.Len())
	}
	if e, ok := reg.Lookup("", "2070004426"); !ok || e.ProjectName != "D工事 https://evil.example/" {
		t.Errorf("Lookup(2070004426) = %+v, %v", e, ok)
	}
	// The strict reader the daemon starts with refuses the file at its first bad row.
	if _, err := LoadRegister(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 3: 工事名") {
		t.Errorf("LoadRegister = %v, want the formula on line 3", err)
	}
}

func TestDiffRegisters(t *testing.T) {
	read := func(s string) *Register {
		t.Helper()
		r, err := LoadRegister(strings.NewReader("工事名,契約日,契約番号\n" + s))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	old := read("A工事,2023-06-01,\nB工事,2023-06-01,\nC工事,2023-06-01,111\nD工事,2023-06-01,\n")
	next := read("Ａ工事,2023-06-01,\nB工事,2023-07-01,\nC工事（改）,2023-06-01,111\nE工事,2024-01-01,\n")
	d := DiffRegisters(old, next)
	names := func(cs []RegisterChange, old bool) []string {
		var out []string
		for _, c := range cs {
			es := c.New
			if old {
				es = c.Old
			}
			out = append(out, es[0].ProjectName)
		}
		return out
	}
	// Ａ工事 (full-width) is A工事 as Lookup compares them, and says the same: unchanged.
	if got := names(d.Added, false); strings.Join(got, ",") != "E工事" {
		t.Errorf("Added = %v, want [E工事]", got)
	}
	if got := names(d.Changed, false); strings.Join(got, ",") != "B工事,C工事（改）" {
		t.Errorf("Changed = %v, want [B工事 C工事（改）]", got)
	}
	if got := names(d.Removed, true); strings.Join(got, ",") != "D工事" {
		t.Errorf("Removed = %v, want [D工事]", got)
	}
	if d.Rows != 4 || d.Same != 1 {
		t.Errorf("Rows, Same = %d, %d, want 4, 1", d.Rows, d.Same)
	}
	if d := DiffRegisters(nil, next); len(d.Added) != 4 || len(d.Removed) != 0 {
		t.Errorf("DiffRegisters(nil, next) = %d added %d removed, want 4, 0", len(d.Added), len(d.Removed))
	}
}

func TestConfirmImport(t *testing.T) {
	db, _ := openQueue(t, t.TempDir())
	defer db.Close()
	csv := []byte("工事名,契約日\nA工事,2023-06-01\n")
	sum := RegisterSum(csv)
	const clerk = "Yamada@pref.shimane.example"
	update := func(fn func(tx *bolt.Tx) error) error { return db.Update(fn) }
	pend := func(base string, at time.Time) {
		t.Helper()
		if err := update(func(tx *bolt.Tx) error {
			return SavePendingImport(tx, clerk, PendingImport{CSV: csv, Name: "台帳.csv", Sum: sum, Base: base, At: at})
		}); err != nil {
			t.Fatal(err)
		}
	}
	confirm := func(who, sum, base string, at time.Time) (RegisterImport, error) {
		var imp RegisterImport
		err := update(func(tx *bolt.Tx) error {
			var err error
			imp, _, err = ConfirmImport(tx, who, sum, base, "", nil, at)
			return err
		})
		return imp, err
	}
	pend("", qt0)
	tests := []struct {
		name, who, sum, base string
		at                   time.Time
		want                 error
	}{
		{"another clerk's preview", "sato@pref.shimane.example", sum, "", qt0, ErrNoPendingImport},
		{"other bytes than previewed", clerk, RegisterSum([]byte("x")), "", qt0, ErrNoPendingImport},
		{"register changed since", clerk, sum, "file:abc", qt0, ErrImportStale},
		{"preview too old", clerk, sum, "", qt0.Add(PendingImportLifetime + time.Second), ErrImportStale},
	}
	for _, tt := range tests {
		if _, err := confirm(tt.who, tt.sum, tt.base, tt.at); !errors.Is(err, tt.want) {
			t.Errorf("%s: ConfirmImport = %v, want %v", tt.name, err, tt.want)
		}
	}
	imp, err := confirm(strings.ToLower(clerk), sum, "", qt0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := confirm(clerk, sum, "", qt0.Add(time.Minute)); !errors.Is(err, ErrNoPendingImport) {
		t.Errorf("second confirmation = %v, want %v", err, ErrNoPendingImport)
	}
	// Another import on top, then both are in the trail, newest first; the current one holds
	// the bytes, the trail does not.
	pend(imp.Sum, qt0.Add(time.Hour))
	if _, err := confirm(clerk, sum, imp.Sum, qt0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		cur, ok, err := ImportedRegister(tx)
		if err != nil || !ok || string(cur.CSV) != string(csv) || cur.Base != sum || cur.Rows != 1 || cur.Added != 1 {
			t.Errorf("ImportedRegister = %+v, %v, %v", cur, ok, err)
		}
		trail, err := RegisterImports(tx)
		if err != nil {
			return err
		}
		if len(trail) != 2 || !trail[0].At.Equal(qt0.Add(time.Hour)) || trail[1].By != strings.ToLower(clerk) || trail[0].CSV != nil || trail[1].Name != "台帳.csv" {
			t.Errorf("RegisterImports = %+v", trail)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The import survives closing and opening the state.
	path := db.Path()
	db.Close()
	db2, _ := openQueue(t, filepath.Dir(path))
	defer db2.Close()
	db2.View(func(tx *bolt.Tx) error {
		if _, ok, err := ImportedRegister(tx); !ok || err != nil {
			t.Errorf("after reopening: ImportedRegister = %v, %v", ok, err)
		}
		return nil
	})
}

// FuzzReadRegister: whatever a clerk uploads, the reader does not panic, the strict reader
// the daemon starts with agrees with it, and no 工事名 it keeps is a spreadsheet formula.
func FuzzReadRegister(f *testing.F) {
	for _, s := range []string{registerCSV, "\uFEFF" + registerCSV, "工事名,契約日\n=1+1,2023-06-01\n", "工事名\t契約日\nA\t令和5年6月1日\n",
		"工事名,契約日\n\"A,2023\n", "", "\xff\xfe\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		reg, refused, err := ReadRegister(bytes.NewReader(b))
		strict, serr := LoadRegister(bytes.NewReader(b))
		switch {
		case err != nil:
			if serr == nil {
				t.Fatalf("ReadRegister failed (%v), LoadRegister did not", err)
			}
			return
		case len(refused) > 0 && serr == nil, len(refused) == 0 && (serr != nil || strict.Len() != reg.Len()):
			t.Fatalf("%d refused rows, LoadRegister = %v", len(refused), serr)
		}
		for _, e := range reg.Entries() {
			if e.ProjectName == "" || strings.ContainsAny(e.ProjectName[:1], formulaStart) {
				t.Fatalf("kept 工事名 %q on line %d", e.ProjectName, e.Line)
			}
		}
		for i := 1; i < len(refused); i++ {
			if refused[i].Line <= refused[i-1].Line {
				t.Fatalf("refused rows out of order: %+v", refused)
			}
		}
	})
}
