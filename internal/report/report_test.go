package report

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
)

func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		golden string
		paths  []string
	}{
		{"sweep.md.golden", []string{fixtureSweep}},
		{"repeats.md.golden", []string{fixtureRepeatsA}},
		{"two-scenarios.md.golden", []string{fixtureSweep, fixtureRepeatsB}},
		{"ingest.md.golden", []string{fixtureIngest}},
	} {
		var results []*Result
		for _, p := range tc.paths {
			results = append(results, loadFixture(t, p))
		}
		doc, err := NewDocument(results, ReportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		goldenCheck(t, tc.golden, doc.Markdown())
	}
}

func TestGoBenchGoldenAndBenchfmtParsesIt(t *testing.T) {
	t.Parallel()
	sweep, a := loadFixture(t, fixtureSweep), loadFixture(t, fixtureRepeatsA)
	ingest := loadFixture(t, fixtureIngest)
	for golden, r := range map[string]*Result{"sweep.bench.golden": sweep, "repeats.bench.golden": a, "ingest.bench.golden": ingest} {
		out := GoBench(r)
		goldenCheck(t, golden, out)

		// benchstat reads the file through benchfmt: every series and repeat must come back
		// as a result with our units, and no line may be a syntax error.
		rd := benchfmt.NewReader(strings.NewReader(out), golden)
		n := 0
		units := map[string]bool{}
		for rd.Scan() {
			switch rec := rd.Result().(type) {
			case *benchfmt.SyntaxError:
				t.Errorf("%s: %v", golden, rec)
			case *benchfmt.UnitMetadata:
				units[rec.OrigUnit+" "+rec.Key+"="+rec.Value] = true
			case *benchfmt.Result:
				n++
				s := r.Series[n-1]
				if got, want := rec.Name.String(), strings.TrimPrefix(GoBenchName(r.Scenario, s.Variant, s.Point), "Benchmark"); got != want {
					t.Errorf("name %q, want %q", got, want)
				}
				if v, ok := rec.Value("ops/s"); !ok || v != roundTo(s.ThroughputPerS, 1) {
					t.Errorf("%s: ops/s %v (%v), want %v", rec.Name, v, ok, s.ThroughputPerS)
				}
				if v, ok := rec.Value("p99-ms"); !ok || v != roundTo(s.LatencyMs.P99, 3) {
					t.Errorf("%s: p99-ms %v (%v), want %v", rec.Name, v, ok, s.LatencyMs.P99)
				}
				// A headline of its own is one more unit (ingest's rows/s).
				if h := HeadlineOf(r); h.OwnMetric() {
					if v, ok := rec.Value(h.Unit); !ok || v != roundTo(s.Metrics[h.Metric], 1) {
						t.Errorf("%s: %s %v (%v), want %v", rec.Name, h.Unit, v, ok, s.Metrics[h.Metric])
					}
				} else if _, ok := rec.Value("rows/s"); ok {
					t.Errorf("%s: a rows/s unit in a result without that headline", rec.Name)
				}
				if v, ok := rec.Value("errors"); !ok || v != float64(TotalErrors(s)) {
					t.Errorf("%s: errors %v, want %d", rec.Name, v, TotalErrors(s))
				}
				if rec.Iters != int(s.Ops) {
					t.Errorf("%s: iterations %d, want ops %d", rec.Name, rec.Iters, s.Ops)
				}
				if got := rec.GetConfig("goos"); got != "linux" {
					t.Errorf("goos config %q", got)
				}
				// The sub-benchmark keys benchstat filters and groups by.
				base, parts := rec.Name.Parts()
				if string(base) != GoBenchName(r.Scenario, "", nil)[len("Benchmark"):strings.Index(GoBenchName(r.Scenario, "", nil), "/")] ||
					len(parts) < 2 || string(parts[0]) != "/variant="+s.Variant {
					t.Errorf("%s: parts %q, want /variant=%s second", rec.Name, parts, s.Variant)
				}
			}
		}
		if err := rd.Err(); err != nil {
			t.Fatal(err)
		}
		if n != len(r.Series) {
			t.Errorf("%s: benchfmt read %d results, want one per series and repeat (%d)", golden, n, len(r.Series))
		}
		want := []string{"ops/s better=higher", "p99-ms better=lower", "errors better=lower"}
		if r == ingest {
			want = append(want, "rows/s better=higher")
		}
		for _, u := range want {
			if !units[u] {
				t.Errorf("%s: no unit metadata %q (have %v)", golden, u, units)
			}
		}
	}
}

func roundTo(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	x := v * p
	if x < 0 {
		return -float64(int64(-x+0.5)) / p
	}
	return float64(int64(x+0.5)) / p
}

func TestCompareGolden(t *testing.T) {
	t.Parallel()
	a, b := loadFixture(t, fixtureRepeatsA), loadFixture(t, fixtureRepeatsB)
	cmp, err := Compare([]*Result{a}, []*Result{b}, "repeats-a.json", "repeats-b.json", 0)
	if err != nil {
		t.Fatal(err)
	}
	goldenCheck(t, "compare.txt.golden", cmp.Text())
	goldenCheck(t, "compare.md.golden", cmp.Markdown())

	get := func(label, metric string) MetricDelta {
		for _, r := range cmp.Rows {
			if r.Label == label {
				for _, m := range r.Metrics {
					if m.Metric == metric {
						return m
					}
				}
			}
		}
		t.Fatalf("no %s %s in the comparison", label, metric)
		return MetricDelta{}
	}
	// prepared is 20% faster in every repeat of B: significant with 5+5 repeats.
	if d := get("prepared connect=pool workers=8", "ops/s"); !d.Tested || d.Delta != "+20.00%" || d.Verdict != "better" {
		t.Errorf("prepared ops/s: %+v, want a tested +20.00%% better", d)
	}
	// simple's repeats interleave: within noise.
	if d := get("simple connect=pool workers=8", "ops/s"); !d.Tested || d.Delta != "~" || d.Verdict != "" {
		t.Errorf("simple ops/s: %+v, want ~", d)
	}
}

func TestCompareWithFewRepeatsIsUntestedAndWithThreeWithinNoise(t *testing.T) {
	t.Parallel()
	a, b := loadFixture(t, fixtureRepeatsA), loadFixture(t, fixtureRepeatsB)
	keep := firstRepeats
	// One repeat a side: a plain delta, no test.
	cmp, err := Compare([]*Result{keep(a, 1)}, []*Result{keep(b, 1)}, "A", "B", 0)
	if err != nil {
		t.Fatal(err)
	}
	d := cmp.Rows[0].Metrics[0]
	if d.Tested || d.Delta != "+20.00%" || !strings.Contains(cmp.Text(), "n=1, untested") {
		t.Errorf("1+1 repeats: %+v\n%s", d, cmp.Text())
	}
	// ... and one line on how to get a tested comparison, in text and Markdown.
	hint := "untested (n=1 a side): run each side with --repeat 5"
	if !strings.Contains(cmp.Text(), "note: "+hint) || !strings.Contains(cmp.Markdown(), "Note: "+hint) {
		t.Errorf("1+1 repeats: no hint to --repeat 5:\n%s\n%s", cmp.Text(), cmp.Markdown())
	}
	// Three a side: tested; the U test cannot reach p < 0.05 with 3+3, so even a clean 20% is "~",
	// exactly as benchstat reports it.
	cmp, err = Compare([]*Result{keep(a, 3)}, []*Result{keep(b, 3)}, "A", "B", 0)
	if err != nil {
		t.Fatal(err)
	}
	d = cmp.Rows[0].Metrics[0]
	if !d.Tested || d.Delta != "~" || math.Abs(d.P-0.1) > 1e-9 {
		t.Errorf("3+3 repeats: %+v", d)
	}
	if !strings.Contains(cmp.Text(), "note: need >= 4 samples to detect a difference at alpha level 0.05") {
		t.Errorf("3+3 repeats: the text does not say why nothing can differ:\n%s", cmp.Text())
	}
	if cmp.RepeatHint() != "" {
		t.Errorf("3+3 repeats are tested, yet the hint is %q", cmp.RepeatHint())
	}
}

func TestFindingsSayWhatTheSweepFound(t *testing.T) {
	t.Parallel()
	run, err := CombineOne([]*Result{loadFixture(t, fixtureSweep)})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Findings(run, 100), "\n")
	for _, want := range []string{
		"53300 too_many_connections errors began at 60 concurrent workers (max_connections=40) for cold and warm",
		"p99 passed the 100 ms SLO at 20 concurrent workers for cold",
		"at 60 concurrent workers for warm",
		"warm served the most throughput at 3 of 3 points",
		"Throughput peaked at 20 concurrent workers and was lower at 100 concurrent workers for cold (230 vs 180 ops/s).",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
	// Without an SLO the knee is where errors begin.
	lines := run.SweepLines(mustSwept(t, run), 0)
	for _, l := range lines {
		if l.Knee != 1 || l.KneeReason != "errors begin" {
			t.Errorf("%s: knee %d (%s), want index 1 where errors begin", l.Label(), l.Knee, l.KneeReason)
		}
	}
}

func mustSwept(t *testing.T, run *Run) Dim {
	t.Helper()
	x, ok := run.Swept()
	if !ok || x.Name != "workers" {
		t.Fatalf("swept %+v %v, want workers", x, ok)
	}
	return x
}

func TestFindingsOnOnePointAndRepeats(t *testing.T) {
	t.Parallel()
	run, err := CombineOne([]*Result{loadFixture(t, fixtureRepeatsA)})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Findings(run, 100), "\n")
	for _, want := range []string{
		"prepared served 2.6x the throughput of simple (42200 vs 16400 ops/s)",
		"Across repeats throughput varied by up to",
		"No errors in any series.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
	// The text summary printed after a run carries them too.
	if text := Text(loadFixture(t, fixtureRepeatsA)); !strings.Contains(text, "prepared served 2.6x") {
		t.Errorf("text summary without findings:\n%s", text)
	}
}

func TestCombineMergesRepeatsExactly(t *testing.T) {
	t.Parallel()
	run, err := CombineOne([]*Result{loadFixture(t, fixtureRepeatsA)})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Groups) != 2 || len(run.Groups[0].Repeats) != 5 {
		t.Fatalf("%d groups, first with %d repeats; want 2 with 5", len(run.Groups), len(run.Groups[0].Repeats))
	}
	g := run.Groups[0]
	var ops int64
	for _, s := range g.Repeats {
		ops += s.Ops
	}
	if g.Histogram == nil || g.Histogram.TotalCount() != ops || g.Latency.Count != ops {
		t.Errorf("merged histogram counts %v, want the repeats' %d ops", g.Latency.Count, ops)
	}
	if g.Throughput != 42200 {
		t.Errorf("throughput %v, want the median 42200", g.Throughput)
	}
	// Two runs of the same scenario combine into one section, their repeats side by side.
	run, err = CombineOne([]*Result{loadFixture(t, fixtureRepeatsA), loadFixture(t, fixtureRepeatsB)})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Groups[0].Repeats) != 10 {
		t.Errorf("%d repeats after combining two runs, want 10", len(run.Groups[0].Repeats))
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	future := filepath.Join(dir, "future.json")
	data, err := os.ReadFile(fixtureSweep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(future, bytes.Replace(data, []byte("pgscale.result/v1"), []byte("pgscale.result/v9"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	notResult := filepath.Join(dir, "other.json")
	if err := os.WriteFile(notResult, []byte(`{"hello": "world"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
	}{
		{empty, "empty: no result.json in this directory"},
		{future, `unknown result schema "pgscale.result/v9": this pgscale reads pgscale.result/v1 and pgscale.result/v2`},
		{notResult, "not a pgscale result"},
		{filepath.Join(dir, "missing"), "missing: no such file or directory"},
	} {
		_, err := Load(tc.path)
		if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s): %v, want bad input containing %q", tc.path, err, tc.want)
		}
	}
	_, err = Compare([]*Result{loadFixture(t, fixtureSweep)}, []*Result{loadFixture(t, fixtureRepeatsA)}, "a", "b", 0)
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "cannot compare different scenarios: a is connect-storm, b is select-only") {
		t.Errorf("comparing scenarios: %v", err)
	}
	_, err = CombineOne([]*Result{loadFixture(t, fixtureSweep), loadFixture(t, fixtureRepeatsA)})
	if !errors.Is(err, ErrBadInput) {
		t.Errorf("combining scenarios: %v", err)
	}
}
