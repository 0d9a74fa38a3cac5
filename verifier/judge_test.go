package verifier

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"hosho-intake/parser"
)

// presetCase is what the table needs to know about a preset to build notices for it.
type presetCase struct {
	name    string
	orderer string // printed on its notices
	label   string // the label of its date basis in a register header and in a mail
	early   string // a date before the start date, late one after it
	late    string
	works   bool // services (業務) accept 契約保証
}

var presetCases = []presetCase{
	{"shimane", "島根県知事 丸山達也", "契約日", "2023/05/31", "2023/06/01", false},
	{"tottori-ctc", "鳥取県建設技術センター理事長", "入札公告日", "2025/09/30", "2025/10/01", true},
	{"mlit", "国土交通省中国地方整備局長", "契約日", "2022/04/28", "2022/05/02", true},
}

func jst(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.FixedZone("JST", 9*3600))
}

func goodNotice(pc presetCase) parser.Notice {
	return parser.Notice{
		Category: "前払金保証", ContractNumber: "2070004426", AuthKey: "JT4E3MR8IT",
		ProjectName: "県道松江木次線道路改良工事", Orderer: pc.orderer, Guarantor: parser.WestJapan, Source: "pdf",
	}
}

func register(t *testing.T, label, project, date string) *Register {
	t.Helper()
	r, err := LoadRegister(strings.NewReader(fmt.Sprintf("工事名,%s\n%s,%s\n", label, project, date)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestJudgePresets runs every preset against every reason code.
func TestJudgePresets(t *testing.T) {
	received := jst(2026, 6, 2, 9, 14)
	for _, pc := range presetCases {
		p, err := Preset(pc.name)
		if err != nil {
			t.Fatal(err)
		}
		good := goodNotice(pc)
		lateReg := register(t, pc.label, good.ProjectName, pc.late)
		ctx := Context{Received: received, Register: lateReg}
		with := func(edit func(*parser.Notice)) parser.Notice {
			n := good
			edit(&n)
			return n
		}
		services := with(func(n *parser.Notice) {
			n.Category, n.ProjectName = "契約保証", "県道玉湯吾妻山線測量設計業務委託"
		})
		servicesOutcome, servicesReasons := OutcomeQueued, []string(nil)
		if !pc.works {
			servicesOutcome, servicesReasons = OutcomeRejected, []string{ReasonCategoryNotEligible}
		}
		tests := []struct {
			name    string
			n       parser.Notice
			c       Context
			outcome string
			reasons []string
			missing []string
			source  string
		}{
			{"good", good, ctx, OutcomeQueued, nil, nil, SourceRegister},
			{"good 中間前払金保証", with(func(n *parser.Notice) { n.Category = "中間前払金保証" }), ctx, OutcomeQueued, nil, nil, SourceRegister},
			{"good 契約保証 works", with(func(n *parser.Notice) { n.Category = "契約保証" }), ctx, OutcomeQueued, nil, nil, SourceRegister},
			{"good 業務 前払金保証", with(func(n *parser.Notice) { n.ProjectName = "県道玉湯吾妻山線測量設計業務委託" }),
				Context{Received: received, Register: register(t, pc.label, "県道玉湯吾妻山線測量設計業務委託", pc.late)}, OutcomeQueued, nil, nil, SourceRegister},
			{"bank", with(func(n *parser.Notice) { n.Guarantor = "株式会社山陰合同銀行" }), ctx,
				OutcomeRejected, []string{ReasonGuarantorNotEligible}, nil, SourceRegister},
			{"insurer", with(func(n *parser.Notice) { n.Guarantor = "東京海上日動火災保険株式会社" }), ctx,
				OutcomeRejected, []string{ReasonGuarantorNotEligible}, nil, SourceRegister},
			{"misspelt surety", with(func(n *parser.Notice) { n.Guarantor = "東日本建設業信用保証株式会社" }), ctx,
				OutcomeQueued, nil, nil, SourceRegister},
			{"契約保証予約", with(func(n *parser.Notice) { n.Category = "契約保証予約" }), ctx,
				OutcomeRejected, []string{ReasonCategoryNotEligible}, nil, SourceRegister},
			{"業務 契約保証", services, Context{Received: received, Register: register(t, pc.label, services.ProjectName, pc.late)},
				servicesOutcome, servicesReasons, nil, SourceRegister},
			{"other orderer", with(func(n *parser.Notice) { n.Orderer = "松江市長" }), ctx,
				OutcomeRejected, []string{ReasonOrdererMismatch}, nil, SourceRegister},
			{"before start by register", good, Context{Received: received, Register: register(t, pc.label, good.ProjectName, pc.early)},
				OutcomeRejected, []string{ReasonBeforeStartDate}, nil, SourceRegister},
			{"before start by stated date", good, Context{Received: received, Texts: []string{"お世話になります。\n" + pc.label + "：" + pc.early + "\nよろしくお願いします。"}},
				OutcomeRejected, []string{ReasonBeforeStartDate}, nil, SourceMail},
			{"after start by stated date", good, Context{Received: received, Texts: []string{pc.label + "：" + pc.late}},
				OutcomeQueued, nil, nil, SourceMail},
			{"received before start", good, Context{Received: p.Start().Add(-time.Minute), Register: lateReg},
				OutcomeRejected, []string{ReasonBeforeStartDate}, nil, ""},
			{"received on the start day", good, Context{Received: p.Start(), Register: lateReg},
				OutcomeQueued, nil, nil, SourceRegister},
			{"unconfirmed", good, Context{Received: received},
				OutcomeQueued, []string{ReasonStartDateUnconfirmed}, nil, ""},
			{"unlabelled date", good, Context{Received: received, Texts: []string{"日時：" + pc.early}},
				OutcomeQueued, []string{ReasonStartDateUnconfirmed}, nil, ""},
			{"no orderer", with(func(n *parser.Notice) { n.Orderer = "" }), ctx,
				OutcomeNeedsReview, nil, []string{MissingOrderer}, SourceRegister},
			{"no category", with(func(n *parser.Notice) { n.Category = "" }), ctx,
				OutcomeNeedsReview, nil, []string{MissingCategory}, SourceRegister},
			{"no guarantor", with(func(n *parser.Notice) { n.Guarantor = "" }), ctx,
				OutcomeNeedsReview, nil, []string{MissingGuarantor}, SourceRegister},
			{"body notice, nothing but number and key", with(func(n *parser.Notice) {
				*n = parser.Notice{ContractNumber: "4068211589", AuthKey: "QZZDRU11NF", Source: "body"}
			}),
				Context{Received: received}, OutcomeNeedsReview, []string{ReasonStartDateUnconfirmed}, []string{MissingOrderer, MissingGuarantor, MissingCategory}, ""},
			{"missing and rejected", with(func(n *parser.Notice) { n.Orderer, n.Guarantor = "", "株式会社山陰合同銀行" }), ctx,
				OutcomeRejected, []string{ReasonGuarantorNotEligible}, []string{MissingOrderer}, SourceRegister},
			{"every rejection", with(func(n *parser.Notice) {
				n.Orderer, n.Guarantor, n.Category = "出雲市長", "株式会社山陰合同銀行", "契約保証予約"
			}),
				Context{Received: received, Register: register(t, pc.label, good.ProjectName, pc.early)}, OutcomeRejected,
				[]string{ReasonOrdererMismatch, ReasonGuarantorNotEligible, ReasonCategoryNotEligible, ReasonBeforeStartDate}, nil, SourceRegister},
		}
		for _, tt := range tests {
			t.Run(pc.name+"/"+tt.name, func(t *testing.T) {
				d := p.Judge(tt.n, tt.c)
				if d.Outcome != tt.outcome || !slices.Equal(d.Reasons, tt.reasons) || !slices.Equal(d.Missing, tt.missing) || d.StartDateSource != tt.source {
					t.Errorf("Judge(%+v) = %+v; want %s %v missing %v source %q", tt.n, d, tt.outcome, tt.reasons, tt.missing, tt.source)
				}
				if d.Policy != p.Name || d.PolicyVersion != p.Version || d.PolicyVersion == "" {
					t.Errorf("Judge: policy %q version %q, want %q %q", d.Policy, d.PolicyVersion, p.Name, p.Version)
				}
			})
		}
	}
}

// TestJudgeStartDateOrder: a date of another stage than the policy's basis decides only
// where the order of a contract's dates settles it.
func TestJudgeStartDateOrder(t *testing.T) {
	received := jst(2026, 6, 2, 9, 0)
	ctc, _ := Preset("tottori-ctc") // 入札公告日 from 2025-10-01
	mlit, _ := Preset("mlit")       // 契約日 from 2022-05-01
	shimane, _ := Preset("shimane") // 当初契約日 from 2023-06-01, change contracts excluded
	n := goodNotice(presetCases[0])
	tests := []struct {
		name    string
		p       Policy
		texts   []string
		reasons []string
		date    string
		label   string
	}{
		{"契約日 before a 入札公告日 start", ctc, []string{"契約日：令和7年9月1日"}, []string{ReasonBeforeStartDate}, "2025-09-01", BasisContract},
		{"契約日 after a 入札公告日 start tells nothing", ctc, []string{"契約日：令和7年11月1日"}, []string{ReasonStartDateUnconfirmed}, "", ""},
		{"the basis preferred", ctc, []string{"契約日：令和7年11月1日\n入札公告日：令和7年10月1日"}, nil, "2025-10-01", BasisTenderNotice},
		{"入札公告日 after a 契約日 start", mlit, []string{"入札公告日 R4.5.10"}, nil, "2022-05-10", BasisTenderNotice},
		{"入札公告日 before a 契約日 start tells nothing", mlit, []string{"入札公告日 R4.4.10"}, []string{ReasonStartDateUnconfirmed}, "", ""},
		{"dates that disagree", mlit, []string{"契約日：2022/4/1", "契約日：2022/6/1"}, []string{ReasonStartDateUnconfirmed}, "", ""},
		{"契約日 is the 当初契約日 of a contract without change", shimane, []string{"契約日：令和5年6月1日"}, nil, "2023-06-01", BasisOriginalContract},
		{"change contract of earlier works", shimane, []string{"当初契約日：令和5年5月31日\n変更契約日：令和5年8月1日"}, []string{ReasonBeforeStartDate}, "2023-05-31", BasisOriginalContract},
		{"change contract, only its own date", shimane, []string{"変更契約に伴う前払金保証です。\n契約日：令和5年8月1日"}, []string{ReasonStartDateUnconfirmed}, "", ""},
		{"change contract of later works", shimane, []string{"当初契約日：令和5年6月2日\n変更契約日：令和5年8月1日"}, nil, "2023-06-02", BasisOriginalContract},
		{"era context", shimane, []string{"令和5年度の工事です。契約日は５年５月３０日です。"}, []string{ReasonBeforeStartDate}, "2023-05-30", BasisOriginalContract},
	}
	for _, tt := range tests {
		for _, pc := range presetCases {
			if pc.name == tt.p.Name {
				n.Orderer = pc.orderer
			}
		}
		d := tt.p.Judge(n, Context{Received: received, Texts: tt.texts})
		if !slices.Equal(d.Reasons, tt.reasons) || d.StartDate != tt.date || d.StartDateLabel != tt.label {
			t.Errorf("%s: Judge = %+v; want %v on %q %s", tt.name, d, tt.reasons, tt.date, tt.label)
		}
	}

	// shimane with ExcludeChangeContracts under a 契約日 basis: the register's 当初契約日 still rules.
	n.Orderer = "島根県知事"
	custom := shimane
	custom.DateBasis = BasisContract
	r, err := LoadRegister(strings.NewReader("工事名,契約日,当初契約日\n" + n.ProjectName + ",2023/08/01,2023/05/31\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := custom.Judge(n, Context{Received: received, Register: r})
	if !slices.Equal(d.Reasons, []string{ReasonBeforeStartDate}) || d.StartDateLabel != BasisOriginalContract {
		t.Errorf("change contract in the register: Judge = %+v, want before_start_date on the 当初契約日", d)
	}
	custom.ExcludeChangeContracts = false
	if d := custom.Judge(n, Context{Received: received, Register: r}); len(d.Reasons) != 0 {
		t.Errorf("change contracts allowed: Judge = %+v, want queued", d)
	}
}

// TestJudgeNoProjectName: without a 工事名 the kind is unknown; a 区分 accepted for works
// only needs review under shimane, and is fine where both kinds accept it.
func TestJudgeNoProjectName(t *testing.T) {
	n := parser.Notice{Category: "契約保証", ContractNumber: "1", AuthKey: "ABCDEFGH", Orderer: "島根県知事", Guarantor: parser.WestJapan}
	shimane, _ := Preset("shimane")
	if d := shimane.Judge(n, Context{}); d.Outcome != OutcomeNeedsReview || !slices.Equal(d.Missing, []string{MissingProjectName}) {
		t.Errorf("shimane: Judge = %+v, want needs_review for the project name", d)
	}
	n.Category = "前払金保証"
	if d := shimane.Judge(n, Context{}); d.Outcome != OutcomeQueued {
		t.Errorf("shimane 前払金保証: Judge = %+v, want queued", d)
	}
}
