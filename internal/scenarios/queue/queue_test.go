package queue

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/runner/runnertest"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// run drives the whole scenario through the runner on the package's shared server, in a schema
// of the run's own (the dsn target drops it on every path), and returns its series by variant.
func run(t *testing.T, sets map[string]string, duration, warmup time.Duration) map[string]result.Series {
	t.Helper()
	out := map[string]result.Series{}
	for _, s := range runSeries(t, sets, nil, duration, warmup) {
		out[s.Variant] = s
	}
	return out
}

// runSeries is run with --latency, returning the series in the order they ran.
func runSeries(t *testing.T, sets map[string]string, latencies []time.Duration, duration, warmup time.Duration) []result.Series {
	t.Helper()
	return runOn(t, runner.Options{Target: harness.KindDSN, DSN: harnesstest.DSN(t), AllowIntrusive: true},
		sets, latencies, duration, warmup)
}

// runOn is runSeries on the target of opts: a local one for a test that needs the server
// settings the scenario asks for.
func runOn(t *testing.T, opts runner.Options, sets map[string]string, latencies []time.Duration, duration, warmup time.Duration) []result.Series {
	t.Helper()
	opts.Scenario, opts.Sets, opts.Repeat, opts.Latencies = Name, sets, 1, latencies
	opts.Duration, opts.Warmup, opts.Out = duration, warmup, t.TempDir()
	return runnertest.Run(t, opts).Series
}

// checkExactlyOnce asserts the end-of-run check of one series: nothing lost, nothing done twice,
// work done in the measured window, and every job accounted for.
func checkExactlyOnce(t *testing.T, s result.Series) {
	t.Helper()
	checkAudit(t, s)
	if s.Metrics[MetricJobsPerS] == 0 {
		t.Errorf("%s: no job done in the measured window (jobs_done %v, jobs_per_s 0)", s.Variant, s.Metrics[MetricJobsDone])
	}
}

// checkAudit is checkExactlyOnce for a series whose claims may outlast the measured window (naive
// at 200 workers on a starved machine: claim p99 2.9 s in a 2 s window, 161 jobs done, none of
// them in it): work done over the run, but none needed in the window.
func checkAudit(t *testing.T, s result.Series) {
	t.Helper()
	m := s.Metrics
	if m[MetricJobsLost] != 0 || m[MetricJobsDuplicated] != 0 {
		t.Errorf("%s: jobs_lost %v, jobs_duplicated %v, want 0 and 0", s.Variant, m[MetricJobsLost], m[MetricJobsDuplicated])
	}
	if m[MetricJobsDone] == 0 {
		t.Errorf("%s: no job done (jobs_done 0, jobs_per_s %v)", s.Variant, m[MetricJobsPerS])
	}
	if sum := m[MetricJobsDone] + m[MetricJobsPendingAtEnd] + m[MetricJobsInterrupted]; sum != m[MetricJobsEnqueued] {
		t.Errorf("%s: done %v + pending %v + interrupted %v = %v, want the %v enqueued", s.Variant,
			m[MetricJobsDone], m[MetricJobsPendingAtEnd], m[MetricJobsInterrupted], sum, m[MetricJobsEnqueued])
	}
	if len(s.Errors) > 0 {
		t.Errorf("%s: errors %v (%v)", s.Variant, s.Errors, s.ErrorSamples)
	}
}

// TestDedicatedQueueBeatsNaiveAt200Workers is the article's claim: at 200 workers on a task table
// that holds history, claiming from a small dedicated queue table has a lower claim p99 than
// claiming from the task table, and every variant processes each job exactly once. 2 s a point
// are enough: on a quiet machine naive's claim p99 was 30 times dedicated's (3,967 ms against
// 125) and its jobs/s a thirteenth (156 against 2,005).
func TestDedicatedQueueBeatsNaiveAt200Workers(t *testing.T) {
	harnesstest.RequirePostgres(t)
	series := run(t, map[string]string{
		"variants": "naive,dedicated,batch,delete-returning", "workers": "200", "history": "100000", "backlog": "40000",
	}, 2*time.Second, 500*time.Millisecond)
	for _, v := range []string{VariantNaive, VariantDedicated, VariantBatch, VariantDeleteReturning} {
		s, ok := series[v]
		if !ok {
			t.Fatalf("no series for %s", v)
		}
		checkAudit(t, s) // dedicated's jobs/s is checked against naive's below
		// The sampler reads the peak once a second or so; on a starved machine the last few of
		// naive's 200 connections have come in between its reads (193 seen once).
		if s.Metrics[result.MetricPeakConnections] < 190 {
			t.Errorf("%s: peak_connections %v, want about the 200 workers' connections", v, s.Metrics[result.MetricPeakConnections])
		}
	}
	naive, dedicated := series[VariantNaive].Metrics, series[VariantDedicated].Metrics
	t.Logf("claim p99: naive %.1f ms, dedicated %.1f ms; jobs/s: naive %.0f, dedicated %.0f",
		naive[MetricClaimP99Ms], dedicated[MetricClaimP99Ms], naive[MetricJobsPerS], dedicated[MetricJobsPerS])
	if naive[MetricClaimP99Ms] <= dedicated[MetricClaimP99Ms] {
		t.Errorf("claim p99: naive %.2f ms, dedicated %.2f ms; want dedicated lower",
			naive[MetricClaimP99Ms], dedicated[MetricClaimP99Ms])
	}
	if naive[MetricJobsPerS] >= dedicated[MetricJobsPerS] {
		t.Errorf("jobs/s: naive %.0f, dedicated %.0f; want dedicated higher", naive[MetricJobsPerS], dedicated[MetricJobsPerS])
	}
}

// TestExactlyOnceWithProducerAndWork runs every variant with a rate producer and work per job, so
// that queues run dry, workers poll, and jobs are in hand when the run ends. Not parallel: it
// asserts idle claims below capacity, and with the long-transaction test's closed loop beside it
// the dedicated variant's 20 workers once never sat idle.
func TestExactlyOnceWithProducerAndWork(t *testing.T) {
	harnesstest.RequirePostgres(t)
	series := run(t, map[string]string{
		"workers": "20", "history": "10000", "producer": "rate", "enqueue_rate": "250",
		"work": "2ms", "poll": "20ms", "feed_interval": "50ms", "batch": "5",
	}, 1500*time.Millisecond, 500*time.Millisecond)
	for _, v := range variants {
		s, ok := series[v]
		if !ok {
			t.Fatalf("no series for %s", v)
		}
		checkExactlyOnce(t, s)
		// Enqueued at 250/s with capacity to spare: the workers keep up and sit idle part of
		// the time, and jobs wait milliseconds, not the run's length. (At 500/s naive once
		// never ran dry on a starved machine.)
		if s.Metrics[MetricIdleWorkerFraction] <= 0 {
			t.Errorf("%s: idle_worker_fraction %v, want idle claims below capacity", v, s.Metrics[MetricIdleWorkerFraction])
		}
		if p50 := s.Metrics[MetricEndToEndP50Ms]; p50 <= 0 || p50 > 1000 {
			t.Errorf("%s: end_to_end_p50_ms %v, want between 0 and 1000", v, p50)
		}
	}
}

// TestLatencyCutsJobThroughput is the article's "12 ms to <1 ms gave 4x": with 10 workers, each
// job two round trips, jobs/s at 1 ms of added latency is a multiple of jobs/s at 12 ms (4.3x
// measured on an idle 2-core machine). The 12 ms point is bound by latency whatever the load; the
// 1 ms point needs CPU, and on a shared machine a spike of other work during it starved it to
// 0.7x once. So the pair runs up to three times, and the phenomenon must show in one of them
// (1.5x); the 12 ms ceiling must hold in every one.
func TestLatencyCutsJobThroughput(t *testing.T) {
	harnesstest.RequirePostgres(t)
	var ratios []float64
	for attempt := 1; attempt <= 3; attempt++ {
		series := runSeries(t, map[string]string{
			"variants": VariantDedicated, "workers": "10", "history": "10000", "backlog": "30000",
		}, []time.Duration{time.Millisecond, 12 * time.Millisecond}, time.Second, 500*time.Millisecond)
		jobs := map[float64]float64{}
		for _, s := range series {
			checkExactlyOnce(t, s)
			jobs[s.Point[runner.LatencyKey].(float64)] = s.Metrics[MetricJobsPerS]
		}
		t.Logf("attempt %d: jobs/s at 10 workers: %.0f at 1 ms, %.0f at 12 ms (%.1fx)", attempt, jobs[1], jobs[12], jobs[1]/jobs[12])
		// 10 workers × 1 job per 2 round trips of at least 12 ms: at most ~417 jobs/s.
		if jobs[12] <= 0 || jobs[12] > 420 {
			t.Fatalf("jobs/s at 12 ms: %.0f, want between 0 and 10 workers / 24 ms = 417", jobs[12])
		}
		ratios = append(ratios, jobs[1]/jobs[12])
		if jobs[1] >= 1.5*jobs[12] {
			return
		}
	}
	t.Errorf("jobs/s at 1 ms over jobs/s at 12 ms: %.2f in three attempts, want at least 1.5x in one", ratios)
}

// TestServerSideWorkKeepsBackendsBusy: with work_on=server the work is pg_sleep on the worker's
// connection, so the sampler sees the workers' backends active; with work_on=client the same work
// leaves them idle. Exactly-once holds in both. Each job's work is 200 ms, long beside its two
// queries even when they wait for the CPU: with 50 ms, a busy machine (at three and at four test
// binaries at a time) kept 4.3 to 5.3 of the 10 client-side backends active, as the queries took
// about as long as the work.
func TestServerSideWorkKeepsBackendsBusy(t *testing.T) {
	harnesstest.RequirePostgres(t)
	activeMean := func(workOn string) float64 {
		t.Helper()
		s := run(t, map[string]string{
			"variants": VariantDedicated, "workers": "10", "history": "10000", "backlog": "2000",
			"work": "200ms", "work_on": workOn,
		}, 2*time.Second, 500*time.Millisecond)[VariantDedicated]
		checkExactlyOnce(t, s)
		var sum, n float64
		for _, sec := range s.Timeline {
			if !sec.Warmup && sec.Server != nil {
				sum += float64(sec.Server.Active)
				n++
			}
		}
		if n == 0 {
			t.Fatalf("work_on=%s: no server samples in the timeline", workOn)
		}
		// 10 workers at 200 ms a job cannot pass 50 jobs/s: the work was done.
		if jps := s.Metrics[MetricJobsPerS]; jps > 52 {
			t.Errorf("work_on=%s: %.0f jobs/s, more than 10 workers doing 200 ms jobs can", workOn, jps)
		}
		return sum / n
	}
	// A machine busy enough that each query waits for the CPU keeps the client side's backends
	// active longer; the server side's pg_sleep keeps them active whatever the load. So when
	// only the client side's bound fails, the pair runs again once.
	for attempt := 1; ; attempt++ {
		client, server := activeMean(workOnClient), activeMean(workOnServer)
		t.Logf("mean active backends: work_on=client %.1f, work_on=server %.1f (10 workers)", client, server)
		if server < 6 {
			t.Fatalf("work_on=server: %.1f active backends on average, want most of the 10 workers in pg_sleep", server)
		}
		if client <= 4 {
			return
		}
		if attempt == 2 {
			t.Fatalf("work_on=client: %.1f active backends on average, want few (the work is in the client)", client)
		}
	}
}

// TestCheckFindsLostAndDuplicatedJobs shows the exactly-once check can fail: a job completed twice,
// a job left running by no known claim, and a fed task with no queue entry are counted.
func TestCheckFindsLostAndDuplicatedJobs(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	ctx := context.Background()
	target := harnesstest.Schema(t)
	env := &scenarios.Env{Target: target}
	var err error
	if env.Admin, err = pgx.ParseConfig(target.AdminDSN()); err != nil {
		t.Fatal(err)
	}
	params, err := scenarios.ResolveParams((&scenario{}).Doc(), map[string]string{"history": "100"}, false)
	if err != nil {
		t.Fatal(err)
	}
	env.Params = params
	if err := (&scenario{}).Setup(ctx, env); err != nil {
		t.Fatal(err)
	}
	conn, err := env.AdminConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	c := config{variant: VariantDedicated, producer: producerBacklog, backlog: 10, history: 100, queueDepth: 5}
	if err := reset(ctx, conn, c); err != nil {
		t.Fatal(err)
	}
	st := &runState{cfg: c, cursor: c.history}
	if err := st.feedOnce(ctx, conn); err != nil {
		t.Fatal(err)
	}
	clean, err := st.check(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if clean.lost != 0 || clean.duplicated != 0 || clean.pending != 10 {
		t.Fatalf("before tampering: %+v, want 10 pending and nothing lost or duplicated", clean)
	}
	for _, stmt := range []string{
		// Job 101 done twice.
		`WITH d AS (UPDATE task SET status = 'done', done_at = now() WHERE id = 101 RETURNING id)
		 INSERT INTO done_log SELECT id, now(), 0 FROM d, generate_series(1, 2)`,
		// Job 102 left running by a claim no worker made; job 103 fed, then its entry gone.
		`UPDATE task SET status = 'running', claim_token = 42 WHERE id = 102`,
		`DELETE FROM task_queue WHERE task_id = 103`,
		// Job 104 running under a claim the run cut off: not lost.
		`UPDATE task SET status = 'running', claim_token = 7 WHERE id = 104`,
		// Job 5 of the history completed again.
		`INSERT INTO done_log VALUES (5, now(), 0)`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	st.addUncertain(7)
	got, err := st.check(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got.duplicated != 2 || got.lost != 2 || got.interrupted != 1 || got.orphaned != 1 || got.unqueued != 1 {
		t.Fatalf("check %+v, want 2 duplicated (101 and history job 5), 2 lost (102 orphaned, 103 unqueued), 1 interrupted (104)", got)
	}
}

func TestBadParametersAreUsageErrors(t *testing.T) {
	t.Parallel()
	doc := (&scenario{}).Doc()
	cases := []struct {
		sets map[string]string
		want string
	}{
		{map[string]string{"workers": "0"}, "--set workers=0: must be at least 1"},
		{map[string]string{"workers": "ten"}, "--set workers=ten: not a whole number"},
		{map[string]string{"variants": "dedicted"}, `(did you mean "dedicated"?)`},
		{map[string]string{"work": "fast"}, "--set work=fast: not a duration"},
		{map[string]string{"work": "-1ms"}, "--set work=-1ms: must be at least 0"},
		{map[string]string{"producer": "stream"}, "--set producer=stream: valid values are backlog, rate"},
		{map[string]string{"backlog": "0"}, "--set backlog=0: producer=backlog needs at least 1 job"},
		{map[string]string{"history": "-5"}, "--set history=-5: must be at least 0"},
		{map[string]string{"batch": "0"}, "--set batch=0: must be at least 1"},
		{map[string]string{"poll": "0s"}, "--set poll=0s: must be at least 1ms"},
		{map[string]string{"feed_interval": "10us"}, "--set feed_interval=10µs: must be at least 1ms"},
		{map[string]string{"enqueue_rate": "0"}, "--set enqueue_rate=0: must be at least 1"},
		{map[string]string{"naive_index": "gin"}, "--set naive_index=gin: valid values are status, status-id"},
		{map[string]string{"wrokers": "5"}, `has no parameter "wrokers" (did you mean "workers"?)`},
		{map[string]string{"conns": "0"}, "--set conns=0: must be at least 1"},
		{map[string]string{"workers": "8", "conns": "16"}, "--set conns=16: more connections than workers=8; give at most 8"},
		{map[string]string{"variants": "dedicated,batch", "conns": "4"}, "--set conns: only the fetcher variants use it"},
		{map[string]string{"variants": "naive", "flush": "5ms"}, "--set flush: only the fetcher variants use it"},
		{map[string]string{"variants": "fetcher", "work_on": "server"}, "--set work_on=server: the fetcher variants' workers hold no connection"},
	}
	for _, c := range cases {
		p, err := scenarios.ResolveParams(doc, c.sets, false)
		if err == nil {
			_, err = (&scenario{}).Plan(p)
		}
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--set %v: error %v, want a usage error containing %q", c.sets, err, c.want)
		}
	}
}

func TestPlanFitsMaxConnections(t *testing.T) {
	t.Parallel()
	p, err := scenarios.ResolveParams((&scenario{}).Doc(), map[string]string{
		"workers": "10,2000", "variants": "naive,batch", "batch": "5,50"}, false)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := (&scenario{}).Plan(p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pt := range plan.Points {
		got = append(got, pt.Variant+" "+pt.Settings["max_connections"])
	}
	want := "naive 100,batch 100,batch 100,naive 2020,batch 2020,batch 2020"
	if strings.Join(got, ",") != want {
		t.Fatalf("points %v, want %s", got, want)
	}
}

func TestSaturation(t *testing.T) {
	t.Parallel()
	tracker := scenarios.SaturationTracker{Metric: MetricSaturationWorkers, Share: saturationShare}
	first := map[string]float64{}
	tracker.Note("dedicated/1", 10, 1000, first)
	if _, ok := first[MetricSaturationWorkers]; ok {
		t.Fatal("one worker count has no saturation point")
	}
	for _, e := range []struct {
		workers int
		jobs    float64
	}{{100, 3000}, {500, 3200}, {1000, 2500}, {100, 2800}} {
		tracker.Note("dedicated/1", e.workers, e.jobs, map[string]float64{})
	}
	if w := first[MetricSaturationWorkers]; w != 100 {
		t.Fatalf("saturation %v, want 100 (3000 of the best 3200 is past 90%%)", w)
	}
}
