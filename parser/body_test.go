package parser

import (
	"strings"
	"testing"
)

// bodyCase is one shape of a notice typed in a mail body, as contractors write them.
type bodyCase struct {
	name, body string
	want       []Notice
	problems   []Problem // Detail is not compared
}

const (
	num1, key1 = "2070004426", "AB12CD34EF"
	num2, key2 = "2070004427", "ZX98YW76VU"
)

func body(ns ...Notice) []Notice {
	for i := range ns {
		ns[i].Source = "body"
	}
	return ns
}

// TestReadBodyShapes: one case per shape of the issue 11 list, as a hurried contractor
// types them in Outlook, Becky!, Gmail or an iPhone.
func TestReadBodyShapes(t *testing.T) {
	tests := []bodyCase{
		// Several notices under headings carrying the 区分.
		{"【n件目】 headings with 区分", "お世話になります。\n\n【1件目】前払金保証\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n\n【2件目】契約保証\n保証契約番号：2070004427\n認証キー：ZX98YW76VU\n",
			body(Notice{Category: "前払金保証", ContractNumber: num1, AuthKey: key1}, Notice{Category: "契約保証", ContractNumber: num2, AuthKey: key2}), nil},
		{"(1) headings, full-width", "（１）契約保証\n　保証契約番号　２０７０００４４２６\n　認証キー　　　ＡＢ１２ＣＤ３４ＥＦ\n（２）前払金保証\n　保証契約番号　２０７０００４４２７\n　認証キー　　　ＺＸ９８ＹＷ７６ＶＵ\n",
			body(Notice{Category: "契約保証", ContractNumber: num1, AuthKey: key1}, Notice{Category: "前払金保証", ContractNumber: num2, AuthKey: key2}), nil},
		{"■ headings, no blank lines", "■中間前払金保証\n保証契約番号:2070004426\n認証キー:AB12CD34EF\n■前払金保証\n保証契約番号:2070004427\n認証キー:ZX98YW76VU\n",
			body(Notice{Category: "中間前払金保証", ContractNumber: num1, AuthKey: key1}, Notice{Category: "前払金保証", ContractNumber: num2, AuthKey: key2}), nil},
		{"1. headings, short 区分", "1. 前払金\n保証契約番号 2070004426\n認証キー AB12CD34EF\n\n2. 中間前払金\n保証契約番号 2070004427\n認証キー ZX98YW76VU\n",
			body(Notice{Category: "前払金保証", ContractNumber: num1, AuthKey: key1}, Notice{Category: "中間前払金保証", ContractNumber: num2, AuthKey: key2}), nil},
		{"heading and fields on one line", "1件目 前払金保証　保証契約番号：2070004426　認証キー：AB12CD34EF\n2件目 契約保証　保証契約番号：2070004427　認証キー：ZX98YW76VU\n",
			body(Notice{Category: "前払金保証", ContractNumber: num1, AuthKey: key1}, Notice{Category: "契約保証", ContractNumber: num2, AuthKey: key2}), nil},
		{"labelled 区分 wins over the heading", "【1件目】前払金保証\n区分：中間前払金保証\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n",
			body(Notice{Category: "中間前払金保証", ContractNumber: num1, AuthKey: key1}), nil},
		{"numbered fields of one notice are not headings", "1. 工事名：県道改良工事\n2. 保証契約番号：2070004426\n3. 認証キー：AB12CD34EF\n",
			body(Notice{ProjectName: "県道改良工事", ContractNumber: num1, AuthKey: key1}), nil},

		// Context written once.
		{"context paragraph above the list", "発注者：島根県知事\n工事名：県道改良工事\n\n前払金保証\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n\n契約保証\n保証契約番号：2070004427\n認証キー：ZX98YW76VU\n",
			body(Notice{Category: "前払金保証", ContractNumber: num1, AuthKey: key1, ProjectName: "県道改良工事", Orderer: "島根県知事"},
				Notice{Category: "契約保証", ContractNumber: num2, AuthKey: key2, ProjectName: "県道改良工事", Orderer: "島根県知事"}), nil},
		{"preamble before headings, a field inside wins", "発注者：島根県知事\n保証会社：西日本建設業保証株式会社\n【1件目】前払金保証\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n【2件目】契約保証\n保証会社：東日本建設業保証株式会社\n保証契約番号：2070004427\n認証キー：ZX98YW76VU\n",
			body(Notice{Category: "前払金保証", ContractNumber: num1, AuthKey: key1, Orderer: "島根県知事", Guarantor: WestJapan},
				Notice{Category: "契約保証", ContractNumber: num2, AuthKey: key2, Orderer: "島根県知事", Guarantor: EastJapan}), nil},
		{"工事名はいずれも…です", "工事名はいずれも県道改良工事です。\n\n(1)前払金保証\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n(2)契約保証\n保証契約番号：2070004427\n認証キー：ZX98YW76VU\n",
			body(Notice{Category: "前払金保証", ContractNumber: num1, AuthKey: key1, ProjectName: "県道改良工事"},
				Notice{Category: "契約保証", ContractNumber: num2, AuthKey: key2, ProjectName: "県道改良工事"}), nil},
		{"上記2件とも…工事 below the list", "保証契約番号：2070004426\n認証キー：AB12CD34EF\n\n保証契約番号：2070004427\n認証キー：ZX98YW76VU\n\n上記2件とも斐伊川堤防補強工事です。\n",
			body(Notice{ContractNumber: num1, AuthKey: key1, ProjectName: "斐伊川堤防補強工事"},
				Notice{ContractNumber: num2, AuthKey: key2, ProjectName: "斐伊川堤防補強工事"}), nil},
		{"trailing context of one notice", "保証契約番号：2070004426\n認証キー：AB12CD34EF\n\n工事名：県道改良工事\n発注者：島根県知事\n",
			body(Notice{ContractNumber: num1, AuthKey: key1, ProjectName: "県道改良工事", Orderer: "島根県知事"}), nil},
		{"each notice its own context, PDF order", "区分：前払金保証\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n工事名：県道改良工事\n\n区分：契約保証\n保証契約番号：2070004427\n認証キー：ZX98YW76VU\n工事名：斐伊川堤防補強工事\n",
			body(Notice{Category: "前払金保証", ContractNumber: num1, AuthKey: key1, ProjectName: "県道改良工事"},
				Notice{Category: "契約保証", ContractNumber: num2, AuthKey: key2, ProjectName: "斐伊川堤防補強工事"}), nil},
		{"leading context per notice", "工事名：県道改良工事\n\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n\n工事名：斐伊川堤防補強工事\n\n保証契約番号：2070004427\n認証キー：ZX98YW76VU\n",
			body(Notice{ContractNumber: num1, AuthKey: key1, ProjectName: "県道改良工事"},
				Notice{ContractNumber: num2, AuthKey: key2, ProjectName: "斐伊川堤防補強工事"}), nil},

		// Labels and separators.
		{"no separator at all", "保証契約番号2070004426\n認証キーAB12CD34EF\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"「」 around the label", "「保証契約番号」2070004426\n「認証キー」：AB12CD34EF\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"「」 around the value", "保証契約番号は「2070004426」、認証キーは「AB12CD34EF」です。\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"tab separated", "保証契約番号\t2070004426\n認証キー\tAB12CD34EF\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"full-width space separated", "保証契約番号　２０７０００４４２６\n認証キー　ＡＢ１２ＣＤ３４ＥＦ\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"sentence with the 区分 before the label", "前払金保証の保証契約番号は2070004426で、認証キーはAB12CD34EFです。\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"sentence mid-line after a greeting", "お世話になります。保証契約番号：2070004426、認証キー：AB12CD34EF をお送りします。\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"工事名は…です in a sentence", "工事名は県道改良工事です。\n保証契約番号は2070004426です。\n認証キーはAB12CD34EFです。\n",
			body(Notice{ContractNumber: num1, AuthKey: key1, ProjectName: "県道改良工事"}), nil},
		{"工事名は添付のとおり is not a name", "工事名は添付のとおりです。\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"保障 misspelt, 認証コード", "保障契約番号：2070004426\n認証コード：AB12CD34EF\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"html table with a header row", "区分\t保証契約番号\t認証キー\t工事名\n前払金保証\t2070004426\tAB12CD34EF\t県道改良工事\n契約保証\t2070004427\tZX98YW76VU\t県道改良工事\n",
			body(Notice{Category: "前払金保証", ContractNumber: num1, AuthKey: key1, ProjectName: "県道改良工事"},
				Notice{Category: "契約保証", ContractNumber: num2, AuthKey: key2, ProjectName: "県道改良工事"}), nil},
		{"plain table aligned with spaces", "保証契約番号    認証キー\n2070004426      AB12CD34EF\n2070004427      ZX98YW76VU\n",
			body(Notice{ContractNumber: num1, AuthKey: key1}, Notice{ContractNumber: num2, AuthKey: key2}), nil},
		{"dl: label and value on lines of their own", "工事名\n県道改良工事\n保証契約番号\n2070004426\n認証キー\nAB12CD34EF\n",
			body(Notice{ContractNumber: num1, AuthKey: key1, ProjectName: "県道改良工事"}), nil},

		// Wrapped values.
		{"16-letter key wrapped, full-width indent", "保証機関：北海道建設業信用保証株式会社\n保証契約番号：2070004426\n認証キー：ABCD1234EFGH\n　　　　　　5678\n",
			body(Notice{ContractNumber: num1, AuthKey: "ABCD1234EFGH5678", Guarantor: Hokkaido}), nil},
		{"key wrapped by the client inside a sentence", "保証契約番号は2070004426、認証キーはABCD1234EF\nGH5678です。よろしくお願いします。\n",
			body(Notice{ContractNumber: num1, AuthKey: "ABCD1234EFGH5678"}), nil},
		{"number wrapped", "保証契約番号：20700\n04426\n認証キー：AB12CD34EF\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"two keys under each other are not joined", "保証契約番号：2070004426\n認証キー：AB12CD34EF\nZX98YW76VU\n", body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"a phone number below the key is not part of it", "保証契約番号：2070004426\n認証キー：AB12CD34\n0852-22-1234\n", body(Notice{ContractNumber: num1, AuthKey: "AB12CD34"}), nil},
		{"8 and 8 letters: one key or two", "保証契約番号：2070004426\n認証キー：AB12CD34\nEF56GH78\n", nil,
			[]Problem{{Code: CodeInvalidKey, ContractNumber: num1}}},

		// Quoted text and signatures.
		{"Outlook -----Original Message-----", "訂正してお送りします。\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n\n-----Original Message-----\nFrom: 山田\nSent: Monday, June 15, 2026 10:00 AM\n保証契約番号：2070004426\n認証キー：AB12CD34EX\n",
			body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"Outlook 差出人: block", "保証契約番号：2070004426\n認証キー：AB12CD34EF\n\n差出人: 島根県 土木部 <denshi@pref.shimane.example>\n送信日時: 2026年6月15日 10:00\n宛先: yamada@kensetsu.example\n件名: 認証キーについて\n\n保証契約番号：2070009999\n",
			body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"Outlook From: block, no notice above", "よろしくお願いします。\n\nFrom: 山田 <yamada@kensetsu.example>\nSent: Monday, June 15, 2026 10:00 AM\nTo: denshi\nSubject: 認証キー\n\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n", nil, nil},
		{"Gmail wrote: with > lines, answer below", "On Mon, Jun 15, 2026 at 10:00 AM 島根県 <denshi@pref.shimane.example> wrote:\n> 保証契約番号と認証キーをお送りください。\n> 保証契約番号：2070009999\n\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n",
			body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"Gmail Japanese attribution, quote without marks", "了解しました。\n\n2026年6月15日(月) 10:00 山田 太郎 <yamada@kensetsu.example>:\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n", nil, nil},
		{"iPhone のメール:", "再送します\n\n2026/06/15 10:00、山田 <yamada@kensetsu.example>のメール:\n\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n", nil, nil},
		{"forwarded message is read", "下記のとおり転送します。\n\n---------- Forwarded message ---------\nFrom: 経理 <keiri@kensetsu.example>\nDate: 2026年6月15日(月) 9:00\nSubject: 認証キー\nTo: yamada@kensetsu.example\n\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n",
			body(Notice{ContractNumber: num1, AuthKey: key1}), nil},
		{"signature: TEL, FAX, 〒, 許可番号", "保証契約番号：2070004426\n認証キー：AB12CD34EF\n\n--\n株式会社山田建設 工務部 山田太郎\n〒690-8501 島根県松江市殿町1番地\nTEL：0852-22-1234　FAX：0852-22-1235\n建設業許可番号 島根県知事許可（特-3）第1234号\n",
			body(Notice{ContractNumber: num1, AuthKey: key1}), nil},

		// Incomplete notices.
		{"a key without its number", "認証キー：AB12CD34EF\nよろしくお願いします。\n", nil, []Problem{{Code: CodeInvalidKey, AuthKey: key1, Missing: MissingNumber}}},
		{"a number without its key", "保証契約番号：2070004426\n", nil, []Problem{{Code: CodeInvalidKey, ContractNumber: num1, Missing: MissingKey}}},
		{"second notice lacks its key", "【1件目】前払金保証\n保証契約番号：2070004426\n認証キー：AB12CD34EF\n【2件目】契約保証\n保証契約番号：2070004427\n",
			body(Notice{Category: "前払金保証", ContractNumber: num1, AuthKey: key1}), []Problem{{Code: CodeInvalidKey, ContractNumber: num2, Missing: MissingKey}}},
		{"契約番号 with a short number is nothing", "契約番号：第12号\n", nil, nil},
		{"the key notice's name in prose is not a label", "電子証書閲覧用「認証キー」等のお知らせを送付します。\n", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := ReadBody(tc.body)
			if len(got) != len(tc.want) {
				t.Fatalf("ReadBody(%q) = %+v, want %+v", tc.body, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("ReadBody(%q) notice %d = %+v, want %+v", tc.body, i, got[i], tc.want[i])
				}
			}
			if len(problems) != len(tc.problems) {
				t.Fatalf("ReadBody(%q) problems = %+v, want %+v", tc.body, problems, tc.problems)
			}
			for i, p := range problems {
				p.Detail = ""
				if p != tc.problems[i] {
					t.Errorf("ReadBody(%q) problem %d = %+v, want %+v", tc.body, i, p, tc.problems[i])
				}
			}
		})
	}
}

// BenchmarkReadBody10MiB: a hostile 10 MiB body (labels, headings, quote markers and wrapped
// pieces repeated, one very long line) must read in well under a second: no quadratic path.
func BenchmarkReadBody10MiB(b *testing.B) {
	const size = 10 << 20
	unit := "【1件目】前払金保証\n保証契約番号：20700\n04426\n認証キー：ABCD1234EFGH\n　5678\n工事名はいずれも県道改良工事です。\n> 保証契約番号：2070009999\n"
	lines := strings.Repeat(unit, size/len(unit))
	long := strings.Repeat("保証契約番号 認証キー は 区 分 (", size/len("保証契約番号 認証キー は 区 分 ("))
	prose := "いつもお世話になっております。前払金保証の認証キー等のお知らせを送付いたします。ご確認のほどよろしくお願いいたします。\n"
	mail := strings.Repeat(prose, size/len(prose))
	for _, tc := range []struct{ name, body string }{{"lines", lines}, {"one line", long}, {"prose", mail}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				ReadBody(tc.body)
			}
		})
	}
}
