package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"hosho-intake/intake"
	"hosho-intake/intake/web/session"
	"hosho-intake/verifier"
)

// maxRegisterUpload bounds an uploaded contract register. A register of ten years of an
// agency's contracts is well under 2 MB as CSV; the bound keeps an upload in memory (no
// temporary files) and the state small, since the state keeps the file.
const maxRegisterUpload = 4 << 20

// maxPostBody bounds the body of any form a signed-in clerk posts: the largest is an
// upload of the register, in multipart with its few other fields.
const maxPostBody = maxRegisterUpload + 64<<10

// maxShown bounds the rows of each list a preview shows; the counts are always whole.
const maxShown = 300

// registerView is the register page's part of view.
type registerView struct {
	Source, By, At, Name string
	Rows, Refused        int
	Shadowed             bool
	File                 string // the config's [register] csv
	MaxMB                int
	Trail                []importRow
	// The preview of an upload.
	Preview                             bool
	Sum, Error                          string
	Added, Changed, Removed             []registerRow
	NAdded, NChanged, NRemoved, NSame   int
	NewRows                             int
	RefusedRows                         []verifier.RowError
	MoreAdded, MoreChanged, MoreRemoved int
	MoreRefused                         int
}

type importRow struct {
	At, By, Name                                  string
	Rows, Refused, Added, Changed, Removed, Lines int
}

// registerRow is one contract of a preview: what the register said and will say.
type registerRow struct {
	Line                       int
	Name, Number, Dates        string
	OldName, OldNumber, OldDts string
}

func (s *Server) registerView(c session.Session, title string) view {
	v := s.view(c, title)
	svc := s.svc()
	cur := svc.Effects.RegisterInEffect()
	rv := &registerView{Source: cur.Source, Rows: cur.Register.Len(), Refused: cur.Refused, Shadowed: cur.Shadowed,
		File: svc.Config.Register.CSV, MaxMB: maxRegisterUpload >> 20}
	if cur.Source == intake.RegisterFromPage {
		rv.By, rv.At, rv.Name = cur.Import.By, jst(cur.Import.At), cur.Import.Name
	}
	v.Register = rv
	return v
}

// trail fills the audit trail of imports into v.
func (s *Server) trail(v *view) error {
	return s.svc().Ledger.DB().View(func(tx *bolt.Tx) error {
		imps, err := verifier.RegisterImports(tx)
		for _, imp := range imps {
			v.Register.Trail = append(v.Register.Trail, importRow{At: jst(imp.At), By: imp.By, Name: imp.Name, Rows: imp.Rows,
				Refused: imp.Refused, Added: imp.Added, Changed: imp.Changed, Removed: imp.Removed})
		}
		return err
	})
}

// register shows the contract register in effect, the upload form and the imports so far.
func (s *Server) register(w http.ResponseWriter, r *http.Request, c session.Session) {
	v := s.registerView(c, "契約台帳の取り込み")
	if err := s.trail(&v); err != nil {
		s.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("done") == "1" {
		v.Flash = "契約台帳を取り込みました。これから届くお知らせの判定に使います。"
	}
	s.render(w, http.StatusOK, "register", v)
}

// registerPreview reads an uploaded register with the verifier's reader (the one the
// daemon reads [register] csv with), keeps it for the clerk's confirmation, and shows what
// it would change and which rows it refuses.
func (s *Server) registerPreview(w http.ResponseWriter, r *http.Request, c session.Session) {
	f, hdr, err := r.FormFile("csv")
	if err != nil {
		s.refuse(w, http.StatusBadRequest, "ファイルがありません", "取り込む契約台帳のCSVファイルを選んでください。")
		return
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxRegisterUpload+1))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(raw) > maxRegisterUpload {
		s.tooLarge(w)
		return
	}
	name := uploadName(hdr.Filename)
	v := s.registerView(c, "契約台帳の取り込み: 確認")
	rv := v.Register
	rv.Preview = true
	reg, refused, err := verifier.ReadRegister(bytes.NewReader(raw))
	if err != nil {
		// The whole file is unreadable: its encoding, header or quoting.
		rv.Error = "ファイルを読めません。"
		if re := (verifier.RowError{}); errors.As(err, &re) {
			rv.Error = re.Ja
			if re.Line > 0 {
				rv.Error = fmt.Sprintf("%d行目: %s", re.Line, re.Ja)
			}
		}
		s.render(w, http.StatusUnprocessableEntity, "register", v)
		return
	}
	svc := s.svc()
	cur := svc.Effects.RegisterInEffect()
	d := verifier.DiffRegisters(cur.Register, reg)
	rv.NAdded, rv.NChanged, rv.NRemoved, rv.NSame, rv.NewRows = len(d.Added), len(d.Changed), len(d.Removed), d.Same, d.Rows
	rv.Added, rv.MoreAdded = shown(d.Added)
	rv.Changed, rv.MoreChanged = shown(d.Changed)
	rv.Removed, rv.MoreRemoved = shown(d.Removed)
	rv.RefusedRows = refused[:min(len(refused), maxShown)]
	rv.MoreRefused = len(refused) - len(rv.RefusedRows)
	if reg.Len() == 0 {
		rv.Error = "取り込める行がありません。"
		s.render(w, http.StatusUnprocessableEntity, "register", v)
		return
	}
	rv.Sum = verifier.RegisterSum(raw)
	err = svc.Ledger.DB().Update(func(tx *bolt.Tx) error {
		return verifier.SavePendingImport(tx, c.Clerk, verifier.PendingImport{CSV: raw, Name: name, Sum: rv.Sum, Base: cur.Sum, At: s.now()})
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "register", v)
}

// registerConfirm puts the clerk's previewed register in effect, recorded with the clerk and
// the time.
func (s *Server) registerConfirm(w http.ResponseWriter, r *http.Request, c session.Session) {
	_, err := s.svc().ImportRegister(c.Clerk, r.PostFormValue("sum"), s.now())
	switch {
	case errors.Is(err, verifier.ErrNoPendingImport):
		s.refuse(w, http.StatusConflict, "取り込む契約台帳がありません", "CSVファイルを選び直して、内容を確認してから取り込んでください。")
		return
	case errors.Is(err, verifier.ErrImportStale):
		s.refuse(w, http.StatusConflict, "契約台帳が変わりました",
			"確認画面を表示した後に契約台帳が更新されたか、時間が経ちすぎました。CSVファイルを選び直してください。")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, s.basePath()+"register?done=1", http.StatusSeeOther)
}

// tooLarge refuses an upload over maxRegisterUpload.
func (s *Server) tooLarge(w http.ResponseWriter) {
	s.refuse(w, http.StatusRequestEntityTooLarge, "ファイルが大きすぎます",
		fmt.Sprintf("契約台帳のCSVは%d MBまでです。工事名・日付・契約番号の列だけにして保存し直してください。", maxRegisterUpload>>20))
}

func shown(cs []verifier.RegisterChange) ([]registerRow, int) {
	var out []registerRow
	for _, c := range cs[:min(len(cs), maxShown)] {
		var rr registerRow
		if len(c.New) > 0 {
			e := c.New[0]
			rr.Line, rr.Name, rr.Number, rr.Dates = e.Line, names(c.New), e.ContractNumber, datesOf(c.New)
		}
		if len(c.Old) > 0 {
			e := c.Old[0]
			rr.OldName, rr.OldNumber, rr.OldDts = names(c.Old), e.ContractNumber, datesOf(c.Old)
			if rr.Line == 0 {
				rr.Line = e.Line
			}
		}
		out = append(out, rr)
	}
	return out, len(cs) - len(out)
}

func names(es []verifier.RegisterEntry) string {
	var out []string
	for _, e := range es {
		if !slices.Contains(out, e.ProjectName) {
			out = append(out, e.ProjectName)
		}
	}
	return strings.Join(out, " / ")
}

func datesOf(es []verifier.RegisterEntry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.DatesText())
	}
	return strings.Join(out, " / ")
}

// uploadName is the file's own name as the browser sent it (some send a Windows path),
// bounded, valid UTF-8: it is shown and kept in the audit trail.
func uploadName(n string) string {
	n = path.Base(strings.ReplaceAll(n, `\`, "/"))
	n = strings.ToValidUTF8(n, "?")
	if utf8.RuneCountInString(n) > 100 {
		n = string([]rune(n)[:100])
	}
	if n == "." || n == "/" {
		return ""
	}
	return n
}
