package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/pgscale/pgscale/result"
	"golang.org/x/perf/benchmath"
)

// MinRepeatsForTest is the number of repeats per side from which Compare runs a Mann-Whitney U
// test. With 3+3 the smallest p-value the test can give is 0.1 (benchmath warns below 4+4 at
// alpha 0.05); the issue asks for the test from 3 repeats on, with the p-value shown.
const MinRepeatsForTest = 3

// DefaultAlpha is the significance level of Compare's test, benchstat's default.
const DefaultAlpha = 0.05

// Comparison is two sets of results of one scenario, series by series.
type Comparison struct {
	Scenario string
	A, B     *Run
	NameA    string
	NameB    string
	Alpha    float64
	Rows     []CompareRow
	// StatementRows compare the statements of script runs (compare_script.go); empty otherwise.
	StatementRows []CompareRow
}

// CompareRow is one series (variant and point) on both sides.
type CompareRow struct {
	Label   string
	OnlyIn  string // "A" or "B" when the series ran on one side only
	Metrics []MetricDelta
}

// MetricDelta is one figure of a series on both sides.
type MetricDelta struct {
	Metric string // the headline's unit when it has its own (rows/s), ops/s, p50 ms, p99 ms, p99.9 ms, errors
	// A and B are the medians over the repeats; NA and NB the numbers of repeats.
	A, B   float64
	NA, NB int
	// Delta is "+4.20%" (or "+89" for errors), "~" when the test found the difference within
	// noise, "0" when equal.
	Delta string
	// Tested tells whether a U test ran (at least MinRepeatsForTest repeats on each side); P is
	// its p-value.
	Tested bool
	P      float64
	// Verdict is "better" or "worse" for a significant difference (or any difference when
	// untested), "" otherwise.
	Verdict string
	// Warnings are the test's, e.g. that too few repeats can never show a difference.
	Warnings []string
	// SpreadA and SpreadB are how the figure varied over each side's repeats (spread.go).
	SpreadA, SpreadB result.Spread
}

type metricSpec struct {
	name         string
	higherBetter bool
	absolute     bool // delta as a count, not a percentage
	get          func(s *Series) (float64, bool)
}

func always(f func(s *Series) float64) func(s *Series) (float64, bool) {
	return func(s *Series) (float64, bool) { return f(s), true }
}

// compareMetrics are the figures Compare compares: the headline first when it is a metric of its
// own (rows/s), then ops/s (named by the headline when it is ops/s under another name),
// latency and errors.
func compareMetrics(h Headline) []metricSpec {
	var ms []metricSpec
	if h.OwnMetric() {
		ms = append(ms, metricSpec{h.Unit, h.HigherIsBetter(), false, h.Of})
	}
	return append(ms,
		metricSpec{h.OpsUnit(), true, false, always(func(s *Series) float64 { return s.ThroughputPerS })},
		metricSpec{"p50 ms", false, false, always(func(s *Series) float64 { return s.LatencyMs.P50 })},
		metricSpec{"p99 ms", false, false, always(func(s *Series) float64 { return s.LatencyMs.P99 })},
		metricSpec{"p99.9 ms", false, false, always(func(s *Series) float64 { return s.LatencyMs.P999 })},
		metricSpec{"errors", false, true, always(func(s *Series) float64 { return float64(TotalErrors(*s)) })},
	)
}

// Compare matches the series of a and b by variant and point and compares their figures.
// Results of different scenarios are bad input. alpha 0 means DefaultAlpha.
func Compare(a, b []*Result, nameA, nameB string, alpha float64) (*Comparison, error) {
	if alpha == 0 {
		alpha = DefaultAlpha
	}
	if alpha <= 0 || alpha >= 1 {
		return nil, badInputf("alpha %g: must be between 0 and 1", alpha)
	}
	ra, err := CombineOne(a)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nameA, err)
	}
	rb, err := CombineOne(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nameB, err)
	}
	if ra.Scenario != rb.Scenario {
		return nil, badInputf("cannot compare different scenarios: %s is %s, %s is %s", nameA, ra.Scenario, nameB, rb.Scenario)
	}
	c := &Comparison{Scenario: ra.Scenario, A: ra, B: rb, NameA: nameA, NameB: nameB, Alpha: alpha}
	// A result written before headlines existed has none: take the other side's.
	h := ra.Headline
	if h == Throughput {
		h = rb.Headline
	}
	metrics := compareMetrics(h)
	thresholds := benchmath.Thresholds{CompareAlpha: alpha}
	inB := map[string]*Group{}
	for _, g := range rb.Groups {
		inB[g.Key()] = g
	}
	seen := map[string]bool{}
	for _, ga := range ra.Groups {
		gb, ok := inB[ga.Key()]
		seen[ga.Key()] = true
		if !ok {
			c.Rows = append(c.Rows, CompareRow{Label: ga.Label(), OnlyIn: "A"})
			continue
		}
		row := CompareRow{Label: ga.Label()}
		for _, m := range metrics {
			if d, ok := compareMetric(m, ga, gb, &thresholds); ok {
				row.Metrics = append(row.Metrics, d)
			}
		}
		c.Rows = append(c.Rows, row)
	}
	for _, gb := range rb.Groups {
		if !seen[gb.Key()] {
			c.Rows = append(c.Rows, CompareRow{Label: gb.Label(), OnlyIn: "B"})
		}
	}
	c.compareStatements(&thresholds)
	return c, nil
}

// compareMetric compares one figure of a series; ok is false when a side has no value of it
// (a series cut short before the scenario computed its metrics).
func compareMetric(m metricSpec, ga, gb *Group, th *benchmath.Thresholds) (MetricDelta, bool) {
	values := func(g *Group) []float64 {
		var xs []float64
		for _, s := range g.Repeats {
			if v, ok := m.get(s); ok {
				xs = append(xs, v)
			}
		}
		return xs
	}
	va, vb := values(ga), values(gb)
	if len(va) == 0 || len(vb) == 0 {
		return MetricDelta{}, false
	}
	sa, sb := result.SpreadOf(m.name, va), result.SpreadOf(m.name, vb)
	d := MetricDelta{Metric: m.name, A: sa.Median, B: sb.Median, NA: len(va), NB: len(vb), SpreadA: sa, SpreadB: sb}
	significant := true
	if d.NA >= MinRepeatsForTest && d.NB >= MinRepeatsForTest {
		sa, sb := benchmath.NewSample(va, th), benchmath.NewSample(vb, th)
		cmp := benchmath.AssumeNothing.Compare(sa, sb)
		d.Tested, d.P = true, cmp.P
		for _, w := range cmp.Warnings {
			d.Warnings = append(d.Warnings, w.Error())
		}
		significant = cmp.P <= cmp.Alpha
	}
	switch {
	case !significant:
		d.Delta = "~"
	case d.A == d.B:
		d.Delta = "0"
	case m.absolute:
		d.Delta = fmt.Sprintf("%+d", int64(math.Round(d.B-d.A)))
	case d.A == 0:
		d.Delta = "?"
	default:
		d.Delta = fmt.Sprintf("%+.2f%%", (d.B/d.A-1)*100)
	}
	if significant && d.A != d.B {
		if (d.B > d.A) == m.higherBetter {
			d.Verdict = "better"
		} else {
			d.Verdict = "worse"
		}
	}
	return d, true
}

// note is the statistics behind a delta: "p=0.100 n=3" or "n=1+1, untested".
func (d MetricDelta) note() string {
	n := fmt.Sprintf("n=%d", d.NA)
	if d.NA != d.NB {
		n = fmt.Sprintf("n=%d+%d", d.NA, d.NB)
	}
	if !d.Tested {
		return n + ", untested"
	}
	return fmt.Sprintf("p=%.3f %s", d.P, n)
}

func formatMetricValue(metric string, v float64) string {
	switch {
	case metric == "errors":
		return fmt.Sprintf("%.0f", v)
	case strings.HasSuffix(metric, " ms"):
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.1f", v) // ops/s and the headline
}

func runName(name string, r *Run) string {
	ids := make([]string, 0, len(r.Results))
	for _, res := range r.Results {
		ids = append(ids, res.RunID)
	}
	return fmt.Sprintf("%s (%s; %s, PostgreSQL %s; up to %d repeat%s)", name, strings.Join(ids, ", "),
		r.Results[0].Environment.Target, r.Results[0].Environment.ServerVersion, r.Repeats(), plural(r.Repeats()))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Text renders the comparison as fixed-width columns, one block per series.
func (c *Comparison) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: A = %s\n%s  B = %s\n", c.Scenario, runName(c.NameA, c.A), strings.Repeat(" ", len(c.Scenario)), runName(c.NameB, c.B))
	fmt.Fprintf(&b, "deltas are B against A; \"~\" means within noise (Mann-Whitney U, alpha %.2f, from %d repeats a side)\n",
		c.Alpha, MinRepeatsForTest)
	if c.repeated() {
		fmt.Fprintf(&b, "cv and interval lines: %s\n", spreadNote)
	}
	fmt.Fprintf(&b, "\n  %-10s %14s %14s  %s\n", "", "A", "B", "delta")
	for _, row := range c.Rows {
		b.WriteString(row.Label + "\n")
		if row.OnlyIn != "" {
			fmt.Fprintf(&b, "  only in %s\n", row.OnlyIn)
			continue
		}
		for _, d := range row.Metrics {
			fmt.Fprintf(&b, "  %-10s %14s %14s  %-9s %-7s (%s)\n", d.Metric, formatMetricValue(d.Metric, d.A),
				formatMetricValue(d.Metric, d.B), d.Delta, d.Verdict, d.note())
			for _, l := range d.spreadLines() {
				fmt.Fprintf(&b, "    %-8s %14s %14s%s\n", l[0], l[1], l[2], strings.TrimRight("  "+l[3], " "))
			}
		}
	}
	c.statementsText(&b)
	for _, w := range c.warnings() {
		fmt.Fprintf(&b, "note: %s\n", w)
	}
	return b.String()
}

// NotOK says, for each result on either side whose status is not ok, that it is not, with its
// reason: its figures do not stand for a complete run.
func (c *Comparison) NotOK() []string {
	var out []string
	for _, side := range []struct {
		name string
		run  *Run
	}{{"A", c.A}, {"B", c.B}} {
		for _, r := range side.run.Results {
			if r.Status == StatusOK {
				continue
			}
			msg := fmt.Sprintf("%s: run %s is not ok (status %s)", side.name, r.RunID, r.Status)
			if r.Reason != "" {
				msg += ": " + r.Reason
			}
			out = append(out, msg+"; its figures cover only what was measured")
		}
	}
	return out
}

// RepeatHint is the one line that says how to get a tested comparison when a side has too few
// repeats for the test: "" when every delta was tested.
func (c *Comparison) RepeatHint() string {
	least := 0
	for _, row := range c.Rows {
		for _, d := range row.Metrics {
			if !d.Tested && (least == 0 || min(d.NA, d.NB) < least) {
				least = min(d.NA, d.NB)
			}
		}
	}
	if least == 0 || least >= MinRepeatsForTest {
		return ""
	}
	return fmt.Sprintf("untested (n=%d a side): run each side with --repeat 5 (pgscale run ... --repeat 5) for a tested comparison; "+
		"the test needs %d repeats a side, and 5 to reach p < 0.05", least, MinRepeatsForTest)
}

// warnings are the runs' statuses when not ok, how to get a tested comparison, then the tests'
// warnings, each once.
func (c *Comparison) warnings() []string {
	out := c.NotOK()
	if hint := c.RepeatHint(); hint != "" {
		out = append(out, hint)
	}
	for _, row := range c.Rows {
		for _, d := range row.Metrics {
			for _, w := range d.Warnings {
				if !contains(out, w) {
					out = append(out, w)
				}
			}
		}
	}
	return out
}

// Markdown renders the comparison as a table, for a pull request comment.
func (c *Comparison) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## pgscale compare: %s\n\n", c.Scenario)
	fmt.Fprintf(&b, "- **A**: %s\n- **B**: %s\n\n", mdEscape(runName(c.NameA, c.A)), mdEscape(runName(c.NameB, c.B)))
	fmt.Fprintf(&b, "Deltas are B against A; `~` means within noise (Mann-Whitney U, alpha %.2f, from %d repeats a side).\n\n",
		c.Alpha, MinRepeatsForTest)
	if c.repeated() {
		fmt.Fprintf(&b, "Rows cv and interval: %s.\n\n", mdEscape(spreadNote))
	}
	b.WriteString("| series | metric | A | B | delta | | stats |\n|---|---|--:|--:|--:|---|---|\n")
	for _, row := range c.Rows {
		if row.OnlyIn != "" {
			fmt.Fprintf(&b, "| %s | | | | | only in %s | |\n", mdEscape(row.Label), row.OnlyIn)
			continue
		}
		for i, d := range row.Metrics {
			label := ""
			if i == 0 {
				label = mdEscape(row.Label)
			}
			verdict := d.Verdict
			if verdict != "" {
				verdict = "**" + verdict + "**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", label, d.Metric, formatMetricValue(d.Metric, d.A),
				formatMetricValue(d.Metric, d.B), d.Delta, verdict, d.note())
			for _, l := range d.spreadLines() {
				fmt.Fprintf(&b, "|  | %s | %s | %s |  |  | %s |\n", l[0], l[1], l[2], mdEscape(l[3]))
			}
		}
	}
	c.statementsMarkdown(&b)
	if ws := c.warnings(); len(ws) > 0 {
		b.WriteString("\n")
		for _, w := range ws {
			fmt.Fprintf(&b, "Note: %s.\n", w)
		}
	}
	return b.String()
}
