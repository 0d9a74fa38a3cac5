package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets TestCaller run this binary as a client under another uid.
func TestMain(m *testing.M) {
	if sock := os.Getenv("HOSHO_CONTROL_TEST_CLIENT"); sock != "" {
		var c Caller
		if err := Call(context.Background(), sock, "whoami", map[string]string{"User": "root"}, &c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(c)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCaller: handlers see the uid and pid of the process at the other end of the socket,
// named through the user database, whatever the request says.
func TestCaller(t *testing.T) {
	// A directory and a copy of this binary that the other uids may reach.
	dir, err := os.MkdirTemp("", "control-caller")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ctl.sock")
	srv, err := Listen(path, map[string]Handler{
		"whoami": func(ctx context.Context, _ json.RawMessage) (any, error) {
			c, ok := CallerFrom(ctx)
			if !ok {
				return nil, errors.New("no caller")
			}
			return c, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil { // for the other uids only
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	// In-process: the kernel reports this process.
	var got Caller
	if err := Call(context.Background(), path, "whoami", nil, &got); err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Caller{UID: os.Getuid(), PID: os.Getpid(), User: me.Username}); got != want {
		t.Errorf("whoami in process = %+v, want %+v", got, want)
	}

	if os.Getuid() != 0 {
		t.Skip("running a client under other uids needs root")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	client := filepath.Join(dir, "client")
	if err := os.WriteFile(client, data, 0o755); err != nil {
		t.Fatal(err)
	}
	nobody := "uid:65534"
	if u, err := user.LookupId("65534"); err == nil {
		nobody = u.Username
	}
	for _, tc := range []struct {
		uid  uint32
		want string
	}{
		{65534, nobody},
		{54321, "uid:54321"}, // no such user: named by number
	} {
		t.Run(strconv.Itoa(int(tc.uid)), func(t *testing.T) {
			if _, err := user.LookupId(strconv.Itoa(int(tc.uid))); err == nil && strings.HasPrefix(tc.want, "uid:") {
				t.Skipf("uid %d has a name here", tc.uid)
			}
			cmd := exec.Command(client)
			cmd.Env = []string{"HOSHO_CONTROL_TEST_CLIENT=" + path}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tc.uid, Gid: tc.uid}}
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(stdout)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("client as uid %d: %v", tc.uid, err)
			}
			var got Caller
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("client output %q: %v", out, err)
			}
			if want := (Caller{UID: int(tc.uid), PID: cmd.Process.Pid, User: tc.want}); got != want {
				t.Errorf("whoami from uid %d = %+v, want %+v", tc.uid, got, want)
			}
		})
	}
}

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

// TestCallStream: a streamed answer arrives whole, byte for byte, after its JSON line, also
// when it is larger than any buffer; a JSON answer to CallStream and a stream to Call are
// errors, not garbage.
func TestCallStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	payload := bytes.Repeat([]byte("0123456789abcdef\x00\xff"), 100000)
	srv, err := Listen(path, map[string]Handler{
		"stream": func(context.Context, json.RawMessage) (any, error) {
			return Stream(func(w io.Writer) error { _, err := w.Write(payload); return err }), nil
		},
		"json": func(context.Context, json.RawMessage) (any, error) { return 1, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
	var got bytes.Buffer
	if err := CallStream(context.Background(), path, "stream", nil, &got); err != nil || !bytes.Equal(got.Bytes(), payload) {
		t.Errorf("CallStream = %v, %d bytes; want the %d sent", err, got.Len(), len(payload))
	}
	if err := CallStream(context.Background(), path, "json", nil, &got); err == nil {
		t.Error("CallStream of a JSON answer succeeded")
	}
	if err := Call(context.Background(), path, "stream", nil, nil); err == nil {
		t.Error("Call of a streamed answer succeeded")
	}
}
