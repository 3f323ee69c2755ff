package report

import (
	"fmt"
	"strings"

	"github.com/pgscale/pgscale/result"
)

// spreadNote says what the spread table and the spread lines of a comparison hold.
var spreadNote = fmt.Sprintf("median of the per-repeat figures; cv = standard deviation / mean; interval = confidence "+
	"interval of the median by %s at the level shown (95%% needs 6 repeats; 3 to 5 give min to max at a lower level; "+
	"none below %d)", result.SpreadMethod, result.MinRepeatsForInterval)

// spreadSentence is spreadNote as a sentence of its own.
func spreadSentence() string { return strings.ToUpper(spreadNote[:1]) + spreadNote[1:] + "." }

// spreadMetrics are the figures whose spread over repeats is shown: those Compare compares, but
// errors, a count summed over repeats.
func spreadMetrics(h Headline) []metricSpec {
	var out []metricSpec
	for _, m := range compareMetrics(h) {
		if !m.absolute {
			out = append(out, m)
		}
	}
	return out
}

// spreadOf is one figure's spread over the group's repeats (N 0 when no repeat has the figure).
func spreadOf(m metricSpec, g *Group) result.Spread {
	var xs []float64
	for _, s := range g.Repeats {
		if v, ok := m.get(s); ok {
			xs = append(xs, v)
		}
	}
	return result.SpreadOf(m.name, xs)
}

// Spreads are the group's figures over its repeats.
func (g *Group) Spreads(h Headline) []result.Spread {
	var out []result.Spread
	for _, m := range spreadMetrics(h) {
		if s := spreadOf(m, g); s.N > 0 {
			out = append(out, s)
		}
	}
	return out
}

// RepeatSpreads is how every variant at every point of r varied over its repeats
// (result.Result.Repeats): nil when no series was repeated.
func RepeatSpreads(r *Result) []result.RepeatSpread {
	runs := Combine([]*Result{r})
	if len(runs) != 1 || runs[0].Repeats() < 2 {
		return nil
	}
	var out []result.RepeatSpread
	for _, g := range runs[0].Groups {
		if len(g.Repeats) > 1 {
			out = append(out, result.RepeatSpread{Variant: g.Variant, Point: g.Point, Figures: g.Spreads(runs[0].Headline)})
		}
	}
	return out
}

// spreadRows are the rows of the spread table (variant, point, figure, n, median, cv, interval,
// level), one per figure of each repeated group; nil when nothing was repeated.
func spreadRows(run *Run) [][]string {
	if run.Repeats() < 2 {
		return nil
	}
	var rows [][]string
	for _, g := range run.Groups {
		if len(g.Repeats) < 2 {
			continue
		}
		for _, s := range g.Spreads(run.Headline) {
			interval, level := spreadInterval(s)
			rows = append(rows, []string{g.Variant, PointString(g.Point), s.Figure, fmt.Sprint(s.N),
				formatMetricValue(s.Figure, s.Median), formatCV(s), interval, level})
		}
	}
	return rows
}

var spreadHeader = []string{"variant", "point", "figure", "n", "median", "cv", "interval", "level"}

// spreadText writes the console's spread table, nothing when no series was repeated.
func spreadText(b *strings.Builder, run *Run) {
	rows := spreadRows(run)
	if rows == nil {
		return
	}
	fmt.Fprintf(b, "spread over repeats: %s\n", spreadNote)
	t := table{align: "lllrrrrl", indent: "  ", header: spreadHeader, rows: rows}
	t.write(b)
}

// spreadMarkdown writes the spread table of report.md, nothing when no series was repeated.
func spreadMarkdown(b *strings.Builder, h string, run *Run) {
	rows := spreadRows(run)
	if rows == nil {
		return
	}
	fmt.Fprintf(b, "%s Spread over repeats\n\n", h)
	b.WriteString(spreadSentence() + "\n\n")
	mdTable(b, spreadHeader, rows, 3)
	b.WriteString("\n")
}

func formatCV(s result.Spread) string {
	if s.N < 2 {
		return ""
	}
	return fmt.Sprintf("%.1f%%", 100*s.CV)
}

// spreadInterval renders a spread's interval and its level: "41000–43000", "93.8%"; without an
// interval, why not.
func spreadInterval(s result.Spread) (interval, level string) {
	if s.Low == nil || s.High == nil {
		return fmt.Sprintf("not computed (n < %d)", result.MinRepeatsForInterval), ""
	}
	return formatBound(s.Figure, *s.Low) + "–" + formatBound(s.Figure, *s.High), formatLevel(s.Level)
}

// formatBound renders a bound of an interval as its figure is rendered, but rates without a
// decimal from 100 on, so that an interval fits the column of its figure.
func formatBound(figure string, v float64) string {
	if strings.HasSuffix(figure, " ms") {
		return formatMetricValue(figure, v)
	}
	return formatNum(v)
}

// repeated tells whether a side of any figure of the comparison was repeated.
func (c *Comparison) repeated() bool {
	return max(c.A.Repeats(), c.B.Repeats()) > 1
}

// formatLevel renders a coverage: 93.8%, 96.9%, 99.2%.
func formatLevel(level float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", 100*level), ".0") + "%"
}

// spreadLines are the lines a comparison writes under a figure measured over repeats, as
// {label, A, B, note}: the cv of each side, then the interval of each side's median with its
// level; none when neither side was repeated, and no cv for an errors count.
func (d MetricDelta) spreadLines() [][4]string {
	if max(d.NA, d.NB) < 2 || d.Metric == "errors" {
		return nil
	}
	ia, la := spreadInterval(d.SpreadA)
	ib, lb := spreadInterval(d.SpreadB)
	if d.SpreadA.Low == nil {
		ia = fmt.Sprintf("n<%d", result.MinRepeatsForInterval)
	}
	if d.SpreadB.Low == nil {
		ib = fmt.Sprintf("n<%d", result.MinRepeatsForInterval)
	}
	level := la
	switch {
	case la == "":
		level = lb
	case lb != "" && lb != la:
		level = la + " / " + lb
	}
	if level != "" {
		level = "(" + level + ")"
	}
	return [][4]string{{"cv", formatCV(d.SpreadA), formatCV(d.SpreadB), ""}, {"interval", ia, ib, level}}
}
