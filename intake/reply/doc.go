// Package reply answers the people who write to the agency mailbox: it decides whether a
// received message may be answered at all (Should), bounds how often one sender is answered
// (Limiter), and composes the replies themselves (Composer) in Japanese business style.
//
// The contract:
//
//   - Should refuses, with a reason code, every message that RFC 3834 §2 says a responder must
//     not answer (automatic submissions, bounces, list traffic), mail from robot-style or null
//     senders, mail from the agency's own address, and, when configured, mail whose
//     Authentication-Results (RFC 8601) from the agency's own server shows no DMARC, DKIM or
//     SPF pass. Nothing else is refused: a person who sent the wrong file gets an answer that
//     says what to send instead.
//   - A Limiter counts the replies per sender in the caller's bbolt transaction, so that the
//     count commits with the reply it admits; a misconfigured robot that slips past Should gets
//     at most N replies an hour.
//   - Compose renders exactly one reply per received message, listing every notice it held with
//     its 受付番号 and every problem with what to send instead. The 認証キー never appears in a
//     reply unmasked, neither in the body nor in a header (a sender may have typed it into the
//     subject). Headers built from what a sender wrote (subject, display name) are encoded words
//     (RFC 2047) stripped of control characters, so they can never start a header line of
//     their own (RFC 5322 §2.2).
//   - Every reply is marked Auto-Submitted: auto-replied (RFC 3834 §5) and
//     X-Auto-Response-Suppress: OOF, AutoReply, so that neither a conforming responder nor an
//     Exchange out-of-office answers it back.
//   - Templates are text/template files embedded in the binary; a file of the same name in
//     Options.TemplatesDir replaces one. NewComposer renders every template once with sample
//     data, so a broken override fails at start-up, not at the first reply.
//
// On-disk layout: the Limiter owns the bbolt bucket "reply-rate" (schema owner "reply" in the
// ledger's meta bucket): lower-cased sender address (or "sha256:"+hex of a longer one) ->
// the Unix seconds (int64, big-endian, ascending) of the replies admitted in the last hour.
//
// The package keeps no mutable globals; a Composer and a Limiter are safe for concurrent use.
package reply
