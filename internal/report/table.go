package report

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// table is a console table: every column as wide as its widest cell, text columns aligned left
// and figures right, so that no long point or variant pushes a row out of line.
type table struct {
	// align holds 'l' or 'r' per column; a column beyond it is aligned right.
	align  string
	indent string
	// maxFirst, when above 0, cuts the first column's cells to that many characters.
	maxFirst int
	header   []string
	rows     [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(b *strings.Builder) {
	width := make([]int, len(t.header))
	cut := func(i int, c string) string {
		if i == 0 && t.maxFirst > 0 && utf8.RuneCountInString(c) > t.maxFirst {
			return string([]rune(c)[:t.maxFirst-1]) + "…"
		}
		return c
	}
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			if i < len(width) {
				width[i] = max(width[i], utf8.RuneCountInString(cut(i, c)))
			}
		}
	}
	line := func(cells []string) {
		var l strings.Builder
		l.WriteString(t.indent)
		for i, c := range cells {
			if i >= len(width) {
				break
			}
			c = cut(i, c)
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				l.WriteString("  ")
			}
			if i < len(t.align) && t.align[i] == 'l' {
				l.WriteString(c + pad)
			} else {
				l.WriteString(pad + c)
			}
		}
		fmt.Fprintln(b, strings.TrimRight(l.String(), " "))
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
}
