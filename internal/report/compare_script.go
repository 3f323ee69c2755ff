package report

import (
	"fmt"
	"strings"

	"golang.org/x/perf/benchmath"
)

// compareStatements compares the statements of the series both sides ran, statement by
// statement (matched by label): p50, p99 and errors, with the same test as the series'.
func (c *Comparison) compareStatements(th *benchmath.Thresholds) {
	inB := map[string]*Group{}
	for _, g := range c.B.Groups {
		inB[g.Key()] = g
	}
	for _, ga := range c.A.Groups {
		gb, ok := inB[ga.Key()]
		if !ok {
			continue
		}
		bdA, bdB := BreakdownOf(ga.Repeats), BreakdownOf(gb.Repeats)
		inBoth := map[string]bool{}
		for _, st := range bdB.Statements {
			inBoth[st.Label] = true
		}
		for _, st := range bdA.Statements {
			if !inBoth[st.Label] {
				continue
			}
			label := st.Label
			row := CompareRow{Label: label}
			if len(c.A.Groups) > 1 {
				row.Label = ga.Label() + ": " + label
			}
			for _, m := range statementMetrics(label) {
				if d, ok := compareMetric(m, ga, gb, th); ok {
					row.Metrics = append(row.Metrics, d)
				}
			}
			c.StatementRows = append(c.StatementRows, row)
		}
	}
}

// statementMetrics are the figures compared for the statement labelled label.
func statementMetrics(label string) []metricSpec {
	find := func(s *Series) *StatementStats {
		for i := range s.Statements {
			if s.Statements[i].Label == label {
				return &s.Statements[i]
			}
		}
		return nil
	}
	of := func(f func(*StatementStats) float64) func(s *Series) (float64, bool) {
		return func(s *Series) (float64, bool) {
			st := find(s)
			if st == nil {
				return 0, false
			}
			return f(st), true
		}
	}
	return []metricSpec{
		{"p50 ms", false, false, of(func(st *StatementStats) float64 { return st.LatencyMs.P50 })},
		{"p99 ms", false, false, of(func(st *StatementStats) float64 { return st.LatencyMs.P99 })},
		{"errors", false, true, of(func(st *StatementStats) float64 { return float64(sumCounts(st.Errors)) })},
	}
}

// statementsText writes the statements' comparison, for Text.
func (c *Comparison) statementsText(b *strings.Builder) {
	if len(c.StatementRows) == 0 {
		return
	}
	b.WriteString("\nstatements:\n")
	for _, row := range c.StatementRows {
		b.WriteString(row.Label + "\n")
		for _, d := range row.Metrics {
			fmt.Fprintf(b, "  %-10s %14s %14s  %-9s %-7s (%s)\n", d.Metric, formatMetricValue(d.Metric, d.A),
				formatMetricValue(d.Metric, d.B), d.Delta, d.Verdict, d.note())
		}
	}
}

// statementsMarkdown writes the statements' comparison, for Markdown.
func (c *Comparison) statementsMarkdown(b *strings.Builder) {
	if len(c.StatementRows) == 0 {
		return
	}
	b.WriteString("\n### Statements\n\n| statement | metric | A | B | delta | | stats |\n|---|---|--:|--:|--:|---|---|\n")
	for _, row := range c.StatementRows {
		for i, d := range row.Metrics {
			label := ""
			if i == 0 {
				label = mdEscape(row.Label)
			}
			verdict := d.Verdict
			if verdict != "" {
				verdict = "**" + verdict + "**"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", label, d.Metric, formatMetricValue(d.Metric, d.A),
				formatMetricValue(d.Metric, d.B), d.Delta, verdict, d.note())
		}
	}
}
