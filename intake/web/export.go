package web

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"

	"hosho-intake/intake/web/session"
	"hosho-intake/verifier"
)

// exportHeader names the CSV's columns in the words of the agency's contract register.
// The 認証キー is not among them: the register needs the certificate's number, and a
// spreadsheet passed around the office must not open certificates.
var exportHeader = []string{"受付番号", "状態", "区分", "保証契約番号", "工事名", "発注者", "保証機関", "送信者",
	"受信日時", "処理日時", "処理者", "処理方法", "差戻しの理由", "判定ルール"}

// Encodings of the export: UTF-8 with a BOM, which Excel needs to read it as UTF-8, or
// Shift_JIS for older spreadsheets and register systems.
const (
	encUTF8     = "utf-8"
	encShiftJIS = "shift_jis"
)

// export writes the submissions of a period as CSV: the verified ones by the day they were
// verified (what the register records), or all by the day they were received.
func (s *Server) export(w http.ResponseWriter, r *http.Request, c session.Session) {
	q := r.URL.Query()
	from, err1 := time.ParseInLocation(time.DateOnly, q.Get("from"), japan)
	to, err2 := time.ParseInLocation(time.DateOnly, q.Get("to"), japan)
	state, enc := q.Get("state"), q.Get("enc")
	if state == "" {
		state = verifier.StateVerified
	}
	if enc == "" {
		enc = encUTF8
	}
	if err1 != nil || err2 != nil || to.Before(from) || (state != verifier.StateVerified && state != stateAll) ||
		(enc != encUTF8 && enc != encShiftJIS) {
		s.refuse(w, http.StatusBadRequest, "CSV出力の条件が正しくありません", "期間（開始日と終了日）と対象、文字コードを選んでください。")
		return
	}
	end := to.AddDate(0, 0, 1)
	subs, err := s.search(filter{State: stateAll})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.UseCRLF = true // Excel's line ends
	cw.Write(exportHeader)
	n := 0
	for i := len(subs) - 1; i >= 0; i-- { // oldest first
		sub := subs[i]
		decided, hasDecision := sub.Decided()
		at := cmpTime(sub.FiledAt(), sub.Received)
		if state == verifier.StateVerified {
			if sub.State != verifier.StateVerified || !hasDecision {
				continue
			}
			at = decided.At
		}
		if at.Before(from) || !at.Before(end) {
			continue
		}
		rec := []string{sub.TrackingNumber(), sub.Label(), sub.Notice.Category, sub.Notice.ContractNumber, sub.Notice.ProjectName,
			sub.Notice.Orderer, sub.Notice.Guarantor, sub.Sender, jst(sub.Received), "", "", "", "",
			strings.TrimSpace(sub.Decision.Policy + " " + sub.Decision.PolicyVersion)}
		if hasDecision {
			rec[9], rec[10], rec[11] = jst(decided.At), decided.By, howLabels[decided.How]
			if decided.To == verifier.StateRejected {
				rec[12] = decided.Why
			}
		}
		for i := range rec {
			rec[i] = cell(rec[i])
		}
		cw.Write(rec)
		n++
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.fail(w, r, err)
		return
	}
	out := append([]byte("\xEF\xBB\xBF"), b.Bytes()...)
	ctype := "text/csv; charset=utf-8"
	if enc == encShiftJIS {
		// A character Shift_JIS lacks (a rare kanji of a 工事名) becomes ? rather than
		// failing the whole export.
		if out, err = encoding.ReplaceUnsupported(japanese.ShiftJIS.NewEncoder()).Bytes(b.Bytes()); err != nil {
			s.fail(w, r, err)
			return
		}
		ctype = "text/csv; charset=shift_jis"
	}
	name := fmt.Sprintf("hosho-%s-%s-%s.csv", state, from.Format("20060102"), to.Format("20060102"))
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Write(out)
	s.log.Info("clerks' page: CSV exported", "by", c.Clerk, "state", state, "from", q.Get("from"), "to", q.Get("to"), "rows", n, "encoding", enc)
}

// cell keeps a stranger's text (a 工事名, a sender) from being read by a spreadsheet as a
// formula: a leading =, +, - or @ is quoted with an apostrophe (OWASP's CSV injection advice).
func cell(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	if s != "" && strings.ContainsRune("=+-@\t", rune(s[0])) {
		return "'" + s
	}
	return s
}
