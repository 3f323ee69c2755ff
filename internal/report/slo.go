package report

import "fmt"

// FindingsP99 is the p99 bound, in milliseconds, that the findings judge the series of a run by
// when slo is given to run --slo: its p99 term. It is an error when slo has no p99 term.
func FindingsP99(slo SLO) (float64, error) {
	for _, t := range slo.Terms {
		if t.Metric == "p99" {
			return t.Bound, nil
		}
	}
	return 0, fmt.Errorf("--slo %q has no p99 term: the findings judge p99 (e.g. 'p99<50ms')", slo.Text)
}

// RecordedSLO is the p99 bound (ms) of the SLO recorded in results (the first that has one,
// Result.SLO), 0 when none has: a report then judges by what the run was told.
func RecordedSLO(results []*Result) float64 {
	for _, r := range results {
		if r == nil || r.SLO == "" {
			continue
		}
		slo, err := ParseSLO(r.SLO)
		if err != nil {
			continue
		}
		if ms, err := FindingsP99(slo); err == nil && ms > 0 {
			return ms
		}
	}
	return 0
}
