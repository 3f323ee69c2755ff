// Package queue is the job-queue scenario: workers, each on a connection of its own as separate
// agents are, claim jobs with FOR UPDATE SKIP LOCKED, do the work and mark them done. It replays
// "Using database as a job queue" from the seed article on scaling to 1.2bn records: claiming
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
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/harness"
	"github.com/pgscale/pgscale/loadgen"
	"github.com/pgscale/pgscale/report"
	"github.com/pgscale/pgscale/scenarios"
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

var variants = []string{VariantNaive, VariantDedicated, VariantBatch, VariantDeleteReturning}

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
	// workerAppName marks the scenario's load connections in pg_stat_activity.
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
		return &scenario{saturation: scenarios.SaturationTracker{Metric: "saturation_workers", Share: saturationShare}}
	})
}

type scenario struct {
	// saturation finds, per variant (and batch size), the worker count where jobs/s stops
	// growing, across the run's points.
	saturation scenarios.SaturationTracker
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
			"the harness.",
		Variants: variants,
		Headline: &report.Headline{Metric: "jobs_per_s", Label: "job throughput", Unit: "jobs/s", Better: report.BetterHigher},
		Params: []scenarios.ParamSpec{
			scenarios.VariantsParam(variants...),
			{Name: "workers", Kind: scenarios.KindInt, List: true, Default: "10,100,500,1000,2000", Quick: "50", Min: 1,
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
			// 30 s + 5 s; 50,000 does the same over --quick's 3 s + 1 s.
			{Name: "backlog", Kind: scenarios.KindInt, Default: "500000", Quick: "50000",
				Help: "pending jobs loaded before each point (producer=backlog)"},
			{Name: "enqueue_rate", Kind: scenarios.KindFloat, Default: "1000", Min: 1,
				Help: "jobs per second the producer enqueues (producer=rate)"},
			{Name: "history", Kind: scenarios.KindInt, Default: "1000000", Quick: "100000",
				Help: "done jobs the task table holds before the run"},
			{Name: "batch", Kind: scenarios.KindInt, List: true, Default: "10", Min: 1,
				Help: "jobs claimed per round trip by the batch variant"},
			{Name: "queue_depth", Kind: scenarios.KindInt, Default: "0",
				Help: "outstanding jobs the feeder keeps in the queue table; 0: max(1000, 2 x workers x batch)"},
			{Name: "feed_interval", Kind: scenarios.KindDuration, Default: "100ms",
				Help: "how often the feeder tops the queue table up (the article's: 1s)"},
			{Name: "poll", Kind: scenarios.KindDuration, Default: "100ms",
				Help: "how long a worker that found no job waits before claiming again"},
			{Name: "naive_index", Kind: scenarios.KindString, Default: naiveIndexStatus,
				Choices: []string{naiveIndexStatus, naiveIndexStatusID},
				Help:    "index on the task table beside its primary key: status, or (status, id)"},
		},
		Duration: 30 * time.Second, Warmup: 5 * time.Second,
		QuickDuration: 3 * time.Second, QuickWarmup: time.Second,
		Shardable: true, // shard 0 resets, feeds and checks the one queue (shard.go)
	}
}

// Plan checks what the parameter specs cannot (their Min of 0 already refuses negative numbers and
// durations) and expands workers × variants (× batch sizes for
// the batch variant). Each worker count gets max_connections to fit.
func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	var errs []error
	if p.String("producer") == producerBacklog && p.Int("backlog") < 1 {
		errs = append(errs, harness.Usagef("--set backlog=%d: producer=backlog needs at least 1 job (or --set producer=rate)", p.Int("backlog")))
	}
	for _, name := range []string{"feed_interval", "poll"} {
		if d := p.Duration(name); d < time.Millisecond {
			errs = append(errs, harness.Usagef("--set %s=%s: must be at least 1ms", name, d))
		}
	}
	if len(errs) > 0 {
		return scenarios.Plan{}, &harness.UsageError{Msg: errors.Join(errs...).Error()}
	}
	var plan scenarios.Plan
	for _, workers := range p.Ints("workers") {
		settings := map[string]string{"max_connections": fmt.Sprint(max(minMaxConnections, workers+connHeadroom))}
		for _, v := range p.Strings("variants") {
			batches := []int{1}
			if v == VariantBatch {
				batches = p.Ints("batch")
			}
			for _, b := range batches {
				values := map[string]any{"workers": workers}
				if v == VariantBatch {
					values["batch"] = b
				}
				plan.Points = append(plan.Points, scenarios.Point{
					Variant: v, Values: values, Workers: workers, Settings: settings,
				})
			}
		}
	}
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
}

func (c config) queued() bool { return c.variant != VariantNaive }

func pointConfig(env *scenarios.Env, pt scenarios.Point) config {
	p := env.Params
	c := config{
		variant: pt.Variant, batch: 1, workers: pt.Workers,
		work: p.Duration("work"), workOnServer: p.String("work_on") == workOnServer, poll: p.Duration("poll"),
		producer: p.String("producer"), backlog: p.Int("backlog"), rate: p.Float("enqueue_rate"),
		history: int64(p.Int("history")), queueDepth: p.Int("queue_depth"),
		feedInterval: p.Duration("feed_interval"), duration: env.Duration,
	}
	if b, ok := pt.Values["batch"].(int); ok {
		c.batch = b
	}
	if env.Rate > 0 {
		c.producer, c.rate = producerRate, env.Rate
	}
	if c.queueDepth == 0 {
		c.queueDepth = max(minQueueDepth, queueDepthPerWorker*c.workers*c.batch)
	}
	return c
}

// Run measures one point: it resets the tables to the history plus a fresh backlog, runs the
// workers (and the feeder and producer), then checks exactly-once and reads the tables' stats.
//
// In a sharded run shard 0 alone resets, feeds and checks, and the shards meet after the reset
// and before the check (shard.go).
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (report.Series, error) {
	role := roleOf(ctx, pt)
	c := pointConfig(env, pt)
	role.adjust(&c, env)
	admin, err := env.AdminConn(ctx)
	if err != nil {
		return report.Series{}, err
	}
	defer admin.Close(context.Background())
	st := &runState{cfg: c, workerBase: role.workerBase}
	var before map[string]tableStats
	if role.owner() {
		if err := reset(ctx, admin, c); err != nil {
			return report.Series{}, err
		}
		if err := role.resetReports(ctx, admin); err != nil {
			return report.Series{}, err
		}
		if c.queued() {
			st.cursor = c.history
			if err := st.feedOnce(ctx, admin); err != nil {
				return report.Series{}, err
			}
			if _, err := admin.Exec(ctx, "ANALYZE task_queue"); err != nil {
				return report.Series{}, fmt.Errorf("queue reset: %w", err)
			}
		}
		if before, err = readTableStats(ctx, admin); err != nil {
			return report.Series{}, err
		}
	}
	if err := role.ready(ctx); err != nil {
		return report.Series{}, err
	}

	load := env.Load.Copy()
	if load.RuntimeParams == nil {
		load.RuntimeParams = map[string]string{}
	}
	load.RuntimeParams["application_name"] = role.appName()
	cfg := env.LoadConfig(c.workers, loadgen.ConnPerWorker)
	cfg.ConnConfig = load
	cfg.Rate = 0 // workers claim in a closed loop; --rate paces the producer instead

	bgCtx, stopBackground := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bgErrs := make(chan error, 2)
	if c.queued() && role.owner() {
		feeder, err := loadgen.Connect(ctx, load, 10*time.Second)
		if err != nil {
			stopBackground()
			return report.Series{}, fmt.Errorf("queue feeder: %w", err)
		}
		bg.Go(func() {
			defer feeder.Close(context.Background())
			if err := st.feed(bgCtx, feeder); err != nil {
				bgErrs <- err
			}
		})
	}
	if c.producer == producerRate {
		producer, err := loadgen.Connect(ctx, load, 10*time.Second)
		if err != nil {
			stopBackground()
			bg.Wait()
			return report.Series{}, fmt.Errorf("queue producer: %w", err)
		}
		st.startProducer = func() {
			bg.Go(func() {
				defer producer.Close(context.Background())
				if err := st.produce(bgCtx, producer); err != nil {
					bgErrs <- err
				}
			})
		}
		// Closed by the producer once it starts; closed here when no worker ever ran.
		defer func() {
			if !st.producerStarted.Load() {
				producer.Close(context.Background())
			}
		}()
	}

	out, runErr := loadgen.Run(ctx, cfg, st.op)
	stopBackground()
	bg.Wait()
	close(bgErrs)
	for err := range bgErrs {
		runErr = errors.Join(runErr, err)
	}
	if out == nil {
		return report.Series{}, runErr
	}
	series, err := out.Series()
	if err != nil {
		return series, errors.Join(runErr, err)
	}

	// The checks run even after an interrupt, on a context of their own, so the result says
	// whether what ran was exactly-once.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	terminated := endWorkerBackends(cctx, admin, role.appName())
	series.Metrics["backends_terminated_after_run"] = float64(terminated)
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
	check, err := st.check(cctx, admin)
	if err == nil {
		err = role.abandoned(cctx, admin, st, &sc, &check)
	}
	if err != nil {
		return series, errors.Join(runErr, err)
	}
	st.addMetrics(series.Metrics, series.DurationS, before, after, check)
	role.addMetrics(series.Metrics, sc)
	s.noteSweep(c, series.Metrics)
	if c.producer == producerBacklog && check.pending == 0 {
		env.Logf("queue: %s at %d workers drained its backlog of %d jobs before the run ended: jobs_per_s "+
			"undercounts what it could do (raise --set backlog)", c.variant, c.workers, c.backlog)
	}
	return series, runErr
}

// reset brings the tables back to the history alone, then loads the backlog, so that every point
// starts from the same state.
func reset(ctx context.Context, conn *pgx.Conn, c config) error {
	steps := []step{
		{sql: "DELETE FROM task WHERE id > $1", args: []any{c.history}},
		{sql: "TRUNCATE task_queue, done_log RESTART IDENTITY"},
		// Ids continue after the history, so that every job of this point has id > history.
		{sql: "SELECT setval(pg_get_serial_sequence('task', 'id'), greatest($1::bigint, 1), $1::bigint > 0)", args: []any{c.history}},
	}
	if c.producer == producerBacklog {
		steps = append(steps, step{sql: "INSERT INTO task (status, payload) SELECT 'pending', md5(g::text) FROM generate_series(1, $1::int) g",
			args: []any{c.backlog}})
	}
	steps = append(steps, step{sql: "VACUUM (ANALYZE) task"})
	if err := execSteps(ctx, conn, steps); err != nil {
		return fmt.Errorf("queue reset: %w", err)
	}
	return nil
}

// step is one statement of a setup or reset.
type step struct {
	sql  string
	args []any
}

func execSteps(ctx context.Context, conn *pgx.Conn, steps []step) error {
	for _, st := range steps {
		if _, err := conn.Exec(ctx, st.sql, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// Statements. Each claim is one round trip and each completion another (delete-returning pipelines
// BEGIN with its claim and its completion with COMMIT), so that added network latency weighs the
// same on every variant.
const (
	// claimNaive takes the first pending job straight from the task table.
	claimNaive = `UPDATE task SET status = 'running', attempted_at = clock_timestamp(), claim_token = $1
WHERE id = (SELECT id FROM task WHERE status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id`
	// claimDedicated is the article's schedule_cinema_data_task in one statement: mark the first
	// unattempted queue entry, and the task's last attempt.
	claimDedicated = `WITH q AS (
  UPDATE task_queue SET attempted_at = clock_timestamp(), claim_token = $1
  WHERE id = (SELECT id FROM task_queue WHERE attempted_at IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING task_id
)
UPDATE task t SET status = 'running', attempted_at = clock_timestamp(), claim_token = $1
FROM q WHERE t.id = q.task_id
RETURNING t.id`
	// claimBatch is claimDedicated for up to $2 entries. ARRAY(…) makes the locking subquery run
	// once; with IN (…) the planner may run it again and claim more than $2.
	claimBatch = `WITH q AS (
  UPDATE task_queue SET attempted_at = clock_timestamp(), claim_token = $1
  WHERE id = ANY (ARRAY(SELECT id FROM task_queue WHERE attempted_at IS NULL ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED))
  RETURNING task_id
)
UPDATE task t SET status = 'running', attempted_at = clock_timestamp(), claim_token = $1
FROM q WHERE t.id = q.task_id
RETURNING t.id`
	// claimDelete removes the first queue entry inside a transaction that stays open until the job
	// is done: a worker that dies rolls back, and the entry is there again.
	claimDelete = `DELETE FROM task_queue
WHERE id = (SELECT id FROM task_queue ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING task_id`
	// completeTask marks jobs done and logs each completion with its time from enqueue to done.
	// It does not check the status it overwrites: a job claimed twice would be logged twice, which
	// is what the exactly-once check looks for.
	completeTask = `WITH done AS (
  UPDATE task SET status = 'done', done_at = clock_timestamp() WHERE id = ANY ($1) RETURNING id, enqueued_at, done_at
)
INSERT INTO done_log (task_id, done_at, end_to_end_s)
SELECT id, done_at, extract(epoch FROM done_at - enqueued_at)::float8 FROM done
RETURNING end_to_end_s`
	// completeQueued is completeTask that also deletes the queue entries (the article's fix).
	completeQueued = `WITH dq AS (
  DELETE FROM task_queue WHERE task_id = ANY ($1)
), done AS (
  UPDATE task SET status = 'done', done_at = clock_timestamp() WHERE id = ANY ($1) RETURNING id, enqueued_at, done_at
)
INSERT INTO done_log (task_id, done_at, end_to_end_s)
SELECT id, done_at, extract(epoch FROM done_at - enqueued_at)::float8 FROM done
RETURNING end_to_end_s`
	// feedQueue is the article's update_cinema_data_task_queue: when fewer than $2 entries wait,
	// add the next pending tasks after the cursor $1 (the highest task id fed so far).
	feedQueue = `WITH outstanding AS (
  SELECT count(*) AS n FROM task_queue WHERE attempted_at IS NULL
), fed AS (
  INSERT INTO task_queue (task_id)
  SELECT t.id FROM task t
  WHERE t.id > $1 AND t.status = 'pending'
  ORDER BY t.id
  LIMIT greatest($2 - (SELECT n FROM outstanding), 0)
  ON CONFLICT (task_id) DO NOTHING
  RETURNING task_id
)
SELECT coalesce(max(task_id), $1), count(*) FROM fed`
	// produce enqueues $1 jobs.
	produce = `INSERT INTO task (status, payload) SELECT 'pending', md5(random()::text) FROM generate_series(1, $1::int)`
)

// runState is what one point's workers, feeder and producer share.
type runState struct {
	cfg config

	// Counted over the measured window (claims that finish in it, jobs done in it); cut-off claims
	// are those the end of the run interrupted.
	jobs, claims, emptyClaims, cutOffClaims atomic.Int64
	// enqueued counts the rate producer's jobs.
	enqueued atomic.Int64
	// acknowledged counts the jobs whose completion the workers saw succeed, warm-up included.
	acknowledged atomic.Int64
	// workerBase numbers this shard's workers after those of the shards before it, so that claim
	// tokens are unique over a sharded run (0 in a whole run).
	workerBase int

	// uncertain holds the tokens of claims whose outcome the worker never learnt (cut off by the
	// end of the run, or failed): a job left running under one of them is not lost.
	mu        sync.Mutex
	uncertain []int64

	// cursor is the highest task id the feeder has put in the queue table (feeder only).
	cursor   int64
	feedErrs atomic.Int64

	startProducer   func()
	producerOnce    sync.Once
	producerStarted atomic.Bool
}

type workerState struct{ seq uint32 }

// inWindow reports whether t falls in the measured window: the run's context ends at the end of
// the measurement, which began cfg.duration before.
func (st *runState) inWindow(ctx context.Context, t time.Time) bool {
	end, ok := ctx.Deadline()
	if !ok {
		return true
	}
	return t.Before(end) && !t.Before(end.Add(-st.cfg.duration))
}

// op is one job (or one batch): claim until a job is found, do the work, complete.
func (st *runState) op(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
	if st.startProducer != nil {
		st.producerOnce.Do(func() {
			st.producerStarted.Store(true)
			st.startProducer()
		})
	}
	ws, ok := w.State.(*workerState)
	if !ok {
		ws = &workerState{}
		w.State = ws
	}
	// Claims and jobs are counted, and observed, at the moment they finish: a claim begun in the
	// warm-up that ends in the measured window is a measured claim, and one that never ends (cut
	// off by the end of the run) counts with its time so far, a lower bound; dropping either
	// would hide exactly the slow claims this scenario is about.
	var ids []int64
	var token int64 // the claim's token, unique over every shard's workers
	for {
		ws.seq++
		token = int64(st.workerBase+w.ID)<<32 | int64(ws.seq)
		claimStarted := time.Now()
		var err error
		ids, err = st.claim(ctx, conn, token, ids[:0])
		finished := time.Now()
		d := finished.Sub(claimStarted)
		if err != nil {
			st.addUncertain(token)
			if ctx.Err() != nil {
				w.Observe("claim", finished, d)
				st.cutOffClaims.Add(1)
				return ctx.Err()
			}
			return fmt.Errorf("queue claim: %w", err)
		}
		w.Observe("claim", finished, d)
		if st.inWindow(ctx, finished) {
			st.claims.Add(1)
			if len(ids) == 0 {
				st.emptyClaims.Add(1)
			}
		}
		if len(ids) > 0 {
			break
		}
		t := time.NewTimer(st.cfg.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	// The work and the completion run to the end even when the run's clock runs out, so that a
	// claimed job is finished, not abandoned. The completion's time limit starts after the work,
	// however long the work is.
	if err := st.work(context.WithoutCancel(ctx), conn, len(ids)); err != nil {
		st.addUncertain(token)
		return fmt.Errorf("queue work: %w", err)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
	defer cancel()
	started := time.Now()
	e2e, err := st.complete(cctx, conn, ids)
	done := time.Now()
	if err != nil {
		st.addUncertain(token)
		return fmt.Errorf("queue complete: %w", err)
	}
	w.Observe("complete", started, done.Sub(started))
	st.acknowledged.Add(int64(len(e2e)))
	for _, s := range e2e {
		w.Observe("end_to_end", done, time.Duration(s*float64(time.Second)))
	}
	if st.inWindow(ctx, done) {
		st.jobs.Add(int64(len(e2e)))
	}
	return nil
}

// work spends the configured time on the claimed jobs: asleep in the worker, or in pg_sleep on
// its connection.
func (st *runState) work(ctx context.Context, conn *pgx.Conn, jobs int) error {
	d := st.cfg.work * time.Duration(jobs)
	if d <= 0 {
		return nil
	}
	if !st.cfg.workOnServer {
		time.Sleep(d)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d+completeTimeout) // the work, and as long as a completion may take
	defer cancel()
	_, err := conn.Exec(ctx, "SELECT pg_sleep($1)", d.Seconds())
	return err
}

func (st *runState) addUncertain(token int64) {
	st.mu.Lock()
	st.uncertain = append(st.uncertain, token)
	st.mu.Unlock()
}

// claim returns the ids of the jobs it claimed, none when the queue had nothing to give.
func (st *runState) claim(ctx context.Context, conn *pgx.Conn, token int64, ids []int64) ([]int64, error) {
	var rows pgx.Rows
	var err error
	switch st.cfg.variant {
	case VariantNaive:
		rows, err = conn.Query(ctx, claimNaive, token)
	case VariantDedicated:
		rows, err = conn.Query(ctx, claimDedicated, token)
	case VariantBatch:
		rows, err = conn.Query(ctx, claimBatch, token, st.cfg.batch)
	case VariantDeleteReturning:
		return claimInTransaction(ctx, conn, ids)
	default:
		return nil, fmt.Errorf("unknown variant %q", st.cfg.variant)
	}
	if err != nil {
		return ids, err
	}
	return collectIDs(rows, ids)
}

func collectIDs(rows pgx.Rows, ids []int64) ([]int64, error) {
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// claimInTransaction opens a transaction and deletes the first queue entry in one round trip. The
// transaction stays open until the completion commits it; with nothing claimed it ends at once.
func claimInTransaction(ctx context.Context, conn *pgx.Conn, ids []int64) ([]int64, error) {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(claimDelete)
	br := conn.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			ids, err = collectIDs(rows, ids)
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(ids) == 0 {
		endTransaction(ctx, conn)
	}
	return ids, err
}

// endTransaction rolls back whatever transaction a failed or empty claim left open.
func endTransaction(ctx context.Context, conn *pgx.Conn) {
	if conn.IsClosed() || ctx.Err() != nil {
		return // the server rolls back as the connection goes
	}
	_, _ = conn.Exec(ctx, "ROLLBACK")
}

// complete marks ids done and returns each job's time from enqueue to done, in seconds.
func (st *runState) complete(ctx context.Context, conn *pgx.Conn, ids []int64) ([]float64, error) {
	var e2e []float64
	scan := func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var s float64
			if err := rows.Scan(&s); err != nil {
				return err
			}
			e2e = append(e2e, s)
		}
		return rows.Err()
	}
	switch st.cfg.variant {
	case VariantNaive:
		rows, err := conn.Query(ctx, completeTask, ids)
		if err != nil {
			return nil, err
		}
		return e2e, scan(rows)
	case VariantDeleteReturning:
		b := &pgx.Batch{}
		b.Queue(completeTask, ids)
		b.Queue("COMMIT")
		br := conn.SendBatch(ctx, b)
		rows, err := br.Query()
		if err == nil {
			err = scan(rows)
		}
		if err == nil {
			_, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			endTransaction(ctx, conn)
		}
		return e2e, err
	default:
		rows, err := conn.Query(ctx, completeQueued, ids)
		if err != nil {
			return nil, err
		}
		return e2e, scan(rows)
	}
}

// feedOnce tops the queue table up once.
func (st *runState) feedOnce(ctx context.Context, conn *pgx.Conn) error {
	var cursor, fed int64
	if err := conn.QueryRow(ctx, feedQueue, st.cursor, st.cfg.queueDepth).Scan(&cursor, &fed); err != nil {
		return fmt.Errorf("queue feeder: %w", err)
	}
	st.cursor = cursor
	return nil
}

// feed tops the queue table up every feed interval until ctx ends, as the article's feeder does
// every second. A failed round is counted and tried again; ten in a row end the run.
func (st *runState) feed(ctx context.Context, conn *pgx.Conn) error {
	t := time.NewTicker(st.cfg.feedInterval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := st.feedOnce(ctx, conn); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			st.feedErrs.Add(1)
			if failures++; failures >= 10 {
				return err
			}
			continue
		}
		failures = 0
	}
}

// produce enqueues jobs at cfg.rate from its start until ctx ends, catching up after a slow
// insert rather than slowing down (an open loop).
func (st *runState) produce(ctx context.Context, conn *pgx.Conn) error {
	start := time.Now()
	t := time.NewTicker(produceTick)
	defer t.Stop()
	var inserted int64
	for {
		due := int64(st.cfg.rate * time.Since(start).Seconds())
		if n := min(due-inserted, maxProduceBatch); n > 0 {
			if _, err := conn.Exec(ctx, produce, n); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("queue producer: %w", err)
			}
			inserted += n
			st.enqueued.Store(inserted)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tableStats are one table's figures from pg_class and pg_stat_user_tables.
type tableStats struct {
	tableBytes, indexBytes            int64
	deadTuples                        int64
	autovacuumCount, autoanalyzeCount int64
}

// readTableStats reads the figures of task and task_queue, keyed "task" and "queue".
func readTableStats(ctx context.Context, conn *pgx.Conn) (map[string]tableStats, error) {
	rows, err := conn.Query(ctx, `
SELECT c.relname::text, pg_table_size(c.oid), pg_indexes_size(c.oid),
       coalesce(s.n_dead_tup, 0), coalesce(s.autovacuum_count, 0), coalesce(s.autoanalyze_count, 0)
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid IN (to_regclass('task'), to_regclass('task_queue'))`)
	if err != nil {
		return nil, fmt.Errorf("queue table stats: %w", err)
	}
	out := map[string]tableStats{}
	var name string
	var t tableStats
	_, err = pgx.ForEachRow(rows, []any{&name, &t.tableBytes, &t.indexBytes, &t.deadTuples, &t.autovacuumCount, &t.autoanalyzeCount}, func() error {
		key := "task"
		if name == "task_queue" {
			key = "queue"
		}
		out[key] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue table stats: %w", err)
	}
	return out, nil
}

// endWorkerBackends waits for the workers', feeder's and producer's backends to exit (they
// report their table statistics, dead tuples among them, as they exit) and terminates those still
// running after backendsGrace: a claim cut off by the end of the run may still be scanning when
// its client has gone, as the cancel request that would stop it queues behind the load, and
// would hold a core for minutes. It returns how many it terminated.
func endWorkerBackends(ctx context.Context, conn *pgx.Conn, appName string) int {
	const query = `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()`
	remaining := func() int {
		var n int
		if err := conn.QueryRow(ctx, query, appName).Scan(&n); err != nil {
			return 0
		}
		return n
	}
	wait := func(d time.Duration) bool {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if remaining() == 0 {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	if wait(backendsGrace) {
		return 0
	}
	var terminated int
	_ = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()`, appName).Scan(&terminated)
	wait(backendsGoneTimeout)
	return terminated
}

// checkResult is the exactly-once check of one point.
type checkResult struct {
	enqueued, done, pending      int64
	interrupted                  int64 // running under a claim whose outcome the worker never learnt
	lost, duplicated             int64
	orphaned, unqueued, unlogged int64 // the parts of lost
}

// check verifies exactly-once over the jobs of this point (ids above the history): every job is
// done exactly once, or still pending (and, with a queue table, queued or not yet fed), or was
// running under a claim the run cut off.
func (st *runState) check(ctx context.Context, conn *pgx.Conn) (checkResult, error) {
	st.mu.Lock()
	uncertain := slices.Clone(st.uncertain)
	st.mu.Unlock()
	var r checkResult
	var historyLogged int64
	err := conn.QueryRow(ctx, `
WITH d AS (SELECT task_id, count(*) AS n FROM done_log GROUP BY task_id)
SELECT count(*),
       count(*) FILTER (WHERE t.status = 'done'),
       count(*) FILTER (WHERE t.status = 'pending'),
       count(*) FILTER (WHERE t.status = 'running' AND t.claim_token = ANY ($2::bigint[])),
       count(*) FILTER (WHERE t.status = 'running' AND NOT coalesce(t.claim_token = ANY ($2::bigint[]), false)),
       count(*) FILTER (WHERE t.status = 'done' AND d.n IS NULL),
       coalesce(sum(d.n - 1) FILTER (WHERE d.n > 1), 0)::bigint,
       (SELECT count(*) FROM done_log WHERE task_id <= $1)
FROM task t LEFT JOIN d ON d.task_id = t.id
WHERE t.id > $1`, st.cfg.history, uncertain).Scan(
		&r.enqueued, &r.done, &r.pending, &r.interrupted, &r.orphaned, &r.unlogged, &r.duplicated, &historyLogged)
	if err != nil {
		return r, fmt.Errorf("queue exactly-once check: %w", err)
	}
	// A completion of a job of the history, done before the run, is a job done twice.
	r.duplicated += historyLogged
	if st.cfg.queued() {
		// A pending task the feeder passed over that has no queue entry will never be claimed.
		err := conn.QueryRow(ctx, `
SELECT count(*) FROM task t
WHERE t.id > $1 AND t.id <= $2 AND t.status = 'pending'
  AND NOT EXISTS (SELECT 1 FROM task_queue q WHERE q.task_id = t.id)`, st.cfg.history, st.cursor).Scan(&r.unqueued)
		if err != nil {
			return r, fmt.Errorf("queue exactly-once check: %w", err)
		}
	}
	r.lost = r.orphaned + r.unqueued + r.unlogged
	return r, nil
}

// addMetrics puts the point's figures into the series' metrics.
func (st *runState) addMetrics(m map[string]float64, measuredS float64, before, after map[string]tableStats, c checkResult) {
	st.addWorkerMetrics(m, measuredS)
	st.addServerMetrics(m, before, after, c)
}

// addWorkerMetrics puts the figures this process's workers counted into the metrics.
func (st *runState) addWorkerMetrics(m map[string]float64, measuredS float64) {
	if measuredS > 0 {
		m["jobs_per_s"] = float64(st.jobs.Load()) / measuredS
	}
	claims := st.claims.Load()
	m["claims"] = float64(claims)
	m["claims_empty"] = float64(st.emptyClaims.Load())
	m["claims_cut_off"] = float64(st.cutOffClaims.Load())
	if claims > 0 {
		m["idle_worker_fraction"] = float64(st.emptyClaims.Load()) / float64(claims)
	}
}

// addServerMetrics puts the figures read from the server, the exactly-once check's among them,
// into the metrics.
func (st *runState) addServerMetrics(m map[string]float64, before, after map[string]tableStats, c checkResult) {
	m["jobs_enqueued"] = float64(c.enqueued)
	m["jobs_done"] = float64(c.done)
	m["jobs_pending_at_end"] = float64(c.pending)
	m["jobs_interrupted"] = float64(c.interrupted)
	m["jobs_lost"] = float64(c.lost)
	m["jobs_duplicated"] = float64(c.duplicated)
	if st.cfg.producer == producerBacklog {
		drained := 0.0
		if c.pending == 0 {
			drained = 1
		}
		m["backlog_drained"] = drained
	}
	if st.cfg.queued() {
		m["queue_depth"] = float64(st.cfg.queueDepth)
		m["feeder_errors"] = float64(st.feedErrs.Load())
	}
	var dead, tableGrowth, indexGrowth, autovacuums float64
	for _, key := range []string{"task", "queue"} {
		a, b := after[key], before[key]
		m[key+"_dead_tuples"] = float64(a.deadTuples)
		m[key+"_table_growth_bytes"] = float64(a.tableBytes - b.tableBytes)
		m[key+"_index_growth_bytes"] = float64(a.indexBytes - b.indexBytes)
		m[key+"_autovacuum_runs"] = float64(a.autovacuumCount - b.autovacuumCount)
		m[key+"_autoanalyze_runs"] = float64(a.autoanalyzeCount - b.autoanalyzeCount)
		dead += float64(a.deadTuples)
		tableGrowth += float64(a.tableBytes - b.tableBytes)
		indexGrowth += float64(a.indexBytes - b.indexBytes)
		autovacuums += float64(a.autovacuumCount - b.autovacuumCount)
	}
	m["dead_tuples"] = dead
	m["table_growth_bytes"] = tableGrowth
	m["index_growth_bytes"] = indexGrowth
	m["autovacuum_runs"] = autovacuums
}

// noteSweep records the point's jobs/s and sets saturation_workers on every series of the same
// variant (and batch size) measured so far. The metrics maps are the ones in the series already
// handed to the runner, which keeps them in its result; the last series of a variant has the value
// over the whole sweep in any case.
func (s *scenario) noteSweep(c config, m map[string]float64) {
	s.saturation.Note(fmt.Sprintf("%s/%d", c.variant, c.batch), c.workers, m["jobs_per_s"], m)
}
