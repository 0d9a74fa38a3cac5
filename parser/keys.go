package parser

import (
	"fmt"
	"slices"
	"strings"
)

// shape is what a surety company's 保証契約番号 and 認証キー look like. A value of another
// shape is not read as certain: in a PDF it is a font that decoded wrongly, in a mail body a
// typing mistake.
type shape struct {
	numberDigits int   // length of the 保証契約番号
	keyLengths   []int // lengths of the 認証キー
	oneCase      bool  // letters all upper or all lower case
}

// shapes are learned from every key and number in the shared sample corpus
// (../shared/samples/*/*.truth.json, notices and unread_notices: 39 keys) and its README
// ("保証契約番号 as 10 ASCII digits", "Lengths 8, 10, 12, 16", "keys with lower-case letters
// exist"). Seen: 西日本建設業保証 10 and 12 characters, A-Z0-9 or (jhb5x8nsu0, u5xmx5758e)
// a-z0-9; 東日本建設業保証 10, A-Z0-9 (5 keys); 北海道建設業信用保証 16, A-Z0-9 (2 keys); a
// bank 8; every number 10 digits. All the README's lengths are allowed for each company: a
// company's few sample keys cannot show that it never issues another, and refusing a real key
// would leave its sender stuck. Keys are upper-case letters and digits or lower-case letters
// and digits, never both cases (no sample mixes them): a damaged font map that sends some
// letters to wrong codes mixes them (43H5ZEOH3X read as 43H5efgH3h, issue 17).
var shapes = map[string]shape{
	WestJapan: {numberDigits: 10, keyLengths: keyLengths, oneCase: true},
	EastJapan: {numberDigits: 10, keyLengths: keyLengths, oneCase: true},
	Hokkaido:  {numberDigits: 10, keyLengths: keyLengths, oneCase: true},
}

var keyLengths = []int{8, 10, 12, 16}

// anySurety is what a notice that names no guarantor (typed in a mail body) must look like
// to be any surety company's: their common lengths. Its case is not checked: which company's
// key it is, and so whether mixed case is a mistake, is not known.
var anySurety = shape{numberDigits: 10, keyLengths: keyLengths}

// checkShape says what is wrong with a number and key for the guarantor's shape, or "" when
// they fit it. A named guarantor that is not a surety company (a bank, an insurer) has no
// known shape.
func checkShape(guarantor, number, key string) string {
	s, ok := shapes[guarantor]
	name := strings.TrimSuffix(guarantor, "株式会社") + "'s"
	switch {
	case !ok && guarantor != "":
		return ""
	case !ok:
		s, name = anySurety, "surety companies'"
	}
	switch {
	case len(number) != s.numberDigits:
		return fmt.Sprintf("保証契約番号 %s has %d digits; %s have %d", number, len(number), name, s.numberDigits)
	case !slices.Contains(s.keyLengths, len(key)):
		return fmt.Sprintf("認証キー %s has %d characters; %s have %s", key, len(key), name, lengths(s.keyLengths))
	case s.oneCase && strings.ToUpper(key) != key && strings.ToLower(key) != key:
		return fmt.Sprintf("認証キー %s mixes upper- and lower-case letters, which %s never do", key, name)
	}
	return ""
}

func lengths(ls []int) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprint(l)
	}
	return strings.Join(parts, ", ")
}
