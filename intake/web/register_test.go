package web_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/encoding/japanese"

	"hosho-intake/config"
	"hosho-intake/intake"
	"hosho-intake/parser"
	"hosho-intake/verifier"
)

// upload posts a register file through the page's form, as a browser does.
func (f *fixture) upload(c *http.Client, tok, name string, data io.Reader) (page, error) {
	f.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	written := make(chan struct{})
	go func() {
		defer close(written)
		if tok != "" {
			mw.WriteField("csrf", tok)
		}
		fw, err := mw.CreateFormFile("csv", name)
		if err == nil {
			_, err = io.Copy(fw, data)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/register/preview", pr)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.Do(req)
	pr.Close() // the writer stops where the server stopped reading
	<-written
	if err != nil {
		return page{}, err
	}
	return read(f.t, resp), nil
}

func (f *fixture) mustUpload(c *http.Client, tok, name string, data []byte) page {
	f.t.Helper()
	p, err := f.upload(c, tok, name, bytes.NewReader(data))
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// imports is the audit trail of register imports, newest first.
func (f *fixture) imports() []verifier.RegisterImport {
	f.t.Helper()
	var out []verifier.RegisterImport
	f.svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		var err error
		if out, err = verifier.RegisterImports(tx); err != nil {
			f.t.Fatal(err)
		}
		return nil
	})
	return out
}

// sumField is the confirmation form's sum of the previewed bytes.
func sumField(t *testing.T, p page) string {
	t.Helper()
	i := strings.Index(p.body, `name="sum" value="`)
	if i < 0 {
		t.Fatalf("no confirmation form in the preview (%d):\n%s", p.status, p.body)
	}
	rest := p.body[i+len(`name="sum" value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

// judged is how the running service dates a notice of project now: through the register in
// effect, as the poll does (Effects.Record judges with Effects.Register()).
func (f *fixture) judged(project string) verifier.Decision {
	f.t.Helper()
	n := parser.Notice{Category: "前払金保証", ContractNumber: "2070001234", AuthKey: "k", ProjectName: project,
		Orderer: "島根県知事", Guarantor: "西日本建設業保証株式会社", Source: "pdf"}
	return f.svc.Effects.Policy.Judge(n, verifier.Context{Received: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), Register: f.svc.Effects.Register()})
}

const fileRegister = "工事名,当初契約日,契約番号\n" +
	"一般県道松江線道路改良工事,2023-06-01,\n" +
	"出雲ダム管理設備更新,2023-07-01,\n" +
	"宍道湖西岸護岸整備工事,2023-08-01,\n"

// importCSV changes one date, removes one contract, adds one, and has three rows the
// reader refuses: a formula, a row without 工事名, a date that is none; and a 工事名 with
// a link in it, which is only text.
const importCSV = "工事名,当初契約日,契約番号,備考\r\n" +
	"一般県道松江線道路改良工事,2023/06/01 0:00,,①㈱\r\n" + // 2: the same
	"出雲ダム管理設備更新,令和5年9月1日,,\r\n" + // 3: changed
	"\"=HYPERLINK(\"\"https://evil.example/x\"\",\"\"橋梁補修工事\"\")\",2023-06-01,,\r\n" + // 4: refused
	",2023-06-01,,\r\n" + // 5: refused
	"隠岐空港滑走路補修工事,2023/13/45,,\r\n" + // 6: refused
	"\"<a href=\"\"https://evil.example/\"\">県道玉湯吾妻山線測量設計業務委託</a>\",2024-04-01,2070004426,\r\n" + // 7: added
	"斐伊川河川改修工事,2024-05-01,,\r\n" // 8: added

func TestRegisterImport(t *testing.T) {
	dir := t.TempDir()
	regFile := filepath.Join(dir, "register.csv")
	if err := os.WriteFile(regFile, []byte(fileRegister), 0o640); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *config.Config) { c.Register.CSV = regFile })
	c, tok := f.signIn(clerk)
	if got := f.judged("出雲ダム管理設備更新").StartDateSource; got != verifier.SourceRegister {
		t.Fatalf("before the import: date from %q, want the register file", got)
	}

	t.Run("hostile", func(t *testing.T) {
		// Nobody signed in: refused before the body is read.
		stranger := f.browser()
		if p := f.get(stranger, "/register"); p.status != http.StatusSeeOther {
			t.Errorf("GET /register without a session: %d, want a redirect to sign in", p.status)
		}
		if p := f.mustUpload(stranger, tok, "r.csv", []byte(importCSV)); p.status != http.StatusForbidden {
			t.Errorf("upload without a session (with a clerk's CSRF token): %d, want 403", p.status)
		}
		// A session of an address that is no longer a clerk's.
		gone, gtok := f.signIn(other)
		f.svc.Config.Digest.Clerks = f.svc.Config.Digest.Clerks[:1]
		if p := f.mustUpload(gone, gtok, "r.csv", []byte(importCSV)); p.status != http.StatusForbidden {
			t.Errorf("upload by a former clerk: %d, want 403", p.status)
		}
		f.svc.Config.Digest.Clerks = testConfig(t, dir).Digest.Clerks
		// A clerk without the form's CSRF token, or with another's.
		for _, bad := range []string{"", "forged", gtok} {
			if p := f.mustUpload(c, bad, "r.csv", []byte(importCSV)); p.status != http.StatusForbidden {
				t.Errorf("upload with CSRF %q: %d, want 403", bad, p.status)
			}
			if p := f.post(c, "/register/confirm", url.Values{"csrf": {bad}, "sum": {verifier.RegisterSum([]byte(importCSV))}}); p.status != http.StatusForbidden {
				t.Errorf("confirm with CSRF %q: %d, want 403", bad, p.status)
			}
		}
		// 50 MB from a signed-in clerk: refused at the bound, not read to its end.
		big := &counter{r: io.MultiReader(strings.NewReader("工事名,契約日\n"), io.LimitReader(repeat("工事,2023-06-01\n"), 50<<20))}
		p, err := f.upload(c, tok, "big.csv", big)
		if err != nil {
			t.Fatalf("50 MB upload: %v (want a 413 answer)", err)
		}
		if p.status != http.StatusRequestEntityTooLarge || !strings.Contains(p.body, "ファイルが大きすぎます") {
			t.Errorf("50 MB upload: %d, want 413\n%s", p.status, p.body)
		}
		// The server stopped reading at its bound and closed: what the client got to send is
		// the bound and the sockets' buffers, far from 50 MB.
		if big.n > 25<<20 {
			t.Errorf("the client sent %d bytes of the 50 MB before the refusal: the server read on past its bound", big.n)
		}
		t.Logf("50 MB upload: refused after the client sent %.1f MB", float64(big.n)/(1<<20))
		// Nothing of these waits for confirmation, nor was imported.
		if p := f.post(c, "/register/confirm", url.Values{"csrf": {tok}, "sum": {verifier.RegisterSum([]byte(importCSV))}}); p.status != http.StatusConflict {
			t.Errorf("confirm after refused uploads: %d, want 409 (nothing previewed)", p.status)
		}
		if n := len(f.imports()); n != 0 || f.svc.Effects.RegisterInEffect().Source != intake.RegisterFromFile {
			t.Errorf("after hostile uploads: %d imports, register from %q", n, f.svc.Effects.RegisterInEffect().Source)
		}
		// A file the reader cannot read at all: its quoting, its header, its encoding. The
		// clerk is told in Japanese, with the line where one is to blame.
		for _, tt := range []struct{ csv, want string }{
			{"工事名,契約日\nA工事,2023-06-01\n\"B工事,2023-06-01\n", "3行目: CSVとして読めません"},
			{"工事名,備考\nA工事,x\n", "1行目: 見出しの行に「工事名」の列と日付の列"},
			{"", "ファイルが空です"},
			{"\xff\xfe\x00", "文字コードを読めません"},
			{"\x80\xa0\xfd", "文字コードを読めません"},
			{"PK\x03\x04\x14\x00\x06\x00", "Excelのブック"},
		} {
			p := f.mustUpload(c, tok, "bad.csv", []byte(tt.csv))
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "取り込めません") || !strings.Contains(p.body, tt.want) || strings.Contains(p.body, `name="sum"`) {
				t.Errorf("upload of %q: %d, want 422 naming %q and no confirmation form\n%s", tt.csv, p.status, tt.want, p.body)
			}
		}
	})

	var sum string
	t.Run("preview", func(t *testing.T) {
		sjis, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(importCSV))
		if err != nil {
			t.Fatal(err)
		}
		p := f.mustUpload(c, tok, `C:\Users\yamada\Desktop\契約台帳.csv`, sjis)
		if p.status != http.StatusOK {
			t.Fatalf("preview: %d\n%s", p.status, p.body)
		}
		for _, want := range []string{
			"追加 <strong>2</strong>件、変更 <strong>1</strong>件、削除 <strong>1</strong>件、変わらないもの 1件",
			"<td>4</td><td>工事名「=HYPERLINK(&#34;https://evil.example/x&#34;,&#34;橋梁補修工事&#34;)」が表計算の数式になっています",
			"<td>5</td><td>工事名がありません</td>",
			"<td>6</td><td>当初契約日「2023/13/45」が日付ではありません",
			"<td>3</td><td>出雲ダム管理設備更新</td><td></td><td>当初契約日 2023-07-01</td><td>当初契約日 2023-09-01</td>",
			"<td>宍道湖西岸護岸整備工事</td>",
			// The link in a 工事名 is text, escaped, never a link.
			"&lt;a href=&#34;https://evil.example/&#34;&gt;県道玉湯吾妻山線測量設計業務委託&lt;/a&gt;",
		} {
			if !strings.Contains(p.body, want) {
				t.Errorf("preview lacks %q\n%s", want, p.body)
			}
		}
		if strings.Contains(p.body, `href="https://evil.example`) {
			t.Errorf("preview made a link of a 工事名:\n%s", p.body)
		}
		// Nothing changed yet.
		if got := f.judged("出雲ダム管理設備更新").StartDateSource; got != verifier.SourceRegister || len(f.imports()) != 0 {
			t.Errorf("a preview changed the register")
		}
		sum = sumField(t, p)
	})

	t.Run("confirm", func(t *testing.T) {
		if p := f.post(c, "/register/confirm", url.Values{"csrf": {tok}, "sum": {verifier.RegisterSum([]byte("other bytes"))}}); p.status != http.StatusConflict {
			t.Errorf("confirm of other bytes than previewed: %d, want 409", p.status)
		}
		f.clock.add(time.Minute)
		p := f.post(c, "/register/confirm", url.Values{"csrf": {tok}, "sum": {sum}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("confirm: %d\n%s", p.status, p.body)
		}
		page := f.get(c, "/register?done=1")
		for _, want := range []string{"契約台帳を取り込みました", "この画面で取り込んだ台帳（4件、取り込まなかった行 3件）", "契約台帳.csv", clerk} {
			if !strings.Contains(page.body, want) {
				t.Errorf("register page after the import lacks %q\n%s", want, page.body)
			}
		}
		trail := f.imports()
		if len(trail) != 1 || trail[0].By != clerk || !trail[0].At.Equal(f.clock.now()) || trail[0].Name != "契約台帳.csv" ||
			trail[0].Rows != 4 || trail[0].Refused != 3 || trail[0].Added != 2 || trail[0].Changed != 1 || trail[0].Removed != 1 {
			t.Errorf("audit trail = %+v", trail)
		}
		// In effect at once, without a restart: the changed date, the added contract; the
		// removed one is no longer known.
		d := f.judged("出雲ダム管理設備更新")
		if d.StartDateSource != verifier.SourceRegister || d.StartDate != "2023-09-01" {
			t.Errorf("after the import: %+v, want the new date from the register", d)
		}
		if got := f.judged("斐伊川河川改修工事").StartDateSource; got != verifier.SourceRegister {
			t.Errorf("added contract: date from %q", got)
		}
		if got := f.judged("宍道湖西岸護岸整備工事").StartDateSource; got == verifier.SourceRegister {
			t.Errorf("removed contract still dated by the register")
		}
		if p := f.post(c, "/register/confirm", url.Values{"csrf": {tok}, "sum": {sum}}); p.status != http.StatusConflict {
			t.Errorf("second confirmation: %d, want 409", p.status)
		}
	})

	t.Run("stale preview", func(t *testing.T) {
		// Two clerks preview; the first confirms; the second's preview was of another
		// register than the one now in effect.
		c2, tok2 := f.signIn(other)
		a := []byte(fileRegister + "A工事,2025-01-01,\n")
		b := []byte(fileRegister + "B工事,2025-01-01,\n")
		pa, pb := f.mustUpload(c, tok, "a.csv", a), f.mustUpload(c2, tok2, "b.csv", b)
		if p := f.post(c, "/register/confirm", url.Values{"csrf": {tok}, "sum": {sumField(t, pa)}}); p.status != http.StatusSeeOther {
			t.Fatalf("first confirmation: %d", p.status)
		}
		if p := f.post(c2, "/register/confirm", url.Values{"csrf": {tok2}, "sum": {sumField(t, pb)}}); p.status != http.StatusConflict || !strings.Contains(p.body, "契約台帳が変わりました") {
			t.Errorf("confirmation of a stale preview: %d\n%s", p.status, p.body)
		}
		if got := f.judged("A工事").StartDateSource; got != verifier.SourceRegister {
			t.Errorf("A工事 not in the register in effect")
		}
	})

	t.Run("restart", func(t *testing.T) {
		cfg := f.svc.Config
		reopen := func() {
			t.Helper()
			f.svc.Close()
			svc, err := intake.NewService(cfg, intake.ServiceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			f.svc = svc
		}
		reopen()
		if r := f.svc.Effects.RegisterInEffect(); r.Source != intake.RegisterFromPage || r.Import.By != clerk {
			t.Errorf("after a restart: register from %q by %q, want the import", r.Source, r.Import.By)
		}
		if got := f.judged("A工事").StartDateSource; got != verifier.SourceRegister {
			t.Errorf("after a restart: A工事 not dated by the imported register")
		}
		// The admin changes the file afterwards: the newer file is used, and the page says so.
		if err := os.WriteFile(regFile, []byte(fileRegister+"C工事,2025-02-01,\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		reopen()
		if r := f.svc.Effects.RegisterInEffect(); r.Source != intake.RegisterFromFile || !r.Shadowed {
			t.Errorf("after the file changed: register from %q (shadowed %v), want the file", r.Source, r.Shadowed)
		}
		if got := f.judged("C工事").StartDateSource; got != verifier.SourceRegister {
			t.Errorf("C工事 of the newer file not used")
		}
		c, _ := f.signIn(clerk)
		if p := f.get(c, "/register"); !strings.Contains(p.body, "ファイルが更新されたため、ファイルを使っています") {
			t.Errorf("register page does not say the file is newer than the import:\n%s", p.body)
		}
	})
}

// TestRegisterImportUTF8 reads what Excel's "CSV UTF-8" writes (with a BOM) and a plain
// UTF-8 file alike; with no register before, every row is added.
func TestRegisterImportUTF8(t *testing.T) {
	for _, bom := range []string{"\uFEFF", ""} {
		f := newFixture(t)
		c, tok := f.signIn(clerk)
		p := f.mustUpload(c, tok, "r.csv", []byte(bom+"工事名,契約日\r\n一般県道松江線道路改良工事,2023/06/01\r\n"))
		if p.status != http.StatusOK || !strings.Contains(p.body, "追加 <strong>1</strong>件") {
			t.Fatalf("BOM %q: preview %d\n%s", bom, p.status, p.body)
		}
		if q := f.post(c, "/register/confirm", url.Values{"csrf": {tok}, "sum": {sumField(t, p)}}); q.status != http.StatusSeeOther {
			t.Fatalf("BOM %q: confirm %d", bom, q.status)
		}
		if e, ok := f.svc.Effects.Register().Lookup("一般県道松江線道路改良工事", ""); !ok || e.Dates[verifier.BasisContract].String() != "2023-06-01" {
			t.Errorf("BOM %q: Lookup = %+v, %v", bom, e, ok)
		}
	}
}

// counter counts what is read through it.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// repeat is an endless reader of s.
func repeat(s string) io.Reader {
	return &repeater{s: s}
}

type repeater struct {
	s string
	i int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.i:])
		n += c
		r.i = (r.i + c) % len(r.s)
	}
	return n, nil
}
