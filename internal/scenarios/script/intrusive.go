package script

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/script"
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
	blanked, bodies, err := script.BlankSQL("", sql)
	if err != nil {
		// An unterminated string or comment: the server refuses the whole file before running any
		// of it, so nothing of it is database-wide.
		return 0, ""
	}
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
