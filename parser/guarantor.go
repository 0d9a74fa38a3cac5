package parser

import "strings"

// The three surety companies (保証事業会社) that issue electronic certificates viewable on D-Sure.
const (
	WestJapan = "西日本建設業保証株式会社"
	EastJapan = "東日本建設業保証株式会社"
	Hokkaido  = "北海道建設業信用保証株式会社"
)

// suretyAliases are the stems a sender or a branch footer uses for each surety company,
// misnamings included (東日本建設業信用保証 and 北海道建設業保証 are common). Matched
// against the compacted, normalised name.
// A full stem is specific enough to identify the issuer anywhere on a page.
var suretyAliases = []struct {
	stem, official string
	full           bool
}{
	{"西日本建設業", WestJapan, true},
	{"東日本建設業", EastJapan, true},
	{"北海道建設業", Hokkaido, true},
	{"西日本保証", WestJapan, false},
	{"東日本保証", EastJapan, false},
	{"北海道保証", Hokkaido, false},
	{"北保証", Hokkaido, false},
}

// branchSuffixes end the part of a printed guarantor that names a branch, not the company.
var branchSuffixes = []string{"支店", "本店", "営業部", "支社", "出張所", "事務所", "営業所", "センター"}

// Guarantor returns the official name of the guarantor printed as s: one of the three surety
// companies when s names one (however misspelt), else the company name as printed without
// its branch (株式会社山陰合同銀行 本店営業部 -> 株式会社山陰合同銀行).
func Guarantor(s string) string {
	s = Normalize(s)
	c := compact(s)
	for _, a := range suretyAliases {
		if strings.Contains(c, a.stem) {
			return a.official
		}
	}
	fields := strings.Fields(s)
	for len(fields) > 1 && hasAnySuffix(fields[len(fields)-1], branchSuffixes) {
		fields = fields[:len(fields)-1]
	}
	return compact(strings.Join(fields, ""))
}

// nearSurety reports a name that only a surety company's name with a changed character
// gives: the words of the business (建設業保証, 建設業信用保証) without a company's stem.
// No bank or insurer calls itself that.
func nearSurety(name string) bool {
	return strings.Contains(name, "建設業保証") || strings.Contains(name, "建設業信用保証")
}

// IsSurety reports whether name is one of the three surety companies' official names.
func IsSurety(name string) bool {
	return name == WestJapan || name == EastJapan || name == Hokkaido
}

func hasAnySuffix(s string, suffixes []string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}
