// Package parser reads surety companies' 電子証書閲覧用「認証キー」等のお知らせ (authentication-key
// notices) out of PDF files and mail body text.
//
// It is pure: bytes in, notices and problems out; no logging, no globals, no I/O
// beyond what it is given. A panic inside the PDF library never crosses its API.
package parser

import "encoding/json"

// Problem codes, as DESIGN.md lists them. They are part of the JSON contract.
const (
	CodeWrongDocument = "wrong_document"
	CodeNoText        = "no_text"
	CodeEncrypted     = "encrypted"
	CodeCorrupt       = "corrupt"
	CodeNotPDF        = "not_pdf"
	CodeZipAttachment = "zip_attachment"
	CodePasswordZip   = "password_zip"
	CodeNoNotice      = "no_notice"
	CodeTooLarge      = "too_large"
	CodeAutoSubmitted = "auto_submitted"
	CodeBounce        = "bounce"
	CodeMailingList   = "mailing_list"
	// CodeTooSlow: the message ran past its reading budget (time across its PDFs and ZIP
	// members, the number of PDFs read, or readers that crashed on it); what was read by
	// then is kept, the rest is not read.
	CodeTooSlow = "too_slow"
	// CodeSetAside: recording the message failed on several polls in a row; it is kept
	// for the clerks and moved on from, so that it cannot hold up the mail behind it.
	CodeSetAside = "set_aside"
	// CodeInvalidKey: a 保証契約番号 or 認証キー typed in the body that no surety company
	// issues, or typed without the other (Problem.Missing).
	CodeInvalidKey = "invalid_key"
)

// Notice is one 認証キー notice: the six fields a clerk needs to open the certificate on D-Sure.
// Empty strings are fields the source did not state (a body-typed notice often names no 区分).
type Notice struct {
	Category       string `json:"category"`        // 区分: 前払金保証, 中間前払金保証, 契約保証, 契約保証予約
	ContractNumber string `json:"contract_number"` // 保証契約番号, ASCII digits only
	AuthKey        string `json:"auth_key"`        // 認証キー, NFKC, spaces removed, case kept
	ProjectName    string `json:"project_name"`    // 工事名 or 業務名 as written, spaces removed (compare through Normalize)
	Orderer        string `json:"orderer"`         // 発注者 as written, spaces and honorifics removed (compare through Normalize)
	Guarantor      string `json:"guarantor"`       // 保証機関, official company name
	Source         string `json:"source"`          // "pdf", "body" or "ocr" (read from an image)
	Attachment     string `json:"attachment"`      // attachment path in the mail ("" for a bare PDF or the body)
	Page           int    `json:"page,omitempty"`  // 1-based page in the PDF
	// Remark says how a value was read when it was not read plainly (a row whose label is
	// damaged, recovered by its place and its value's shape), for the clerk who checks it.
	Remark string `json:"remark,omitempty"`
	// OCR is how sure the reading of a notice read from an image (Source "ocr") is; nil
	// for a text layer or a body. A pointer keeps Notice comparable.
	OCR *OCRMarks `json:"-"`
}

// OCRMarks are a notice's per-field confidence and its unsure fields, written beside its
// other keys in JSON ("confidence", "unsure").
type OCRMarks struct {
	// Confidence is each field's lowest glyph or word confidence, 0 to 1, keyed by the
	// field's JSON name.
	Confidence map[string]float64 `json:"confidence"`
	// Unsure names the fields below parser.OCRThreshold or failing their check: they must
	// be shown as unsure, never as certain.
	Unsure []string `json:"unsure"`
	// keyMisread says how the first reading of the 認証キー failed its checks (pageNotices):
	// it cannot vouch for any later reading, so the key stays unsure (SettleKey).
	keyMisread string
}

// Problem is something that stopped a notice from being read, or that the sender must be told.
type Problem struct {
	Code       string `json:"code"`
	Attachment string `json:"attachment"`
	Detail     string `json:"detail"`
	// ContractNumber is the 保証契約番号 a problem is about, when one was read (a number typed
	// in the body whose key could not be read): the reply names it.
	ContractNumber string `json:"contract_number,omitempty"`
	// AuthKey is the 認証キー a problem is about when it was typed without its 保証契約番号
	// (the reply shows it masked).
	AuthKey string `json:"auth_key,omitempty"`
	// Missing names what a notice typed in the body lacks: MissingKey or MissingNumber.
	Missing string `json:"missing,omitempty"`
}

// Document is what one PDF turned out to be.
type Document struct {
	Notices  []Notice  `json:"notices"`
	Problems []Problem `json:"problems"`
	// Kind classifies a PDF that holds no notice (a 前払金請求書, a bank's guarantee, a cover letter),
	// so that it is reported rather than mistaken for a notice or an error.
	Kind  string `json:"kind,omitempty"`
	Pages int    `json:"pages"`
	// Images are the pages notices were read from by OCR, downscaled, for the clerk who
	// checks the reading (issue 12); none for a text layer.
	Images []PageImage `json:"images,omitempty"`
}

// PageImage is one page a notice was read from by OCR, as a grey PNG small enough to mail
// (parser/ocr bounds its size).
type PageImage struct {
	Page int    `json:"page"` // 1-based, as Notice.Page
	PNG  []byte `json:"png"`
}

// MarshalJSON writes a field the source did not state as null, not "": a body-typed notice
// that names no 区分 says nothing about it, which is not the same as an empty 区分.
func (n Notice) MarshalJSON() ([]byte, error) {
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return json.Marshal(struct {
		Category       *string            `json:"category"`
		ContractNumber *string            `json:"contract_number"`
		AuthKey        *string            `json:"auth_key"`
		ProjectName    *string            `json:"project_name"`
		Orderer        *string            `json:"orderer"`
		Guarantor      *string            `json:"guarantor"`
		Source         string             `json:"source"`
		Attachment     string             `json:"attachment"`
		Page           int                `json:"page,omitempty"`
		Remark         string             `json:"remark,omitempty"`
		Confidence     map[string]float64 `json:"confidence,omitempty"`
		Unsure         []string           `json:"unsure,omitempty"`
	}{str(n.Category), str(n.ContractNumber), str(n.AuthKey), str(n.ProjectName), str(n.Orderer), str(n.Guarantor),
		n.Source, n.Attachment, n.Page, n.Remark, n.OCR.confidence(), n.OCR.unsure()})
}

func (m *OCRMarks) confidence() map[string]float64 {
	if m == nil {
		return nil
	}
	return m.Confidence
}

func (m *OCRMarks) unsure() []string {
	if m == nil {
		return nil
	}
	if m.Unsure == nil {
		return []string{}
	}
	return m.Unsure
}

// UnmarshalJSON reads what MarshalJSON writes, the OCR marks included (a stored submission
// keeps them).
func (n *Notice) UnmarshalJSON(b []byte) error {
	type plain Notice
	var v struct {
		plain
		Confidence map[string]float64 `json:"confidence"`
		Unsure     []string           `json:"unsure"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = Notice(v.plain)
	if v.Confidence != nil || v.Unsure != nil {
		n.OCR = &OCRMarks{Confidence: v.Confidence, Unsure: v.Unsure}
	}
	return nil
}
