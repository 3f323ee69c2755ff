// Package queue is the job-queue scenario: workers, each on a connection of its own as separate
// agents are, claim jobs with FOR UPDATE SKIP LOCKED, do the work and mark them done. It replays
// "Using database as a job queue" from the article on scaling to 1.2bn records: claiming
// straight from a big task table that also holds the history of done jobs (naive), against the
// article's fix, a small dedicated queue table of outstanding task ids topped up by a feeder and
// emptied on completion (dedicated), with a batch claim and the DELETE … RETURNING form beside it.
//
// Every run ends with an exactly-once check: each job enqueued is done once, or still waits, or
// was in a worker's hands when the run ended; jobs_lost and jobs_duplicated say otherwise.
package queue

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Name of the scenario.
const Name = "queue"

// Variants.
const (
	VariantNaive           = "naive"
	VariantDedicated       = "dedicated"
	VariantBatch           = "batch"
	VariantDeleteReturning = "delete-returning"
)

var variants = []string{VariantNaive, VariantDedicated, VariantBatch, VariantDeleteReturning, VariantFetcher, VariantFetcherNotify}

// Producers.
const (
	producerBacklog = "backlog" // a backlog loaded before the clock starts, burnt down by the workers
	producerRate    = "rate"    // an open-loop producer enqueuing at enqueue_rate
)

// Where a job's work is done.
const (
	workOnClient = "client" // the worker sleeps: its connection idles (in a transaction, for delete-returning)
	workOnServer = "server" // SELECT pg_sleep(work) on the worker's connection: a backend stays busy
)

// Indexes the naive variant's task table gets beside its primary key.
const (
	naiveIndexStatus   = "status"    // on (status): the index one adds for WHERE status = 'pending'
	naiveIndexStatusID = "status-id" // on (status, id): serves WHERE status = … ORDER BY id directly
)

const (
	// connHeadroom is what max_connections leaves above the workers: the feeder, the producer,
	// the scenario's admin connection, the sampler, superuser_reserved_connections (3) and room
	// for workers that reconnect while their old backend is still exiting.
	connHeadroom = 20
	// minMaxConnections keeps PostgreSQL's default for small sweeps.
	minMaxConnections = 100
	// minQueueDepth is the least the feeder keeps outstanding when queue_depth is auto: the
	// article's 100 was sized for jobs that take seconds; with jobs of a few milliseconds, 1,000
	// per 100 ms feed interval keeps 10 workers busy with no dry spells (idle_worker_fraction 0
	// measured at 10 workers, work=0).
	minQueueDepth = 1000
	// queueDepthPerWorker: the auto depth keeps two jobs (two batches for the batch variant)
	// outstanding per worker, so every worker finds work even when all of them claim within one
	// feed interval. With one batch per worker, batch=10 at 100 workers sat idle on 40% of its
	// claims.
	queueDepthPerWorker = 2
	// completeTimeout bounds a completion. Completions run to the end even when the run's clock
	// runs out, so that a claimed job is finished rather than abandoned; 30 s is far above any
	// completion measured (p99.9 under 1 s at 2,000 workers) and short enough for Ctrl-C.
	completeTimeout = 30 * time.Second
	// produceTick is how often the rate producer enqueues what has come due: 10 ms keeps the
	// enqueue times within 10 ms of a steady stream without a round trip per job.
	produceTick = 10 * time.Millisecond
	// maxProduceBatch caps one producer INSERT, so a producer that fell behind catches up in
	// statements of bounded size.
	maxProduceBatch = 10000
	// backendsGrace is how long the workers' backends get to exit by themselves after the run.
	// Those that closed their connection exit within milliseconds; 3 s leaves room for 2,000 of
	// them on 2 cores. The rest are terminated (see endWorkerBackends).
	backendsGrace = 3 * time.Second
	// backendsGoneTimeout bounds the wait for terminated backends to exit.
	backendsGoneTimeout = 10 * time.Second
	// workerAppName marks the scenario's load connections in pg_stat_activity on a server of the
	// run's own; on a dsn target they are named after the run's schema (shardRole.appName).
	workerAppName = "pgscale-queue"
	// saturationShare: throughput has stopped growing at the least worker count that reaches this
	// share of the variant's best jobs/s in the sweep. 90% because repeated runs on the shared
	// 2-core machine differ by up to ~10%.
	saturationShare = 0.9
)

//go:embed schema.sql
var schemaSQL string

func init() {
	scenarios.Register(Name, func() scenarios.Scenario {
		return &scenario{saturation: scenarios.SaturationTracker{Metric: MetricSaturationWorkers, Share: saturationShare}}
	})
}

type scenario struct {
	// saturation finds, per variant (and batch size), the worker count where jobs/s stops
	// growing, across the run's points.
	saturation scenarios.SaturationTracker
	// designs compares the fetchers with the connection-per-worker variants at equal workers.
	designs designs
}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "FOR UPDATE SKIP LOCKED job queues: a big task table with history vs a small dedicated queue table",
		Shows: "Claim latency (claim_p99_ms), jobs/s, idle workers, end-to-end latency, dead tuples, table and " +
			"index growth and autovacuum runs as workers (each on its own connection) grow to thousands: " +
			"naive claims from a task table that also holds the history of done jobs; dedicated claims from " +
			"a small queue table a feeder tops up (the article's fix); batch claims several jobs per round " +
			"trip; delete-returning deletes the queue entry in a transaction held open through the work. " +
			"end_to_end (enqueue to done) is a job's wait with producer=rate; in a burn-down it is the age of " +
			"the backlog. Every run checks exactly-once processing (jobs_lost, jobs_duplicated). saturation_workers is " +
			"the least worker count reaching 90% of the variant's best jobs/s in the sweep. --rate R runs " +
			"the producer at R jobs/s. Network latency between workers and server (--latency) comes from " +
			"the harness. fetcher and fetcher-notify share conns connections among the workers (fetcher.go): a fetch loop per " +
			"connection claims batch jobs per round trip for its idle workers and writes completions in batches; " +
			"fetcher-notify wakes on the producer's NOTIFY instead of polling. long_txn holds a snapshot beside the " +
			"workers (longtxn.go): dead tuples pile up through autovacuum runs that remove none, and claims slow; " +
			"idle_in_transaction_timeout ends it, the fix. The timeline carries the tables' dead tuples, sizes and " +
			"autovacuum runs every second.",
		Variants: variants,
		Headline: &result.Headline{Metric: MetricJobsPerS, Label: "job throughput", Unit: "jobs/s", Better: result.BetterHigher},
		Params: append([]scenarios.ParamSpec{
			scenarios.VariantsParam(variants...),
			{Name: "workers", Kind: scenarios.KindInt, List: true, Default: "50,500", Quick: "50", Full: "10,100,500,1000,2000", Min: 1,
				Help: "workers, each holding its own connection (max_connections is set to fit)"},
			{Name: "work", Kind: scenarios.KindDuration, Default: "0ms",
				Help: "time spent on each job between claim and completion (where: work_on)"},
			{Name: "work_on", Kind: scenarios.KindString, Default: workOnClient,
				Choices: []string{workOnClient, workOnServer},
				Help:    "client: the worker sleeps; server: the worker runs pg_sleep on its connection, one more round trip that keeps a backend busy"},
			{Name: "producer", Kind: scenarios.KindString, Default: producerBacklog,
				Choices: []string{producerBacklog, producerRate},
				Help:    "backlog: jobs loaded before the clock starts (burn-down); rate: an open-loop producer at enqueue_rate"},
			// 500,000 outlasts the fastest variant measured on 2 cores (batch=10, ~7,000 jobs/s) over
			// --preset full's 30 s + 5 s; 100,000 over the default 10 s + 2 s, 50,000 over --quick's 3 s + 1 s.
			{Name: "backlog", Kind: scenarios.KindInt, Default: "100000", Quick: "50000", Full: "500000",
				Help: "pending jobs loaded before each point (producer=backlog)"},
			{Name: "enqueue_rate", Kind: scenarios.KindFloat, Default: "1000", Min: 1,
				Help: "jobs per second the producer enqueues (producer=rate)"},
			{Name: "history", Kind: scenarios.KindInt, Default: "1000000", Quick: "100000",
				Help: "done jobs the task table holds before the run"},
			{Name: "batch", Kind: scenarios.KindInt, List: true, Default: "10", Min: 1,
				Help: "jobs claimed per round trip by the batch variant (default 10) and by the fetchers (default 100), who also write completions in batches of it"},
			{Name: "conns", Kind: scenarios.KindInt, List: true, Default: "4", Min: 1,
				Help: "fetcher variants: connections the workers share (each with a fetch loop); at most workers"},
			{Name: "flush", Kind: scenarios.KindDuration, Default: "10ms",
				Help: "fetcher variants: longest a finished job waits before its completion is written (or batch of them)"},
			{Name: "queue_depth", Kind: scenarios.KindInt, Default: "0",
				Help: "outstanding jobs the feeder keeps in the queue table; 0: max(1000, 2 x workers x batch)"},
			{Name: "feed_interval", Kind: scenarios.KindDuration, Default: "100ms",
				Help: "how often the feeder tops the queue table up (the article's: 1s)"},
			{Name: "poll", Kind: scenarios.KindDuration, Default: "100ms",
				Help: "how long a worker that found no job waits before claiming again"},
			{Name: "naive_index", Kind: scenarios.KindString, Default: naiveIndexStatus,
				Choices: []string{naiveIndexStatus, naiveIndexStatusID},
				Help:    "index on the task table beside its primary key: status, or (status, id)"},
		}, longTxnParams()...),
		// The default fits a laptop (about 5 minutes on 2 cores); --preset full is the articles'
		// sweep to 2,000 workers, about half an hour.
		Duration: 10 * time.Second, Warmup: 2 * time.Second,
		QuickDuration: 3 * time.Second, QuickWarmup: time.Second,
		FullDuration: 30 * time.Second, FullWarmup: 5 * time.Second,
		Shardable: true, // shard 0 resets, feeds and checks the one queue (shard.go)
	}
}

// Plan checks what the parameter specs cannot (their Min of 0 already refuses negative numbers and
// durations) and expands workers × variants (× batch sizes for
// the batch variant). Each worker count gets max_connections to fit.
func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	var errs []error
	if p.String("producer") == producerBacklog && p.Int("backlog") < 1 {
		errs = append(errs, usage.Fieldf("set", "backlog=%d: producer=backlog needs at least 1 job (or --set producer=rate)", p.Int("backlog")))
	}
	fetchers := slices.ContainsFunc(p.Strings("variants"), isFetcher)
	if !fetchers {
		for _, name := range []string{"conns", "flush"} {
			if p.Given(name) {
				errs = append(errs, usage.Fieldf("set", "%s: only the fetcher variants use it (fetcher, fetcher-notify), and none is in variants=%s",
					name, strings.Join(p.Strings("variants"), ",")))
			}
		}
	}
	if fetchers {
		if p.String("work_on") == workOnServer {
			errs = append(errs, usage.Fieldf("set", "work_on=server: the fetcher variants' workers hold no connection to run pg_sleep on; use work_on=client, or leave the fetchers out of variants"))
		}
		for _, k := range p.Ints("conns") {
			for _, w := range p.Ints("workers") {
				if k > w {
					errs = append(errs, usage.Fieldf("set", "conns=%d: more connections than workers=%d; give at most %d", k, w, w))
				}
			}
		}
	}
	for _, name := range []string{"feed_interval", "poll", "flush"} {
		if d := p.Duration(name); d < time.Millisecond {
			errs = append(errs, usage.Fieldf("set", "%s=%s: must be at least 1ms", name, d))
		}
	}
	errs = append(errs, checkLongTxn(p)...)
	if len(errs) > 0 {
		return scenarios.Plan{}, usage.Join(errs)
	}
	var plan scenarios.Plan
	for _, workers := range p.Ints("workers") {
		settings := map[string]string{"max_connections": fmt.Sprint(max(minMaxConnections, workers+connHeadroom))}
		for _, v := range p.Strings("variants") {
			batches, conns := []int{1}, []int{0}
			switch {
			case v == VariantBatch:
				batches = p.Ints("batch")
			case isFetcher(v):
				batches, conns = p.Ints("batch"), p.Ints("conns")
				if !p.Given("batch") {
					batches = []int{defaultFetchBatch}
				}
			}
			for _, k := range conns {
				for _, b := range batches {
					values := map[string]any{"workers": workers}
					if v == VariantBatch || isFetcher(v) {
						values["batch"] = b
					}
					if isFetcher(v) {
						values["conns"] = k
					}
					plan.Points = append(plan.Points, scenarios.Point{
						Variant: v, Values: values, Workers: workers, Settings: settings,
					})
				}
			}
		}
	}
	plan.Points, plan.Settings = expandLongTxn(p, plan.Points)
	return plan, nil
}

// Setup creates the tables and loads the history of done jobs.
func (s *scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	started := time.Now()
	history := env.Params.Int("history")
	index := "CREATE INDEX task_status_idx ON task (status)"
	if env.Params.String("naive_index") == naiveIndexStatusID {
		index = "CREATE INDEX task_status_idx ON task (status, id)"
	}
	steps := []step{
		{sql: schemaSQL},
		// History: done jobs, enqueued over the day before the run.
		{sql: `INSERT INTO task (id, status, payload, enqueued_at, attempted_at, done_at)
		 SELECT g, 'done', md5(g::text), t, t, t
		 FROM generate_series(1, $1::bigint) g,
		      LATERAL (SELECT now() - interval '1 day' + g * interval '1 day' / greatest($1::bigint, 1)) AS e(t)`,
			args: []any{history}},
		{sql: index},
		{sql: "VACUUM (ANALYZE) task"},
	}
	if err := execSteps(ctx, conn, steps); err != nil {
		return fmt.Errorf("schema and history: %w", err)
	}
	if err := eagerAutovacuum(ctx, conn, env.Params); err != nil {
		return err
	}
	env.Logf("queue: loaded %d done jobs of history in %s", history, time.Since(started).Round(time.Millisecond))
	return nil
}

// config is one point's parameters.
type config struct {
	variant      string
	batch        int
	workers      int
	work         time.Duration
	workOnServer bool
	poll         time.Duration
	producer     string
	backlog      int
	rate         float64
	history      int64
	queueDepth   int
	feedInterval time.Duration
	duration     time.Duration
	// conns and flush: the fetcher variants' shared connections and completion flush interval.
	conns int
	flush time.Duration
	// longTxn is how long a session holds a snapshot beside the workers (0: none), and
	// idleTxnTimeout the idle_in_transaction_session_timeout that may end it first (longtxn.go).
	longTxn, idleTxnTimeout time.Duration
}

func (c config) queued() bool { return c.variant != VariantNaive }

func pointConfig(env *scenarios.Env, pt scenarios.Point) config {
	p := env.Params
	c := config{
		variant: pt.Variant, batch: 1, workers: pt.Workers,
		work: p.Duration("work"), workOnServer: p.String("work_on") == workOnServer, poll: p.Duration("poll"),
		producer: p.String("producer"), backlog: p.Int("backlog"), rate: p.Float("enqueue_rate"),
		history: int64(p.Int("history")), queueDepth: p.Int("queue_depth"),
		feedInterval: p.Duration("feed_interval"), duration: env.Duration, flush: p.Duration("flush"),
	}
	if b, ok := pt.Values["batch"].(int); ok {
		c.batch = b
	}
	if k, ok := pt.Values["conns"].(int); ok {
		c.conns = k
	}
	c.longTxn, c.idleTxnTimeout = longTxnOf(pt)
	if env.Rate > 0 {
		c.producer, c.rate = producerRate, env.Rate
	}
	if c.queueDepth == 0 {
		c.queueDepth = max(minQueueDepth, queueDepthPerWorker*c.workers*c.batch)
		if isFetcher(c.variant) {
			// A fetcher's worker holds one job at a time, however large the fetch batch.
			c.queueDepth = max(minQueueDepth, queueDepthPerWorker*c.workers)
		}
	}
	return c
}

// Run measures one point: it resets the tables to the history plus a fresh backlog, runs the
// workers (and the feeder and producer), then checks exactly-once and reads the tables' stats.
//
// In a sharded run shard 0 alone resets, feeds and checks, and the shards meet after the reset
// and before the check (shard.go).
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	role := roleOf(env, pt)
	c := pointConfig(env, pt)
	role.adjust(&c, env)
	// The control connection is reopened for the checks if the run lost it.
	ctl, err := loadgen.Redial(ctx, "queue control", env.Admin, loadgen.RedialOptions{})
	if err != nil {
		return result.Series{}, err
	}
	defer ctl.Close()
	admin, err := ctl.Conn(ctx)
	if err != nil {
		return result.Series{}, err
	}
	st := &runState{cfg: c, workerBase: role.workerBase}
	var before map[string]tableStats
	if role.owner() {
		if err := reset(ctx, admin, c); err != nil {
			return result.Series{}, err
		}
		if err := role.resetReports(ctx, admin); err != nil {
			return result.Series{}, err
		}
		if c.queued() {
			st.cursor = c.history
			if err := st.feedOnce(ctx, admin); err != nil {
				return result.Series{}, err
			}
			if _, err := admin.Exec(ctx, "ANALYZE task_queue"); err != nil {
				return result.Series{}, fmt.Errorf("queue reset: %w", err)
			}
		}
		if before, err = readTableStats(ctx, admin); err != nil {
			return result.Series{}, err
		}
	}
	watch, holder, err := startWatchAndHolder(ctx, env, c, role.owner())
	if err != nil {
		return result.Series{}, err
	}
	defer holder.stop()
	defer func() { _, _ = watch.stop() }()
	if err := role.ready(ctx); err != nil {
		return result.Series{}, err
	}

	load := env.Load.Copy()
	if load.RuntimeParams == nil {
		load.RuntimeParams = map[string]string{}
	}
	load.RuntimeParams["application_name"] = role.appName(env.Target.Schema())
	cfg := env.LoadConfig(c.workers, loadgen.ConnPerWorker)
	cfg.ConnConfig = load
	cfg.Rate = 0 // workers claim in a closed loop; --rate paces the producer instead

	bgCtx, stopBackground := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bgErrs := make(chan error, 3)
	// The fetchers' rate producer queues its jobs itself; a feeder beside it would race it
	// (reading a job as pending after its completion deleted its queue entry, and queueing it again).
	if c.queued() && role.owner() && !(isFetcher(c.variant) && c.producer == producerRate) {
		feeder, err := loadgen.Redial(ctx, "queue feeder", load, loadgen.RedialOptions{})
		if err != nil {
			stopBackground()
			return result.Series{}, err
		}
		st.feeder = feeder
		bg.Go(func() {
			defer feeder.Close()
			if err := st.feed(bgCtx, feeder); err != nil {
				bgErrs <- err
			}
		})
	}
	if c.producer == producerRate {
		producer, err := loadgen.Redial(ctx, "queue producer", load, loadgen.RedialOptions{})
		if err != nil {
			stopBackground()
			bg.Wait()
			return result.Series{}, err
		}
		st.producer = producer
		st.startProducer = func() {
			bg.Go(func() {
				defer producer.Close()
				if err := st.produce(bgCtx, producer); err != nil {
					bgErrs <- err
				}
			})
		}
		// Closed by the producer once it starts; closed here when no worker ever ran.
		defer func() {
			if !st.producerStarted.Load() {
				producer.Close()
			}
		}()
	}

	op := st.op
	var fetch *fetcher
	if isFetcher(c.variant) {
		fetch = newFetcher(st, c.conns, c.flush)
		cfg.Workers = len(fetch.lanes)
		op = func(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
			st.ensureProducer()
			return fetch.op(ctx, w, conn)
		}
		if fetch.notify {
			listener, err := loadgen.Redial(ctx, "queue listener", load, loadgen.RedialOptions{})
			if err != nil {
				stopBackground()
				bg.Wait()
				return result.Series{}, err
			}
			st.listener = listener
			bg.Go(func() {
				defer listener.Close()
				if err := fetch.listen(bgCtx, listener); err != nil {
					bgErrs <- err
				}
			})
		}
		fetch.start()
	}

	cpuBefore := processCPU()
	out, runErr := loadgen.Run(ctx, cfg, op)
	stopBackground()
	bg.Wait()
	if fetch != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
		runErr = errors.Join(runErr, fetch.drain(dctx, admin))
		cancel()
	}
	cpu := processCPU() - cpuBefore
	close(bgErrs)
	for err := range bgErrs {
		runErr = errors.Join(runErr, err)
	}
	if out == nil {
		return result.Series{}, runErr
	}
	series, err := out.Series()
	if err != nil {
		return series, errors.Join(runErr, err)
	}
	if acked := st.acknowledged.Load(); acked > 0 {
		series.Metrics[MetricClientCPUMsPer1kJobs] = cpu.Seconds() * 1e3 / float64(acked) * 1000
	}
	if fetch != nil {
		series.Metrics[MetricConns] = float64(len(fetch.lanes))
	}

	// The checks run even after an interrupt, on a context of their own, so the result says
	// whether what ran was exactly-once.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	if admin, err = ctl.Live(cctx); err != nil {
		return series, errors.Join(runErr, err)
	}
	ctl.AddMetrics(series.Metrics, result.MetricPrefixControl)
	terminated := endWorkerBackends(cctx, admin, role.appName(env.Target.Schema()))
	series.Metrics[MetricBackendsTerminatedAfterRun] = float64(terminated)
	if err := role.finish(ctx, cctx, admin, st); err != nil {
		return series, errors.Join(runErr, err)
	}
	if !role.owner() {
		st.addWorkerMetrics(series.Metrics, series.DurationS)
		s.noteSweep(c, series.Metrics)
		return series, runErr
	}
	sc, err := role.gather(cctx, admin, st)
	if err != nil {
		return series, errors.Join(runErr, err)
	}
	after, err := readTableStats(cctx, admin)
	if err != nil {
		return series, errors.Join(runErr, err)
	}
	holder.stop() // held through the end-of-point figures, as through the point
	readings, werr := watch.stop()
	joinTableTimeline(&series, readings, before)
	if werr != nil {
		env.Logf("queue: the per-second table figures have gaps: %v", werr)
	}
	if isFetcher(c.variant) && c.producer == producerRate {
		// No feeder ran: the producer queued every job itself, so every pending job must have
		// its queue entry, whatever its id.
		st.cursor = math.MaxInt64
	}
	check, err := st.check(cctx, admin)
	if err == nil {
		err = role.abandoned(cctx, admin, st, &sc, &check)
	}
	if err != nil {
		return series, errors.Join(runErr, err)
	}
	st.addMetrics(series.Metrics, series.DurationS, before, after, check)
	if env.Params.Given(paramLongTxn) {
		addLongTxnFigures(&series, holder, readings) // after jobs_per_s, which it splits into thirds
		series.Sentence = longTxnSentence(series.Metrics)
		env.Logf("queue: %s", series.Sentence)
	}
	role.addMetrics(series.Metrics, sc)
	s.noteSweep(c, series.Metrics)
	if line := s.designs.note(c, series.Metrics); line != "" {
		env.Logf("queue: %s", line)
	}
	if c.producer == producerBacklog && check.pending == 0 {
		env.Logf("queue: %s at %d workers drained its backlog of %d jobs before the run ended: jobs_per_s "+
			"undercounts what it could do (raise --set backlog)", c.variant, c.workers, c.backlog)
	}
	return series, runErr
}
