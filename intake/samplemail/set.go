package samplemail

import (
	"bytes"
	"fmt"
	"time"

	"hosho-intake/parser"
	"hosho-intake/parser/noticepdf"
)

// Scenario is one realistic message with what a correct reader finds in it.
type Scenario struct {
	Name     string
	Mail     Mail
	Notices  []parser.Notice // expected, in order
	Problems []string        // expected problem codes
	Reply    bool            // whether the sender is to be answered
}

const agency = "denshi-shosho@pref.shimane.example"

// Set returns a dozen messages of the kinds an agency mailbox receives: good notices from
// each surety company in different PDF font encodings, a STEP 3 certificate instead of the
// notice, a ZIP, a bank's guarantee, a scan, a notice typed in the body, a question, an
// out-of-office reply, a bounce and a newsletter. Numbers and keys derive from seed, so
// calls with different seeds give different submissions.
func Set(seed int) ([]Scenario, error) {
	at := func(i int) time.Time {
		return time.Date(2026, 6, 15, 9, i, 0, 0, time.FixedZone("JST", 9*3600))
	}
	notice := func(i int, category, guarantor string) parser.Notice {
		return parser.Notice{Category: category, ContractNumber: fmt.Sprintf("%010d", 2070000000+seed*100+i),
			AuthKey: fmt.Sprintf("K%02dX%06d", i, seed%1000000), ProjectName: projects[i%len(projects)],
			Orderer: "島根県知事", Guarantor: guarantor}
	}
	pdf := func(n parser.Notice, opts noticepdf.Options) ([]byte, error) {
		var b bytes.Buffer
		err := noticepdf.Write(&b, []parser.Notice{n}, opts)
		return b.Bytes(), err
	}
	var out []Scenario
	var firstErr error
	add := func(s Scenario) { out = append(out, s) }
	must := func(b []byte, err error) []byte {
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return b
	}
	withPDF := func(ns ...parser.Notice) []parser.Notice {
		for i := range ns {
			ns[i].Source, ns[i].Page = "pdf", 1
		}
		return ns
	}

	west := notice(1, "前払金保証", parser.WestJapan)
	w := withPDF(west)
	w[0].Attachment = "電子証書閲覧用「認証キー」等のお知らせ.pdf"
	add(Scenario{Name: "west, reportlab-style CID font", Reply: true, Notices: w, Mail: Mail{
		From: "tanaka@matsue-kensetsu.example", To: agency, Date: at(1), Subject: "電子証書認証キーの送付（県道松江木次線）",
		Body:        "島根県 土木部 ご担当者様\n\n松江建設の田中です。\n前払金保証の認証キー等のお知らせを添付します。\nよろしくお願いいたします。\n",
		Attachments: []Attachment{{Name: w[0].Attachment, Data: must(pdf(west, noticepdf.Options{Encoding: noticepdf.UCS2}))}},
	}})

	east := notice(2, "契約保証", parser.EastJapan)
	e := withPDF(east)
	e[0].Attachment = "認証キー等のお知らせ.pdf"
	add(Scenario{Name: "east, ISO-2022-JP mail, Identity-H without ToUnicode", Reply: true, Notices: e, Mail: Mail{
		From: "sato@izumo-doboku.example", To: agency, Date: at(2), Subject: "契約保証の電子証書について", ISO2022JP: true,
		Body:        "ご担当者様\n\n出雲土木の佐藤です。契約保証の認証キーをお送りします。\n",
		Attachments: []Attachment{{Name: e[0].Attachment, Data: must(pdf(east, noticepdf.Options{Encoding: noticepdf.IdentityJapan1, Layout: noticepdf.Centered}))}},
	}})

	north := notice(3, "中間前払金保証", parser.Hokkaido)
	n := withPDF(north)
	n[0].Attachment = "ninsho_key.pdf"
	add(Scenario{Name: "hokkaido, Chromium-style Type 3 font, octet-stream", Reply: true, Notices: n, Mail: Mail{
		From: "kato@unnan-koumuten.example", To: agency, Date: at(3), Subject: "中間前払金保証 認証キー",
		Body:        "お世話になっております。雲南工務店の加藤です。\n中間前払金保証の認証キー通知を送付します。\n",
		Attachments: []Attachment{{Name: n[0].Attachment, ContentType: "application/octet-stream", Data: must(pdf(north, noticepdf.Options{Encoding: noticepdf.Type3ToUnicode}))}},
	}})

	sj := notice(4, "前払金保証", parser.WestJapan)
	s := withPDF(sj)
	s[0].Attachment = "前払金_認証キー.pdf"
	add(Scenario{Name: "west, Shift_JIS business-form PDF", Reply: true, Notices: s, Mail: Mail{
		From: "yamada@hamada-gumi.example", To: agency, Date: at(4), Subject: "認証キー送付",
		Body:        "山田組です。よろしくお願いします。\n",
		Attachments: []Attachment{{Name: s[0].Attachment, Data: must(pdf(sj, noticepdf.Options{Encoding: noticepdf.RKSJ, SpacedLabels: true}))}},
	}})

	var cert bytes.Buffer
	if err := noticepdf.Certificate(&cert, notice(5, "前払金保証", parser.WestJapan), noticepdf.Options{Encoding: noticepdf.IdentityToUnicode}); err != nil && firstErr == nil {
		firstErr = err
	}
	add(Scenario{Name: "the STEP 3 certificate instead of the notice", Reply: true, Problems: []string{parser.CodeWrongDocument}, Mail: Mail{
		From: "suzuki@yasugi-const.example", To: agency, Date: at(5), Subject: "前払金保証証書の提出",
		Body:        "保証証書をお送りします。\n",
		Attachments: []Attachment{{Name: "前払金保証証書.pdf", Data: cert.Bytes()}},
	}})

	zipped := notice(6, "前払金保証", parser.WestJapan)
	z := withPDF(zipped)
	z[0].Attachment = "認証キー.zip/認証キー等のお知らせ.pdf"
	zdata := must(Zip([]Attachment{{Name: "認証キー等のお知らせ.pdf", Data: must(pdf(zipped, noticepdf.Options{Encoding: noticepdf.IdentityToUnicode}))}}))
	add(Scenario{Name: "notice inside a ZIP", Reply: true, Notices: z, Problems: []string{parser.CodeZipAttachment}, Mail: Mail{
		From: "ito@oda-kensetsu.example", To: agency, Date: at(6), Subject: "認証キー（圧縮ファイル）",
		Body:        "ZIPで送付します。\n",
		Attachments: []Attachment{{Name: "認証キー.zip", ContentType: "application/x-zip-compressed", Data: zdata}},
	}})

	bank := notice(7, "契約保証", "株式会社山陰合同銀行")
	bk := withPDF(bank)
	bk[0].Attachment = "保証のお知らせ.pdf"
	add(Scenario{Name: "a bank's guarantee", Reply: true, Notices: bk, Mail: Mail{
		From: "kobayashi@masuda-doken.example", To: agency, Date: at(7), Subject: "契約保証の認証キー",
		Body:        "銀行の保証です。\n",
		Attachments: []Attachment{{Name: bk[0].Attachment, Data: must(pdf(bank, noticepdf.Options{Encoding: noticepdf.IdentityToUnicode}))}},
	}})

	var scan bytes.Buffer
	if err := noticepdf.ImageOnly(&scan, notice(8, "前払金保証", parser.WestJapan)); err != nil && firstErr == nil {
		firstErr = err
	}
	add(Scenario{Name: "a scan of the notice (image only)", Reply: true, Problems: []string{parser.CodeNoText}, Mail: Mail{
		From: "scanner@gotsu-kogyo.example", To: agency, Date: at(8), Subject: "スキャンデータ",
		Attachments: []Attachment{{Name: "SCAN_0001.pdf", Data: scan.Bytes()}},
	}})

	typed := notice(9, "前払金保証", parser.WestJapan)
	add(Scenario{Name: "number and key typed in the body", Reply: true, Notices: []parser.Notice{{Category: typed.Category,
		ContractNumber: typed.ContractNumber, AuthKey: typed.AuthKey, ProjectName: typed.ProjectName, Guarantor: typed.Guarantor, Source: "body"}}, Mail: Mail{
		From: "matsumoto@nakaumi-sokuryo.example", To: agency, Date: at(9), Subject: "認証キーの提出（本文記載）",
		Body: fmt.Sprintf("PDFの添付ができないため、本文にて失礼いたします。\n\n工事名：%s\n区分：%s\n保証契約番号：%s\n認証キー：%s\n保証会社：%s\n",
			typed.ProjectName, typed.Category, typed.ContractNumber, typed.AuthKey, typed.Guarantor),
	}})

	add(Scenario{Name: "a question, no notice", Reply: true, Problems: []string{parser.CodeNoNotice}, Mail: Mail{
		From: "ishihara@mitoya-kensetsu.example", To: agency, Date: at(10), Subject: "電子証書の提出方法について",
		Body: "保証会社から届いたPDFをそのまま送ればよいのでしょうか。\n",
	}})

	add(Scenario{Name: "an out-of-office reply", Problems: []string{parser.CodeAutoSubmitted}, Mail: Mail{
		From: "kimura@hikawa-koumu.example", To: agency, Date: at(11), Subject: "不在通知: 受付のお知らせ",
		Header: map[string]string{"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
		Body:   "6月20日まで不在にしております。\n",
	}})

	add(Scenario{Name: "a newsletter", Problems: []string{parser.CodeMailingList}, Mail: Mail{
		From: "news@kensetsu-joho.example", To: agency, Date: at(12), Subject: "建設情報メールマガジン 第120号",
		Header: map[string]string{"List-Id": "<kensetsu-news.kensetsu-joho.example>", "List-Unsubscribe": "<mailto:unsubscribe@kensetsu-joho.example>", "Precedence": "bulk"},
		Body:   "今月の入札情報をお届けします。保証契約番号：2070000000 のような記載例は…\n",
	}})
	return out, firstErr
}

var projects = []string{
	"県道松江木次線道路改良工事", "斐伊川堤防補強工事", "県道玉湯吾妻山線測量設計業務委託", "浜田港臨港道路改良工事",
	"宍道湖東岸護岸整備工事", "一般国道9号益田道路改良工事(第2工区)", "県道出雲三刀屋線交通安全施設整備工事",
	"江の川水系河川改修工事", "県道米子境港線測量業務委託", "神戸川河川改修工事",
}

// Messages returns n distinct realistic messages, rendered: the scenarios of Set for seeds
// 1, 2, … with Message-IDs made unique, for tests and benchmarks that need a full mailbox.
func Messages(n int) ([][]byte, error) {
	out := make([][]byte, 0, n)
	for seed := 1; len(out) < n; seed++ {
		set, err := Set(seed)
		if err != nil {
			return nil, err
		}
		for _, s := range set {
			if len(out) == n {
				break
			}
			s.Mail.MessageID = fmt.Sprintf("<%d.%d@sample.example>", seed, len(out))
			raw, err := s.Mail.Bytes()
			if err != nil {
				return nil, err
			}
			out = append(out, raw)
		}
	}
	return out, nil
}
