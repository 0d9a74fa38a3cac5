package mailbox

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"hosho-intake/intake/msgbuf"
)

// Status is what SELECT reports about a mailbox (RFC 3501 section 6.3.1).
type Status struct {
	UIDValidity uint32 // UIDs are only comparable while this stays the same (section 2.3.1.1)
	UIDNext     uint32 // the UID the next message will get; 0 if the server did not say
	Messages    uint32
}

// Info is one message as Since lists it.
type Info struct {
	UID          uint32
	Size         int64 // RFC822.SIZE: the size with CRLF line ends
	InternalDate time.Time
}

// Select opens a mailbox read-write (so that Move and Flag work).
func (s *Session) Select(ctx context.Context, mailbox string) (Status, error) {
	var data *imap.SelectData
	err := s.do(ctx, "select "+quote(mailbox), func() error {
		var err error
		data, err = s.c.Select(mailbox, nil).Wait()
		return err
	})
	if err != nil {
		s.selected, s.flags, s.perm = "", nil, nil
		return Status{}, err
	}
	s.selected, s.flags, s.perm = mailbox, data.Flags, data.PermanentFlags
	return Status{UIDValidity: data.UIDValidity, UIDNext: uint32(data.UIDNext), Messages: data.NumMessages}, nil
}

// Since lists the messages with a UID above afterUID, sorted by UID, in one round trip:
// UID FETCH afterUID+1:* (UID RFC822.SIZE INTERNALDATE), what the server keeps in its index.
// Nothing of a message's header is asked for: an ENVELOPE, then the Message-ID field alone,
// made Dovecot open every message before the poll could start (0.1 to 0.7 s, then 0.1 s,
// for 2,000 real mails against 0.03 s without; issue 14). When no UID is that high, "*"
// still names the last message (RFC 3501 section 6.4.8: "n:*" is the range between n and
// the highest UID, whichever is larger), which is dropped here.
//
// Callers that know Status.UIDNext == afterUID+1 need not call it.
func (s *Session) Since(ctx context.Context, afterUID uint32) ([]Info, error) {
	if afterUID == math.MaxUint32 {
		return nil, nil
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(afterUID+1), 0) // 0 is "*"
	var l []Info
	err := s.do(ctx, fmt.Sprintf("uid fetch %d:*", afterUID+1), func() error {
		cmd := s.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true})
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			buf, err := msg.Collect()
			if err != nil {
				cmd.Close()
				return err
			}
			if uint32(buf.UID) <= afterUID {
				continue
			}
			l = append(l, Info{UID: uint32(buf.UID), Size: buf.RFC822Size, InternalDate: buf.InternalDate})
		}
		return cmd.Close()
	})
	if err != nil {
		return nil, err
	}
	// Servers answer in sequence order, which is UID order (RFC 3501 section 2.3.1.1),
	// but nothing forbids another order.
	slices.SortFunc(l, func(a, b Info) int { return cmp.Compare(a.UID, b.UID) })
	l = slices.CompactFunc(l, func(a, b Info) bool { return a.UID == b.UID })
	return l, nil
}

// Fetch returns one whole message (BODY.PEEK[], which leaves \Seen alone), read as it
// streams in. Callers check Info.Size against their limit first; Options.MaxSize bounds
// what a lying server can make us hold.
func (s *Session) Fetch(ctx context.Context, uid uint32) ([]byte, error) {
	return s.fetchSection(ctx, uid, &imap.FetchItemBodySection{Peek: true}, "body.peek[]")
}

// FetchEach fetches whole messages (BODY.PEEK[]) in one pipelined UID FETCH and calls fn
// with each as it arrives, in the server's order (UID order in practice). It costs one
// round trip for the batch instead of one per message, which is what matters on a
// distant server. A UID that no longer exists is skipped without a call; an error from fn
// stops the fetch (the rest of the response is drained) and is returned as it is.
//
// While fn runs the watchdog is paused: the time the caller spends on a message is not
// the server's silence. The server waits meanwhile (TCP flow control), so fn should not
// take minutes.
func (s *Session) FetchEach(ctx context.Context, uids []uint32, fn func(uid uint32, raw []byte) error) error {
	if len(uids) == 0 {
		return nil
	}
	set := uidSet(uids)
	op := fmt.Sprintf("uid fetch %s body.peek[]", set)
	section := &imap.FetchItemBodySection{Peek: true}
	var fnErr error
	err := s.do(ctx, op, func() error {
		cmd := s.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		defer cmd.Close()
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			var uid uint32
			var body []byte
			found := false
			for item := msg.Next(); item != nil; item = msg.Next() {
				switch data := item.(type) {
				case imapclient.FetchItemDataUID:
					uid = uint32(data.UID)
				case imapclient.FetchItemDataBodySection:
					if found || !data.MatchCommand(section) || data.Literal == nil {
						continue
					}
					found = true
					var err error
					if body, err = s.readLiteral(op, data.Literal); err != nil {
						return err
					}
				}
			}
			if !found || uid == 0 {
				continue
			}
			s.wd.disarm()
			fnErr = fn(uid, body)
			s.wd.arm()
			if fnErr != nil {
				return fnErr
			}
		}
		return cmd.Close()
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

func (s *Session) readLiteral(op string, lit imap.LiteralReader) ([]byte, error) {
	size := lit.Size()
	if size > s.maxSize {
		return nil, &Error{Op: op, Kind: ErrTooLarge, Err: fmt.Errorf("%d bytes, limit %d", size, s.maxSize)}
	}
	// Read into a buffer of the stated size: a bytes.Buffer wants room to spare before each
	// read, so it grew every message to twice its size, one more copy and allocation each.
	// The buffer may be a released one (msgbuf): past len(b), up to its capacity, it may
	// still hold an earlier message's bytes, which no reader of b looks at.
	b := msgbuf.Get(int(size))
	if _, err := io.ReadFull(lit, b); err != nil {
		msgbuf.Release(b)
		return nil, err
	}
	return b, nil
}

// FetchHeader returns the header of one message (BODY.PEEK[HEADER]), for messages over the
// size limit that are answered without being downloaded.
func (s *Session) FetchHeader(ctx context.Context, uid uint32) ([]byte, error) {
	return s.fetchSection(ctx, uid, &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader}, "body.peek[header]")
}

func (s *Session) fetchSection(ctx context.Context, uid uint32, section *imap.FetchItemBodySection, what string) ([]byte, error) {
	op := fmt.Sprintf("uid fetch %d %s", uid, what)
	var body []byte
	found := false
	err := s.do(ctx, op, func() error {
		cmd := s.c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		// Close drains whatever we do not read, so the client can go on.
		defer cmd.Close()
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			for item := msg.Next(); item != nil; item = msg.Next() {
				data, ok := item.(imapclient.FetchItemDataBodySection)
				if !ok || found || !data.MatchCommand(section) {
					continue
				}
				found = true
				if data.Literal == nil { // NIL: the server has no such part
					continue
				}
				var err error
				if body, err = s.readLiteral(op, data.Literal); err != nil {
					return err
				}
			}
		}
		return cmd.Close()
	})
	if err != nil {
		return nil, err
	}
	if !found {
		// RFC 3501 section 6.4.8: a UID FETCH of a UID that does not exist is not an
		// error, just no data.
		return nil, &Error{Op: op, Kind: ErrNoMessage}
	}
	return body, nil
}
