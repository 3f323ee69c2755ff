package script

import "strings"

// BlankSQL returns sql with its comments, quoted strings, quoted identifiers and dollar-quoted
// strings overwritten by spaces (newlines kept, so that offsets and lines still match), and the
// spans [from, to) of the dollar-quoted strings' text: plain SQL lexed as Parse lexes a script's
// SQL commands (backslash escapes in E-prefixed strings, doubled quotes, nested /* */ comments,
// $tag$ … $tag$). What is left splits into statements at its semicolons. An unterminated string
// or comment is a SyntaxError naming name.
func BlankSQL(name, sql string) (string, [][2]int, error) {
	p := newParser(name, sql)
	out := []byte(sql)
	blank := func(from, to int) {
		for k := from; k < to; k++ {
			if out[k] != '\n' {
				out[k] = ' '
			}
		}
	}
	var bodies [][2]int
	for i := 0; i < len(sql); {
		next, err := p.skipLexeme(i, 0)
		if err != nil {
			return "", nil, err
		}
		if next == i {
			i++
			continue
		}
		if sql[i] == '$' {
			tag := strings.IndexByte(sql[i+1:], '$') + 2 // $tag$'s length
			bodies = append(bodies, [2]int{i + tag, next - tag})
		}
		blank(i, next)
		i = next
	}
	return string(out), bodies, nil
}
