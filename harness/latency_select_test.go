package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgscale/pgscale/harness"
	"github.com/pgscale/pgscale/runner"
	_ "github.com/pgscale/pgscale/scenarios/selectonly"
)

// TestLatencyRaisesSelectOnlyP50 runs select-only without and with --latency 10ms, one after the
// other on the local target: the p50 must rise by about the round trip added.
func TestLatencyRaisesSelectOnlyP50(t *testing.T) {
	if err := (&harness.LocalProvider{}).Available(context.Background()); err != nil {
		t.Skipf("no PostgreSQL here: %v", err)
	}
	p50 := func(latency time.Duration) float64 {
		t.Helper()
		p, err := runner.Prepare(runner.Options{
			Scenario: "select-only", Target: harness.KindLocal, Out: t.TempDir(), Repeat: 1, Seed: 1,
			Sets:     map[string]string{"scale": "1", "variants": "prepared", "workers": "2"},
			Duration: 2 * time.Second, Warmup: 300 * time.Millisecond, Latency: latency,
		}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Series) != 1 || res.Series[0].Ops == 0 {
			t.Fatalf("latency %s: %d series", latency, len(res.Series))
		}
		if latency > 0 && res.Environment.TargetDetail["latency"] != latency.String() {
			t.Errorf("the result does not record the latency: %v", res.Environment.TargetDetail)
		}
		return res.Series[0].LatencyMs.P50
	}
	base := p50(0)
	slowed := p50(10 * time.Millisecond)
	added := slowed - base
	t.Logf("select-only p50: %.2f ms direct, %.2f ms with --latency 10ms (+%.2f ms)", base, slowed, added)
	// One round trip per lookup: +10 ms, plus timer slack on a busy machine.
	if added < 7 || added > 30 {
		t.Errorf("--latency 10ms raised select-only p50 by %.2f ms (%.2f -> %.2f), want +7 to +30 ms", added, base, slowed)
	}
}
