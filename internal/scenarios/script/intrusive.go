package script

import (
	"fmt"
	"regexp"
	"strings"

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

var (
	// sqlCommentOrQuote is a -- comment to the end of its line, a /* */ comment, or a quoted
	// string or identifier (kept as it is: its text may look like a comment).
	sqlCommentOrQuote = regexp.MustCompile(`(?s)--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|"(?:[^"]|"")*"`)
	// bareMaintenance is VACUUM or ANALYZE with options only: VACUUM (ANALYZE, VERBOSE), VACUUM
	// FULL FREEZE, ANALYZE VERBOSE, and no table after them.
	bareMaintenance = regexp.MustCompile(`(?i)^(?:VACUUM|ANALYZE|ANALYSE)(?:\s+(?:FULL|FREEZE|VERBOSE|ANALYZE|ANALYSE)\b|\s*\([^)]*\))*$`)
	notNewline      = regexp.MustCompile(`[^\n]`)
)

// databaseWide returns the first statement of sql that vacuums or analyzes the whole database,
// with its line (from 1), or "" when there is none.
func databaseWide(sql string) (line int, stmt string) {
	// Comments become spaces (keeping their newlines, for the line count), quoted text stays.
	blanked := sqlCommentOrQuote.ReplaceAllStringFunc(sql, func(m string) string {
		if m[0] == '\'' || m[0] == '"' {
			return m
		}
		return notNewline.ReplaceAllString(m, " ")
	})
	offset := 0
	for _, part := range strings.SplitAfter(blanked, ";") {
		text := strings.Join(strings.Fields(strings.TrimSuffix(part, ";")), " ")
		if text != "" && bareMaintenance.MatchString(text) {
			start := offset + strings.Index(part, strings.Fields(part)[0])
			return 1 + strings.Count(blanked[:start], "\n"), text
		}
		offset += len(part)
	}
	return 0, ""
}
