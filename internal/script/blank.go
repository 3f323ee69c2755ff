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
		c := sql[i]
		next := i + 1
		var err error
		switch {
		case c == '\'':
			esc := i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E') && (i == 1 || !isIdentChar(sql[i-2]))
			next, err = p.skipQuoted(i, '\'', esc)
		case c == '"':
			next, err = p.skipQuoted(i, '"', false)
		case c == '$' && (i == 0 || !isIdentChar(sql[i-1])):
			if next, err = p.skipDollar(i); err == nil && next > i+1 {
				tag := strings.IndexByte(sql[i+1:], '$') + 2 // $tag$'s length
				bodies = append(bodies, [2]int{i + tag, next - tag})
			} else if err == nil {
				i = next
				continue // $1, or a $ in an operator
			}
		case strings.HasPrefix(sql[i:], "--"):
			next = strings.IndexByte(sql[i:], '\n')
			if next < 0 {
				next = len(sql)
			} else {
				next += i
			}
		case strings.HasPrefix(sql[i:], "/*"):
			next, err = p.skipBlockComment(i)
		default:
			i = next
			continue
		}
		if err != nil {
			return "", nil, err
		}
		blank(i, next)
		i = next
	}
	return string(out), bodies, nil
}
