package pdftext

import (
	"strconv"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// Simple-font encodings (PDF 32000-1 Annex D). WinAnsiEncoding is Windows-1252 and
// MacRomanEncoding is Mac OS Roman for every code a notice uses, so x/text's tables serve;
// StandardEncoding differs from ASCII only in the quotes (and an upper half of accents and
// ligatures that Japanese notices never use: those codes count as undecodable).

type baseEncoding int

const (
	encNone baseEncoding = iota // font's built-in encoding: unknown to us
	encStandard
	encWinAnsi
	encMacRoman
	encPDFDoc
)

func baseEncodingByName(n string) baseEncoding {
	switch n {
	case "WinAnsiEncoding":
		return encWinAnsi
	case "MacRomanEncoding", "MacExpertEncoding":
		return encMacRoman
	case "StandardEncoding":
		return encStandard
	case "PDFDocEncoding":
		return encPDFDoc
	}
	return encNone
}

// decodeBase returns the character of code in a base encoding.
func decodeBase(e baseEncoding, code byte) (rune, bool) {
	switch e {
	case encWinAnsi, encPDFDoc:
		if code < 0x20 && code != '\t' {
			return 0, false
		}
		r := charmap.Windows1252.DecodeByte(code)
		return r, r != 0xFFFD
	case encMacRoman:
		if code < 0x20 {
			return 0, false
		}
		return charmap.Macintosh.DecodeByte(code), true
	case encStandard:
		switch {
		case code == 0x27:
			return '’', true
		case code == 0x60:
			return '‘', true
		case code >= 0x20 && code < 0x7F:
			return rune(code), true
		}
	}
	return 0, false
}

// winAnsiNames are the glyph names of WinAnsiEncoding 0x20-0xFF in code order ("" where
// undefined); with the Windows-1252 table they give the Adobe Glyph List names of every Latin
// character a notice may carry in a /Differences array.
var winAnsiNames = strings.Fields(`space exclam quotedbl numbersign dollar percent ampersand quotesingle
parenleft parenright asterisk plus comma hyphen period slash zero one two three four five six seven
eight nine colon semicolon less equal greater question at A B C D E F G H I J K L M N O P Q R S T U V
W X Y Z bracketleft backslash bracketright asciicircum underscore grave a b c d e f g h i j k l m n o
p q r s t u v w x y z braceleft bar braceright asciitilde - Euro - quotesinglbase florin quotedblbase
ellipsis dagger daggerdbl circumflex perthousand Scaron guilsinglleft OE - Zcaron - - quoteleft
quoteright quotedblleft quotedblright bullet endash emdash tilde trademark scaron guilsinglright oe -
zcaron Ydieresis nbspace exclamdown cent sterling currency yen brokenbar section dieresis copyright
ordfeminine guillemotleft logicalnot sfthyphen registered macron degree plusminus twosuperior
threesuperior acute mu paragraph periodcentered cedilla onesuperior ordmasculine guillemotright
onequarter onehalf threequarters questiondown Agrave Aacute Acircumflex Atilde Adieresis Aring AE
Ccedilla Egrave Eacute Ecircumflex Edieresis Igrave Iacute Icircumflex Idieresis Eth Ntilde Ograve
Oacute Ocircumflex Otilde Odieresis multiply Oslash Ugrave Uacute Ucircumflex Udieresis Yacute Thorn
germandbls agrave aacute acircumflex atilde adieresis aring ae ccedilla egrave eacute ecircumflex
edieresis igrave iacute icircumflex idieresis eth ntilde ograve oacute ocircumflex otilde odieresis
divide oslash ugrave uacute ucircumflex udieresis yacute thorn ydieresis`)

// extraNames are common AGL names outside WinAnsi.
var extraNames = map[string]rune{
	"fi": 'ﬁ', "fl": 'ﬂ', "ff": 'ﬀ', "ffi": 'ﬃ', "ffl": 'ﬄ', "dotlessi": 'ı', "minus": '−',
	"fraction": '⁄', "space.alt": ' ', "uni00A0": 0xA0, "hyphen.alt": '-', "quotedblbase": '„',
	"ring": '˚', "caron": 'ˇ', "breve": '˘', "dotaccent": '˙', "ogonek": '˛', "hungarumlaut": '˝',
	"Lslash": 'Ł', "lslash": 'ł', "emspace": 0x2003, "yen.full": '￥',
}

// winAnsiRunes is winAnsiNames as a map (a Type 3 notice looks up every glyph's name, and
// a scan of 224 names showed in profiles); the first code of a name wins, as in the scan.
var winAnsiRunes = func() map[string]rune {
	m := make(map[string]rune, len(winAnsiNames))
	for i, n := range winAnsiNames {
		if _, dup := m[n]; !dup {
			m[n] = charmap.Windows1252.DecodeByte(byte(0x20 + i))
		}
	}
	return m
}()

// glyphRune maps a glyph name to its character: the WinAnsi Latin names, uniXXXX,
// uniXXXXYYYY (first character kept), uXXXX[XX], names with a suffix (A.sc, one.fw), and a
// few more AGL names. Producer-private names (g123, cid123, glyph45) are unknown.
func glyphRune(name string) (rune, bool) {
	if i := strings.IndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	if i := strings.IndexByte(name, '_'); i > 0 {
		name = name[:i] // ligature "f_i": first component
	}
	if r, ok := winAnsiRunes[name]; ok {
		return r, true
	}
	if r, ok := extraNames[name]; ok {
		return r, true
	}
	if strings.HasPrefix(name, "uni") && len(name) >= 7 {
		if v, err := strconv.ParseUint(name[3:7], 16, 32); err == nil && !(v >= 0xD800 && v < 0xE000) {
			return rune(v), true
		}
	}
	if strings.HasPrefix(name, "u") && len(name) >= 5 && len(name) <= 7 {
		if v, err := strconv.ParseUint(name[1:], 16, 32); err == nil && v <= 0x10FFFF && !(v >= 0xD800 && v < 0xE000) {
			return rune(v), true
		}
	}
	return 0, false
}
