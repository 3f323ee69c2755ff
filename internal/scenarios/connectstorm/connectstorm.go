// Package connectstorm is the connect-storm scenario: serverless function instances that talk to
// PostgreSQL, each request inserting an event and reading back what it wrote, until the server's
// max_connections runs out.
//
// Four variants share one request:
//   - cold: every request connects, works and closes (the naive function);
//   - warm: each instance keeps one connection in global scope and reuses it, until the platform
//     recycles the instance (idle timeout, maximum age, or a cold start by chance);
//   - pooled: the cold function, connecting per request to a PgBouncer in transaction mode;
//   - retry-batch: the warm function with the article's workaround: a request that cannot get
//     a connection fails fast (the article's 413), and the client keeps its events queued and sends
//     them all with its next attempt. Events are idempotent (primary key, ON CONFLICT DO NOTHING),
//     so a retry never stores an event twice.
//
// Every variant manages its connections itself (loadgen.ConnNone): a request whose connect fails
// still generated its event, so events generated, stored and lost are counted exactly, against
// the rows in the database.
//
// The sweep is workers (concurrent instances) × max_connections; per point the series carries
// errors by class (53300 split from 53300_reserved), the connect-time histogram, peak and mean
// backends, memory per backend, a Little's-law check and the events account; across the sweep,
// the concurrency at which errors begin and the highest error-free rate.
package connectstorm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Name of the scenario.
const Name = "connect-storm"

// Variants.
const (
	VariantCold       = "cold"
	VariantWarm       = "warm"
	VariantPooled     = "pooled"
	VariantRetryBatch = "retry-batch"
)

var allVariants = []string{VariantCold, VariantWarm, VariantPooled, VariantRetryBatch}

// Roles the load connects as.
const (
	// RoleApp is a login role without superuser rights created for each point, as an application
	// connects: it runs out at max_connections minus superuser_reserved_connections, with
	// "remaining connection slots are reserved" (53300_reserved).
	RoleApp = "app"
	// RoleTarget is the target's own user (a superuser on the local target): it may use the
	// reserved slots too and meets the plain "too many clients already" (53300).
	RoleTarget = "target"
)

// Table is the events table; its primary key makes every event idempotent.
const Table = "connect_storm_events"

// AppName is the application_name of every load connection, which tells load backends apart from
// the sampler's and the scenario's own in pg_stat_activity.
const AppName = "pgscale-connect-storm"

// headroom is how many connections beyond the load every point needs: PostgreSQL's default
// superuser_reserved_connections (3), the runner's sampler and this scenario's monitor. The
// smallest max_connections and the largest pool size are derived from it.
const headroom = 5

// connectTimeout bounds one connection attempt: loadgen's default, so that every variant waits as
// long for a connection. A server that is out of slots answers 53300 at once; the timeout only
// matters when the postmaster cannot keep up.
const connectTimeout = 10 * time.Second

func init() { scenarios.Register(Name, func() scenarios.Scenario { return &scenario{} }) }

type scenario struct {
	// maxWorkers is the largest workers value of the plan: the point that closes a sweep.
	maxWorkers int
	// poolSize is the PgBouncer pool size asked for (0 without a pooled variant).
	poolSize int
	// nextPoint numbers the points of a run; events rows carry it.
	nextPoint int32
	// sweeps tracks, per variant and max_connections, where errors begin (see sweepState).
	sweeps map[sweepKey]*sweepState
}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "serverless functions per request: cold connects, warm reuse, PgBouncer, retry-batch, vs max_connections",
		Shows: "Where 53300 too_many_connections starts as concurrent function instances grow past " +
			"max_connections; what a connect costs; warm reuse and PgBouncer against a connect per request; " +
			"the article's 413-and-batch workaround, with every event accounted for in the database; " +
			"the rate cap max_connections / time per request (200 connections at 250 ms: 800 req/s).",
		Variants:  allVariants,
		Headline:  &result.Headline{Metric: result.HeadlineThroughput, Label: "request throughput", Unit: "requests/s", Better: result.BetterHigher},
		Intrusive: true,
		Params: []scenarios.ParamSpec{
			quickVariants(),
			{Name: "workers", Kind: scenarios.KindInt, List: true, Default: "25,100,200,400", Quick: "20,60", Full: "25,50,100,200,400,800",
				Min: 1, Help: "concurrent function instances (the sweep's concurrency); run in increasing order"},
			{Name: "max_connections", Kind: scenarios.KindInt, List: true, Default: "100", Quick: "40", Full: "100,200",
				Min: headroom + 3, Help: "server max_connections, one server per value"},
			// 50 ms: a short function's database time, long enough that each request holds its
			// connection while the others arrive (errors then begin near workers = max_connections),
			// short enough for thousands of requests in a quick run. The article's is 250ms.
			{Name: "work", Kind: scenarios.KindDuration, Default: "50ms",
				Help: "server-side time per request (pg_sleep inside the request's statement); 0 for none"},
			// Idle timeout, maximum age and cold-start chance are the platforms' lifecycle scaled down
			// to a benchmark's seconds: Lambda and Cloud Functions keep an idle instance for minutes
			// and recycle busy ones after hours; here a 10 s run still sees recycling.
			{Name: "idle_timeout", Kind: scenarios.KindDuration, Default: "2s",
				Help: "warm, retry-batch: an instance idle this long is recycled (its connection closed); 0: never"},
			{Name: "max_age", Kind: scenarios.KindDuration, Default: "10s", Quick: "2s",
				Help: "warm, retry-batch: an instance this old is recycled; 0: never"},
			{Name: "cold_start", Kind: scenarios.KindFloat, Default: "0.01",
				Help: "warm, retry-batch: chance (0 to 1) that a request lands on a fresh instance that must connect"},
			// 250 ms: the article's function time, so a refused client waits about one request
			// before it tries again instead of hammering the postmaster.
			{Name: "retry_after", Kind: scenarios.KindDuration, Default: "250ms",
				Help: "retry-batch: how long a client refused with 413 waits before its next attempt"},
			{Name: "pool_size", Kind: scenarios.KindInt, Default: "0",
				Help: fmt.Sprintf("pooled: PgBouncer server connections; 0: the smallest max_connections minus %d", headroom)},
			{Name: "role", Kind: scenarios.KindString, Default: RoleApp, Choices: []string{RoleApp, RoleTarget},
				Help: "app: a login role without superuser rights, created per point and dropped after; target: the target's own user"},
		},
		// Default: four worker counts on one server, four variants: 16 points, about 4 minutes on
		// 2 cores; --preset full: six worker counts on two servers, 48 points, about 10 minutes.
		Duration: 10 * time.Second, Warmup: 2 * time.Second,
		// Quick: two worker counts on one server, three variants: 6 points of 4 s, about 30 s.
		QuickDuration: 3 * time.Second, QuickWarmup: time.Second,
	}
}

// quickVariants is the variants parameter; --quick leaves pooled out, because the default target
// of `make bench` (local) has no pooler to offer and a run that asks for one fails to start.
func quickVariants() scenarios.ParamSpec {
	p := scenarios.VariantsParam(allVariants...)
	p.Quick = VariantCold + "," + VariantWarm + "," + VariantRetryBatch
	return p
}

// Plan validates the parameters and expands max_connections × variant × workers, workers in
// increasing order so that the point where errors begin is found as the sweep goes.
func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	var errs []error
	if cs := p.Float("cold_start"); cs > 1 {
		errs = append(errs, usage.Fieldf("set", "cold_start=%s: a chance, from 0 to 1", p.String("cold_start")))
	}
	workers := slices.Compact(slices.Sorted(slices.Values(p.Ints("workers"))))
	maxConns := slices.Compact(slices.Sorted(slices.Values(p.Ints("max_connections"))))
	variants := p.Strings("variants")
	var plan scenarios.Plan
	if slices.Contains(variants, VariantPooled) {
		limit := maxConns[0] - headroom
		size := p.Int("pool_size")
		switch {
		case size > limit:
			errs = append(errs, usage.Fieldf("set", "pool_size=%d: more than max_connections=%d leaves for the load "+
				"(%d: %d kept for reserved slots and monitoring); use at most %d", size, maxConns[0], limit, headroom, limit))
		case size == 0:
			size = limit
		}
		s.poolSize = size
		plan.Pooler = &harness.PoolerSpec{Kind: "pgbouncer", Mode: "transaction", Size: size}
	}
	if len(errs) > 0 {
		return scenarios.Plan{}, usage.Join(errs)
	}
	s.maxWorkers = workers[len(workers)-1]
	// pooled runs last on each server: its pooler keeps its server connections open after it
	// (up to pool_size, until server_idle_timeout), and a variant after it found every connection
	// refused (measured: retry-batch at 0 requests/s, all 53300, after pooled on max_connections=100).
	if slices.Contains(variants, VariantPooled) {
		variants = append(slices.DeleteFunc(slices.Clone(variants), func(v string) bool { return v == VariantPooled }), VariantPooled)
	}
	for _, v := range scenarios.Product(
		scenarios.IntDim("max_connections", maxConns),
		scenarios.StringDim("variant", variants),
		scenarios.IntDim("workers", workers),
	) {
		w, mc := v["workers"].(int), v["max_connections"].(int)
		plan.Points = append(plan.Points, scenarios.Point{
			Variant:  v["variant"].(string),
			Values:   map[string]any{"workers": w, "max_connections": mc},
			Settings: map[string]string{"max_connections": fmt.Sprint(mc)},
			Workers:  w,
		})
	}
	return plan, nil
}

// Setup creates the events table.
func (s *scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	return env.AdminExec(ctx, "create tables",
		"DROP TABLE IF EXISTS "+table,
		"CREATE TABLE "+table+` (
			point int NOT NULL,
			client int NOT NULL,
			seq int NOT NULL,
			created_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (point, client, seq))`,
	)
}

// Run measures one point.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	params := env.Params
	// Cleanup after the load runs even when ctx is canceled: the role must go, the connections
	// must close.
	after := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}

	mon, err := newMonitor(ctx, env)
	if err != nil {
		return result.Series{}, err
	}
	defer mon.close()
	if err := mon.prepare(ctx); err != nil {
		return result.Series{}, err
	}

	cc, dropRole, err := s.loadConfig(ctx, env, mon.conn, pt.Variant)
	if err != nil {
		return result.Series{}, err
	}
	defer func() {
		actx, cancel := after()
		defer cancel()
		if err := dropRole(actx); err != nil {
			env.Logf("connect-storm: %v", err)
		}
	}()

	s.nextPoint++
	wl := &workload{
		variant:     pt.Variant,
		point:       s.nextPoint,
		cc:          cc,
		connector:   loadgen.NewConnector(cc, connectTimeout, pt.Variant == VariantCold),
		work:        params.Duration("work"),
		idleTimeout: params.Duration("idle_timeout"),
		maxAge:      params.Duration("max_age"),
		coldStart:   params.Float("cold_start"),
		retryAfter:  params.Duration("retry_after"),
		instances:   make([]*instance, pt.Workers),
	}
	cfg := env.LoadConfig(pt.Workers, loadgen.ConnNone)
	cfg.ConnConfig = cc
	cfg.ConnectTimeout = connectTimeout

	begin := time.Now()
	// loadgen starts its clock a moment after begin, so these fall a little early: a request that
	// fails in that moment counts as cut off (its event stays pending and is flushed), never as
	// refused.
	wl.measureFrom = begin.Add(env.Warmup)
	wl.end = wl.measureFrom.Add(env.Duration)
	mon.start(ctx, begin.Add(env.Warmup+env.Duration/2))
	out, runErr := loadgen.Run(ctx, cfg, wl.op)
	mon.stop()
	wl.closeAll()
	if out == nil {
		return result.Series{}, runErr
	}
	series, err := out.Series()
	if err != nil {
		return series, err
	}

	actx, cancel := after()
	defer cancel()
	acct, acctErr := wl.account(actx, mon.conn)
	if acctErr != nil {
		acct = nil // no account rather than a wrong one
	}
	contextKB, ctxErr := backendContextKB(actx, cc, wl)
	from := out.StartedAt.Add(out.Warmup)
	s.addMetrics(&series, env, pt, wl, acct, mon.summary(from, from.Add(out.Measured)), contextKB)
	if mon.memErr != nil {
		env.Logf("connect-storm: memory of the server's backends not read: %v", mon.memErr)
	}
	if ctxErr != nil {
		env.Logf("connect-storm: memory contexts of a load backend not measured: %v", ctxErr)
	}
	s.trackSweep(env, pt, &series)
	return series, errors.Join(runErr, acctErr)
}

// loadConfig is where this point's load goes and as whom: the pooler for pooled, the server
// directly otherwise; as a fresh application role, or the target's user. The returned function
// drops the role again.
func (s *scenario) loadConfig(ctx context.Context, env *scenarios.Env, admin *pgx.Conn, variant string) (*pgx.ConnConfig, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if variant == VariantPooled {
		if env.Load.Host == env.Admin.Host && env.Load.Port == env.Admin.Port {
			return nil, nil, fmt.Errorf("connect-storm pooled: the %s target put no pooler in front of the server "+
				"(load and admin both go to %s:%d); run the pooled variant on a target that provides PgBouncer",
				env.Target.Kind(), env.Load.Host, env.Load.Port)
		}
		return withAppName(env.Load), noop, nil
	}
	cc := withAppName(env.Admin)
	if env.Params.String("role") != RoleApp {
		return cc, noop, nil
	}
	role, err := createRole(ctx, admin, env.Admin, env.Target.Schema())
	if err != nil {
		return nil, nil, err
	}
	cc.User, cc.Password = role.name, role.password
	return cc, role.drop(admin, env.Admin), nil
}

// withAppName is a copy of cc that names its connections AppName.
func withAppName(cc *pgx.ConnConfig) *pgx.ConnConfig {
	cc = cc.Copy()
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = AppName
	return cc
}

// addMetrics puts the scenario's figures into the series.
func (s *scenario) addMetrics(series *result.Series, env *scenarios.Env, pt scenarios.Point, wl *workload,
	acct *account, mon monitorSummary, contextKB float64) {
	m := series.Metrics
	if m == nil {
		m = map[string]float64{}
		series.Metrics = m
	}
	tot := wl.totals()
	work := env.Params.Duration("work")
	maxConns := pt.Values["max_connections"].(int)

	failed := report.TotalErrors(*series)
	if attempts := series.Ops + failed; attempts > 0 {
		m[MetricErrorFraction] = float64(failed) / float64(attempts)
	}
	if work > 0 {
		// The article's arithmetic: every connection busy for work per request.
		m[MetricRateCapPerS] = float64(maxConns) / work.Seconds()
	}

	// The events account, over the whole run (warm-up included): every event a client generated,
	// against the rows in the database.
	if acct != nil {
		m[MetricEventsGenerated] = float64(acct.generated)
		m[MetricEventsStored] = float64(acct.stored)
		m[MetricEventsLost] = float64(acct.generated - acct.stored)
		m[MetricEventsFlushedAfterRun] = float64(acct.flushed)
	}
	if wl.variant == VariantRetryBatch {
		m[MetricEventsDeliveredLate] = float64(tot.late)
		m[MetricRequests413] = float64(tot.refused)
		m[MetricBatchEventsMax] = float64(tot.maxBatch)
	}

	// Connections: how often instances connected and why.
	m[MetricConnects] = float64(tot.connects)
	if tot.requests > 0 {
		m[result.MetricConnectsPerRequest] = float64(tot.connects) / float64(tot.requests)
	}
	if wl.variant == VariantWarm || wl.variant == VariantRetryBatch {
		m[MetricRecycledIdle] = float64(tot.recycledIdle)
		m[MetricRecycledMaxAge] = float64(tot.recycledAge)
		m[MetricColdStarts] = float64(tot.coldStarts)
	}
	if wl.variant == VariantPooled {
		m[MetricPoolSize] = float64(s.poolSize)
	}
	if wl.connector.TLSRefused() {
		m[result.MetricConnectTLSRefused] = 1
	}

	// Backends, sampled every monitorInterval in the measured window.
	if mon.samples > 0 {
		m[MetricPeakBackends] = float64(mon.peak)
		m[MetricMeanBackends] = mon.meanBackends
		m[MetricMeanActiveBackends] = mon.meanActive
	}
	if mon.memSamples > 0 {
		m[result.MetricBackendPrivateKBMean] = mon.memMeanKB
		m[MetricBackendPrivateKBMax] = mon.memMaxKB
		m[result.MetricBackendMemorySamples] = float64(mon.memSamples)
	}
	if contextKB > 0 {
		m[result.MetricBackendContextKB] = contextKB
	}

	// Little's law: busy backends = request rate × time each request spends in the database.
	// That time is the request's statement as the client timed it; through a pooler it includes
	// the wait for a server connection, so there the ratio falls below 1 by the share of time
	// spent queued in PgBouncer (and on a busy client machine, by the client's own delays).
	if tot.dbCount > 0 && mon.samples > 0 {
		dbTime := tot.dbTime.Seconds() / float64(tot.dbCount)
		predicted := series.ThroughputPerS * dbTime
		m[result.MetricLittlesDBTimeMs] = dbTime * 1000
		m[MetricLittlesPredictedActive] = predicted
		m[MetricLittlesObservedActive] = mon.meanActive
		if predicted > 0 {
			m[MetricLittlesRatio] = mon.meanActive / predicted
		}
	}
}
