package control

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ctx := context.Background()
	if err := Call(ctx, path, "status", nil, nil); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("Call with no daemon = %v, want ErrNoDaemon", err)
	}
	srv, err := Listen(path, map[string]Handler{
		"echo": func(_ context.Context, args json.RawMessage) (any, error) {
			var v struct{ N int }
			err := json.Unmarshal(args, &v)
			return map[string]int{"n": v.N + 1}, err
		},
		"fail": func(context.Context, json.RawMessage) (any, error) { return nil, errors.New("no such item 7") },
	})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, %v; want 0660", fi.Mode().Perm(), err)
	}
	if _, err := Listen(path, nil); err == nil {
		t.Error("a second Listen on a live socket succeeded")
	}
	var got struct{ N int }
	if err := Call(ctx, path, "echo", map[string]int{"N": 41}, &got); err != nil || got.N != 42 {
		t.Errorf("echo = %+v, %v", got, err)
	}
	if err := Call(ctx, path, "fail", nil, nil); err == nil || err.Error() != "no such item 7" {
		t.Errorf("fail = %v", err)
	}
	if err := Call(ctx, path, "nope", nil, nil); err == nil {
		t.Error("unknown method succeeded")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	// A stale socket file from a crashed daemon is replaced.
	os.WriteFile(path, nil, 0o600)
	srv2, err := Listen(path, nil)
	if err != nil {
		t.Fatalf("Listen over a stale file: %v", err)
	}
	srv2.ln.Close()
}
