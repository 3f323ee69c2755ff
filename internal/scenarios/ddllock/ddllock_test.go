package ddllock_test

import (
	"context"
	"fmt"
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
	"github.com/pgscale/pgscale/internal/scenarios/ddllock"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Every integration test runs 9 s points: the blocker takes its lock 1 s into the measured window,
// the ALTER comes at 2 s and waits until the blocker lets go at 5 s, and 4 s remain to recover
// (2 s were not always enough for the retried ALTER on a machine loaded by other tests).
const (
	testDuration = 9 * time.Second
	testWarmup   = time.Second
	testRate     = 50
)

var testSets = map[string]string{
	"users": "5000", "blocker_hold": "4s", "ddl_at": "2s",
}

func with(sets map[string]string, more ...string) map[string]string {
	out := map[string]string{}
	for k, v := range sets {
		out[k] = v
	}
	for i := 0; i+1 < len(more); i += 2 {
		out[more[i]] = more[i+1]
	}
	return out
}

// runThrough runs the scenario through the runner on the package's shared server (a dsn target,
// in a schema of the run's own), as `pgscale run` does, so that the sampler's figures are joined
// into the timeline too.
func runThrough(t *testing.T, sets map[string]string) map[string]result.Series {
	t.Helper()
	return runOn(t, runner.Options{Target: harness.KindDSN, DSN: harnesstest.DSN(t), AllowIntrusive: true}, sets)
}

// runOn is runThrough on the target of opts.
func runOn(t *testing.T, opts runner.Options, sets map[string]string) map[string]result.Series {
	t.Helper()
	opts.Scenario, opts.Out, opts.Repeat, opts.Seed, opts.Sets = ddllock.Name, t.TempDir(), 1, 1, sets
	opts.Duration, opts.Warmup, opts.Rate, opts.Log = testDuration, testWarmup, testRate, harnesstest.Log(t)
	res := runnertest.Run(t, opts)
	bySeries := map[string]result.Series{}
	for _, s := range res.Series {
		key := s.Variant
		if st, ok := s.Point["statement_timeout"]; ok {
			key += " " + fmt.Sprint(st)
		}
		bySeries[key] = s
	}
	return bySeries
}

// TestLockQueueWithoutAndWithLockTimeout replays the article's incident with a connection per
// request and a small max_connections: without lock_timeout the requests queue behind the
// waiting ALTER until connections run out; with lock_timeout and retry the queue stays within
// what arrives during one attempt, nothing runs out, and the ALTER gets through in the end.
// It starts a server of its own, whose max_connections of 60 the requests exhaust.
func TestLockQueueWithoutAndWithLockTimeout(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	const lockTimeout = 200 * time.Millisecond
	// The queue with lock_timeout: about one attempt's arrivals (rate × lock_timeout, doubled for
	// slack, plus the ALTER itself). On a machine busy enough that the requests released by one
	// attempt have not all run when the next one starts, it peaked above that once (24 against
	// 21, with 56 without lock_timeout), so the pair runs again once when only that happens.
	bound := 2*testRate*lockTimeout.Seconds() + 1
	var plain, retried result.Series
	for attempt := 1; ; attempt++ {
		got := runOn(t, runner.Options{Target: harness.KindLocal}, with(testSets, "variants", "no-timeout,lock-timeout", "connect", "per-request",
			"max_connections", "60", "lock_timeout", lockTimeout.String()))
		plain, retried = got[ddllock.VariantNoTimeout], got[ddllock.VariantLockTimeout]
		q := harnesstest.Metric(t, retried, ddllock.MetricMaxLockQueueDepth)
		if q <= bound || attempt == 2 {
			break
		}
		t.Logf("attempt %d: lock-timeout's lock queue peaked at %v, over %v; running the pair again", attempt, q, bound)
	}

	// Without lock_timeout: sessions wait on the lock, seen by the scenario's watcher and by the
	// runner's sampler, latency rises, and max_connections runs out.
	if q := harnesstest.Metric(t, plain, ddllock.MetricMaxLockQueueDepth); q < 2 {
		t.Errorf("no-timeout: lock queue peaked at %v, want a queue", q)
	}
	waiting := 0
	for _, sec := range plain.Timeline {
		if sec.Server != nil {
			waiting = max(waiting, sec.Server.WaitingOnLock)
		}
	}
	if waiting == 0 {
		t.Errorf("no-timeout: the sampler never saw a session waiting on a lock")
	}
	// The ratio was 13.1× and 9.2× in two loaded runs: the p99 before the ALTER rises with the
	// machine's load, the queue's seconds of waiting behind the blocker do not. So the check is
	// on the difference, which a busier machine does not shrink.
	before, during := harnesstest.Metric(t, plain, ddllock.MetricAppBeforeDDLP99Ms), harnesstest.Metric(t, plain, ddllock.MetricAppDuringDDLP99Ms)
	t.Logf("no-timeout: app p99 %.0f ms before the ALTER, %.0f ms during it", before, during)
	if during-before < 1000 {
		t.Errorf("no-timeout: p99 %.0f ms during the ALTER, %.0f ms before it (%.1f×): want the queue's second or more to show",
			during, before, harnesstest.Metric(t, plain, ddllock.MetricAppP99DuringOverBefore))
	}
	if n := harnesstest.Metric(t, plain, ddllock.MetricErrors53300); n == 0 {
		t.Errorf("no-timeout: no 53300 with a connection per request and max_connections 60 (errors %s)",
			report.ErrorString(plain.Errors))
	}
	harnesstest.Metric(t, plain, ddllock.MetricTimeToConnectionExhaustionS)
	if harnesstest.Metric(t, plain, ddllock.MetricDDLSucceeded) != 1 {
		t.Errorf("no-timeout: the ALTER did not succeed after the blocker let go")
	}
	queued := false
	for _, sec := range plain.Timeline {
		if sec.Extra["lock_queue_depth"] > 0 && sec.Extra["ddl_waiting"] == 1 {
			queued = true
		}
	}
	if !queued {
		t.Errorf("no-timeout: no second of the timeline has the ALTER waiting and a lock queue")
	}

	// With lock_timeout and retry: retries, success, a queue no deeper than about one attempt's
	// arrivals (bound), no 53300.
	if harnesstest.Metric(t, retried, ddllock.MetricDDLSucceeded) != 1 {
		t.Errorf("lock-timeout: the ALTER never succeeded (retries %v)", retried.Metrics[ddllock.MetricDDLRetries])
	}
	if n := harnesstest.Metric(t, retried, ddllock.MetricDDLRetries); n < 1 {
		t.Errorf("lock-timeout: %v retries, want some while the blocker held its lock", n)
	}
	q, qPlain := harnesstest.Metric(t, retried, ddllock.MetricMaxLockQueueDepth), harnesstest.Metric(t, plain, ddllock.MetricMaxLockQueueDepth)
	if q > bound || q >= qPlain {
		t.Errorf("lock-timeout: lock queue peaked at %v, want at most %v and below no-timeout's %v", q, bound, qPlain)
	}
	if n := harnesstest.Metric(t, retried, ddllock.MetricErrors53300); n != 0 {
		t.Errorf("lock-timeout: %v 53300 errors, want none", n)
	}
}

// TestStatementTimeoutCancelsLongQueries runs long-queries over a pool, without and with a
// statement_timeout on the application role, straight through the scenario in a schema of its
// own on the shared server, and checks that the point leaves neither the role nor the column
// behind. (The pool's 10 connections stay well within max_connections.)
func TestStatementTimeoutCancelsLongQueries(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	ctx := context.Background()
	target := harnesstest.Schema(t)

	sc, err := scenarios.Lookup(ddllock.Name)
	if err != nil {
		t.Fatal(err)
	}
	params, err := scenarios.ResolveParams(sc.Doc(), with(testSets, "variants", "long-queries", "connect", "pool",
		"pool_size", "10", "max_connections", "60", "statement_timeout", "0,1s", "long_query", "3s"), false)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan(params)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := pgx.ParseConfig(target.DSN())
	if err != nil {
		t.Fatal(err)
	}
	env := &scenarios.Env{Target: target, Load: cc, Admin: cc, Params: params, Duration: testDuration,
		Warmup: testWarmup, Rate: testRate, Log: harnesstest.Log(t), Seed: 1}
	if err := sc.Setup(ctx, env); err != nil {
		t.Fatal(err)
	}
	got := map[string]result.Series{}
	for _, pt := range plan.Points {
		s, err := sc.Run(ctx, env, pt)
		if err != nil {
			t.Fatalf("%s %v: %v", pt.Variant, pt.Values, err)
		}
		s.Variant = pt.Variant
		got[fmt.Sprint(pt.Values["statement_timeout"])] = s
	}
	off, on := got["off"], got["1s"]
	if harnesstest.Metric(t, off, ddllock.MetricLongQueriesStarted) == 0 || harnesstest.Metric(t, on, ddllock.MetricLongQueriesStarted) == 0 {
		t.Fatalf("no long queries ran: %v / %v", off.Metrics[ddllock.MetricLongQueriesStarted], on.Metrics[ddllock.MetricLongQueriesStarted])
	}
	if n := harnesstest.Metric(t, off, ddllock.MetricLongQueriesCanceled); n != 0 || off.Errors["57014"] != 0 {
		t.Errorf("statement_timeout off: %v long queries canceled, errors %s; want none", n, report.ErrorString(off.Errors))
	}
	if n := harnesstest.Metric(t, on, ddllock.MetricLongQueriesCanceled); n == 0 || on.Errors["57014"] == 0 {
		t.Errorf("statement_timeout 1s: %v long queries canceled, errors %s; want 57014", n, report.ErrorString(on.Errors))
	}
	if q := harnesstest.Metric(t, off, ddllock.MetricMaxLockQueueDepth); q == 0 {
		t.Errorf("pool, no lock_timeout: the pool's sessions never queued on the lock")
	}

	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var roles, columns int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pgscale%app'),
		(SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'status' AND NOT attisdropped)`).
		Scan(&roles, &columns); err != nil {
		t.Fatal(err)
	}
	if roles != 0 || columns != 0 {
		t.Errorf("after the points: %d application roles and %d status columns left, want none", roles, columns)
	}
}

// TestVacuumBlocker uses a real (throttled) VACUUM as the blocker: the ALTER queues behind it
// and gets its lock only once the VACUUM is over.
func TestVacuumBlocker(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	got := runThrough(t, with(testSets, "variants", "no-timeout", "connect", "pool", "blocker", "vacuum"))
	s := got[ddllock.VariantNoTimeout]
	if q := harnesstest.Metric(t, s, ddllock.MetricMaxLockQueueDepth); q == 0 {
		t.Errorf("no lock queue behind the ALTER waiting for the VACUUM")
	}
	if harnesstest.Metric(t, s, ddllock.MetricDDLSucceeded) != 1 {
		t.Fatalf("the ALTER did not succeed after the VACUUM")
	}
	ddlEnd := harnesstest.Metric(t, s, ddllock.MetricDDLIssuedAtS) + harnesstest.Metric(t, s, ddllock.MetricDDLDurationMs)/1000
	vacuumEnd := harnesstest.Metric(t, s, ddllock.MetricBlockerFromS) + harnesstest.Metric(t, s, ddllock.MetricBlockerHeldMs)/1000
	// Both ends are seen by the client over separate connections; 100 ms covers their order.
	if ddlEnd < vacuumEnd-0.1 {
		t.Errorf("the ALTER finished at %.3f s, before the VACUUM at %.3f s: it did not wait for it", ddlEnd, vacuumEnd)
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	sc, err := scenarios.Lookup(ddllock.Name)
	if err != nil {
		t.Fatal(err)
	}
	doc := sc.Doc()
	if !doc.Intrusive {
		t.Error("ddl-lock takes ACCESS EXCLUSIVE and exhausts connections: it must be intrusive")
	}
	params, err := scenarios.ResolveParams(doc, map[string]string{"max_connections": "30,50"}, false)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan(params)
	if err != nil {
		t.Fatal(err)
	}
	// 2 connect modes × 2 max_connections × (no-timeout, lock-timeout, 2 statement_timeouts).
	if len(plan.Points) != 16 {
		t.Fatalf("%d points, want 16", len(plan.Points))
	}
	for _, pt := range plan.Points {
		mc := pt.Values["max_connections"].(int)
		if pt.Settings["max_connections"] != fmt.Sprint(mc) || pt.Workers != 2*mc {
			t.Errorf("%s %v: settings %v, workers %d", pt.Variant, pt.Values, pt.Settings, pt.Workers)
		}
		_, hasST := pt.Values["statement_timeout"]
		if hasST != (pt.Variant == ddllock.VariantLongQueries) {
			t.Errorf("%s %v: statement_timeout belongs to long-queries only", pt.Variant, pt.Values)
		}
	}
	quick, err := scenarios.ResolveParams(doc, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if plan, _ := sc.Plan(quick); len(plan.Points) != 4 {
		t.Errorf("--quick: %d points, want 4", len(plan.Points))
	}

	for _, c := range []struct {
		sets map[string]string
		want string
	}{
		{map[string]string{"blocker": "autovacuum"}, `--set blocker=autovacuum: valid values are lock, vacuum`},
		{map[string]string{"variants": "no-timout"}, `(did you mean "no-timeout"?)`},
		{map[string]string{"lock_timeout": "0s"}, `--set lock_timeout=0s: must be at least 0.001`},
		{map[string]string{"connect": "pooled"}, `--set connect=pooled: valid values are per-request, pool`},
		{map[string]string{"max_connections": "5"}, `--set max_connections=5: must be at least 10`},
	} {
		_, err := scenarios.ResolveParams(doc, c.sets, false)
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want a usage error with %q", c.sets, err, c.want)
		}
	}
	p, err := scenarios.ResolveParams(doc, map[string]string{"long_query_share": "1.5"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Plan(p); err == nil || !usage.Is(err) || !strings.Contains(err.Error(), "long_query_share=1.5: must be between 0 and 1") {
		t.Errorf("long_query_share 1.5: %v, want a usage error", err)
	}
}
