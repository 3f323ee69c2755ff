package timeouts

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// RolePlaceholder stands for the application's role in the printed statements when no role is
// named: it is not valid SQL, so the statements cannot be applied by mistake unedited.
const RolePlaceholder = "<app_role>"

// maxIdentifierBytes is PostgreSQL's NAMEDATALEN - 1.
const maxIdentifierBytes = 63

// ValidateRole checks a role name given on the command line: a PostgreSQL identifier of at most
// 63 bytes without control characters. Any such name is valid once quoted.
func ValidateRole(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("--role: empty; give the role your application connects as (e.g. webservice)")
	case len(name) > maxIdentifierBytes:
		return fmt.Errorf("--role %q: %d bytes, longer than PostgreSQL's %d-byte identifiers", name, len(name), maxIdentifierBytes)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("--role %q: control characters are not valid in a role name", name)
	}
	return nil
}

// AlterRole returns the statements that apply a proposal to role ("" for the placeholder).
func AlterRole(p Proposal, role string) []string {
	r := RolePlaceholder
	if role != "" {
		r = pgx.Identifier{role}.Sanitize()
	}
	return []string{
		fmt.Sprintf("ALTER ROLE %s SET statement_timeout = '%dms';", r, p.StatementTimeoutMs),
		fmt.Sprintf("ALTER ROLE %s SET lock_timeout = '%dms';", r, p.LockTimeoutMs),
	}
}

// WriteJSON writes the report as indented JSON, with the statements for role.
func WriteJSON(w io.Writer, rep *Report, role string) error {
	out := struct {
		*Report
		Apply map[string][]string `json:"apply"`
	}{Report: rep, Apply: map[string][]string{}}
	for _, p := range rep.Proposals {
		out.Apply[p.Rule] = AlterRole(p, role)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write timeouts JSON: %w", err)
	}
	return nil
}

// WriteText writes the report for a terminal.
func WriteText(w io.Writer, rep *Report, role string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Timeouts for %s (run %s, status %s)", rep.Scenario, rep.RunID, rep.Status)
	if rep.Variant != "" {
		fmt.Fprintf(&b, ", variant %s", rep.Variant)
	}
	o := rep.Overall
	fmt.Fprintf(&b, "\nfrom %d requests' %s (%s): mean %s ms, p50 %s, p99 %s, p99.9 %s, max %s ms\n\n",
		o.Requests, o.Source, o.Name, fmtMs(o.MeanMs), fmtMs(o.P50Ms), fmtMs(o.P99Ms), fmtMs(o.P999Ms), fmtMs(o.MaxMs))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rule\tstatement_timeout\tcancels\tlock_timeout\tcancels at most\tfrom")
	for _, p := range rep.Proposals {
		mark := p.Rule
		if p.Rule == rep.Recommended {
			mark += " *"
		}
		fmt.Fprintf(tw, "%s\t%d ms\t%s\t%d ms\t%s\t%s\n", mark, p.StatementTimeoutMs, Percent(p.StatementCancelled),
			p.LockTimeoutMs, Percent(p.LockCancelledAtMost), p.Basis)
	}
	tw.Flush()
	fmt.Fprintf(&b, "* recommended: %s\n", rep.Why)

	if len(rep.Series) > 1 || len(rep.Statements) > 0 {
		fmt.Fprintf(&b, "\nstatement_timeout would have cancelled, by %s:\n", distributionKind(rep))
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "\trequests\tmean ms\tp99.9 ms\t%s\t%s\n", RuleArticle, RuleTail)
		rows := rep.Series
		if len(rep.Statements) > 0 {
			rows = rep.Statements
		}
		for _, d := range rows {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", d.Name, d.Requests, fmtMs(d.MeanMs), fmtMs(d.P999Ms),
				Percent(d.Cancelled[RuleArticle]), Percent(d.Cancelled[RuleTail]))
		}
		tw.Flush()
	}

	fmt.Fprintf(&b, "\nApply to the role the application connects as (%s rule):\n", rep.Recommended)
	for _, p := range rep.Proposals {
		if p.Rule == rep.Recommended {
			for _, line := range AlterRole(p, role) {
				fmt.Fprintf(&b, "  %s\n", line)
			}
		}
	}
	fmt.Fprintf(&b, "Then alert on SQLSTATE %s (statement_timeout) and %s (lock_timeout): when they rise, a query or a lock "+
		"got slower before the database tipped. This run had %d and %d.\n",
		CodeStatementTimeout, CodeLockTimeout, rep.TimeoutErrors[CodeStatementTimeout], rep.TimeoutErrors[CodeLockTimeout])
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func distributionKind(rep *Report) string {
	if len(rep.Statements) > 0 {
		return "statement"
	}
	return "series"
}
