package noticepdf

import "hosho-intake/parser"

// Samples returns fictitious notices shaped like the real ones: the three surety companies,
// the four categories, keys of 8, 10, 12 and 16 characters (one in lower case), a 業務 and a
// name long enough to wrap. Every value is invented; a fresh slice is returned each call.
func Samples() []parser.Notice {
	return []parser.Notice{
		{Category: "前払金保証", ContractNumber: "2094591510", AuthKey: "HR0E4FWKFQ", ProjectName: "県道松江木次線道路改良工事", Orderer: "島根県知事", Guarantor: "西日本建設業保証株式会社"},
		{Category: "中間前払金保証", ContractNumber: "3018820467", AuthKey: "7KQ2M9XW4TZP", ProjectName: "一級河川斐伊川護岸災害復旧工事（その２）", Orderer: "島根県知事", Guarantor: "東日本建設業保証株式会社"},
		{Category: "前払金保証", ContractNumber: "2111243409", AuthKey: "OZ4VWB48J09J7864", ProjectName: "県道米子境港線地質調査業務委託", Orderer: "鳥取県建設技術センター理事長", Guarantor: "北海道建設業信用保証株式会社"},
		{Category: "契約保証", ContractNumber: "4066498220", AuthKey: "9dwv4p2wk0", ProjectName: "浜田港臨港道路改良工事", Orderer: "国土交通省中国地方整備局長", Guarantor: "西日本建設業保証株式会社"},
		{Category: "契約保証予約", ContractNumber: "2087320721", AuthKey: "ODWM48XY", ProjectName: "出雲市立第三中学校屋内運動場改築工事", Orderer: "出雲市長", Guarantor: "西日本建設業保証株式会社"},
	}
}

// Variant is a named set of Options, one shape a real notice arrives in.
type Variant struct {
	Name    string
	Options Options
}

// Variants returns one Variant per encoding and per page option, and a few combinations
// seen together in the corpus, for table-driven tests of readers. Outlines is left out: it
// has no text to read (test it as no_text on its own).
func Variants() []Variant {
	vs := []Variant{
		{"ucs2-table", Options{Encoding: UCS2}},
		{"utf16-table", Options{Encoding: UTF16}},
		{"rksj-table", Options{Encoding: RKSJ}},
		{"euc-table", Options{Encoding: EUC}},
		{"identity-tounicode-table", Options{Encoding: IdentityToUnicode}},
		{"identity-japan1-table", Options{Encoding: IdentityJapan1}},
		{"type3-table", Options{Encoding: Type3ToUnicode}},
		{"ucs2-centered", Options{Encoding: UCS2, Layout: Centered}},
		{"identity-centered-chromium", Options{Encoding: IdentityToUnicode, Layout: Centered, HyphenNumber: true,
			Labels: map[string]string{LabelCategory: "保証区分", LabelProject: "業務名", LabelGuarantor: "保証会社"}}},
		{"type3-centered", Options{Encoding: Type3ToUnicode, Layout: Centered}},
		{"ucs2-inline", Options{Encoding: UCS2, Layout: Inline}},
		{"rksj-inline-fullwidth", Options{Encoding: RKSJ, Layout: Inline, FullWidthNumber: true}},
		{"spaced-labels-table", Options{Encoding: UCS2, SpacedLabels: true}},
		{"spaced-labels-centered", Options{Encoding: RKSJ, Layout: Centered, SpacedLabels: true}},
		{"spaced-labels-inline", Options{Encoding: IdentityToUnicode, Layout: Inline, SpacedLabels: true}},
		{"glyph-by-glyph", Options{Encoding: IdentityToUnicode, GlyphByGlyph: true}},
		{"glyph-by-glyph-type3", Options{Encoding: Type3ToUnicode, GlyphByGlyph: true, Layout: Centered}},
		{"out-of-order", Options{Encoding: UCS2, OutOfOrder: true}},
		{"out-of-order-inline", Options{Encoding: EUC, Layout: Inline, OutOfOrder: true}},
		{"wrap-key", Options{Encoding: UCS2, WrapKey: true}},
		{"wrap-key-centered", Options{Encoding: IdentityToUnicode, Layout: Centered, WrapKey: true}},
		{"form-xobject", Options{Encoding: UCS2, FormXObject: true}},
		{"rotate-90", Options{Encoding: UCS2, Rotate: 90}},
		{"rotate-180", Options{Encoding: IdentityToUnicode, Rotate: 180}},
		{"rotate-270-form", Options{Encoding: RKSJ, Rotate: 270, FormXObject: true}},
		{"asciihex", Options{Encoding: UCS2, ASCIIHex: true}},
		{"asciihex-uncompressed", Options{Encoding: RKSJ, ASCIIHex: true, NoCompress: true}},
		{"uncompressed", Options{Encoding: EUC, NoCompress: true}},
		{"fullwidth-number", Options{Encoding: UTF16, FullWidthNumber: true}},
		{"hyphen-number", Options{Encoding: UCS2, HyphenNumber: true}},
		{"fullwidth-hyphen-number", Options{Encoding: IdentityToUnicode, FullWidthNumber: true, HyphenNumber: true}},
		{"labels-hoshou-no-shurui", Options{Encoding: UCS2, Labels: map[string]string{LabelCategory: "保証の種類", LabelGuarantor: "保証人"}}},
		{"cover-page", Options{Encoding: UCS2, CoverPage: true}},
		{"title-short", Options{Encoding: IdentityToUnicode, Title: "「認証キー」等のお知らせ"}},
		{"title-denshi-hosho", Options{Encoding: RKSJ, Title: "電子保証に係る認証キーのお知らせ"}},
		{"title-ninsho-key", Options{Encoding: UCS2, Layout: Inline, Title: "認証キーのお知らせ"}},
		{"everything", Options{Encoding: Type3ToUnicode, Layout: Centered, SpacedLabels: true, GlyphByGlyph: true, OutOfOrder: true,
			WrapKey: true, FormXObject: true, Rotate: 90, ASCIIHex: true, HyphenNumber: true, CoverPage: true,
			Labels: map[string]string{LabelProject: "業務名", LabelGuarantor: "保証会社"}}},
	}
	return vs
}
