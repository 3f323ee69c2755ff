package report

import (
	"fmt"
	"sort"
	"strings"
)

// SeriesLine is a one-line account of a series, printed as each point finishes. h is the result's
// headline (nil: ops/s); a headline of its own follows ops/s.
func SeriesLine(s Series, h *Headline) string {
	hl := Throughput
	if h != nil && h.Metric != "" {
		hl = *h
	}
	rate := fmt.Sprintf("%10.1f %s", s.ThroughputPerS, hl.OpsUnit())
	if v, ok := hl.Of(&s); ok && hl.OwnMetric() {
		rate += fmt.Sprintf("  %10.1f %s", v, hl.Unit)
	}
	line := fmt.Sprintf("  %-12s %-28s %s  p50 %7.2f  p99 %8.2f  p99.9 %8.2f  max %8.2f ms  errors %d",
		s.Variant, PointString(s.Point), rate, s.LatencyMs.P50, s.LatencyMs.P99, s.LatencyMs.P999,
		s.LatencyMs.Max, TotalErrors(s))
	if s.ConnectMs != nil {
		line += fmt.Sprintf("  connect p50 %.2f p99 %.2f ms", s.ConnectMs.P50, s.ConnectMs.P99)
	}
	return line
}

// PointString renders a point as k=v pairs in key order.
func PointString(point map[string]any) string {
	keys := make([]string, 0, len(point))
	for k := range point {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, point[k])
	}
	return strings.Join(parts, " ")
}

// TotalErrors sums a series' errors over all classes.
func TotalErrors(s Series) int64 {
	var n int64
	for _, c := range s.Errors {
		n += c
	}
	return n
}

// ErrorString renders errors as class:count pairs, "0" when there are none.
func ErrorString(errs map[string]int64) string {
	classes := make([]string, 0, len(errs))
	for c, n := range errs {
		if n > 0 {
			classes = append(classes, c)
		}
	}
	if len(classes) == 0 {
		return "0"
	}
	sort.Strings(classes)
	parts := make([]string, len(classes))
	for i, c := range classes {
		parts[i] = fmt.Sprintf("%s:%d", c, errs[c])
	}
	return strings.Join(parts, " ")
}

// Text is the summary printed at the end of a run.
func Text(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (%s), target %s, PostgreSQL %s, duration %s + warm-up %s\n",
		r.Scenario, r.Status, r.RunID, r.Environment.Target, r.Environment.ServerVersion, r.Duration, r.Warmup)
	if r.Reason != "" {
		fmt.Fprintf(&b, "reason: %s\n", r.Reason)
	}
	h := HeadlineOf(r)
	t := table{align: "ll", header: []string{"variant", "point", h.OpsUnit()}}
	if h.OwnMetric() {
		t.header = append(t.header, h.Unit)
	}
	t.header = append(t.header, "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors")
	t.align += strings.Repeat("r", len(t.header)-3) + "l"
	for _, s := range r.Series {
		point := PointString(s.Point)
		if s.Repeat > 1 {
			point += fmt.Sprintf(" #%d", s.Repeat)
		}
		row := []string{s.Variant, point, fmt.Sprintf("%.1f", s.ThroughputPerS)}
		if h.OwnMetric() {
			row = append(row, formatHeadline(h.Of(&s)))
		}
		l := s.LatencyMs
		row = append(row, fmt.Sprintf("%.2f", l.P50), fmt.Sprintf("%.2f", l.P90), fmt.Sprintf("%.2f", l.P99),
			fmt.Sprintf("%.2f", l.P999), fmt.Sprintf("%.2f", l.Max), ErrorString(s.Errors))
		t.add(row...)
	}
	t.write(&b)
	if runs := Combine([]*Result{r}); len(runs) == 1 {
		spreadText(&b, runs[0])
	}
	breakdownText(&b, r)
	if fs := resultFindings(r); len(fs) > 0 {
		b.WriteString("findings:\n")
		for _, f := range fs {
			if r.Capacity != nil && strings.EqualFold(f, r.Capacity.Sentence+".") {
				continue // the summary ends with it
			}
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	if r.Capacity != nil && r.Capacity.Sentence != "" {
		fmt.Fprintf(&b, "%s\n", r.Capacity.Sentence)
	}
	return b.String()
}

// resultFindings are the findings of one result against its SLO (run --slo), else the default.
func resultFindings(r *Result) []string {
	runs := Combine([]*Result{r})
	if len(runs) == 0 {
		return nil
	}
	slo := DefaultSLO
	if ms := RecordedSLO([]*Result{r}); ms > 0 {
		slo = ms
	}
	return Findings(runs[0], slo)
}

// Markdown is summary.md: the run's environment and a table of its series, with the
// scenario-specific metrics in a second table.
func Markdown(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# pgscale %s — %s\n\n", r.Scenario, r.Status)
	if r.Reason != "" {
		fmt.Fprintf(&b, "**Reason:** %s\n\n", r.Reason)
	}
	if fs := resultFindings(r); len(fs) > 0 {
		for _, f := range fs {
			fmt.Fprintf(&b, "- %s\n", f)
		}
		b.WriteString("\n")
	}
	env := r.Environment
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| run | `%s` |\n| target | %s |\n| PostgreSQL | %s |\n", r.RunID, env.Target, env.ServerVersion)
	fmt.Fprintf(&b, "| duration | %s (+ %s warm-up, excluded) |\n", r.Duration, r.Warmup)
	fmt.Fprintf(&b, "| host | %s, %d cores, %d MB, %s/%s |\n", env.Host.CPUModel, env.Host.Cores, env.Host.MemoryMB, env.Host.OS, env.Host.Arch)
	fmt.Fprintf(&b, "| pgscale | %s %s |\n", env.Pgscale.Version, env.Pgscale.Commit)
	if len(env.Settings) > 0 {
		keys := make([]string, 0, len(env.Settings))
		for k := range env.Settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%s", k, env.Settings[k]))
		}
		fmt.Fprintf(&b, "| settings | %s |\n", strings.Join(parts, ", "))
	}
	b.WriteString("\n## Series\n\n")
	h := HeadlineOf(r)
	headCol, headAlign := "", ""
	if h.OwnMetric() {
		headCol, headAlign = " "+h.Unit+" |", "--:|"
	}
	fmt.Fprintf(&b, "| variant | point | ops | %s |%s p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors |\n", h.OpsUnit(), headCol)
	b.WriteString("|---|---|--:|--:|" + headAlign + "--:|--:|--:|--:|--:|---|\n")
	for _, s := range r.Series {
		point := PointString(s.Point)
		if s.Repeat > 1 {
			point += fmt.Sprintf(" #%d", s.Repeat)
		}
		headVal := ""
		if h.OwnMetric() {
			v, ok := h.Of(&s)
			headVal = " " + formatHeadline(v, ok) + " |"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.1f |%s %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", s.Variant, point, s.Ops,
			s.ThroughputPerS, headVal, s.LatencyMs.P50, s.LatencyMs.P90, s.LatencyMs.P99, s.LatencyMs.P999, s.LatencyMs.Max,
			ErrorString(s.Errors))
	}
	if runs := Combine([]*Result{r}); len(runs) == 1 {
		if note := enginesNote(runs[0].Groups); note != "" {
			fmt.Fprintf(&b, "\n%s\n", mdEscape(note))
		}
		b.WriteString("\n")
		spreadMarkdown(&b, "##", runs[0])
		breakdownMarkdown(&b, "##", runs[0])
	}
	var metricNames []string
	seen := map[string]bool{}
	for _, s := range r.Series {
		for k := range s.Metrics {
			if !seen[k] {
				seen[k] = true
				metricNames = append(metricNames, k)
			}
		}
	}
	sort.Strings(metricNames)
	if len(metricNames) > 0 {
		b.WriteString("\n## Metrics\n\n| variant | point |")
		for _, m := range metricNames {
			fmt.Fprintf(&b, " %s |", m)
		}
		b.WriteString("\n|---|---|" + strings.Repeat("--:|", len(metricNames)) + "\n")
		for _, s := range r.Series {
			fmt.Fprintf(&b, "| %s | %s |", s.Variant, PointString(s.Point))
			for _, m := range metricNames {
				if v, ok := s.Metrics[m]; ok {
					fmt.Fprintf(&b, " %s |", formatMetric(v))
				} else {
					b.WriteString(" |")
				}
			}
			b.WriteString("\n")
		}
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	return b.String()
}

func formatMetric(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.3g", v)
}
