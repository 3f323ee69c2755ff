package report

import (
	"fmt"

	"github.com/pgscale/pgscale/result"
)

// unstartedShare is the share of a series' operations left unstarted above which the findings
// name it: below it, a stall of a moment at the window's end, not a rate the workers fell behind.
const unstartedShare = 0.01

// unstartedFindings say which paced series fell so far behind their rate that operations due in
// the measured window never started: latency counts from each operation's intended start, but
// one that never started has no latency, so the percentiles leave out the longest waits. A
// capacity search's probes past capacity fall behind by design, and its own finding says so.
func unstartedFindings(run *Run) []string {
	for _, r := range run.Results {
		if r.Capacity != nil {
			return nil
		}
	}
	var listed []string
	for _, g := range run.Groups {
		var unstarted, reached float64
		for _, s := range g.Repeats {
			unstarted += s.Metrics[result.MetricUnstartedOps]
			reached += float64(s.Ops+TotalErrors(*s)) + s.Metrics[result.MetricAbandonedOps]
		}
		if unstarted > 0 && unstarted > unstartedShare*(unstarted+reached) {
			listed = append(listed, fmt.Sprintf("%s (%s of %s)", run.ShortLabel(g), formatNum(unstarted), formatNum(unstarted+reached)))
		}
	}
	if len(listed) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("Operations due in the measured window never started in %s: the workers fell behind the rate, "+
		"and the latency figures leave those operations out, so they understate the wait (%s in result.json).",
		joinAndAtMost(listed, maxListed), result.MetricUnstartedOps)}
}
