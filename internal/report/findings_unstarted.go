package report

import (
	"fmt"

	"github.com/pgscale/pgscale/result"
)

// unstartedFindings say which paced series fell so far behind their rate that operations due in
// the measured window never started: latency counts from each operation's intended start, but
// one that never started has no latency, so the percentiles leave out the longest waits.
func unstartedFindings(run *Run) []string {
	var listed []string
	for _, g := range run.Groups {
		var unstarted float64
		for _, s := range g.Repeats {
			unstarted += s.Metrics[result.MetricUnstartedOps]
		}
		if unstarted > 0 {
			listed = append(listed, fmt.Sprintf("%s (%s)", run.ShortLabel(g), formatNum(unstarted)))
		}
	}
	if len(listed) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("Operations due in the measured window never started in %s: the load fell behind its rate, "+
		"and the latency figures leave those operations out, so they understate the wait (%s in result.json).",
		joinAndAtMost(listed, maxListed), result.MetricUnstartedOps)}
}
