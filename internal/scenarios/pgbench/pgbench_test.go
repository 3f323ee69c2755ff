package pgbench

import (
	"math"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/runner/runnertest"
	"github.com/pgscale/pgscale/result"
)

// TestPgbenchLogBecomesASeries runs pgbench -S through the runner on a local server and checks
// that the series read from its transaction log agrees with pgbench's own summary: the measured
// rate within 25% of the tps it printed (which includes the warm-up), a timeline with the warm-up
// marked, and latency percentiles in order.
func TestPgbenchLogBecomesASeries(t *testing.T) {
	harnesstest.RequirePostgres(t)
	_, err := harness.FindPgbench()
	harnesstest.Require(t, "pgbench", err)
	res := runnertest.Run(t, runner.Options{
		Scenario: Name, Target: harness.KindDSN, DSN: harnesstest.DSN(t), Out: t.TempDir(), Repeat: 1, Seed: 1,
		Sets:     map[string]string{"scale": "1", "variants": "prepared", "workers": "2"},
		Duration: 2 * time.Second, Warmup: time.Second,
	})
	if len(res.Series) != 1 {
		t.Fatalf("%d series, want 1", len(res.Series))
	}
	s := res.Series[0]
	reported := s.Metrics[MetricPgbenchReportedTPS]
	t.Logf("from the log: %.0f lookups/s (%d in %.1f s), p50 %.3f ms, p99 %.3f ms; pgbench printed %.0f tps",
		s.ThroughputPerS, s.Ops, s.DurationS, s.LatencyMs.P50, s.LatencyMs.P99, reported)
	if s.Ops == 0 || reported == 0 {
		t.Fatalf("ops %d, pgbench tps %v", s.Ops, reported)
	}
	// pgbench's tps covers the warm-up too, and on a shared machine the rate in the warm-up can
	// differ from the measured window's by more than any band: compare like with like, every
	// transaction the log holds (warm-up included) over the whole run.
	var logged int64
	for _, sec := range s.Timeline {
		logged += sec.Ops
	}
	whole := s.DurationS + time.Second.Seconds() // the warm-up this test asked for
	if r := float64(logged) / whole / reported; math.Abs(r-1) > 0.25 {
		t.Errorf("log holds %d transactions in %.1f s (%.0f/s), pgbench says %.0f tps (ratio %.2f), want within 25%%",
			logged, whole, float64(logged)/whole, reported, r)
	}
	if !(s.LatencyMs.P50 > 0 && s.LatencyMs.P50 <= s.LatencyMs.P99 && s.LatencyMs.P99 <= s.LatencyMs.Max) {
		t.Errorf("percentiles out of order: %+v", s.LatencyMs)
	}
	var warm, measured int
	for _, sec := range s.Timeline {
		if sec.Warmup {
			warm++
		} else if sec.Ops > 0 {
			measured++
		}
	}
	if warm != 1 || measured < 2 {
		t.Errorf("timeline: %d warm-up and %d measured seconds with operations, want 1 and at least 2", warm, measured)
	}
	if s.Metrics[result.MetricClientCPUMsPer1kOps] <= 0 {
		t.Errorf("no client CPU recorded: %v", s.Metrics)
	}
	// The load generator is pgbench, a child process: the sampler's client CPU, which the
	// diagnosis reads, must be pgbench's too, about the rate its rusage gives over its run, not
	// pgscale's own idle process. Rates, not sums: a second whose reading was lost (a busy
	// machine) leaves its CPU to the next.
	pgbenchRate := s.Metrics[result.MetricClientCPUMsPer1kOps] / 1e6 * float64(logged) / whole
	var sampled float64
	var readings int
	for _, sec := range s.Timeline {
		if sec.Server != nil && sec.Server.Usage != nil {
			sampled += sec.Server.Usage.ClientCPU
			readings++
		}
	}
	if readings == 0 {
		t.Fatal("no second of the timeline has a client CPU reading")
	}
	if mean := sampled / float64(readings); mean < pgbenchRate/2 {
		t.Errorf("the sampler read %.3f CPUs of client on average, pgbench spent %.3f: want at least half of it", mean, pgbenchRate)
	} else {
		t.Logf("client CPU: sampled %.3f CPUs on average, pgbench's rusage %.3f", mean, pgbenchRate)
	}
}
