package report

import (
	"strings"
	"testing"
)

// withoutHeadline is r as a result written before headlines existed.
func withoutHeadline(r *Result) *Result {
	c := *r
	c.Headline = nil
	return &c
}

func findingsOf(t *testing.T, results ...*Result) string {
	t.Helper()
	run, err := CombineOne(results)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(Findings(run, 100), "\n")
}

// TestFindingsUseTheHeadline: in a batch sweep ops/s are batches/s and fall as batches grow; the
// findings judge by rows/s, the result's headline, and fall back to ops/s for a result without
// one.
func TestFindingsUseTheHeadline(t *testing.T) {
	t.Parallel()
	r := loadFixture(t, fixtureIngest)
	got := findingsOf(t, r)
	for _, want := range []string{
		"Row throughput peaked at batch=100 and was lower at batch=1000 for pipeline (30000 vs 20000 rows/s).",
		"copy served the most row throughput at 3 of 3 points: 1.6 to 6.0x the row throughput of pipeline; pipeline the least at 2.",
		"Row throughput grew from batch=10 to batch=1000, the largest value measured, and was highest there for " +
			"multi-insert (10000 to 60000 rows/s) and copy (24000 to 120000 rows/s).",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"ops/s", "Throughput peaked"} {
		if strings.Contains(got, bad) {
			t.Errorf("findings say %q, judging by operations:\n%s", bad, got)
		}
	}

	old := findingsOf(t, withoutHeadline(r))
	if want := "Throughput peaked at batch=10 and was lower at batch=1000 for multi-insert (1000 vs 60 ops/s)"; !strings.Contains(old, want) {
		t.Errorf("a result without a headline is not judged by ops/s: want %q in\n%s", want, old)
	}
}

// TestHeadlineInSummariesAndTables: the summaries, the series line and the report tables carry
// the headline beside ops/s.
func TestHeadlineInSummariesAndTables(t *testing.T) {
	t.Parallel()
	r := loadFixture(t, fixtureIngest)
	line := SeriesLine(r.Series[2], r.Headline)
	if !strings.Contains(line, "60.0 ops/s") || !strings.Contains(line, "60000.0 rows/s") {
		t.Errorf("series line without ops/s and rows/s: %q", line)
	}
	if line := SeriesLine(r.Series[2], nil); strings.Contains(line, "rows/s") {
		t.Errorf("series line without a headline names rows/s: %q", line)
	}
	md := Markdown(r)
	if !strings.Contains(md, "| variant | point | ops | ops/s | rows/s | p50 ms |") || !strings.Contains(md, "| 60.0 | 60000.0 |") {
		t.Errorf("summary.md has no rows/s column:\n%s", md)
	}
	if text := Text(r); !strings.Contains(text, "rows/s") || !strings.Contains(text, "60000.0") {
		t.Errorf("text summary has no rows/s column:\n%s", text)
	}
	// A headline that is ops/s under another name renames the column.
	relabel := *r
	relabel.Headline = &Headline{Metric: HeadlineThroughput, Label: "request throughput", Unit: "requests/s", Better: BetterHigher}
	if md := Markdown(&relabel); !strings.Contains(md, "| ops | requests/s | p50 ms |") {
		t.Errorf("summary.md does not call ops/s requests/s:\n%s", md)
	}
	if got := findingsOf(t, &relabel); !strings.Contains(got, "Request throughput peaked at batch=10") || !strings.Contains(got, "requests/s)") {
		t.Errorf("findings do not name requests:\n%s", got)
	}
}

// TestCompareLeadsWithTheHeadline: compare puts the headline first, judged in its direction.
func TestCompareLeadsWithTheHeadline(t *testing.T) {
	t.Parallel()
	a := loadFixture(t, fixtureIngest)
	b := loadFixture(t, fixtureIngest)
	b.RunID = "20260101T110000Z-ingest"
	b.Series = append([]Series(nil), b.Series...)
	s := b.Series[0]
	s.Metrics = map[string]float64{"rows_per_s": 5000} // multi-insert batch=10 halved
	b.Series[0] = s
	// A written before headlines existed: B's applies to both sides.
	cmp, err := Compare([]*Result{withoutHeadline(a)}, []*Result{b}, "A", "B", 0)
	if err != nil {
		t.Fatal(err)
	}
	first := cmp.Rows[0].Metrics[0]
	if first.Metric != "rows/s" || first.A != 10000 || first.B != 5000 || first.Delta != "-50.00%" || first.Verdict != "worse" {
		t.Errorf("first compared figure %+v, want rows/s 10000 -> 5000, -50.00%% worse", first)
	}
	if !strings.Contains(cmp.Text(), "rows/s") || !strings.Contains(cmp.Markdown(), "| rows/s | 10000.0 | 5000.0 | -50.00% |") {
		t.Errorf("comparison without rows/s:\n%s", cmp.Markdown())
	}

	// Lower is better: fewer bytes per row is better.
	lower := Headline{Metric: "rows_per_s", Label: "bytes per row", Unit: "B/row", Better: BetterLower}
	b.Headline, a.Headline = &lower, &lower
	cmp, err = Compare([]*Result{a}, []*Result{b}, "A", "B", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Rows[0].Metrics[0]; d.Metric != "B/row" || d.Verdict != "better" {
		t.Errorf("lower-is-better headline: %+v, want a B/row row judged better", d)
	}
}

// TestLowerIsBetterHeadline: a figure where lower wins ranks the variants the other way and
// finds no peak.
func TestLowerIsBetterHeadline(t *testing.T) {
	t.Parallel()
	r := sampleResult()
	r.Scenario = "column-padding"
	r.Headline = &Headline{Metric: "bytes_per_row", Label: "heap bytes per row", Unit: "B/row", Better: BetterLower}
	careless := r.Series[0]
	careless.Variant, careless.Point = "careless", map[string]any{}
	careless.Metrics = map[string]float64{"bytes_per_row": 420}
	aligned := careless
	aligned.Variant, aligned.ThroughputPerS = "aligned", 12
	aligned.Metrics = map[string]float64{"bytes_per_row": 360}
	r.Series = []Series{careless, aligned}
	got := findingsOf(t, r)
	if want := "aligned had 0.86x the heap bytes per row of careless (360 vs 420 B/row)"; !strings.Contains(got, want) {
		t.Errorf("findings lack %q:\n%s", want, got)
	}
	one := *r
	one.Series = r.Series[1:]
	if got := findingsOf(t, &one); !strings.Contains(got, "aligned measured 360 B/row and ran at 12 ops/s") {
		t.Errorf("one series, lower-is-better headline:\n%s", got)
	}
}

// TestNoLatencySLO: a load's batches above the SLO are no finding where the headline says its
// operations are not requests; the same run without the mark gets the sentence.
func TestNoLatencySLO(t *testing.T) {
	t.Parallel()
	r := sampleResult()
	r.Scenario = "column-padding"
	h := Headline{Metric: "bytes_per_row", Label: "heap bytes per row", Unit: "B/row", Better: BetterLower}
	careless := r.Series[0]
	careless.Variant, careless.Point = "careless", map[string]any{}
	careless.Metrics = map[string]float64{"bytes_per_row": 420}
	careless.LatencyMs.P99 = 150
	aligned := careless
	aligned.Variant = "aligned"
	aligned.Metrics = map[string]float64{"bytes_per_row": 360}
	r.Series = []Series{careless, aligned}

	r.Headline = &h
	if got := findingsOf(t, r); !strings.Contains(got, "p99 was above the 100 ms SLO for careless (150 ms) and aligned (150 ms)") {
		t.Errorf("without no_latency_slo the findings should hold the SLO against p99:\n%s", got)
	}
	h.NoLatencySLO = true
	r.Headline = &h
	if got := findingsOf(t, r); strings.Contains(got, "SLO") {
		t.Errorf("no_latency_slo: the findings still speak of an SLO:\n%s", got)
	}
	if err := ValidateResult(r); err != nil {
		t.Errorf("a result with no_latency_slo fails validation: %v", err)
	}
}

func TestHeadlineInTheSchema(t *testing.T) {
	t.Parallel()
	r := sampleResult()
	r.Headline = &Headline{Metric: "rows_per_s", Label: "row throughput", Unit: "rows/s", Better: BetterHigher}
	if err := ValidateResult(r); err != nil {
		t.Fatalf("a result with a headline fails validation: %v", err)
	}
	for name, h := range map[string]Headline{
		"direction":    {Metric: "rows_per_s", Label: "row throughput", Unit: "rows/s", Better: "more"},
		"unit spaces":  {Metric: "rows_per_s", Label: "row throughput", Unit: "rows per s", Better: BetterHigher},
		"camel metric": {Metric: "rowsPerS", Label: "row throughput", Unit: "rows/s", Better: BetterHigher},
	} {
		r.Headline = &h
		if err := ValidateResult(r); err == nil {
			t.Errorf("%s: a broken headline passed the schema", name)
		}
		if err := h.Validate(); err == nil {
			t.Errorf("%s: Headline.Validate passed", name)
		}
	}
	own := Headline{Metric: "rows_per_s", Label: "rows", Unit: "ops/s", Better: BetterHigher}
	if err := own.Validate(); err == nil || !strings.Contains(err.Error(), `unit "ops/s" is pgscale's own`) {
		t.Errorf("a metric of its own in ops/s: %v", err)
	}
}

// ddlLockLike is a run where only one variant takes the swept parameter: long-queries runs once
// per statement_timeout, no-timeout and lock-timeout have no such key.
func ddlLockLike(t *testing.T) *Result {
	r := sampleResult()
	r.Scenario = "ddl-lock"
	base := func(variant string, extra map[string]any, tput, p99 float64, errs map[string]int64) Series {
		pt := map[string]any{"connect": "per-request", "max_connections": 100}
		for k, v := range extra {
			pt[k] = v
		}
		s := fixtureSeries(t, variant, pt, 1, fixtureStart, fixturePoint{workers: 200, tput: tput, p50: p99 / 10, p99: p99, errors: errs}, 100)
		return s
	}
	r.Series = []Series{
		base("no-timeout", nil, 31, 4200, map[string]int64{"53300": 120}),
		base("lock-timeout", nil, 50, 40, nil),
		base("long-queries", map[string]any{"statement_timeout": "off"}, 44, 3000, nil),
		base("long-queries", map[string]any{"statement_timeout": "1s"}, 49, 900, map[string]int64{"57014": 35}),
	}
	return r
}

// TestMissingPointKeysAreNotNil: a variant without the swept parameter is described on its own,
// never as "statement_timeout=<nil>", in the findings, the report and the plots.
func TestMissingPointKeysAreNotNil(t *testing.T) {
	t.Parallel()
	r := ddlLockLike(t)
	got := findingsOf(t, r)
	if strings.Contains(got, "<nil>") {
		t.Errorf("findings print a missing point key:\n%s", got)
	}
	for _, want := range []string{
		"no-timeout had 120 errors (53300 too_many_connections)",
		"57014 query_canceled errors began at statement_timeout=1s",
		"p99 was above the 100 ms SLO for no-timeout (",
		"no-timeout had 120 errors (53300 too_many_connections), 56.3% of its requests.\nNo errors for lock-timeout.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
	doc, err := NewDocument([]*Result{r}, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if md := doc.Markdown(); strings.Contains(md, "<nil>") || strings.Contains(md, "&lt;nil&gt;") {
		t.Errorf("report.md prints a missing point key:\n%s", md)
	}
	if html := string(doc.HTML()); strings.Contains(html, "nil&gt;") {
		t.Error("report.html prints a missing point key")
	}
}

// TestVariantsWithAParameterOfTheirOwnAreCompared: queue's batch variant carries batch=10, the
// others do not; they are compared at the workers they share, by jobs/s.
func TestVariantsWithAParameterOfTheirOwnAreCompared(t *testing.T) {
	t.Parallel()
	r := sampleResult()
	r.Scenario = "queue"
	r.Headline = &Headline{Metric: "jobs_per_s", Label: "job throughput", Unit: "jobs/s", Better: BetterHigher}
	mk := func(variant string, pt map[string]any, opsPerS, jobsPerS float64) Series {
		s := fixtureSeries(t, variant, pt, 1, fixtureStart, fixturePoint{workers: 50, tput: opsPerS, p50: 20, p99: 80}, 100)
		s.Metrics["jobs_per_s"] = jobsPerS
		return s
	}
	r.Series = []Series{
		mk("naive", map[string]any{"workers": 50}, 150, 150),
		mk("dedicated", map[string]any{"workers": 50}, 1800, 1800),
		// 600 batches of 10: the most jobs, the fewest operations.
		mk("batch", map[string]any{"workers": 50, "batch": 10}, 600, 6000),
	}
	got := findingsOf(t, r)
	for _, want := range []string{
		"batch served 40x the job throughput of naive (6000 vs 150 jobs/s)",
		"Best job throughput: batch; worst: naive.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
	// A variant at two values of its own parameter is left out of the comparison there.
	r.Series = append(r.Series, mk("batch", map[string]any{"workers": 50, "batch": 100}, 90, 9000))
	if got := findingsOf(t, r); strings.Contains(got, "served") {
		t.Errorf("a comparison with two batch series at one point:\n%s", got)
	}
}
