// Package dovecottest runs a real Dovecot 2.3 IMAP server for tests.
//
// Start launches Debian's /usr/sbin/dovecot as a child process bound to 127.0.0.1, with
// everything it writes kept in one temporary directory, so it never touches a system
// Dovecot: its own base_dir, state_dir and instance_name, a generated configuration in
// Dovecot 2.3 syntax (go-imap's own Dovecot test uses 2.4 syntax, which 2.3 rejects), a
// self-signed certificate made in Go for 127.0.0.1, ::1 and localhost, and a passwd-file
// with one user. The server is stopped by t.Cleanup (SIGTERM, then SIGKILL after 5 s).
//
// Listeners, all on 127.0.0.1 with ports picked free at start:
//
//   - Server.IMAPS: implicit TLS (RFC 8314 section 3.3).
//   - Server.STARTTLS: cleartext, offering STARTTLS (RFC 3501 section 6.2.1).
//   - Server.Plain: cleartext where authentication without TLS is allowed.
//
// Dovecot applies disable_plaintext_auth per server, not per listener, and always treats
// a loopback connection as secured, so the STARTTLS and Plain listeners behave the same
// on the server side (both offer STARTTLS, both accept LOGIN in cleartext): the names
// say which mode a test's client is meant to use on them.
//
// Layout of Server.Dir:
//
// Server.Dir is under /dev/shm when that is a tmpfs with 4 GiB free (see tempParent), else
// under os.TempDir().
//
//	dovecot.conf      the configuration (Dovecot 2.3)
//	dovecot.log       everything Dovecot logs; printed to the test log when a test fails
//	passwd            the passwd-file (passdb and userdb)
//	cert.pem key.pem  the self-signed certificate
//	run/              base_dir (sockets, pid file)
//	state/            state_dir
//	mail/agency/Maildir/            INBOX (Maildir++, folder names stored as UTF-8)
//	mail/agency/Maildir/.<name>/    other mailboxes, "/" in a name becomes "."
//
// Dovecot refuses to run mail processes as uid 0. When the tests run as root (CI does),
// the mail user is "nobody" and the mail directory is chowned to it; otherwise every
// process runs as the current user.
//
// The authentication mechanisms are PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER. Dovecot 2.3
// checks an OAuth2 bearer token like a password against its passdb, so with the
// passwd-file the user's password also works as an access token.
//
// When Dovecot is not installed, Start skips the test, except under CI=true, where it
// fails it: a CI run must not pass by skipping its end-to-end tests.
package dovecottest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is where Debian's dovecot-core installs the server.
const Binary = "/usr/sbin/dovecot"

// The user of every Server.
const (
	DefaultUser     = "agency"
	DefaultPassword = "correct horse 馬 battery"
)

// capsWithoutMove is Dovecot 2.3.19's post-login CAPABILITY list without MOVE, so a client
// has to fall back to COPY + STORE + EXPUNGE (RFC 6851 section 3.3).
const capsWithoutMove = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY " +
	"THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE " +
	"UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH " +
	"ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY SNIPPET=FUZZY PREVIEW=FUZZY " +
	"PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"

// Server is one running Dovecot.
type Server struct {
	Dir      string         // the temporary directory holding everything (see the package comment)
	IMAPS    string         // host:port, implicit TLS
	STARTTLS string         // host:port, cleartext with STARTTLS
	Plain    string         // host:port, cleartext auth allowed
	User     string         // the mail user's login
	Password string         // its password (also accepted as an OAuth2 token)
	CA       *x509.CertPool // trusts the server's self-signed certificate

	cfg      config
	uid, gid int // owner of the mail files; -1 when the current user

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	seq  int           // maildir file name counter
}

type config struct {
	noMove        bool
	quotaMessages int
}

// Option changes the server's configuration.
type Option func(*config)

// WithoutMove removes MOVE from the capabilities Dovecot advertises after login, for
// testing a client's COPY fallback. Dovecot still executes MOVE if a client sends it.
func WithoutMove() Option { return func(c *config) { c.noMove = true } }

// WithMessageQuota limits the user to n messages in all mailboxes together (quota plugin,
// count backend): APPEND, COPY or MOVE beyond it fail with NO [OVERQUOTA] (RFC 9208).
// Messages written by Server.Append are not refused, only counted.
func WithMessageQuota(n int) Option { return func(c *config) { c.quotaMessages = n } }

// Available reports whether Dovecot is installed.
func Available() error {
	fi, err := os.Stat(Binary)
	if err != nil {
		return fmt.Errorf("dovecot not installed (apt-get install dovecot-imapd): %w", err)
	}
	if fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", Binary)
	}
	return nil
}

// Start starts a Dovecot for the test and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}

	dir, err := os.MkdirTemp(tempParent(), "dovecottest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Dovecot's unprivileged processes (login as dovenull, mail as nobody) must reach
	// their files below dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: dir, User: DefaultUser, Password: DefaultPassword, cfg: cfg, uid: -1, gid: -1}
	if err := s.setup(); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			s.dumpLog(t)
		}
	})
	// A free port found by listening on :0 may be taken again before Dovecot binds it;
	// try again with fresh ports.
	for attempt := 0; ; attempt++ {
		if err := s.pickPorts(); err != nil {
			t.Fatalf("dovecottest: %v", err)
		}
		if err := s.writeConfig(); err != nil {
			t.Fatalf("dovecottest: %v", err)
		}
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 2 {
			s.dumpLog(t)
			t.Fatalf("dovecottest: %v", err)
		}
	}
	return s
}

// tempParent prefers /dev/shm when it is a roomy tmpfs: creating a file there costs
// microseconds, on the VMs' ext4 it costs half a millisecond, which made 10,000 appends
// take 5 s instead of 0.3 s. Docker's default /dev/shm is 64 MiB, too small for a big
// benchmark mailbox, hence the free-space check.
func tempParent() string {
	const shm = "/dev/shm"
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err == nil && uint64(st.Bavail)*uint64(st.Bsize) >= 4<<30 && syscall.Access(shm, 2 /* W_OK */) == nil {
		return shm
	}
	return os.TempDir()
}

func (s *Server) setup() error {
	for _, d := range []string{"run", "state", "mail"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	pool, err := writeCert(s.Dir)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	s.CA = pool

	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		// Dovecot refuses uid 0 for mail processes.
		u, err := user.Lookup("nobody")
		if err != nil {
			return fmt.Errorf("running as root and no user nobody for the mail files: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		s.uid, s.gid = uid, gid
	}
	home := filepath.Join(s.Dir, "mail", s.User)
	if err := s.mkdirOwned(filepath.Join(home, "Maildir")); err != nil {
		return err
	}
	// passwd-file: user:password:uid:gid:gecos:home:shell:extra (Dovecot's passwd-file
	// format). {PLAIN} so that the oauth2 mechanisms can compare a token with it.
	line := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", s.User, s.Password, uid, gid, home)
	return os.WriteFile(filepath.Join(s.Dir, "passwd"), []byte(line), 0o644)
}

func (s *Server) pickPorts() error {
	var addrs [3]string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		addrs[i] = ln.Addr().String()
	}
	s.IMAPS, s.STARTTLS, s.Plain = addrs[0], addrs[1], addrs[2]
	return nil
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func (s *Server) writeConfig() error {
	internal, login, group := "dovecot", "dovenull", ""
	root := os.Getuid() == 0
	if !root {
		// An unprivileged master cannot change user: every process runs as us.
		u, err := user.Current()
		if err != nil {
			return err
		}
		internal, login = u.Username, u.Username
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			return err
		}
		group = g.Name
	}
	name := make([]byte, 4)
	rand.Read(name)

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("# Generated by hosho-intake/intake/dovecottest: Dovecot 2.3 syntax.")
	p("base_dir = %s/run", s.Dir)
	p("state_dir = %s/state", s.Dir)
	p("instance_name = dovecottest-%s", hex.EncodeToString(name))
	p("protocols = imap")
	p("listen = 127.0.0.1")
	p("log_path = %s/dovecot.log", s.Dir)
	p("info_log_path = %s/dovecot.log", s.Dir)
	p("default_internal_user = %s", internal)
	p("default_login_user = %s", login)
	if group != "" {
		p("default_internal_group = %s", group) // sockets are chowned to it
	}
	p("first_valid_uid = 1")
	p("ssl = yes")
	p("ssl_cert = <%s/cert.pem", s.Dir)
	p("ssl_key = <%s/key.pem", s.Dir)
	p("ssl_min_protocol = TLSv1.2")
	if _, err := os.Stat("/usr/share/dovecot/dh.pem"); err == nil {
		p("ssl_dh = </usr/share/dovecot/dh.pem")
	}
	p("disable_plaintext_auth = no")
	// Refused logins need not wait: no failure delay, and no anvil penalty (it grows to
	// 15 s per IP after repeated failures); Dovecot's documented way to disable it.
	p("auth_failure_delay = 0")
	p("service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }")
	if !root {
		p("  chroot =")
	}
	p("}")
	p("auth_mechanisms = plain login xoauth2 oauthbearer")
	p("passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s/passwd\n}", s.Dir)
	p("userdb {\n  driver = passwd-file\n  args = username_format=%%u %s/passwd\n}", s.Dir)
	// UTF-8 on disk keeps Append simple for names like 処理済み; the wire still carries
	// modified UTF-7 (RFC 3501 section 5.1.3).
	p("mail_location = maildir:~/Maildir:UTF-8")
	p("namespace inbox {\n  inbox = yes\n  separator = /\n}")
	p("mail_fsync = never") // a test server: speed over durability
	p("service imap-login {")
	if !root {
		p("  chroot =") // only root can chroot
	}
	p("  inet_listener imap {\n    address = 127.0.0.1\n    port = %s\n  }", port(s.STARTTLS))
	p("  inet_listener imap_plain {\n    address = 127.0.0.1\n    port = %s\n  }", port(s.Plain))
	p("  inet_listener imaps {\n    address = 127.0.0.1\n    port = %s\n    ssl = yes\n  }", port(s.IMAPS))
	p("}")
	// No other listeners: the defaults (pop3, lmtp, doveadm on a TCP port) stay off.
	p("service stats {\n  unix_listener stats-reader {\n    mode = 0666\n  }\n  unix_listener stats-writer {\n    mode = 0666\n  }\n}")
	if s.cfg.noMove {
		p("protocol imap {\n  imap_capability = %s\n}", capsWithoutMove)
	}
	if n := s.cfg.quotaMessages; n > 0 {
		p("mail_plugins = $mail_plugins quota")
		p("protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}")
		p("plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n  quota_rule = *:messages=%d\n}", n)
	}
	return os.WriteFile(s.configPath(), []byte(b.String()), 0o644)
}

func (s *Server) configPath() string { return filepath.Join(s.Dir, "dovecot.conf") }

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(Binary, "-F", "-c", s.configPath())
	cmd.Dir = s.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Own process group: a test binary killed by a signal must not leave the child
	// attached to the terminal's job control.
	// Pdeathsig: a test binary that is killed outright takes its Dovecot with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", Binary, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(10 * time.Second)
	for _, addr := range []string{s.IMAPS, s.STARTTLS, s.Plain} {
		for {
			err := greets(addr, addr == s.IMAPS, s.CA)
			if err == nil {
				break
			}
			select {
			case <-done:
				return fmt.Errorf("dovecot exited: %s %s", cmd.ProcessState, strings.TrimSpace(out.String()))
			default:
			}
			if time.Now().After(deadline) {
				s.stopLocked()
				return fmt.Errorf("dovecot did not greet on %s within 10s: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// greets checks that an IMAP greeting arrives on addr.
func greets(addr string, implicitTLS bool, ca *x509.CertPool) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	var c net.Conn = conn
	if implicitTLS {
		tc := tlsClient(conn, ca)
		if err := tc.Handshake(); err != nil {
			return err
		}
		c = tc
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") {
		return fmt.Errorf("greeting %q", line)
	}
	return nil
}

// Restart stops the server if it runs and starts it again on the same ports, with the same
// mail.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	if err := s.start(); err != nil {
		s.dumpLog(t)
		t.Fatalf("dovecottest: restart: %v", err)
	}
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		// Kill the whole group: the master's children too.
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

func (s *Server) dumpLog(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, "dovecot.log"))
	if err != nil {
		t.Logf("dovecot.log: %v", err)
		return
	}
	if len(b) > 64<<10 {
		b = append([]byte("...\n"), b[len(b)-64<<10:]...)
	}
	t.Logf("dovecot.log:\n%s", b)
}

// maildir returns the Maildir++ directory of a mailbox.
func (s *Server) maildir(mailbox string) string {
	root := filepath.Join(s.Dir, "mail", s.User, "Maildir")
	if strings.EqualFold(mailbox, "INBOX") {
		return root
	}
	return filepath.Join(root, "."+strings.ReplaceAll(mailbox, "/", "."))
}

// mkdirOwned creates dir and its missing parents owned by the mail user.
func (s *Server) mkdirOwned(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := s.chown(missing[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) chown(path string) error {
	if s.uid < 0 {
		return nil
	}
	return os.Lchown(path, s.uid, s.gid)
}

// CreateMailbox creates an empty mailbox on disk (Dovecot sees it at its next LIST or
// SELECT); INBOX always exists.
func (s *Server) CreateMailbox(t testing.TB, mailbox string) {
	t.Helper()
	if err := s.createMaildir(mailbox); err != nil {
		t.Fatalf("dovecottest: creating %q: %v", mailbox, err)
	}
}

func (s *Server) createMaildir(mailbox string) error {
	dir := s.maildir(mailbox)
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := s.mkdirOwned(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	if !strings.EqualFold(mailbox, "INBOX") {
		// Maildir++: the file that marks a folder.
		marker := filepath.Join(dir, "maildirfolder")
		if _, err := os.Stat(marker); err != nil {
			if err := os.WriteFile(marker, nil, 0o600); err != nil {
				return err
			}
			return s.chown(marker)
		}
	}
	return nil
}

// Append stores messages in a mailbox (created if absent) by writing Maildir files
// directly into new/, which Dovecot picks up at its next sync of the mailbox, assigning UIDs
// in the order of the calls. It is fast enough for tens of thousands of messages.
//
// The file name carries S= (size on disk) and W= (size with CRLF line ends, which is
// RFC822.SIZE) so Dovecot need not read the file to answer a size.
func (s *Server) Append(t testing.TB, mailbox string, raw ...[]byte) {
	t.Helper()
	if err := s.createMaildir(mailbox); err != nil {
		t.Fatalf("dovecottest: creating %q: %v", mailbox, err)
	}
	dir := s.maildir(mailbox)
	s.mu.Lock()
	defer s.mu.Unlock()
	base := time.Now().Unix()
	for _, msg := range raw {
		s.seq++
		vsize := int64(len(msg)) + int64(bytes.Count(msg, []byte("\n"))) - int64(bytes.Count(msg, []byte("\r\n")))
		// Dovecot orders new mail by the time in the name, seconds then microseconds
		// (maildir_time_cmp): the counter as M keeps the append order.
		name := fmt.Sprintf("%d.M%dP%d.dovecottest,S=%d,W=%d", base, s.seq, os.Getpid(), len(msg), vsize)
		tmp := filepath.Join(dir, "tmp", name)
		if err := os.WriteFile(tmp, msg, 0o600); err != nil {
			t.Fatalf("dovecottest: %v", err)
		}
		if err := s.chown(tmp); err != nil {
			t.Fatalf("dovecottest: %v", err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "new", name)); err != nil {
			t.Fatalf("dovecottest: %v", err)
		}
	}
}

// Messages returns the number of messages in a mailbox, as Dovecot counts them
// (doveadm mailbox status), or -1 when the mailbox does not exist.
func (s *Server) Messages(t testing.TB, mailbox string) int {
	t.Helper()
	out, err := s.Doveadm("-f", "flow", "mailbox", "status", "-u", s.User, "messages", mailbox)
	if err != nil {
		if strings.Contains(out, "doesn't exist") || strings.Contains(out, "Mailbox not found") {
			return -1
		}
		t.Fatalf("dovecottest: doveadm mailbox status: %v: %s", err, out)
	}
	// The flow formatter prints "mailbox=NAME messages=N"; the name may hold spaces.
	i := strings.LastIndex(out, "messages=")
	if i < 0 {
		t.Fatalf("dovecottest: doveadm mailbox status printed %q", out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out[i+len("messages="):]))
	if err != nil {
		t.Fatalf("dovecottest: doveadm mailbox status printed %q", out)
	}
	return n
}

// MessageIDs lists the Message-IDs of a mailbox's messages (doveadm fetch), in no order.
func (s *Server) MessageIDs(t testing.TB, mailbox string) []string {
	t.Helper()
	out, err := s.Doveadm("-f", "flow", "fetch", "-u", s.User, "hdr.message-id", "mailbox", mailbox)
	if err != nil {
		t.Fatalf("dovecottest: doveadm fetch: %v: %s", err, out)
	}
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "hdr.message-id="); ok && strings.TrimSpace(v) != "" {
			ids = append(ids, strings.TrimSpace(v))
		}
	}
	return ids
}

// Doveadm runs doveadm with the server's configuration and returns its combined output.
func (s *Server) Doveadm(args ...string) (string, error) {
	cmd := exec.Command("doveadm", append([]string{"-c", s.configPath()}, args...)...)
	cmd.Dir = s.Dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ResetUIDValidity gives a mailbox a new UIDVALIDITY and renumbers its messages from UID 1,
// as a server does after losing or rebuilding its index (RFC 3501 section 2.3.1.1): the
// server is stopped, the mailbox's dovecot-uidlist and index files are deleted, and the
// server is started again. Dovecot takes the new UIDVALIDITY from the mail root's
// dovecot-uidvalidity counter, so it differs from the old one.
func (s *Server) ResetUIDValidity(t testing.TB, mailbox string) {
	t.Helper()
	s.stop()
	dir := s.maildir(mailbox)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	for _, e := range entries {
		if n := e.Name(); n == "dovecot-uidlist" || strings.HasPrefix(n, "dovecot.index") {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				t.Fatalf("dovecottest: %v", err)
			}
		}
	}
	if err := s.start(); err != nil {
		s.dumpLog(t)
		t.Fatalf("dovecottest: restart: %v", err)
	}
}

// SetUIDValidity sets a mailbox's UIDVALIDITY while the server runs, keeping the UIDs
// (doveadm mailbox update).
func (s *Server) SetUIDValidity(t testing.TB, mailbox string, v uint32) {
	t.Helper()
	out, err := s.Doveadm("mailbox", "update", "-u", s.User, "--uid-validity", strconv.FormatUint(uint64(v), 10), mailbox)
	if err != nil {
		t.Fatalf("dovecottest: doveadm mailbox update: %v: %s", err, out)
	}
}

// writeCert makes a self-signed ECDSA certificate for 127.0.0.1, ::1 and localhost and
// returns a pool that trusts it.
func writeCert(dir string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "dovecottest", Organization: []string{"hosho-intake tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644); err != nil {
		return nil, err
	}
	// Read by the master as root before it drops privileges.
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}

func tlsClient(conn net.Conn, ca *x509.CertPool) *tls.Conn {
	return tls.Client(conn, &tls.Config{RootCAs: ca, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
}
