package mailbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Move moves messages of the selected mailbox to dest, creating dest (and subscribing to
// it, so people see it in their mail programs) when it does not exist.
//
// With MOVE (RFC 6851) the server moves atomically. Without it, the fallback of RFC 6851
// section 3.3 is done here rather than by go-imap, whose beta.8 fallback pipelines the
// STORE and EXPUNGE behind the COPY whatever the COPY answers, deleting messages that were
// never copied (and, without UIDPLUS, every other message flagged \Deleted; also found by
// https://github.com/TRC-Loop/Pelton/issues/278):
//
//  1. UID COPY. If it fails, nothing else is sent: the messages stay where they are.
//  2. The copied UIDs are the source set of the server's COPYUID (RFC 4315 section 3),
//     or, when it sends none, every UID asked for, since COPY is all or nothing
//     (RFC 3501 section 6.4.7).
//  3. UID STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE (RFC 4315 section 2.1) of
//     exactly those. Without UIDPLUS there is no UID EXPUNGE, and EXPUNGE would remove
//     every \Deleted message: it is sent only when UID SEARCH DELETED finds no others;
//     otherwise the moved messages are left flagged \Deleted and a warning is logged.
//
// A failure after a successful COPY leaves the messages in both mailboxes; moving them
// again copies them again (the destination gets a duplicate, the source loses nothing).
//
// Mailbox names may be any Unicode: go-imap sends them in modified UTF-7 (RFC 3501 section
// 5.1.3), or quoted UTF-8 when the server has IMAP4rev2 or UTF8=ACCEPT.
func (s *Session) Move(ctx context.Context, uids []uint32, dest string) error {
	if len(uids) == 0 {
		return nil
	}
	set := uidSet(uids)
	hasMove, err := s.has(ctx, imap.CapMove)
	if err != nil {
		return err
	}
	transfer := func() (*imap.CopyData, error) {
		if hasMove {
			return nil, s.do(ctx, fmt.Sprintf("uid move %s %s", set, quote(dest)), func() error {
				_, err := s.c.Move(set, dest).Wait()
				return err
			})
		}
		var data *imap.CopyData
		err := s.do(ctx, fmt.Sprintf("uid copy %s %s", set, quote(dest)), func() error {
			var err error
			data, err = s.c.Copy(set, dest).Wait()
			return err
		})
		return data, err
	}
	data, err := transfer()
	if err != nil {
		create, lerr := s.mustCreate(ctx, err, dest)
		if lerr != nil {
			return lerr
		}
		if !create {
			return err
		}
		if err := s.create(ctx, dest); err != nil {
			return err
		}
		if data, err = transfer(); err != nil {
			return err
		}
	}
	if hasMove {
		return nil
	}
	return s.expungeCopied(ctx, set, data)
}

// mustCreate reports whether a failed COPY or MOVE failed because dest does not exist:
// the server says TRYCREATE (RFC 3501 section 6.4.7) or NONEXISTENT (RFC 5530), or, when it
// gives no code, LIST does not find it.
func (s *Session) mustCreate(ctx context.Context, err error, dest string) (bool, error) {
	var ie *imap.Error
	if !errors.As(err, &ie) {
		return false, nil
	}
	switch ie.Code {
	case imap.ResponseCodeTryCreate, imap.ResponseCodeNonExistent:
		return true, nil
	case "":
		exists, err := s.exists(ctx, dest)
		return !exists, err
	}
	return false, nil
}

func (s *Session) exists(ctx context.Context, mailbox string) (bool, error) {
	var l []*imap.ListData
	err := s.do(ctx, "list "+quote(mailbox), func() error {
		var err error
		l, err = s.c.List("", mailbox, nil).Collect()
		return err
	})
	for _, d := range l {
		if d.Mailbox == mailbox && !slices.Contains(d.Attrs, imap.MailboxAttrNonExistent) {
			return true, err
		}
	}
	return false, err
}

// create creates a mailbox, tolerating a concurrent creation, and subscribes to it.
func (s *Session) create(ctx context.Context, mailbox string) error {
	err := s.do(ctx, "create "+quote(mailbox), func() error { return s.c.Create(mailbox, nil).Wait() })
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		err = nil
	}
	if err != nil {
		return err
	}
	// Only so that people see the folder in their mail programs: not worth failing for.
	if err := s.do(ctx, "subscribe "+quote(mailbox), func() error { return s.c.Subscribe(mailbox).Wait() }); err != nil {
		if !Temporary(err) {
			s.log.Warn("imap subscribe failed", "mailbox", mailbox, "err", err)
		} else {
			return err
		}
	}
	return nil
}

// expungeCopied removes from the selected mailbox the messages a COPY copied.
func (s *Session) expungeCopied(ctx context.Context, asked imap.UIDSet, data *imap.CopyData) error {
	copied := asked
	if data != nil && len(data.SourceUIDs) > 0 {
		nums, _ := data.SourceUIDs.Nums()
		copied = nil
		for _, u := range nums {
			if asked.Contains(u) {
				copied.AddNum(u)
			}
		}
		if len(copied) == 0 {
			return nil
		}
	}
	hasUIDPlus, err := s.has(ctx, imap.CapUIDPlus)
	if err != nil {
		return err
	}
	if err := s.store(ctx, copied, []imap.Flag{imap.FlagDeleted}); err != nil {
		return err
	}
	if hasUIDPlus {
		return s.do(ctx, fmt.Sprintf("uid expunge %s", copied), func() error {
			return s.c.UIDExpunge(copied).Close()
		})
	}
	var deleted *imap.SearchData
	err = s.do(ctx, "uid search deleted", func() error {
		var err error
		deleted, err = s.c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
		return err
	})
	if err != nil {
		return err
	}
	for _, u := range deleted.AllUIDs() {
		if !copied.Contains(u) {
			s.log.Warn("imap: no UIDPLUS and other messages are flagged \\Deleted: moved messages left flagged, not expunged",
				"mailbox", s.selected, "uids", copied.String())
			return nil
		}
	}
	return s.do(ctx, "expunge", func() error { return s.c.Expunge().Close() })
}

// Flag adds flags (system flags like \Seen, or keywords like $Hosho-Processed) to messages
// of the selected mailbox. Flags the mailbox does not keep (not in its PERMANENTFLAGS and,
// for keywords, no \* there: RFC 3501 section 7.1) are not sent; if any were left out,
// the others are stored and the error is ErrFlagNotPermanent, so the caller knows the
// server will not remember the mark and can rely on its own records.
func (s *Session) Flag(ctx context.Context, uids []uint32, flags ...string) error {
	if len(uids) == 0 || len(flags) == 0 {
		return nil
	}
	set := uidSet(uids)
	op := fmt.Sprintf("uid store %s +flags (%s)", set, strings.Join(flags, " "))
	var keep []imap.Flag
	var dropped []string
	for _, f := range flags {
		if !validFlag(f) {
			return &Error{Op: op, Kind: ErrConfig, Err: fmt.Errorf("invalid flag %q", f)}
		}
		if permanent(s.flags, s.perm, imap.Flag(f)) {
			keep = append(keep, imap.Flag(f))
		} else {
			dropped = append(dropped, f)
		}
	}
	if len(keep) > 0 {
		if err := s.store(ctx, set, keep); err != nil {
			return err
		}
	}
	if len(dropped) > 0 {
		return &Error{Op: op, Kind: ErrFlagNotPermanent, Err: fmt.Errorf("mailbox %s keeps only %v, not %s", quote(s.selected), s.perm, strings.Join(dropped, " "))}
	}
	return nil
}

func (s *Session) store(ctx context.Context, set imap.UIDSet, flags []imap.Flag) error {
	return s.do(ctx, fmt.Sprintf("uid store %s +flags.silent %v", set, flags), func() error {
		return s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: flags}, nil).Close()
	})
}

// permanent reports whether a mailbox keeps flag, from its FLAGS and PERMANENTFLAGS
// (RFC 3501 section 7.1): no PERMANENTFLAGS at all means every flag is kept; a flag listed
// in FLAGS but not in PERMANENTFLAGS is not; a keyword not yet listed can be created only
// when PERMANENTFLAGS has \*. A system flag absent from both is tried (go-imap's memory
// server lists in FLAGS only the flags in use). Flags are compared ignoring case: servers
// differ (that memory server lower-cases keywords).
func permanent(flags, perm []imap.Flag, flag imap.Flag) bool {
	has := func(l []imap.Flag, f imap.Flag) bool {
		return slices.ContainsFunc(l, func(x imap.Flag) bool { return strings.EqualFold(string(x), string(f)) })
	}
	switch {
	case len(perm) == 0, has(perm, flag):
		return true
	case has(flags, flag):
		return false
	case strings.HasPrefix(string(flag), `\`):
		return true
	}
	return has(perm, imap.FlagWildcard)
}

// validFlag reports whether f is a flag go-imap can send: "\" and an atom, or a keyword
// atom (RFC 3501 section 9, flag). go-imap closes the connection on an invalid one.
func validFlag(f string) bool {
	f = strings.TrimPrefix(f, `\`)
	if f == "" {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

func uidSet(uids []uint32) imap.UIDSet {
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	return set
}
