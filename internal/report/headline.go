package report

import "fmt"

// headlineOfAll is the headline of the first of results that declares one, or Throughput.
func headlineOfAll(results []*Result) Headline {
	for _, r := range results {
		if r.Headline != nil && r.Headline.Metric != "" {
			return *r.Headline
		}
	}
	return Throughput
}

// formatHeadline renders a headline value for tables: one decimal, as ops/s are.
func formatHeadline(v float64, ok bool) string {
	if !ok {
		return ""
	}
	return fmt.Sprintf("%.1f", v)
}
