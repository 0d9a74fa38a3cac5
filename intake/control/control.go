// Package control is the running daemon's unix socket: the daemon holds the bbolt lock, so
// the commands that need its state (status, queue, digest, reprocess) ask it over the socket.
// One request per connection, one JSON object each way:
//
//	-> {"method":"status","args":{...}}
//	<- {"result":{...}} or {"error":"..."}
//
// The socket is created 0660 in the runtime directory (systemd RuntimeDirectory=), so only
// the service user and its group may talk to it.
//
// Who calls is learnt from the connection, never from the request: the kernel's peer
// credential (SO_PEERCRED, unix(7)) gives the client's uid and pid, and the uid is named
// through the user database ("uid:N" when it has no name). Handlers read it with
// CallerFrom; a connection whose peer cannot be told is answered with an error and reaches
// no handler. The daemon's methods (cmd/hosho-intake):
//
//	status                                    the daemon's state
//	reprocess     {"ID":N}                    re-run a stored message through the current rules
//	digest                                    send a digest now
//	queue.list    {"States":[S],"ShowKeys":B} the items, 認証キー masked unless ShowKeys; a
//	                                          reveal is recorded in each item's history
//	queue.decide  {"ID":N,"Action":S,         a clerk's decision, recorded as by
//	               "Reason":S}                "command:<caller's user>"; a "By" is refused
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// ErrNoDaemon means nothing listens on the socket: the daemon is not running.
var ErrNoDaemon = errors.New("no running daemon")

// Handler answers one method. args is the request's raw "args" (may be empty); ctx carries
// the Caller.
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

// Caller is the process at the other end of a connection, as the kernel reports it.
type Caller struct {
	UID  int
	PID  int
	User string // the uid's user name, or "uid:N" when the user database has none
}

type callerKey struct{}

// CallerFrom returns the caller of the request a handler answers.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// peer reads the connection's peer credential and names its uid.
func peer(c *net.UnixConn) (Caller, error) {
	uid, pid, err := peerCred(c)
	if err != nil {
		return Caller{}, fmt.Errorf("reading the peer credential: %w", err)
	}
	name := "uid:" + strconv.Itoa(uid)
	// A uid without a name (a container's, a deleted user's) still decides under its number.
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		name = u.Username
	}
	return Caller{UID: uid, PID: pid, User: name}, nil
}

type request struct {
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args,omitempty"`
}

type response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	// Stream: the answer's bytes follow the JSON line until the connection closes.
	Stream bool `json:"stream,omitempty"`
}

// Stream is a handler's result that is bytes rather than JSON (a backup): the server writes
// the JSON line {"stream":true}, then calls it with the connection. A stream that fails
// half-way simply ends; the reader must be able to tell a whole one (a tar archive can).
type Stream func(w io.Writer) error

// streamTimeout bounds a streamed answer: a state of some GiB on a slow disk.
const streamTimeout = 2 * time.Hour

// Server serves handlers on a unix socket.
type Server struct {
	ln       *net.UnixListener
	path     string
	handlers map[string]Handler
}

// Listen creates the socket at path. A socket file left behind by a daemon that died is
// replaced; one that a live daemon answers on is not.
func Listen(path string, handlers map[string]Handler) (*Server, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another daemon is listening", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &Server{ln: ln, path: path, handlers: handlers}, nil
}

// Serve answers requests until ctx ends, then removes the socket.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	defer os.Remove(s.path)
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		go s.answer(ctx, c)
	}
}

func (s *Server) answer(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	var req request
	var resp response
	who, err := peer(c)
	if err != nil {
		resp.Error = "control socket: " + err.Error()
	} else if err := json.NewDecoder(io.LimitReader(c, 1<<20)).Decode(&req); err != nil {
		resp.Error = "bad request: " + err.Error()
	} else if h, ok := s.handlers[req.Method]; !ok {
		resp.Error = fmt.Sprintf("unknown method %q", req.Method)
	} else if result, err := h(context.WithValue(ctx, callerKey{}, who), req.Args); err != nil {
		resp.Error = err.Error()
	} else if stream, ok := result.(Stream); ok {
		c.SetDeadline(time.Now().Add(streamTimeout))
		if json.NewEncoder(c).Encode(response{Stream: true}) == nil {
			stream(c) // a failure ends the stream early, which the reader sees
		}
		return
	} else if resp.Result, err = json.Marshal(result); err != nil {
		resp.Error = err.Error()
	}
	json.NewEncoder(c).Encode(resp) // the client may have gone; nothing to do about it
}

// Call asks the daemon listening at path; result, if not nil, receives the answer.
func Call(ctx context.Context, path, method string, args, result any) error {
	return call(ctx, path, method, args, result, nil)
}

// CallStream asks for a streamed answer (a handler returning Stream) and copies it to w.
func CallStream(ctx context.Context, path, method string, args any, w io.Writer) error {
	return call(ctx, path, method, args, nil, w)
}

func call(ctx context.Context, path, method string, args, result any, w io.Writer) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w (socket %s)", ErrNoDaemon, path)
		}
		return fmt.Errorf("control socket: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	req := request{Method: method}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			return err
		}
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	var resp response
	dec := json.NewDecoder(c)
	if err := dec.Decode(&resp); err != nil {
		return fmt.Errorf("control socket: reading the answer: %w", err)
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	switch {
	case resp.Stream && w == nil, !resp.Stream && w != nil:
		return fmt.Errorf("control socket: %s answered stream=%v", method, resp.Stream)
	case resp.Stream:
		// The decoder may have read past the JSON line into the stream; the line's own
		// newline is not the stream's.
		r := bufio.NewReader(io.MultiReader(dec.Buffered(), c))
		if b, err := r.Peek(1); err == nil && b[0] == '\n' {
			r.Discard(1)
		}
		if _, err := io.Copy(w, r); err != nil {
			return fmt.Errorf("control socket: reading the stream: %w", err)
		}
		return nil
	}
	if result != nil && len(resp.Result) > 0 {
		return json.Unmarshal(resp.Result, result)
	}
	return nil
}
