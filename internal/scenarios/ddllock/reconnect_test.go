package ddllock_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/scenarios/ddllock"
	"github.com/pgscale/pgscale/result"
)

// TestControlConnectionReconnects terminates the control connection while the load runs: the
// point still tears down (column and sessions) on a new connection, ends ok, and counts it. It
// runs in a database of its own, so that the kill reaches only its own run's control connection
// and the test can run beside the others.
func TestControlConnectionReconnects(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	dsn := harnesstest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	killer := harnesstest.KillLater(ctx, dsn, "pgscale-ddl-lock-control", 1, 3*time.Second)
	p, err := runner.Prepare(runner.Options{
		Scenario: ddllock.Name, Target: harness.KindDSN, DSN: dsn, AllowIntrusive: true, Out: t.TempDir(),
		Repeat: 1, Seed: 1, NoReport: true, Sets: with(testSets, "variants", "no-timeout"),
		Duration: testDuration, Warmup: testWarmup, Rate: testRate, Log: harnesstest.Log(t),
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, runErr := p.Run(ctx)
	killed, kerr := killer.Wait()
	if kerr != nil {
		t.Fatalf("terminate the control connection: %v", kerr)
	}
	if runErr != nil || res.Status != result.StatusOK {
		t.Fatalf("terminated %d; run: %v (status %s, %s); want ok", killed, runErr, res.Status, res.Reason)
	}
	m := res.Series[0].Metrics
	reconnects, terminated := result.MetricReconnects(result.MetricPrefixControl), result.MetricErrors(result.MetricPrefixControl, "57P01")
	t.Logf("terminated %d; %s %v, %s %v", killed, reconnects, m[reconnects], terminated, m[terminated])
	if m[reconnects] != 1 || m[terminated] != 1 {
		t.Errorf("%s %v, %s %v; want 1 and 1", reconnects, m[reconnects], terminated, m[terminated])
	}
}
