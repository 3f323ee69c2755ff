package shard

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// shardResult is shard idx of n with one series holding the given latencies (µs) and claim
// latencies, and a timeline of secs seconds of opsPerSec each, started at start.
func shardResult(t *testing.T, idx, n int, start time.Time, lat, claim []int64, secs int, opsPerSec int64) *result.Result {
	t.Helper()
	h, c := result.NewHistogram(), result.NewHistogram()
	for _, v := range lat {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range claim {
		if err := c.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := result.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	encClaim, err := result.EncodeHistogram(c)
	if err != nil {
		t.Fatal(err)
	}
	cp := result.PercentilesOf(c)
	var timeline []result.Second
	for s := 1; s <= secs; s++ {
		timeline = append(timeline, result.Second{T: s, Warmup: s == 1, Ops: opsPerSec, Errors: 1, ErrorsBy: map[string]int64{"40001": 1},
			P50Ms: float64(idx + 1), P99Ms: float64(10 * (idx + 1)),
			Server: &result.ServerSample{Connections: 10 + idx, MaxConnections: 100}})
	}
	i := idx
	return &result.Result{
		Schema: result.SchemaVersion, Scenario: "select-only", RunID: "run-a", Status: result.StatusOK,
		Shard:     &result.Shard{Index: &i, Count: n},
		StartedAt: start, FinishedAt: start.Add(time.Duration(secs) * time.Second),
		Params: map[string]any{"workers": []any{float64(8)}, "repeat": float64(1)}, Duration: "5s", Warmup: "1s",
		Environment: result.Environment{Target: "dsn", ServerVersion: "15.18", Settings: map[string]string{},
			Host:    result.Host{Hostname: fmt.Sprintf("pod-%d", idx), OS: "linux", Arch: "amd64", Cores: 2},
			Pgscale: result.Build{Version: "dev", GoVersion: "go1.26"}},
		Warnings: []string{"the dsn target cannot change server settings: every point ran with the server's own"},
		Series: []result.Series{{
			Variant: "prepared", Point: map[string]any{"workers": float64(8)}, Repeat: 1, StartedAt: start,
			DurationS: 5, WarmupS: 1, Workers: 3 - idx%2, RatePerS: 0, Ops: int64(len(lat)), ThroughputPerS: float64(len(lat)) / 5,
			LatencyMs: result.PercentilesOf(h), Errors: map[string]int64{"40001": int64(secs)},
			Metrics: map[string]float64{
				"claim_p50_ms": cp.P50, "claim_p99_ms": cp.P99, "claim_max_ms": cp.Max,
				"rows_lost": 2, result.MetricPeakConnections: float64(20 + idx), "idle_worker_fraction": 0.5 + 0.1*float64(idx),
				"rows_per_s": 100,
			},
			Timeline:   timeline,
			Histograms: result.Histograms{Latency: enc, Extra: map[string]string{"claim": encClaim}},
		}},
	}
}

// latencies is a deterministic spread of n latencies in µs, from tens of µs to seconds.
func latencies(seed uint64, n int) []int64 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(20 + r.ExpFloat64()*800)
		if r.IntN(1000) == 0 {
			out[i] += int64(r.IntN(3_000_000))
		}
	}
	return out
}

func TestMergeRecomputesPercentilesFromTheMergedHistogram(t *testing.T) {
	t.Parallel()
	all := latencies(1, 30000)
	claims := latencies(2, 9000)
	whole, wholeClaim := result.NewHistogram(), result.NewHistogram()
	for _, v := range all {
		_ = whole.RecordValue(v)
	}
	for _, v := range claims {
		_ = wholeClaim.RecordValue(v)
	}
	// Split unevenly across 3 shards; shard 1 started 2 s after shard 0, shard 2 0.4 s after.
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	starts := []time.Duration{0, 2 * time.Second, 400 * time.Millisecond}
	cuts := []int{0, 5000, 21000, 30000}
	claimCuts := []int{0, 3000, 3001, 9000}
	var ins []Input
	for i := 2; i >= 0; i-- { // out of order on purpose
		r := shardResult(t, i, 3, base.Add(starts[i]), all[cuts[i]:cuts[i+1]], claims[claimCuts[i]:claimCuts[i+1]], 5, int64(10*(i+1)))
		r.Headline = &result.Headline{Metric: result.HeadlineThroughput, Label: "lookup throughput", Unit: "lookups/s", Better: "higher"}
		ins = append(ins, Input{Name: fmt.Sprintf("shard-%d", i), Result: r})
	}
	m, err := Merge(ins)
	if err != nil {
		t.Fatal(err)
	}
	if m.Headline == nil || m.Headline.Unit != "lookups/s" {
		t.Errorf("the merged result lost the shards' headline: %+v", m.Headline)
	}
	if err := result.ValidateResult(m); err != nil {
		t.Fatalf("merged result does not validate: %v", err)
	}
	if m.Status != result.StatusOK || m.Shard == nil || m.Shard.Index != nil || fmt.Sprint(m.Shard.Merged) != "[0 1 2]" || len(m.Shard.Missing) != 0 {
		t.Fatalf("status %s, shard %+v", m.Status, m.Shard)
	}
	s := m.Series[0]
	want := result.PercentilesOf(whole)
	if s.LatencyMs != want {
		t.Fatalf("merged percentiles %+v, want the unsplit histogram's %+v", s.LatencyMs, want)
	}
	h, err := result.DecodeHistogram(s.Histograms.Latency)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Equals(whole) {
		t.Fatal("the merged latency histogram differs from the unsplit one")
	}
	wc := result.PercentilesOf(wholeClaim)
	if s.Metrics["claim_p99_ms"] != wc.P99 || s.Metrics["claim_p50_ms"] != wc.P50 || s.Metrics["claim_max_ms"] != wc.Max {
		t.Fatalf("claim metrics %v, want p50 %g p99 %g max %g from the merged claim histogram", s.Metrics, wc.P50, wc.P99, wc.Max)
	}
	// Counters and rates sum; peaks take the largest; fractions the ops-weighted mean.
	if s.Ops != 30000 || s.Workers != 3+2+3 || s.Errors["40001"] != 15 || s.ThroughputPerS != 6000 {
		t.Fatalf("ops %d workers %d errors %v throughput %g", s.Ops, s.Workers, s.Errors, s.ThroughputPerS)
	}
	if s.Metrics["rows_lost"] != 6 || s.Metrics["rows_per_s"] != 300 || s.Metrics[result.MetricPeakConnections] != 22 {
		t.Fatalf("metrics %v", s.Metrics)
	}
	wantFrac := (0.5*5000 + 0.6*16000 + 0.7*9000) / 30000
	if d := s.Metrics["idle_worker_fraction"] - wantFrac; d > 1e-12 || d < -1e-12 {
		t.Fatalf("idle_worker_fraction %g, want the ops-weighted %g", s.Metrics["idle_worker_fraction"], wantFrac)
	}
	// Timelines aligned by wall-clock second: shard 1 (20 ops/s) is 2 s late, shard 2 (30 ops/s)
	// 0.4 s, which rounds to the same second as shard 0 (10 ops/s).
	wantOps := map[int]int64{1: 40, 2: 40, 3: 60, 4: 60, 5: 60, 6: 20, 7: 20}
	if len(s.Timeline) != len(wantOps) {
		t.Fatalf("timeline has %d seconds, want %d: %+v", len(s.Timeline), len(wantOps), s.Timeline)
	}
	for i, sec := range s.Timeline {
		if sec.T != i+1 || sec.Ops != wantOps[sec.T] {
			t.Fatalf("second %d: t=%d ops=%d, want t=%d ops=%d", i, sec.T, sec.Ops, i+1, wantOps[i+1])
		}
		wantConns := 10 // shard 0's sample, where it has one; then shard 1's
		if sec.T > 5 {
			wantConns = 11
		}
		if sec.Server == nil || sec.Server.Connections != wantConns {
			t.Fatalf("second %d: server %+v, want the lowest shard's sample (%d connections)", sec.T, sec.Server, wantConns)
		}
	}
	if !s.Timeline[0].Warmup || !s.Timeline[2].Warmup || s.Timeline[1].Warmup || s.Timeline[3].Errors != 3 || s.Timeline[3].P99Ms != 30 {
		t.Fatalf("timeline warm-up, errors or p99 wrong: %+v", s.Timeline[:4])
	}
	if !s.StartedAt.Equal(base) || !m.StartedAt.Equal(base) {
		t.Fatalf("merged start %s / %s, want the earliest %s", s.StartedAt, m.StartedAt, base)
	}
	if len(m.Environment.Hosts) != 3 || m.Environment.Hosts[1].Hostname != "pod-1" || m.Environment.Host.Hostname != "pod-0" {
		t.Fatalf("hosts %+v", m.Environment.Hosts)
	}
	if len(m.Warnings) != 1 || !strings.HasPrefix(m.Warnings[0], "the dsn target cannot change") {
		t.Fatalf("warnings %q: want the shards' common warning once", m.Warnings)
	}
	// Reports read it like any result.
	if _, err := report.NewDocument([]*result.Result{m}, report.ReportOptions{NoPlots: true}); err != nil {
		t.Fatalf("report of a merged result: %v", err)
	}
	if txt := report.Text(m); !strings.Contains(txt, "select-only") {
		t.Fatalf("text summary: %q", txt)
	}
}

func TestMergeOfARunThatLacksAShardIsIncomplete(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r0 := shardResult(t, 0, 3, base, latencies(3, 100), nil, 3, 5)
	r0.Shard.Lost = []int{2}
	r1 := shardResult(t, 1, 3, base, latencies(4, 100), nil, 3, 5)
	r1.Status, r1.Reason = result.StatusInterrupted, "interrupted: interrupted by signal"
	m, err := Merge([]Input{{"a", r0}, {"b", r1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := result.ValidateResult(m); err != nil {
		t.Fatalf("incomplete result does not validate: %v", err)
	}
	if m.Status != result.StatusIncomplete || fmt.Sprint(m.Shard.Missing) != "[2]" || fmt.Sprint(m.Shard.Lost) != "[2]" {
		t.Fatalf("status %s, shard %+v", m.Status, m.Shard)
	}
	for _, want := range []string{"shard 2 of 3 missing", "shard 1/3 was interrupted"} {
		if !strings.Contains(m.Reason, want) {
			t.Errorf("reason %q lacks %q", m.Reason, want)
		}
	}
	if len(m.Warnings) == 0 || !strings.HasPrefix(m.Warnings[0], "incomplete: ") {
		t.Fatalf("warnings %q: want the incompleteness first", m.Warnings)
	}
	if m.Series[0].Ops != 200 {
		t.Fatalf("ops %d, want the two shards' 200", m.Series[0].Ops)
	}
	run, err := report.CombineOne([]*result.Result{m})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range report.Findings(run, 0) {
		found = found || strings.Contains(f, "is incomplete")
	}
	if !found {
		t.Fatal("the findings do not say the run is incomplete")
	}
}

func TestMergeRejectsWhatCannotBeMerged(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	mk := func(idx, n int) *result.Result {
		return shardResult(t, idx, n, base, latencies(uint64(idx+10), 50), nil, 2, 5)
	}
	cases := map[string]struct {
		ins  func() []Input
		want string
	}{
		"run ids": {func() []Input {
			b := mk(1, 2)
			b.RunID = "run-b"
			return []Input{{"a", mk(0, 2)}, {"b", b}}
		}, "b is of run run-b but a is of run run-a"},
		"scenarios": {func() []Input {
			b := mk(1, 2)
			b.Scenario = "queue"
			return []Input{{"a", mk(0, 2)}, {"b", b}}
		}, "b is a queue result but a is a select-only result"},
		"params": {func() []Input {
			b := mk(1, 2)
			b.Params["workers"] = []any{float64(16)}
			return []Input{{"a", mk(0, 2)}, {"b", b}}
		}, "measured with different parameters"},
		"counts": {func() []Input { return []Input{{"a", mk(0, 2)}, {"b", mk(1, 3)}} }, "b is shard 1 of 3 but a is shard 0 of 2"},
		"twice":  {func() []Input { return []Input{{"a", mk(1, 2)}, {"b", mk(1, 2)}} }, "a and b are both shard 1/2"},
		"not a shard": {func() []Input {
			b := mk(1, 2)
			b.Shard = nil
			return []Input{{"a", mk(0, 2)}, {"b", b}}
		}, "b is not a shard's result"},
		"merged": {func() []Input {
			m, err := Merge([]Input{{"a", mk(0, 2)}, {"b", mk(1, 2)}})
			if err != nil {
				t.Fatal(err)
			}
			return []Input{{"m", m}}
		}, "m is already a merged result"},
		"none": {func() []Input { return nil }, "no results given"},
	}
	for name, c := range cases {
		_, err := Merge(c.ins())
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a usage error with %q", name, err, c.want)
		}
	}
}

func TestMetricRules(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]rule{
		"rows_lost": ruleSum, "rows_per_s": ruleSum, "abandoned_ops": ruleSum, "jobs_per_s": ruleSum,
		"peak_connections": ruleMax, "client_rss_peak_mb": ruleMax, "backend_context_kb": ruleMax, "error_onset_concurrency": ruleMax,
		"idle_worker_fraction": ruleMean, "client_cpu_ms_per_1k_ops": ruleMean, "backend_private_kb_mean": ruleMean,
		"connects_per_request": ruleMean, "littles_db_time_ms": ruleMean, "rows_per_s_vs_insert": ruleMean,
	} {
		if got := metricRule(name); got != want {
			t.Errorf("%s: rule %d, want %d", name, got, want)
		}
	}
}

// TestMergeEngine: the shards' engine when they agree (script's engine=auto decides per shard),
// each named with a note when they do not, nothing when no shard has one.
func TestMergeEngine(t *testing.T) {
	mux := &result.Series{Engine: "mux", EngineWhy: "auto: closed loop"}
	gor := &result.Series{Engine: "goroutines", EngineWhy: "auto: paced"}
	var notes []string
	if e, why := mergeEngine([]part{{0, mux}, {1, mux}}, "s", &notes); e != "mux" || why != "auto: closed loop" || len(notes) != 0 {
		t.Errorf("agreeing shards: %q %q %v", e, why, notes)
	}
	if e, _ := mergeEngine([]part{{0, mux}, {1, gor}}, "s", &notes); e != "mux+goroutines" || len(notes) != 1 {
		t.Errorf("differing shards: %q %v", e, notes)
	}
	if e, why := mergeEngine([]part{{0, &result.Series{}}}, "s", &notes); e != "" || why != "" {
		t.Errorf("no engine: %q %q", e, why)
	}
}
