package connectstorm_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/runner/runnertest"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/scenarios/connectstorm"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// The server of the integration tests: 20 connections, of which an application role gets 16
// (3 are reserved for superusers, 1 is the monitor's). Below: 6 workers, far enough under that
// backends still exiting after their close never reach the limit; above: 40, twice the limit.
const (
	testMaxConns = 20
	testBelow    = 6
	testAbove    = 40
)

// testSets are the parameters every integration test starts from: short requests, so each
// point makes hundreds of them in two seconds.
var testSets = map[string]string{
	"max_connections": fmt.Sprint(testMaxConns),
	"work":            "20ms",
}

// setup resolves sets into an environment on target and runs the scenario's Setup.
func setup(t *testing.T, target harness.Target, sets map[string]string) (scenarios.Scenario, *scenarios.Env) {
	t.Helper()
	sc, err := scenarios.Lookup(connectstorm.Name)
	if err != nil {
		t.Fatal(err)
	}
	params, err := scenarios.ResolveParams(sc.Doc(), sets, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Plan(params); err != nil {
		t.Fatal(err)
	}
	load, err := pgx.ParseConfig(target.DSN())
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.ParseConfig(target.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	env := &scenarios.Env{Target: target, Load: load, Admin: admin, Params: params,
		Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, Log: harnesstest.Log(t), Seed: 1}
	if err := sc.Setup(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return sc, env
}

func run(t *testing.T, sc scenarios.Scenario, env *scenarios.Env, variant string, workers int) result.Series {
	t.Helper()
	pt := scenarios.Point{Variant: variant, Workers: workers,
		Values: map[string]any{"workers": workers, "max_connections": testMaxConns}}
	series, err := sc.Run(context.Background(), env, pt)
	if err != nil {
		t.Fatalf("%s at %d workers: %v", variant, workers, err)
	}
	t.Logf("%s workers=%d: %.0f req/s, errors %s, peak backends %v, events generated %v lost %v late %v",
		variant, workers, series.ThroughputPerS, report.ErrorString(series.Errors), series.Metrics[connectstorm.MetricPeakBackends],
		series.Metrics[connectstorm.MetricEventsGenerated], series.Metrics[connectstorm.MetricEventsLost], series.Metrics[connectstorm.MetricEventsDeliveredLate])
	return series
}

func tooMany(s result.Series) int64 { return s.Errors["53300"] + s.Errors["53300_reserved"] }

// longerWork are the per-request times runAbove tries after the test's own when a run above
// max_connections met no 53300: on a loaded machine a cold connect can take most of a second, so
// 40 workers with 20 ms of work each never hold more than a dozen backends at once.
var longerWork = []string{"200ms", "1s"}

// runAbove runs variant at testAbove workers; while no request met 53300, it runs again with
// the next of longerWork, so that the phenomenon under test, not the machine's speed, decides.
// env's parameters are as they were when it returns.
func runAbove(t *testing.T, sc scenarios.Scenario, env *scenarios.Env, variant string, sets map[string]string) result.Series {
	t.Helper()
	defer func(params scenarios.Params) { env.Params = params }(env.Params)
	s := run(t, sc, env, variant, testAbove)
	for _, work := range longerWork {
		if tooMany(s) > 0 {
			break
		}
		t.Logf("%s at %d workers met no 53300 with work=%s; again with work=%s", variant, testAbove,
			env.Params.Duration("work"), work)
		longer := maps.Clone(sets)
		longer["work"] = work
		params, err := scenarios.ResolveParams(sc.Doc(), longer, false)
		if err != nil {
			t.Fatal(err)
		}
		env.Params = params
		s = run(t, sc, env, variant, testAbove)
	}
	return s
}

func startLocal(t *testing.T, settings map[string]string) harness.Target {
	t.Helper()
	p := &harness.LocalProvider{}
	harnesstest.Require(t, "PostgreSQL", p.Available(context.Background()))
	target, err := p.Start(context.Background(), harness.Spec{Kind: harness.KindLocal, RunID: "connectstorm-test", Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close(context.Background()) })
	return target
}

// TestColdAndRetryBatch runs on one server: cold below and above max_connections, then
// retry-batch above it.
func TestColdAndRetryBatch(t *testing.T) {
	t.Parallel()
	target := startLocal(t, map[string]string{"max_connections": fmt.Sprint(testMaxConns)})
	sets := maps.Clone(testSets)
	// Recycle warm instances often and retry soon, so refused clients get connections back
	// within the run and deliver their queues late, not only in the flush after it.
	sets["max_age"] = "500ms"
	sets["retry_after"] = "20ms"
	sc, env := setup(t, target, sets)

	t.Run("cold errors appear above max_connections", func(t *testing.T) {
		below := run(t, sc, env, connectstorm.VariantCold, testBelow)
		above := runAbove(t, sc, env, connectstorm.VariantCold, sets)
		if below.Ops == 0 || tooMany(below) != 0 {
			t.Errorf("cold at %d workers, below max_connections=%d: %d requests, errors %s; want requests and no 53300",
				testBelow, testMaxConns, below.Ops, report.ErrorString(below.Errors))
		}
		if tooMany(above) == 0 {
			t.Errorf("cold at %d workers, above max_connections=%d: errors %s; want 53300",
				testAbove, testMaxConns, report.ErrorString(above.Errors))
		}
		if peak := above.Metrics[connectstorm.MetricPeakBackends]; peak > testMaxConns {
			t.Errorf("peak backends %v above max_connections=%d", peak, testMaxConns)
		}
		if above.Metrics[connectstorm.MetricEventsLost] == 0 {
			t.Errorf("cold above the limit lost no event, though %d requests failed", report.TotalErrors(above))
		}
	})

	t.Run("retry-batch loses no event", func(t *testing.T) {
		s := runAbove(t, sc, env, connectstorm.VariantRetryBatch, sets)
		if tooMany(s) == 0 || s.Metrics[connectstorm.MetricRequests413] == 0 {
			t.Fatalf("retry-batch at %d workers: errors %s, requests_413 %v; the test needs refused requests",
				testAbove, report.ErrorString(s.Errors), s.Metrics[connectstorm.MetricRequests413])
		}
		if s.Metrics[connectstorm.MetricEventsDeliveredLate] == 0 {
			t.Errorf("no event was delivered late: refused clients never retried successfully during the run")
		}
		// Count in the database: every client's events 0..n-1 must all be there, once.
		conn, err := pgx.Connect(context.Background(), target.AdminDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var rows, expected, clients int64
		err = conn.QueryRow(context.Background(), `SELECT coalesce(sum(n), 0), coalesce(sum(top), 0), count(*)
			FROM (SELECT client, count(*) AS n, max(seq) + 1 AS top FROM `+pgx.Identifier{connectstorm.Table}.Sanitize()+
			` GROUP BY client) c`).Scan(&rows, &expected, &clients)
		if err != nil {
			t.Fatal(err)
		}
		generated := int64(s.Metrics[connectstorm.MetricEventsGenerated])
		if rows != generated || expected != generated || s.Metrics[connectstorm.MetricEventsLost] != 0 {
			t.Errorf("events: generated %d, rows in the database %d, highest sequence numbers say %d, lost %v; want all equal and 0 lost",
				generated, rows, expected, s.Metrics[connectstorm.MetricEventsLost])
		}
		if clients != testAbove {
			t.Errorf("events from %d clients, want %d", clients, testAbove)
		}
		if requests := s.Ops + report.TotalErrors(s); generated < requests {
			t.Errorf("%d events generated for %d measured requests; every request generates one", generated, requests)
		}
	})
}

// TestPooledHasNoTooManyConnections runs cold and pooled at the same concurrency, above
// max_connections, on a target with PgBouncer in front: cold meets 53300, pooled does not.
func TestPooledHasNoTooManyConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	provider, _, err := harness.Choose(ctx, harness.KindAuto)
	harnesstest.Require(t, "a target", err)
	sets := maps.Clone(testSets)
	sets["variants"] = "cold,pooled"
	sc, err := scenarios.Lookup(connectstorm.Name)
	if err != nil {
		t.Fatal(err)
	}
	params, err := scenarios.ResolveParams(sc.Doc(), sets, false)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan(params)
	if err != nil {
		t.Fatal(err)
	}
	target, err := provider.Start(ctx, harness.Spec{Kind: provider.Kind(), RunID: "connectstorm-pooled-test",
		Settings: map[string]string{"max_connections": fmt.Sprint(testMaxConns)}, Pooler: plan.Pooler})
	if err != nil {
		if usage.Is(err) {
			t.Skipf("the %s target cannot put %s in front of the server yet: %v", provider.Kind(), plan.Pooler.Kind, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close(context.Background()) })
	sc, env := setup(t, target, sets)
	cold := runAbove(t, sc, env, connectstorm.VariantCold, sets)
	pooled := run(t, sc, env, connectstorm.VariantPooled, testAbove)
	if tooMany(cold) == 0 {
		t.Fatalf("cold at %d workers: errors %s; the control needs 53300", testAbove, report.ErrorString(cold.Errors))
	}
	if pooled.Ops == 0 || tooMany(pooled) != 0 {
		t.Errorf("pooled at %d workers: %d requests, errors %s; want requests and no 53300",
			testAbove, pooled.Ops, report.ErrorString(pooled.Errors))
	}
}

// TestRunnerResult goes through the runner: the result validates, and the sweep's findings are on
// its last point.
func TestRunnerResult(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	// As runAbove does: when the run above max_connections met no 53300 (a starved machine's
	// cold connects hold few backends at once), run again with longer work per request.
	var res *result.Result
	for _, work := range append([]string{"20ms"}, longerWork...) {
		res = runnertest.Run(t, runner.Options{
			Scenario: connectstorm.Name, Target: harness.KindLocal, Out: t.TempDir(), Repeat: 1, Seed: 1,
			Sets: map[string]string{"variants": "cold", "workers": fmt.Sprintf("%d,%d", testBelow, testAbove),
				"max_connections": fmt.Sprint(testMaxConns), "work": work},
			Duration: time.Second, Warmup: 0, Log: harnesstest.Log(t),
		})
		if len(res.Series) != 2 {
			t.Fatalf("%d series, want 2", len(res.Series))
		}
		if tooMany(res.Series[1]) > 0 {
			break
		}
		t.Logf("work=%s: no 53300 at %d workers; running again with longer work", work, testAbove)
	}
	last := res.Series[1]
	if got := last.Metrics[connectstorm.MetricErrorOnsetConcurrency]; got != testAbove {
		t.Errorf("error_onset_concurrency %v, want %d (errors %s)", got, testAbove, report.ErrorString(last.Errors))
	}
	for _, name := range []string{"sustainable_rate_per_s", "events_generated", "connects_per_request", "littles_ratio", "peak_backends"} {
		if _, ok := last.Metrics[name]; !ok {
			t.Errorf("metric %s missing; have %v", name, last.Metrics)
		}
	}
	if last.ConnectMs == nil || last.ConnectMs.Count == 0 {
		t.Errorf("no connect-time histogram")
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	sc, err := scenarios.Lookup(connectstorm.Name)
	if err != nil {
		t.Fatal(err)
	}
	doc := sc.Doc()
	if !doc.Intrusive {
		t.Error("connect-storm exhausts connections: it must be intrusive")
	}

	t.Run("quick crosses the limit", func(t *testing.T) {
		params, err := scenarios.ResolveParams(doc, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := sc.Plan(params)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Pooler != nil {
			t.Errorf("--quick asks for a pooler (%+v): make bench would fail on the local target", plan.Pooler)
		}
		below, above := false, false
		for _, pt := range plan.Points {
			mc := pt.Values["max_connections"].(int)
			below = below || pt.Workers < mc
			above = above || pt.Workers > mc
			if pt.Settings["max_connections"] != fmt.Sprint(mc) {
				t.Errorf("point %v asks for settings %v", pt.Values, pt.Settings)
			}
		}
		if !below || !above {
			t.Errorf("quick grid does not cross max_connections: %d points", len(plan.Points))
		}
	})

	t.Run("workers run in increasing order, pooler sized", func(t *testing.T) {
		params, err := scenarios.ResolveParams(doc, map[string]string{"workers": "400,25,100,25", "max_connections": "200,100"}, false)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := sc.Plan(params)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Pooler == nil || plan.Pooler.Kind != "pgbouncer" || plan.Pooler.Mode != "transaction" || plan.Pooler.Size != 95 {
			t.Errorf("pooler %+v, want pgbouncer in transaction mode with 95 server connections", plan.Pooler)
		}
		var got []string
		for _, pt := range plan.Points[:3] {
			got = append(got, fmt.Sprintf("%s/%v/%d", pt.Variant, pt.Values["max_connections"], pt.Workers))
		}
		if want := "cold/100/25 cold/100/100 cold/100/400"; strings.Join(got, " ") != want {
			t.Errorf("first points %v, want %s", got, want)
		}
		if n := len(plan.Points); n != 2*4*3 {
			t.Errorf("%d points, want 24", n)
		}
	})

	for _, c := range []struct {
		sets map[string]string
		want string
	}{
		{map[string]string{"cold_start": "1.5"}, "--set cold_start=1.5: a chance, from 0 to 1"},
		{map[string]string{"pool_size": "99", "max_connections": "100,200"}, "--set pool_size=99: more than max_connections=100 leaves for the load"},
	} {
		params, err := scenarios.ResolveParams(doc, c.sets, false)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sc.Plan(params)
		if !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want a usage error with %q", c.sets, err, c.want)
		}
	}
	if _, err := scenarios.ResolveParams(doc, map[string]string{"max_connections": "5"}, false); !usage.Is(err) {
		t.Errorf("max_connections=5 accepted (error %v)", err)
	}
}
