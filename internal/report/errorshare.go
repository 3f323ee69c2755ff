package report

import (
	"fmt"
	"strings"
)

// errorShareWarn is the share of failed operations above which a series is called error-bound:
// above a half, most of what the series did was fail, and its ops/s and latency describe the
// few that did not.
const errorShareWarn = 0.5

// errorShareFindings says which groups mostly failed. ops/s and latency count successes only
// (errors never enter the throughput or the latency histograms), so a series whose server went
// away shows the little it did, not a rate of failures; this makes that explicit.
func errorShareFindings(run *Run) []string {
	var out []string
	for _, g := range run.Groups {
		n := g.TotalErrors()
		total := n + g.Ops
		if n == 0 || g.Ops == 0 || float64(n) <= errorShareWarn*float64(total) { // none succeeded: said apart
			continue
		}
		fams := familiesByCount(g.Errors)
		labels := make([]string, 0, len(fams))
		for i, f := range fams {
			if i == maxListed {
				labels = append(labels, "…")
				break
			}
			labels = append(labels, errorFamilyLabel(f))
		}
		out = append(out, fmt.Sprintf("Most operations failed in %s: %d of %d (%.1f%%; %s). Its ops/s and latency count only the %d that succeeded.",
			run.ShortLabel(g), n, total, 100*float64(n)/float64(total), strings.Join(labels, ", "), g.Ops))
	}
	return out
}
