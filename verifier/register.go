package verifier

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"

	"hosho-intake/config"
	"hosho-intake/parser"
)

// Register is the agency's contract register: the dates of its contracts by 工事名, which
// the notice does not carry (DESIGN.md: the start-date rule uses the register first).
type Register struct {
	entries  []RegisterEntry
	byName   map[string][]int
	byNumber map[string][]int
}

// RegisterEntry is one contract of the register.
type RegisterEntry struct {
	ProjectName    string // 工事名 as in the register
	ContractNumber string // 契約番号, ASCII digits; "" when the register has none
	// Dates holds the dates the register gives, by date basis (契約日, 当初契約日,
	// 入札公告日, 指名日, 通知日).
	Dates map[string]config.Date
	Line  int // line in the CSV file
}

// registerColumns maps the header names a register may use (Japanese or English, compared
// compacted and lower-cased, '-' and ' ' as '_') to a column's meaning: "name", "number",
// or a date basis.
var registerColumns = map[string]string{
	"工事名": "name", "業務名": "name", "工事件名": "name", "件名": "name", "工事名称": "name", "案件名": "name",
	"project": "name", "project_name": "name", "name": "name", "title": "name",
	"契約番号": "number", "保証契約番号": "number", "contract_number": "number", "contract_no": "number", "number": "number",
	"契約日": BasisContract, "契約年月日": BasisContract, "契約締結日": BasisContract, "contract_date": BasisContract,
	"当初契約日": BasisOriginalContract, "当初契約年月日": BasisOriginalContract,
	"original_contract_date": BasisOriginalContract, "initial_contract_date": BasisOriginalContract,
	"入札公告日": BasisTenderNotice, "公告日": BasisTenderNotice, "公告年月日": BasisTenderNotice,
	"tender_notice_date": BasisTenderNotice, "bid_notice_date": BasisTenderNotice, "announcement_date": BasisTenderNotice,
	"指名日": BasisNomination, "指名通知日": BasisNomination, "nomination_date": BasisNomination,
	"通知日": BasisNotification, "notification_date": BasisNotification,
}

// excelTime is the time of day Excel appends to a date cell it exports (2023/06/01 0:00).
var excelTime = regexp.MustCompile(`\s+\d{1,2}:\d{2}(:\d{2})?$`)

// LoadRegister reads a register exported as CSV: a header row naming the columns (工事名,
// and 契約日, 当初契約日, 入札公告日, 指名日 or 通知日, optionally 契約番号; or the English
// names project_name, contract_date, original_contract_date, tender_notice_date,
// nomination_date, notification_date, contract_number), then one contract per row.
// Other columns are ignored. The encoding is detected: UTF-8 with or without a BOM,
// UTF-16 with a BOM (Excel's "Unicode text", tab-separated), or else Shift_JIS as Excel
// writes it (CP932, with its NEC and IBM extensions). Errors name the line; a file with
// any refused row is refused (ReadRegister reads past them).
func LoadRegister(r io.Reader) (*Register, error) {
	reg, refused, err := ReadRegister(r)
	if err != nil {
		return nil, err
	}
	if len(refused) > 0 {
		return nil, refused[0]
	}
	return reg, nil
}

// RowError is a row of a register that ReadRegister refused, and why; also the error of a
// file it cannot read at all (Line 0 when no line is to blame), so that the clerks' page can
// say it in Japanese.
type RowError struct {
	Line int
	Why  string // in English, for logs and the command line
	Ja   string // the same in Japanese, for the clerks' page
}

func (e RowError) Error() string {
	if e.Line == 0 {
		return "register: " + e.Why
	}
	return fmt.Sprintf("register line %d: %s", e.Line, e.Why)
}

// formulaStart is what a spreadsheet takes a cell beginning with for a formula. Excel's CSV
// export writes a formula's value, never the formula, so a 工事名 beginning so was typed
// to be run by whoever opens the file next (OWASP, "CSV Injection"): it is refused.
const formulaStart = "=+@"

// ReadRegister reads a register as LoadRegister does, one parser for both, but refuses
// the rows it cannot use one by one (no 工事名, a date that is not one, a 工事名 that is
// a spreadsheet formula) instead of the whole file; a file it cannot read at all (its
// encoding, its header, its CSV quoting) is an error. Refused rows are in file order.
func ReadRegister(r io.Reader) (*Register, []RowError, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("reading register: %w", err)
	}
	text, err := decodeRegister(raw)
	if err != nil {
		return nil, nil, err
	}
	cr := csv.NewReader(strings.NewReader(text))
	firstLine, _, _ := strings.Cut(text, "\n")
	if strings.Contains(firstLine, "\t") && !strings.Contains(firstLine, ",") {
		cr.Comma = '\t'
	}
	cr.FieldsPerRecord = -1

	reg := &Register{byName: map[string][]int{}, byNumber: map[string][]int{}}
	var refused []RowError
	var cols []string // meaning of each column, "" for ignored ones
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, RowError{Line: pe.Line, Why: pe.Err.Error(), Ja: "CSVとして読めません（引用符 \" の閉じ忘れ、列の区切りの崩れなど）"}
			}
			return nil, nil, fmt.Errorf("register: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		if cols == nil {
			cols, err = registerHeader(rec)
			if err != nil {
				return nil, nil, RowError{Line: line, Why: err.Error(),
					Ja: "見出しの行に「工事名」の列と日付の列（契約日、当初契約日、入札公告日、指名日、通知日のどれか）が要ります"}
			}
			continue
		}
		e, bad := registerRow(rec, cols, line)
		if bad != nil {
			refused = append(refused, *bad)
			continue
		}
		reg.add(e)
	}
	if cols == nil {
		return nil, nil, RowError{Why: "empty: want a header row (工事名, 契約日 …) and one row per contract",
			Ja: "ファイルが空です（見出しの行と、契約ごとに1行が要ります）"}
	}
	return reg, refused, nil
}

// registerRow reads one contract's row.
func registerRow(rec, cols []string, line int) (RegisterEntry, *RowError) {
	e := RegisterEntry{Line: line, Dates: map[string]config.Date{}}
	for i, v := range rec {
		if i >= len(cols) || strings.TrimSpace(v) == "" {
			continue
		}
		switch col := cols[i]; col {
		case "":
		case "name":
			e.ProjectName = strings.TrimSpace(v)
			if strings.ContainsAny(e.ProjectName[:1], formulaStart) {
				return e, &RowError{Line: line, Why: fmt.Sprintf("工事名 %q is a spreadsheet formula", v),
					Ja: fmt.Sprintf("工事名「%s」が表計算の数式になっています（値として保存してください）", v)}
			}
		case "number":
			e.ContractNumber = digits(v)
		default:
			d, ok := ParseDate(excelTime.ReplaceAllString(strings.TrimSpace(v), ""), "")
			if !ok {
				return e, &RowError{Line: line, Why: fmt.Sprintf("%s %q is not a date (want 2023/6/1, 2023-06-01 or 令和5年6月1日)", col, v),
					Ja: fmt.Sprintf("%s「%s」が日付ではありません（2023/6/1、2023-06-01、令和5年6月1日の形で）", col, v)}
			}
			e.Dates[col] = d
		}
	}
	if e.ProjectName == "" {
		return e, &RowError{Line: line, Why: "no 工事名", Ja: "工事名がありません"}
	}
	return e, nil
}

// notText is what a clerk is told of a file that is no text in the encodings Excel writes.
const notText = "文字コードを読めません。Excelで「CSV UTF-8（コンマ区切り）」か「CSV（コンマ区切り）」として保存し直してください"

// decodeRegister returns the file's text whatever Excel or another tool saved it as.
func decodeRegister(raw []byte) (string, error) {
	// The workbook itself, uploaded in place of its CSV: .xlsx is a ZIP, .xls an OLE file.
	if bytes.HasPrefix(raw, []byte("PK\x03\x04")) || bytes.HasPrefix(raw, []byte{0xD0, 0xCF, 0x11, 0xE0}) {
		return "", RowError{Why: "an Excel workbook, not its CSV", Ja: "Excelのブック（.xlsx / .xls）のままです。Excelの「名前を付けて保存」で「CSV（コンマ区切り）」を選んで保存したファイルを選んでください"}
	}
	text, err := decodeText(raw)
	if err == nil && strings.ContainsRune(text, utf8.RuneError) {
		// x/text's decoders replace what they cannot decode rather than fail.
		err = RowError{Why: "bytes that are neither UTF-8, UTF-16 nor Shift_JIS", Ja: notText}
	}
	return text, err
}

func decodeText(raw []byte) (string, error) {
	switch {
	case bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}):
		raw = raw[3:]
	case bytes.HasPrefix(raw, []byte{0xFF, 0xFE}), bytes.HasPrefix(raw, []byte{0xFE, 0xFF}):
		b, err := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes(raw)
		if err != nil {
			return "", RowError{Why: "decoding UTF-16: " + err.Error(), Ja: notText}
		}
		return string(b), nil
	}
	if utf8.Valid(raw) {
		return string(raw), nil
	}
	b, err := japanese.ShiftJIS.NewDecoder().Bytes(raw)
	if err != nil {
		return "", RowError{Why: "neither UTF-8 nor Shift_JIS: " + err.Error(), Ja: notText}
	}
	return string(b), nil
}

// registerHeader maps the header row to column meanings, and requires a name and a date.
func registerHeader(rec []string) ([]string, error) {
	cols := make([]string, len(rec))
	var name, date bool
	for i, h := range rec {
		k := strings.ToLower(compact(strings.NewReplacer("-", "_", " ", "_").Replace(strings.TrimSpace(h))))
		cols[i] = registerColumns[k]
		name = name || cols[i] == "name"
		date = date || cols[i] != "" && cols[i] != "name" && cols[i] != "number"
	}
	if !name || !date {
		return nil, fmt.Errorf("header %q: want a 工事名 column and a date column (契約日, 当初契約日, 入札公告日, 指名日 or 通知日)", strings.Join(rec, ","))
	}
	return cols, nil
}

func (r *Register) add(e RegisterEntry) {
	i := len(r.entries)
	r.entries = append(r.entries, e)
	k := projectKey(e.ProjectName)
	r.byName[k] = append(r.byName[k], i)
	if e.ContractNumber != "" {
		r.byNumber[e.ContractNumber] = append(r.byNumber[e.ContractNumber], i)
	}
}

// Len returns the number of contracts in the register; 0 for none (nil).
func (r *Register) Len() int {
	if r == nil {
		return 0
	}
	return len(r.entries)
}

// ProjectNames lists the register's 工事名 as written, once each: a 工事名 read from an
// image is checked against them (intake), as the agency's own words.
func (r *Register) ProjectNames() []string {
	if r == nil {
		return nil
	}
	var names []string
	seen := map[string]bool{}
	for _, e := range r.entries {
		if k := projectKey(e.ProjectName); k != "" && !seen[k] {
			seen[k] = true
			names = append(names, e.ProjectName)
		}
	}
	return names
}

// Lookup finds the contract of a notice: by contract number when the register has that
// number once, else by 工事名 compared normalised (parser.Normalize, spaces removed). Two
// contracts of the same name with different dates (the same road improved in two years)
// are ambiguous: no entry is returned, and the date is left to the mail or the clerk.
func (r *Register) Lookup(projectName, contractNumber string) (RegisterEntry, bool) {
	if r == nil {
		return RegisterEntry{}, false
	}
	if n := digits(contractNumber); n != "" && len(r.byNumber[n]) == 1 {
		return r.entries[r.byNumber[n][0]], true
	}
	k := projectKey(projectName)
	if k == "" {
		return RegisterEntry{}, false
	}
	idx := r.byName[k]
	if len(idx) == 0 {
		return RegisterEntry{}, false
	}
	first := r.entries[idx[0]]
	for _, i := range idx[1:] {
		if !sameDates(first.Dates, r.entries[i].Dates) {
			return RegisterEntry{}, false
		}
	}
	return first, true
}

// projectKey is the form 工事名 are matched in.
func projectKey(s string) string { return compact(parser.Normalize(s)) }

func sameDates(a, b map[string]config.Date) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, parser.Normalize(s))
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}
