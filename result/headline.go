package result

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Headline names the figure a scenario's results are judged by. Most scenarios are judged by
// their operations per second, but where an operation is not the unit people count (an ingest
// operation is a batch of rows, a queue operation may be a batch of jobs) the scenario declares
// the figure that is: rows_per_s, jobs_per_s. The runner stamps it into the result; findings,
// summaries, reports, plots, comparisons and bench.txt then lead with it. A result without one is
// judged by ops/s (Throughput).
type Headline struct {
	// Metric is the name of a series metric (series.metrics), or "throughput_per_s" for the
	// series' own operations per second under another name (requests/s).
	Metric string `json:"metric"`
	// Label names the figure in sentences, lower case: "row throughput".
	Label string `json:"label"`
	// Unit follows its values: "rows/s". It is also its unit in the Go benchmark format, so it
	// has no spaces.
	Unit string `json:"unit"`
	// Better is "higher" or "lower".
	Better string `json:"better"`
	// NoLatencySLO marks operations nobody waits on as on a request (column-padding's are batches
	// of a table load): findings, knees and plots then hold no latency SLO against them.
	NoLatencySLO bool `json:"no_latency_slo,omitempty"`
}

// Headline.Metric of the series' own throughput, and the directions of Headline.Better.
const (
	HeadlineThroughput = "throughput_per_s"
	BetterHigher       = "higher"
	BetterLower        = "lower"
)

// Throughput is the headline of a result that declares none: operations per second.
var Throughput = Headline{Metric: HeadlineThroughput, Label: "throughput", Unit: "ops/s", Better: BetterHigher}

var metricName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate reports every problem of a headline at once.
func (h Headline) Validate() error {
	var problems []string
	if !metricName.MatchString(h.Metric) {
		problems = append(problems, fmt.Sprintf("metric %q: want a snake_case series metric name or %q", h.Metric, HeadlineThroughput))
	}
	if strings.TrimSpace(h.Label) == "" {
		problems = append(problems, "label is empty")
	}
	if h.Unit == "" || strings.IndexFunc(h.Unit, unicode.IsSpace) >= 0 {
		problems = append(problems, fmt.Sprintf("unit %q: want a unit without spaces, e.g. rows/s", h.Unit))
	}
	if h.OwnMetric() {
		for _, u := range BenchUnits {
			if h.Unit == u.Unit {
				problems = append(problems, fmt.Sprintf("unit %q is pgscale's own; a metric of its own needs another", h.Unit))
			}
		}
	}
	if h.Better != BetterHigher && h.Better != BetterLower {
		problems = append(problems, fmt.Sprintf("better %q: want %s or %s", h.Better, BetterHigher, BetterLower))
	}
	if len(problems) > 0 {
		return fmt.Errorf("headline: %s", strings.Join(problems, "; "))
	}
	return nil
}

// HigherIsBetter tells the headline's direction.
func (h Headline) HigherIsBetter() bool { return h.Better != BetterLower }

// OwnMetric tells whether the headline is a series metric of its own, not ops/s (under its own
// name or another).
func (h Headline) OwnMetric() bool { return h.Metric != "" && h.Metric != HeadlineThroughput }

// Of is the headline's value in a series, and whether the series has it.
func (h Headline) Of(s *Series) (float64, bool) {
	if !h.OwnMetric() {
		return s.ThroughputPerS, true
	}
	v, ok := s.Metrics[h.Metric]
	return v, ok
}

// Sentence is the label at the start of a sentence: "Row throughput".
func (h Headline) Sentence() string {
	r, n := utf8.DecodeRuneInString(h.Label)
	return string(unicode.ToUpper(r)) + h.Label[n:]
}

// HeadlineOf is the headline r declares, or Throughput.
func HeadlineOf(r *Result) Headline {
	if r != nil && r.Headline != nil && r.Headline.Metric != "" {
		return *r.Headline
	}
	return Throughput
}

// OpsUnit is the unit of a series' throughput_per_s: the headline's when the headline is that
// figure under another name (requests/s), else ops/s.
func (h Headline) OpsUnit() string {
	if !h.OwnMetric() && h.Unit != "" {
		return h.Unit
	}
	return Throughput.Unit
}

// BenchUnit is a unit of pgscale's Go benchmark output and the direction that is better.
type BenchUnit struct{ Unit, Better string }

// BenchUnits are the units pgscale's Go benchmark output uses for its own figures; a headline of
// a scenario's own cannot take one of them. Their "Unit" lines tell benchstat which direction is
// better, since it cannot guess it for units of its own (it knows ns/op and B/op, not p99-ms).
var BenchUnits = []BenchUnit{
	{"ops/s", BetterHigher},
	{"p50-ms", BetterLower},
	{"p99-ms", BetterLower},
	{"p99.9-ms", BetterLower},
	{"errors", BetterLower},
}
