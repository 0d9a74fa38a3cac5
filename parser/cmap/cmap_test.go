package cmap

import (
	"testing"

	"golang.org/x/text/encoding/japanese"
)

func TestJapan1RoundTrip(t *testing.T) {
	for _, r := range "認証キー等のお知らせ保証契約番号前払金工事名発注者島根県知事西日本建設業株式会社ABCxyz0123①㈱" {
		cid, ok := UnicodeToJapan1(r)
		if !ok {
			t.Errorf("UnicodeToJapan1(%q) = _, false", r)
			continue
		}
		got, ok := Japan1ToUnicode(cid)
		if !ok || got != r {
			t.Errorf("Japan1ToUnicode(%d) = %q, %v, want %q", cid, got, ok, r)
		}
	}
	if _, ok := Japan1ToUnicode(0); ok {
		t.Errorf("Japan1ToUnicode(0) maps .notdef")
	}
	if _, ok := Japan1ToUnicode(1 << 20); ok {
		t.Errorf("Japan1ToUnicode(huge) = ok")
	}
	if _, ok := UnicodeToJapan1(0x10FFFF); ok {
		t.Errorf("UnicodeToJapan1(U+10FFFF) = ok")
	}
	// Known fixed points of Adobe-Japan1: CID 1 is the space, CID 34 'A' (proportional).
	if cid, _ := UnicodeToJapan1('A'); cid != 34 {
		t.Errorf("UnicodeToJapan1('A') = %d, want 34", cid)
	}
}

func decodeAll(t *testing.T, name string, b []byte) (string, []int) {
	t.Helper()
	c, ok := Predefined(name)
	if !ok {
		t.Fatalf("Predefined(%q) = false", name)
	}
	var s []rune
	var cids []int
	for len(b) > 0 {
		n, cid, r := c.Next(b)
		if n <= 0 {
			t.Fatalf("%s: Next made no progress", name)
		}
		b = b[n:]
		s = append(s, r)
		cids = append(cids, cid)
	}
	return string(s), cids
}

func TestPredefined(t *testing.T) {
	sjis, _ := japanese.ShiftJIS.NewEncoder().String("保証契約番号ｱｲ")
	euc, _ := japanese.EUCJP.NewEncoder().String("認証キーｶﾅ")
	tests := []struct {
		cmap string
		in   string
		want string
	}{
		{"UniJIS-UCS2-H", "\x4f\xdd\x8a\x3c\x00\x41", "保証A"},
		{"UniJIS-UCS2-HW-V", "\x4f\xdd\x00\x41", "保A"},
		{"UniJIS-UTF16-H", "\xd8\x40\xdc\x0b\x4e\x00", "\U0002000b一"},
		{"UniJIS-UTF8-H", "工事名A", "工事名A"},
		{"UniJIS-UTF32-H", "\x00\x00\x5d\xe5", "工"},
		{"90ms-RKSJ-H", sjis + "A", "保証契約番号ｱｲA"},
		{"90msp-RKSJ-V", sjis, "保証契約番号ｱｲ"},
		{"EUC-H", euc, "認証キーｶﾅ"},
		{"H", "\x4a\x5d\x3e\x5a", "保証"}, // JIS X 0208 row/cell of 保 and 証
		{"83pv-RKSJ-H", sjis, "保証契約番号ｱｲ"},
	}
	for _, tt := range tests {
		got, _ := decodeAll(t, tt.cmap, []byte(tt.in))
		if got != tt.want {
			t.Errorf("%s: decode(% x) = %q, want %q", tt.cmap, tt.in, got, tt.want)
		}
	}
}

// TestRKSJvsCP932 records why 90ms-RKSJ is decoded through Adobe's CMap rather than x/text's
// Shift_JIS: both give ① and ㈱; for ～ (0x8160) the CMap gives the WAVE DASH glyph U+301C
// (x/text does too, CP932 says U+FF5E: the normaliser folds both); 0x5C is the yen sign in
// the font's glyphs, which is what is printed.
func TestRKSJvsCP932(t *testing.T) {
	got, _ := decodeAll(t, "90ms-RKSJ-H", []byte("\x87\x40\x87\x8a\x81\x60"))
	if got != "①㈱〜" {
		t.Errorf("90ms-RKSJ-H ①㈱～ = %q", got)
	}
}

func TestIdentity(t *testing.T) {
	cid, _ := UnicodeToJapan1('証')
	got, cids := decodeAll(t, "Identity-H", []byte{byte(cid >> 8), byte(cid)})
	if got != "証" || cids[0] != cid {
		t.Errorf("Identity-H %d = %q %v", cid, got, cids)
	}
}

func TestNextNeverStalls(t *testing.T) {
	for _, name := range []string{"Identity-H", "UniJIS-UCS2-H", "UniJIS-UTF16-H", "UniJIS-UTF8-H", "UniJIS-UTF32-H", "90ms-RKSJ-H", "EUC-H", "H"} {
		c, _ := Predefined(name)
		for _, in := range []string{"\xff", "\x81", "\xd8\x00", "\xff\xff\xff", "\x00"} {
			if n, _, _ := c.Next([]byte(in)); n < 1 || n > len(in) {
				t.Errorf("%s.Next(% x) = %d", name, in, n)
			}
		}
	}
	if _, ok := Predefined("KSC-H"); ok {
		t.Errorf("Predefined(KSC-H) = ok")
	}
}

// predefinedNames are the CMaps of every kind Next reads.
var predefinedNames = []string{"Identity-H", "UniJIS-UCS2-H", "UniJIS-UCS2-HW-H", "UniJIS-UTF16-H", "UniJIS-UTF8-H",
	"UniJIS-UTF32-H", "90ms-RKSJ-H", "EUC-H", "H", "UniJIS-UTF16-V"}

// TestLen: Len is the length Next reads, on codes of each length, cut short and malformed.
func TestLen(t *testing.T) {
	inputs := []string{"", "\x00", "A", "\xff", "\x81", "\x81\x40", "\x82\xa0abc", "\xd8\x00", "\xd8\x3d\xde\x00",
		"\xd8\x3d\xde", "\xe3\x81\x82", "\xe3\x81", "\x00\x00\x4e\x00", "\x00\x01\xf6", "\xa4\xa2", "\x21\x21", "\xff\xff\xff"}
	for _, name := range predefinedNames {
		c, ok := Predefined(name)
		if !ok {
			t.Fatalf("Predefined(%s) missing", name)
		}
		for _, in := range inputs {
			if n, _, _ := c.Next([]byte(in)); c.Len([]byte(in)) != n {
				t.Errorf("%s: Len(% x) = %d, Next reads %d", name, in, c.Len([]byte(in)), n)
			}
		}
	}
}

// FuzzLen: on any bytes Len is the length Next reads, and what Next makes of a code depends
// on its own bytes alone (what a cache of codes by their bytes relies on).
func FuzzLen(f *testing.F) {
	for _, s := range []string{"\x81\x40\x82\xa0", "\xd8\x3d\xde\x00A", "\xe3\x81\x82\xff", "\x00\x00\x4e\x00\x00"} {
		f.Add(s)
	}
	maps := make([]*CMap, len(predefinedNames))
	for i, name := range predefinedNames {
		maps[i], _ = Predefined(name)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for i, c := range maps {
			n, cid, r := c.Next([]byte(in))
			if got := c.Len([]byte(in)); got != n {
				t.Fatalf("%s: Len(% x) = %d, Next reads %d", predefinedNames[i], in, got, n)
			}
			if n2, cid2, r2 := c.Next([]byte(in)[:n]); n2 != n || cid2 != cid || r2 != r {
				t.Fatalf("%s: Next(% x) = %d %d %q, on its own bytes %d %d %q", predefinedNames[i], in, n, cid, r, n2, cid2, r2)
			}
		}
	})
}
