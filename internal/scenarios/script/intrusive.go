package script

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/pgscale/pgscale/internal/scenarios"
)

// IntrusiveWith implements scenarios.IntrusiveChecker: a setup file that vacuums or analyzes
// without naming a table. On a dsn target the setup runs in the run's own schema, but a bare
// VACUUM or ANALYZE still reads every table of the database the role may touch, and waits on
// (or deadlocks with) whatever DDL other sessions run there.
func (s *Scenario) IntrusiveWith(scenarios.Params) string {
	if s.l == nil {
		return ""
	}
	for _, f := range s.l.setup {
		if line, stmt := databaseWide(f.sql); stmt != "" {
			return fmt.Sprintf("--setup %s:%d: %q names no table, so it acts on every table of the database, "+
				"not only the run's schema; name the tables (ANALYZE t1, t2)", f.name, line, stmt)
		}
	}
	return ""
}

// bareMaintenance is VACUUM or ANALYZE with options only: VACUUM (ANALYZE, VERBOSE), VACUUM FULL
// FREEZE, ANALYZE VERBOSE, and no table after them.
var (
	bareMaintenance = regexp.MustCompile(`(?i)^(?:VACUUM|ANALYZE|ANALYSE)(?:\s+(?:FULL|FREEZE|VERBOSE|ANALYZE|ANALYSE)\b|\s*\([^)]*\))*$`)
	doBlock         = regexp.MustCompile(`(?i)^DO\b`)
	blockOpener     = regexp.MustCompile(`(?i)^(?:(?:BEGIN|LOOP|THEN|ELSE)\s+)+`)
)

// databaseWide returns the first statement of sql that vacuums or analyzes the whole database,
// with its line (from 1), or "" when there is none. It looks inside DO blocks too, whose body
// runs as it stands, but not inside a function's body, which only defines it.
func databaseWide(sql string) (line int, stmt string) { return scanWide(sql, false) }

// scanWide is databaseWide; in a DO block's body (inBody) a statement may follow the keyword
// that opens a PL/pgSQL block, loop or branch.
func scanWide(sql string, inBody bool) (line int, stmt string) {
	blanked, bodies := blankSQL(sql)
	offset := 0
	for _, part := range strings.SplitAfter(blanked, ";") {
		start, end := offset, offset+len(part)
		offset = end
		text := strings.Join(strings.Fields(strings.TrimSuffix(part, ";")), " ")
		if text == "" {
			continue
		}
		skip := 0
		if inBody {
			opener := blockOpener.FindString(text)
			skip, text = len(strings.Fields(opener)), text[len(opener):]
		}
		if bareMaintenance.MatchString(text) {
			lead := start + fieldOffset(part, skip)
			return 1 + strings.Count(sql[:lead], "\n"), text
		}
		if !doBlock.MatchString(text) {
			continue
		}
		for _, b := range bodies {
			if b[0] >= start && b[1] <= end {
				if l, inner := scanWide(sql[b[0]:b[1]], true); inner != "" {
					return strings.Count(sql[:b[0]], "\n") + l, inner
				}
			}
		}
	}
	return 0, ""
}

// fieldOffset is the offset in s of its field number n (from 0), fields split as strings.Fields
// splits them.
func fieldOffset(s string, n int) int {
	inField := false
	for i, r := range s {
		space := unicode.IsSpace(r)
		if !space && !inField {
			if n == 0 {
				return i
			}
			n--
		}
		inField = !space
	}
	return len(s)
}

// blankSQL returns sql with its comments, quoted strings, quoted identifiers and dollar-quoted
// bodies overwritten (newlines kept, so offsets and lines still match), and the spans of the
// dollar-quoted bodies' text. It follows PostgreSQL's lexer: a doubled quote inside a string or
// identifier, backslash escapes in E-prefixed strings, nested /* */ comments, $tag$ … $tag$.
func blankSQL(sql string) (string, [][2]int) {
	out := []byte(sql)
	blank := func(from, to int) {
		for k := from; k < to && k < len(out); k++ {
			if out[k] != '\n' {
				out[k] = ' '
			}
		}
	}
	identChar := func(k int) bool {
		if k < 0 {
			return false
		}
		c := sql[k]
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '$'
	}
	var bodies [][2]int
	for i := 0; i < len(sql); {
		switch {
		case strings.HasPrefix(sql[i:], "--"):
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				end = len(sql) - i
			}
			blank(i, i+end)
			i += end
		case strings.HasPrefix(sql[i:], "/*"):
			depth, k := 1, i+2
			for k < len(sql) && depth > 0 {
				switch {
				case strings.HasPrefix(sql[k:], "/*"):
					depth, k = depth+1, k+2
				case strings.HasPrefix(sql[k:], "*/"):
					depth, k = depth-1, k+2
				default:
					k++
				}
			}
			blank(i, k)
			i = k
		case sql[i] == '\'' || sql[i] == '"':
			escapes := sql[i] == '\'' && i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e') && !identChar(i-2)
			k := i + 1
			for k < len(sql) {
				if escapes && sql[k] == '\\' {
					k += 2
					continue
				}
				if sql[k] == sql[i] {
					if k+1 < len(sql) && sql[k+1] == sql[i] {
						k += 2
						continue
					}
					k++
					break
				}
				k++
			}
			blank(i, k)
			i = k
		case sql[i] == '$' && !identChar(i-1):
			tag := dollarTag.FindString(sql[i:])
			if tag == "" {
				i++
				continue
			}
			closer := strings.Index(sql[i+len(tag):], tag)
			end := len(sql)
			if closer >= 0 {
				bodies = append(bodies, [2]int{i + len(tag), i + len(tag) + closer})
				end = i + len(tag) + closer + len(tag)
			}
			blank(i, end)
			i = end
		default:
			i++
		}
	}
	return string(out), bodies
}

// dollarTag is the opening of a dollar-quoted string: $$ or $tag$.
var dollarTag = regexp.MustCompile(`^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$`)
