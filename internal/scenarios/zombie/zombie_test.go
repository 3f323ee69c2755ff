package zombie_test

import (
	"context"
	"errors"
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
	"github.com/pgscale/pgscale/internal/scenarios/zombie"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// The integration test runs 5 s points at 20 requests/s, 30% of them slow (6 s) and given up
// after 1 s: without a bound, 6 zombies a second fill a max_connections of 20 (5 of them held by
// the scenario and the sampler) within about 3 s.
const (
	testDuration = 5 * time.Second
	testWarmup   = time.Second
	testRate     = 20
)

var testSets = map[string]string{
	"max_connections": "20", "client_timeout": "1s", "slow_query": "6s", "slow_share": "0.3",
	"check_interval": "300ms",
}

// TestZombiesPileUpUnlessBounded replays the article's incident and its fixes side by side in one
// run: without a timeout the backends of abandoned requests run on, pile up, and connections run
// out; statement_timeout ends the slow queries before the web tier gives up, so none outlives its
// client; client_connection_check_interval ends a backend soon after its client has gone.
// It starts a server of its own, whose max_connections of 20 the zombies exhaust.
func TestZombiesPileUpUnlessBounded(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	res := runnertest.Run(t, runner.Options{
		Scenario: zombie.Name, Target: harness.KindLocal, Out: t.TempDir(), Repeat: 1, Seed: 1, NoReport: true,
		Sets: testSets, Duration: testDuration, Warmup: testWarmup, Rate: testRate, Log: harnesstest.Log(t),
	})
	got := runnertest.ByVariant(res)
	plain, stmt, check := got[zombie.VariantNoTimeout], got[zombie.VariantStatementTimeout], got[zombie.VariantCheckInterval]

	// No bound: zombies accumulate and the server runs out of connections.
	zombies := harnesstest.Metric(t, plain, zombie.MetricZombiesPeak)
	if zombies < 5 {
		t.Errorf("no-timeout: zombies peaked at %v, want them to pile up", zombies)
	}
	if n, peak := harnesstest.Metric(t, plain, zombie.MetricErrors53300), harnesstest.Metric(t, plain, zombie.MetricConnectionsPeak); n == 0 && peak < 19 {
		t.Errorf("no-timeout: no 53300 and connections peaked at %v of 20, want them to run out", peak)
	}
	seen := false
	for _, sec := range plain.Timeline {
		seen = seen || sec.Extra["zombies"] > 0
	}
	if !seen {
		t.Errorf("no-timeout: the timeline shows no zombies")
	}

	// statement_timeout (three times the normal query): slow queries end with 57014 before the
	// web tier gives up, so zombies stay few and connections rarely run out. Rarely, not never:
	// under make test's other packages (the host 98% busy, connects taking 357 ms at the median)
	// a point once met 9 refusals against 82 without a bound, as check-interval's may below.
	without := harnesstest.Metric(t, plain, zombie.MetricErrors53300)
	if n := harnesstest.Metric(t, stmt, zombie.MetricErrors53300); n*5 > without && n > 2 {
		t.Errorf("statement-timeout: %v refused connections (53300) against %v without a bound, want a fifth at most", n, without)
	}
	if z := harnesstest.Metric(t, stmt, zombie.MetricZombiesPeak); z > zombies/3 {
		t.Errorf("statement-timeout: zombies peaked at %v against %v without a bound, want a third at most", z, zombies)
	}
	if n := harnesstest.Metric(t, stmt, zombie.MetricErrors57014); n == 0 {
		t.Errorf("statement-timeout: no query was canceled (57014)")
	}

	// client_connection_check_interval: the backend of a dropped request ends soon after the
	// close, where without it it runs its query out; measured on the load and on both probes.
	// Its requests still hold their connections until the web tier gives up (1 s), so a burst
	// may meet a full server now and then: far fewer refusals is the claim, not none.
	if n := harnesstest.Metric(t, check, zombie.MetricErrors53300); n*5 > without && n > 2 {
		t.Errorf("check-interval: %v refused connections (53300) against %v without a bound, want a fifth at most", n, without)
	}
	// Zombies still exist for up to a check interval each (and a watcher's tenth of a second).
	if z := harnesstest.Metric(t, check, zombie.MetricZombiesPeak); z > zombies/2 {
		t.Errorf("check-interval: zombies peaked at %v against %v without a bound, want half at most", z, zombies)
	}
	// The CPU query was sized from a timing taken in setup, which a busy machine may have made
	// slow, so that the query runs shorter than slow_query: it gets a wider margin. The load's own
	// zombie lifetimes are not compared: in a 5 s point most no-timeout zombies are still running
	// when the point ends and are terminated then, so their p50 says how late in the point they
	// began (296 ms against 266 ms with the check once, on a loaded machine), not how long a
	// zombie lives. The probes wait for their backend's own exit.
	// A probe whose query ended before its client left measured no zombie: on a loaded machine
	// the check-interval point's sleep probe once did (0.87 s into its 6 s sleep, while its client
	// was still there; why, its error sample now says). Such a probe is left out of the comparison;
	// the other one must still be measured.
	compared := 0
	for kind, factor := range map[string]float64{"sleep": 3, "cpu": 2} {
		name := zombie.ProbeMetric(kind, zombie.MetricProbeAfterCloseMs)
		early := false
		for _, s := range []result.Series{plain, check} {
			if s.Metrics[zombie.ProbeMetric(kind, zombie.MetricProbeEndedBeforeClose)] == 1 {
				early = true
				t.Logf("%s %v: the %s probe's query ended before its client left (%v ms; error %q): not compared",
					s.Variant, s.Point, kind, s.Metrics[zombie.ProbeMetric(kind, zombie.MetricProbeQueryMs)], s.ErrorSamples["probe_"+kind])
			}
		}
		if early {
			continue
		}
		compared++
		without, with := harnesstest.Metric(t, plain, name), harnesstest.Metric(t, check, name)
		if with*factor > without {
			t.Errorf("%s: %v ms with client_connection_check_interval, %v ms without: want 1/%g at most", name, with, without, factor)
		}
	}
	if compared == 0 {
		t.Error("neither probe's query outlived its client in both points: nothing measured the check interval")
	}
	// Without a bound the sleeping backend outlives its client by most of its query.
	if plain.Metrics[zombie.ProbeMetric("sleep", zombie.MetricProbeEndedBeforeClose)] == 1 {
		return // logged above
	}
	if after, ran := harnesstest.Metric(t, plain, zombie.ProbeMetric("sleep", zombie.MetricProbeAfterCloseMs)),
		harnesstest.Metric(t, plain, zombie.ProbeMetric("sleep", zombie.MetricProbeQueryMs)); after < ran/2 {
		t.Errorf("no-timeout: the sleep probe's backend exited %v ms after its client left, of %v ms; want it to run on", after, ran)
	}
}

// TestDSNLeavesNothing interrupts a run on a dsn target while zombies are running: the point
// still terminates every backend it started, and no role or database setting changes.
func TestDSNLeavesNothing(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	tg := harnesstest.Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	settings := func() string {
		var s string
		if err := admin.QueryRow(ctx, `SELECT coalesce(string_agg(setdatabase || '/' || setrole || '/' || array_to_string(setconfig, ','), ';'
			ORDER BY setdatabase, setrole), '') FROM pg_db_role_setting`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := settings()

	p, err := runner.Prepare(runner.Options{
		Scenario: zombie.Name, Target: harness.KindDSN, DSN: tg.AdminDSN(), AllowIntrusive: true, Out: t.TempDir(),
		Repeat: 1, Seed: 1, NoReport: true, Sets: map[string]string{"variants": "no-timeout", "client_timeout": "500ms",
			"slow_query": "60s", "slow_share": "0.5"},
		Duration: 20 * time.Second, Warmup: testWarmup, Rate: testRate, Log: harnesstest.Log(t),
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, interrupt := context.WithCancel(ctx)
	// Interrupt once zombies are running (queries that have outlived the web tier's 500 ms by
	// a second), as Ctrl-C would.
	go func() {
		for ctx.Err() == nil {
			var n int
			_ = admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '%zombie'
				AND state = 'active' AND now() - query_start > interval '1500 ms'`).Scan(&n)
			if n >= 3 {
				interrupt()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	res, runErr := p.Run(runCtx)
	interrupt()
	if res == nil || res.Status != report.StatusInterrupted {
		t.Fatalf("run: %v; want an interrupted result", runErr)
	}
	if z := res.Series[0].Metrics[zombie.MetricZombiesPeak]; z < 3 {
		t.Errorf("interrupted with %v zombies, want some running", z)
	}
	// Sessions the run closed itself end a moment later (the server reads their Terminate); the
	// terminated ones are gone already. Give both a few seconds, then name what is left.
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rows, err := admin.Query(ctx, `SELECT application_name || ' (' || coalesce(state, '') || ')' FROM pg_stat_activity
			WHERE application_name LIKE '%zombie%'`)
		if err == nil {
			left, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) != 0 {
		t.Errorf("the scenario's backends left running after the interrupted run: %v", left)
	}
	if after := settings(); after != before {
		t.Errorf("pg_db_role_setting changed: %q before, %q after", before, after)
	}
}

// TestBadInput: bad values are usage errors, reported before anything starts.
func TestBadInput(t *testing.T) {
	sc, err := scenarios.Lookup(zombie.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sets map[string]string
		want string
	}{
		{map[string]string{"slow_share": "1.5"}, "slow_share=1.5: must be between 0 and 1"},
		{map[string]string{"slow_query": "1s", "client_timeout": "2s"}, "slow_query=1s: must be longer than client_timeout (2s)"},
		{map[string]string{"variants": "no-timeout,sleep"}, "valid values are no-timeout, statement-timeout, check-interval"},
		{map[string]string{"slow_kind": "io"}, "valid values are sleep, cpu"},
		{map[string]string{"check_interval": "10us"}, "check_interval=10us: PostgreSQL counts it in milliseconds"},
		{map[string]string{"max_connections": "3"}, "must be at least 10"},
		{map[string]string{"statement_timeout": "500us"}, "statement_timeout=500us: PostgreSQL counts it in milliseconds"},
	} {
		sets, m := fmt.Sprint(c.sets), c.sets
		want := c.want
		params, err := scenarios.ResolveParams(sc.Doc(), m, false)
		if err == nil {
			_, err = sc.Plan(params)
		}
		var usage *usage.Error
		if !errors.As(err, &usage) {
			t.Errorf("%s: got %v, want a usage error", sets, err)
			continue
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %q, want one line with %q", sets, err, want)
		}
	}
}
