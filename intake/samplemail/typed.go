package samplemail

import (
	"fmt"
	"strings"
	"time"

	"hosho-intake/parser"
)

// Typed returns mails whose notices are typed in the body, in the shapes contractors write
// them (issue 11): several notices under headings that carry the 区分, context written once,
// labels in sentences and HTML tables, full-width digits, keys wrapped by the mail client,
// quoted replies and signatures, and notices that lack their number or key. Numbers and keys
// derive from seed.
func Typed(seed int) []Scenario {
	num := func(i int) string { return fmt.Sprintf("%010d", 2080000000+seed*100+i) }
	key := func(i int) string { return fmt.Sprintf("T%02dK%06d", i, seed%1000000) }
	long := func(i int) string { return fmt.Sprintf("H%02dKEY%06dABCD", i, seed%1000000) } // 16 characters
	wide := func(s string) string {                                                        // as a Japanese IME types digits and letters
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' {
				return r + 0xFEE0
			}
			return r
		}, s)
	}
	typed := func(cat, n, k, project, orderer, guarantor string) parser.Notice {
		return parser.Notice{Category: cat, ContractNumber: n, AuthKey: k, ProjectName: project, Orderer: orderer, Guarantor: guarantor, Source: "body"}
	}
	at := timeAt
	p0, p1 := projects[(seed)%len(projects)], projects[(seed+1)%len(projects)]
	var out []Scenario
	add := func(s Scenario) {
		s.Reply = true
		s.Mail.To = agency
		out = append(out, s)
	}

	add(Scenario{Name: "Outlook, two notices under 【n件目】 headings, 工事名はいずれも", Mail: Mail{
		From: "takahashi@matsue-kensetsu.example", Date: at(20), Subject: "認証キーの送付（2件）", ISO2022JP: true,
		Body: fmt.Sprintf("島根県土木部\nご担当者様\n\nいつもお世話になっております。松江建設の高橋です。\n工事名はいずれも%sです。\n\n"+
			"【1件目】前払金保証\n保証契約番号：%s\n認証キー：%s\n\n【2件目】契約保証\n保証契約番号：%s\n認証キー：%s\n\n"+
			"以上、よろしくお願いいたします。\n\n――――――――――――――\n株式会社松江建設　工務部　高橋一郎\n〒690-0001 島根県松江市東朝日町1-2\nTEL：0852-21-0000　FAX：0852-21-0001\n建設業許可番号　島根県知事許可（特-5）第1234号\n",
			p0, num(1), key(1), num(2), key(2)),
	}, Notices: []parser.Notice{typed("前払金保証", num(1), key(1), p0, "", ""), typed("契約保証", num(2), key(2), p0, "", "")}})

	add(Scenario{Name: "Becky!, full-width, (1)(2) headings, 発注者 above the list", Mail: Mail{
		From: "nishimura@ota-gumi.example", Date: at(21), Subject: "電子証書の認証キー", ISO2022JP: true,
		Body: fmt.Sprintf("発注者：島根県知事\n保証会社：西日本建設業保証株式会社\n\n（１）中間前払金保証\n　保証契約番号　%s\n　認証キー　　　%s\n（２）前払金保証\n　保証契約番号　%s\n　認証キー　　　%s\n",
			wide(num(3)), wide(key(3)), wide(num(4)), wide(key(4))),
	}, Notices: []parser.Notice{typed("中間前払金保証", num(3), key(3), "", "島根県知事", parser.WestJapan), typed("前払金保証", num(4), key(4), "", "島根県知事", parser.WestJapan)}})

	add(Scenario{Name: "HTML only, a table with a header row", Mail: Mail{
		From: "maeda@yumihama-kensetsu.example", Date: at(22), Subject: "認証キー等の提出",
		HTML: fmt.Sprintf("<html><body><p>お世話になっております。下記のとおり提出いたします。</p><table border=1>"+
			"<tr><th>区分</th><th>保証契約番号</th><th>認証キー</th><th>工事名</th></tr>"+
			"<tr><td>前払金保証</td><td>%s</td><td>%s</td><td>%s</td></tr>"+
			"<tr><td>契約保証</td><td>%s</td><td>%s</td><td>%s</td></tr></table><p>弓浜建設 前田</p></body></html>",
			num(5), key(5), p0, num(6), key(6), p0),
	}, Notices: []parser.Notice{typed("前払金保証", num(5), key(5), p0, "", ""), typed("契約保証", num(6), key(6), p0, "", "")}})

	add(Scenario{Name: "HTML only, label and value cells", Mail: Mail{
		From: "ueda@sakai-doboku.example", Date: at(23), Subject: "認証キー",
		HTML: fmt.Sprintf("<div>ご担当者様</div><table><tr><td>工事名</td><td>%s</td></tr><tr><td>保証契約番号</td><td>%s</td></tr>"+
			"<tr><td>認証キー</td><td>%s</td></tr><tr><td>発注者</td><td>島根県知事 様</td></tr></table>", p1, num(7), key(7)),
	}, Notices: []parser.Notice{typed("", num(7), key(7), p1, "島根県知事", "")}})

	add(Scenario{Name: "HTML only, a definition list", Mail: Mail{
		From: "oka@hikawa-koumu.example", Date: at(24), Subject: "認証キー送付",
		HTML: fmt.Sprintf("<p>送付します。</p><dl><dt>区分</dt><dd>前払金保証</dd><dt>保証契約番号</dt><dd>%s</dd><dt>認証キー</dt><dd>%s</dd></dl>", num(8), key(8)),
	}, Notices: []parser.Notice{typed("前払金保証", num(8), key(8), "", "", "")}})

	add(Scenario{Name: "iPhone, a sentence, the 16-letter key wrapped with a full-width indent", Mail: Mail{
		From: "mori@unnan-koumuten.example", Date: at(25), Subject: "認証キーです",
		Body: fmt.Sprintf("お世話になります。\n保証契約番号は%sです。\n認証キーは%s\n　　%sです。\n\niPhoneから送信\n", num(9), long(9)[:12], long(9)[12:]),
	}, Notices: []parser.Notice{typed("", num(9), long(9), "", "", "")}})

	add(Scenario{Name: "Outlook correction above the quoted first mail", Mail: Mail{
		From: "kato@izumo-doboku.example", Date: at(26), Subject: "RE: 認証キーの送付", ISO2022JP: true,
		Body: fmt.Sprintf("先ほどの認証キーに誤りがありました。正しくは次のとおりです。\n保証契約番号：%s\n認証キー：%s\n\n-----Original Message-----\nFrom: 加藤 <kato@izumo-doboku.example>\nSent: Monday, June 15, 2026 9:00 AM\nTo: denshi-shosho@pref.shimane.example\nSubject: 認証キーの送付\n\n保証契約番号：%s\n認証キー：%s\n",
			num(10), key(10), num(10), "X"+key(10)[1:]),
	}, Notices: []parser.Notice{typed("", num(10), key(10), "", "", "")}})

	add(Scenario{Name: "Gmail HTML reply, the quoted request is not read", Mail: Mail{
		From: "ishida@gotsu-kogyo.example", Date: at(27), Subject: "Re: 認証キーの提出のお願い",
		HTML: fmt.Sprintf("<div dir=\"ltr\">保証契約番号：%s<br>認証キー：%s<br></div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">2026年6月12日(金) 9:00 島根県 &lt;denshi-shosho@pref.shimane.example&gt;:<br></div>"+
			"<blockquote class=\"gmail_quote\">記入例：保証契約番号：2070000000 認証キー：ABCD1234EF</blockquote></div>", num(11), key(11)),
	}, Notices: []parser.Notice{typed("", num(11), key(11), "", "", "")}})

	add(Scenario{Name: "a key without its number", Problems: []string{parser.CodeInvalidKey}, Mail: Mail{
		From: "yoshida@masuda-doken.example", Date: at(28), Subject: "認証キー",
		Body: fmt.Sprintf("認証キー：%s\nよろしくお願いします。\n", key(12)),
	}})

	add(Scenario{Name: "two notices, the second without its key", Problems: []string{parser.CodeInvalidKey}, Mail: Mail{
		From: "hayashi@oda-kensetsu.example", Date: at(29), Subject: "認証キー（2件）",
		Body: fmt.Sprintf("■前払金保証\n保証契約番号：%s\n認証キー：%s\n■契約保証\n保証契約番号：%s\n", num(13), key(13), num(14)),
	}, Notices: []parser.Notice{typed("前払金保証", num(13), key(13), "", "", "")}})
	return out
}

func timeAt(i int) time.Time {
	return time.Date(2026, 6, 15, 9, i, 0, 0, time.FixedZone("JST", 9*3600))
}
