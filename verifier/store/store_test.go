package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openT(t *testing.T, path string, schemas ...Schema) *bolt.DB {
	t.Helper()
	db, err := Open(path, &bolt.Options{Timeout: time.Second}, schemas...)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestMigrate came from intake/ledger with the runner; its cases and checks are unchanged.
func TestMigrate(t *testing.T) {
	errStep := errors.New("step failed")
	for _, tc := range []struct {
		name    string
		stored  int   // version before; 0: none
		failAt  int   // step (1-based) that fails; 0: none
		wantRun []int // steps run, in order
		wantVer int   // stored version after
		wantErr error
	}{
		{name: "fresh", wantRun: []int{1, 2, 3}, wantVer: 3},
		{name: "from 1", stored: 1, wantRun: []int{2, 3}, wantVer: 3},
		{name: "current", stored: 3, wantVer: 3},
		{name: "newer", stored: 5, wantVer: 5, wantErr: ErrNewerSchema},
		{name: "step fails", stored: 1, failAt: 3, wantRun: []int{2, 3}, wantVer: 1, wantErr: errStep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openT(t, filepath.Join(t.TempDir(), "state.db"), Schema{Owner: "ledger"})
			if tc.stored > 0 {
				err := db.Update(func(tx *bolt.Tx) error {
					return tx.Bucket([]byte(metaBucket)).Put([]byte("verifier"), BE32(uint32(tc.stored)))
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			var run []int
			steps := make([]func(*bolt.Tx) error, 3)
			for i := range steps {
				steps[i] = func(tx *bolt.Tx) error {
					run = append(run, i+1)
					if _, err := tx.CreateBucketIfNotExists([]byte("verifier-" + strconv.Itoa(i+1))); err != nil {
						return err
					}
					if i+1 == tc.failAt {
						return errStep
					}
					return nil
				}
			}
			err := db.Update(func(tx *bolt.Tx) error { return Apply(tx, Schema{Owner: "verifier", Steps: steps}) })
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Migrate = %v, want %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(run, tc.wantRun) {
				t.Errorf("steps run = %v, want %v", run, tc.wantRun)
			}
			err = db.View(func(tx *bolt.Tx) error {
				v, err := Version(tx, "verifier")
				if v != tc.wantVer {
					t.Errorf("version after = %d, want %d", v, tc.wantVer)
				}
				// A failed migration leaves none of its steps' buckets behind.
				if tc.wantErr != nil && tx.Bucket([]byte("verifier-2")) != nil {
					t.Error("bucket of a failed migration committed")
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOpenAll: Open applies every schema in one transaction: when one owner's file is
// newer, no other owner's steps are committed either, and the file is released.
func TestOpenAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	a := Schema{Owner: "a", Steps: []func(*bolt.Tx) error{CreateBuckets("a-1")}}
	b := Schema{Owner: "b", Steps: []func(*bolt.Tx) error{CreateBuckets("b-1", "b-2")}}
	db := openT(t, path, a)
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(metaBucket)).Put([]byte("b"), BE32(2)) }); err != nil {
		t.Fatal(err)
	}
	a.Steps = append(a.Steps, CreateBuckets("a-2"))
	db.Close()

	if db, err := Open(path, &bolt.Options{Timeout: time.Second}, a, b); !errors.Is(err, ErrNewerSchema) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("Open with a newer owner = %v, want ErrNewerSchema", err)
	}
	b.Steps = append(b.Steps, CreateBuckets("b-3"))
	db = openT(t, path)
	err := db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("a-2")) != nil {
			t.Error("a's step 2 committed beside a refused schema")
		}
		v, err := Version(tx, "a")
		if v != 1 {
			t.Errorf("a's version after a refused Open = %d, want 1", v)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openT(t, path, a, b)
	err = db.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"a-1", "a-2"} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		for owner, want := range map[string]int{"a": 2, "b": 2} {
			if v, err := Version(tx, owner); err != nil || v != want {
				t.Errorf("Version(%s) = %d, %v, want %d", owner, v, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := openT(t, path)
	db.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of a new file = %v, want 0600", fi.Mode())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	openT(t, path)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after reopen = %v, want 0600", fi.Mode())
	}
}

func TestKeys(t *testing.T) {
	t1 := time.Date(2025, 6, 2, 9, 0, 0, 5, time.UTC)
	for _, tc := range []struct {
		t    time.Time
		want uint64
	}{
		{t1, uint64(t1.UnixNano())},
		{time.Unix(0, 0), 0},
		{time.Unix(-1, 0), 0},
		{time.Time{}, 0},
	} {
		if got := TimeKey(tc.t); got != tc.want {
			t.Errorf("TimeKey(%v) = %d, want %d", tc.t, got, tc.want)
		}
	}
	k := TimeIDKey(t1, 7)
	if got := KeyTime(k); !got.Equal(t1) || U64(k[8:]) != 7 {
		t.Errorf("TimeIDKey(%v, 7) reads back as %v, %d", t1, got, U64(k[8:]))
	}
	if got, want := string(WithID("queued", 258)), "queued\x00\x00\x00\x00\x00\x00\x00\x01\x02"; got != want {
		t.Errorf("WithID = %q, want %q", got, want)
	}
}

func TestRecords(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "state.db"), Schema{Owner: "t", Steps: []func(*bolt.Tx) error{CreateBuckets("r", "n")}})
	type rec struct{ A string }
	err := db.Update(func(tx *bolt.Tx) error {
		r, n := tx.Bucket([]byte("r")), tx.Bucket([]byte("n"))
		if err := PutJSON(r, 3, rec{"x"}); err != nil {
			return err
		}
		var got rec
		if ok, err := GetJSON(r, 3, &got); !ok || err != nil || got.A != "x" {
			t.Errorf("GetJSON(3) = %v, %v, %+v", ok, err, got)
		}
		if ok, err := GetJSON(r, 4, &got); ok || err != nil {
			t.Errorf("GetJSON(4) = %v, %v, want false", ok, err)
		}
		if err := errors.Join(Add(n, "c", 2), Add(n, "c", -3)); err != nil {
			return err
		}
		if got := Count(n, "c"); got != -1 {
			t.Errorf("Count = %d, want -1", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEnsureWritesOnlyWhenBehind: Ensure commits a write transaction (and so syncs the file)
// only when a schema has steps to run, and refuses a newer file without writing either.
func TestEnsureWritesOnlyWhenBehind(t *testing.T) {
	step := CreateBuckets("owned")
	for _, tc := range []struct {
		name      string
		stored    int // the owner's version before; 0: none
		wantWrite bool
		wantErr   error
	}{
		{name: "fresh", wantWrite: true},
		{name: "behind", stored: 1, wantWrite: true},
		{name: "current", stored: 2},
		{name: "newer", stored: 3, wantErr: ErrNewerSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openT(t, filepath.Join(t.TempDir(), "state.db"), Schema{Owner: "ledger"})
			if tc.stored > 0 {
				err := db.Update(func(tx *bolt.Tx) error {
					return tx.Bucket([]byte(metaBucket)).Put([]byte("owner"), BE32(uint32(tc.stored)))
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			txid := func() (id int) {
				db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
				return id
			}
			before := txid()
			err := Ensure(db, Schema{Owner: "ledger"}, Schema{Owner: "owner", Steps: []func(*bolt.Tx) error{step, step}})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Ensure = %v, want %v", err, tc.wantErr)
			}
			if wrote := txid() != before; wrote != tc.wantWrite {
				t.Errorf("Ensure wrote: %v, want %v", wrote, tc.wantWrite)
			}
			db.View(func(tx *bolt.Tx) error {
				if v, _ := Version(tx, "owner"); tc.wantErr == nil && v != 2 {
					t.Errorf("version after Ensure = %d, want 2", v)
				}
				return nil
			})
		})
	}
}
