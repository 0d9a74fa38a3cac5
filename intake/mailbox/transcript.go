package mailbox

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
)

// transcript is the io.Writer go-imap copies the protocol to (imapclient.Options.DebugWriter):
// both directions arrive in one stream, in the chunks the client read or flushed. It logs
// complete lines at debug level and redacts credentials twice over: every line of a LOGIN
// or AUTHENTICATE command loses its arguments, and every registered secret (the password,
// each SASL response as sent in base64) is replaced wherever it appears, which also covers
// SASL continuation lines and LOGIN arguments sent as literals.
type transcript struct {
	log *slog.Logger

	mu        sync.Mutex
	buf       []byte
	secrets   []string
	midSecret bool // the current line is a LOGIN/AUTHENTICATE command being flushed in parts
}

const (
	transcriptMaxLine = 64 << 10 // flush a partial line at this size (a literal)
	transcriptShown   = 300      // bytes of each line written to the log
	redacted          = "<redacted>"
)

// authLine matches a client command that carries credentials: a tag, then LOGIN or
// AUTHENTICATE (RFC 3501 sections 6.2.2 and 6.2.3).
var authLine = regexp.MustCompile(`(?i)^([^ \r\n]+ (?:LOGIN|AUTHENTICATE))( [A-Z0-9_-]+)?`)

func newTranscript(log *slog.Logger) *transcript { return &transcript{log: log} }

// secret registers a value never to be logged.
func (t *transcript) secret(s string) {
	if len(s) < 3 { // "=" (an empty SASL response) or trivial: nothing to hide
		return
	}
	t.mu.Lock()
	t.secrets = append(t.secrets, s)
	t.mu.Unlock()
}

func (t *transcript) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			break
		}
		t.emit(t.buf[:i+1], true)
		t.buf = t.buf[i+1:]
	}
	if len(t.buf) > transcriptMaxLine {
		t.emit(t.buf, false)
		t.buf = t.buf[:0]
	}
	// Reuse the array once drained so a long session does not grow it.
	if len(t.buf) == 0 {
		t.buf = t.buf[:0:cap(t.buf)]
	}
	return len(p), nil
}

func (t *transcript) emit(b []byte, complete bool) {
	line := strings.TrimRight(string(b), "\r\n")
	for _, s := range t.secrets {
		line = strings.ReplaceAll(line, s, redacted)
	}
	switch {
	case t.midSecret:
		line = redacted
	default:
		if m := authLine.FindStringSubmatchIndex(line); m != nil {
			keep := m[3]
			if m[4] >= 0 && strings.HasSuffix(strings.ToUpper(line[m[2]:m[3]]), "AUTHENTICATE") {
				keep = m[5] // the mechanism name is useful and not secret
			}
			if keep < len(line) {
				line = line[:keep] + " " + redacted
			}
			t.midSecret = !complete
		}
	}
	if complete {
		t.midSecret = false
	}
	if len(line) > transcriptShown {
		line = line[:transcriptShown] + "..."
	}
	t.log.Debug("imap", "line", line)
}

// redactingSASL registers every response a SASL client sends, as it goes on the wire
// (base64, RFC 3501 section 6.2.2), with the transcript.
type redactingSASL struct {
	sasl.Client
	t *transcript
}

func (r redactingSASL) Start() (string, []byte, error) {
	mech, ir, err := r.Client.Start()
	if ir != nil {
		r.t.secret(base64.StdEncoding.EncodeToString(ir))
	}
	return mech, ir, err
}

func (r redactingSASL) Next(challenge []byte) ([]byte, error) {
	resp, err := r.Client.Next(challenge)
	if resp != nil {
		r.t.secret(base64.StdEncoding.EncodeToString(resp))
	}
	return resp, err
}
