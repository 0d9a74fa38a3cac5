package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// cells is how many terminal columns s takes: two for East Asian Wide and Fullwidth
// characters (UAX #11), one for the rest. text/tabwriter counts runes, so 中間前払金保証
// would push every column after it out of line.
func cells(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			if r >= ' ' && utf8.ValidRune(r) {
				n++
			}
		}
	}
	return n
}

// writeTable writes rows as columns padded to their widest cell in display columns,
// two spaces apart; the last column is not padded.
func writeTable(w io.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], cells(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-cells(c)+2))
			}
		}
		fmt.Fprintln(w, b.String())
	}
}
