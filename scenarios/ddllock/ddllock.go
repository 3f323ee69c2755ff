// Package ddllock is the ddl-lock scenario: a schema change (ALTER TABLE, which needs ACCESS
// EXCLUSIVE) arrives while a VACUUM or an explicit lock holds SHARE UPDATE EXCLUSIVE on a busy
// users table, and the application's requests queue behind the waiting ALTER.
//
// It replays "Postgres Failures At Scale" (../shared/seeds/failures-at-scale-timeouts.txt): the
// lock queue is first come, first served, so requests whose locks do not conflict with the
// VACUUM still wait behind the ALTER; with a connection per request they pile up until
// max_connections runs out (53300). The variants compare that with lock_timeout and retry on the
// migration, and show long-running queries saturating the application with and without a
// statement_timeout set on the application's role.
//
// One run of a point: open-loop application traffic (reads and short SELECT … FOR UPDATE
// transactions on random users) at a steady rate; a second before the ALTER the blocker takes
// its lock; ddl_at into the measured window the ALTER is issued. A watcher of the scenario's own
// reads the lock queue on users several times a second and puts it into the timeline.
package ddllock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/harness"
	"github.com/pgscale/pgscale/loadgen"
	"github.com/pgscale/pgscale/report"
	"github.com/pgscale/pgscale/scenarios"
)

// Name of the scenario.
const Name = "ddl-lock"

// Variants.
const (
	VariantNoTimeout   = "no-timeout"
	VariantLockTimeout = "lock-timeout"
	VariantLongQueries = "long-queries"
)

// Values of the connect and blocker parameters.
const (
	connectPool       = "pool"
	connectPerRequest = "per-request"
	blockerLock       = "lock"
	blockerVacuum     = "vacuum"
)

// SQLSTATEs the scenario counts (jackc/pgerrcode names them; the module is not a dependency).
const (
	codeTooManyConnections = "53300" // too_many_connections
	codeLockNotAvailable   = "55P03" // lock_not_available: lock_timeout fired
	codeQueryCanceled      = "57014" // query_canceled: statement_timeout fired, or a cancel request
)

const (
	// defaultRate is the application's request rate when --rate is not given. Connecting costs
	// the server ~7 ms of CPU per connection on the 2-core machines we measured (pgbench -C:
	// 270–300/s), so 50 requests/s with a connection each uses under a fifth of that and leaves
	// the lock queue, not the CPU, to set the latency; at that rate a queue of 100 sessions forms
	// in 2 s, the "seconds" the article speaks of.
	defaultRate = 50.0
	// lockingShare is the share of requests that are SELECT … FOR UPDATE transactions, the rest
	// being plain reads. Half and half stands for a web application that reads a profile and
	// locks a balance; the queue forms the same for either kind, since both ACCESS SHARE and ROW
	// SHARE conflict with ACCESS EXCLUSIVE.
	lockingShare = 0.5
	// blockerLead is how long before the ALTER the blocker starts. LOCK TABLE takes its lock in
	// milliseconds and VACUUM as it starts, so a second makes sure the ALTER finds it held
	// without lengthening the run.
	blockerLead = time.Second
	// watchInterval is how often the watcher reads the lock queue: five times a second catches
	// the queue's build-up within each second of the timeline for one tiny query per reading.
	watchInterval = 200 * time.Millisecond
	// retryBackoffCap bounds the doubling pause between lock_timeout retries. Two seconds keeps
	// the ALTER out of the queue most of the time while it still lands within two seconds of the
	// blocker's end; GitLab's with_lock_retries and strong_migrations pause for seconds too.
	retryBackoffCap = 2 * time.Second
	// connectTimeout bounds one application connect (loadgen's default).
	connectTimeout = 10 * time.Second
	// cleanupTimeout bounds tearing a point down (cancelling the ALTER and the blocker,
	// terminating the application's sessions, dropping the column and the role). Terminated
	// backends exit in milliseconds; 30 s leaves room for a loaded machine.
	cleanupTimeout = 30 * time.Second
	// lockProbeInterval is how often the blocker's lock is looked for before the ALTER.
	lockProbeInterval = 20 * time.Millisecond
	// maxVacuumCostDelay is vacuum_cost_delay's upper limit in PostgreSQL (100 ms).
	maxVacuumCostDelay = 100.0
	// table and column are the migration's target: the article's ALTER TABLE users ADD COLUMN
	// status … DEFAULT 'pending'.
	table  = "users"
	column = "status"
)

func init() { scenarios.Register(Name, func() scenarios.Scenario { return &scenario{} }) }

type scenario struct{}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "ALTER TABLE queued behind VACUUM or a lock: the lock queue, connection exhaustion, lock_timeout + retry, statement_timeout",
		Shows: "Application requests (reads and SELECT … FOR UPDATE, open loop at --rate, 50/s when not given) " +
			"run against users while a blocker holds SHARE UPDATE EXCLUSIVE (blocker=lock: LOCK TABLE in an open " +
			"transaction; blocker=vacuum: a real VACUUM of users, throttled with vacuum_cost_delay as autovacuum is, " +
			"so that it lasts about blocker_hold). ddl_at into the measured window, ALTER TABLE users ADD COLUMN " +
			"status text DEFAULT 'pending' asks for ACCESS EXCLUSIVE and waits; requests queue behind it. " +
			"no-timeout: the ALTER waits; the queue and the application's latency grow, and with a connection per " +
			"request max_connections runs out (53300). lock-timeout: SET lock_timeout, retried with doubling " +
			"backoff until it succeeds; the queue stays bounded. long-queries: a share of the requests run for " +
			"long_query and hold the pool and the table, once per statement_timeout value set with ALTER ROLE on " +
			"an application role the scenario creates and drops (on a dsn target this needs CREATEROLE or " +
			"superuser). The timeline carries lock_queue_depth, app_connections, blocker_holding, ddl_waiting and " +
			"ddl_attempts per second; metrics carry the ALTER's duration and retries, the queue's peak, the time " +
			"to connection exhaustion, the application's p99 before, during and after the ALTER, and its 53300, " +
			"55P03 and 57014 errors.",
		Variants: []string{VariantNoTimeout, VariantLockTimeout, VariantLongQueries},
		Headline: &report.Headline{Metric: report.HeadlineThroughput, Label: "request throughput", Unit: "requests/s", Better: report.BetterHigher},
		Params: []scenarios.ParamSpec{
			scenarios.VariantsParam(VariantNoTimeout, VariantLockTimeout, VariantLongQueries),
			{Name: "connect", Kind: scenarios.KindString, List: true, Default: "per-request,pool", Quick: "per-request",
				Choices: []string{connectPerRequest, connectPool},
				Help:    "per-request: a new connection per request (serverless); pool: a pool of pool_size"},
			{Name: "pool_size", Kind: scenarios.KindInt, Default: "20", Min: 1,
				Help: "connections in the application's pool (connect=pool)"},
			{Name: "workers", Kind: scenarios.KindInt, Default: "0", Min: 0,
				Help: "requests in flight at most (later ones wait, counted from their due time); 0: twice max_connections"},
			{Name: "max_connections", Kind: scenarios.KindInt, List: true, Default: "100", Min: 10,
				Help: "the server's max_connections (the scenario holds 4 of them, the runner's sampler 1)"},
			{Name: "users", Kind: scenarios.KindInt, Default: "100000", Quick: "20000", Min: 1000,
				Help: "rows in the users table"},
			{Name: "blocker", Kind: scenarios.KindString, Default: blockerLock, Choices: []string{blockerLock, blockerVacuum},
				Help: "what holds SHARE UPDATE EXCLUSIVE: lock (LOCK TABLE in an open transaction, exact) or vacuum (a throttled VACUUM)"},
			{Name: "blocker_hold", Kind: scenarios.KindDuration, Default: "10s", Quick: "4s", Min: 2,
				Help: "how long the blocker holds its lock, from 1 s before the ALTER"},
			{Name: "ddl_at", Kind: scenarios.KindDuration, Default: "5s", Quick: "2s", Min: 1,
				Help: "when the ALTER is issued, from the start of the measured window"},
			{Name: "lock_timeout", Kind: scenarios.KindDuration, Default: "500ms", Min: 0.001,
				Help: "lock-timeout: the ALTER's lock_timeout per attempt"},
			{Name: "retry_backoff", Kind: scenarios.KindDuration, Default: "250ms", Min: 0.001,
				Help: "lock-timeout: the first pause between attempts, doubling up to 2s"},
			{Name: "statement_timeout", Kind: scenarios.KindDuration, List: true, Default: "0,1s", Min: 0,
				Help: "long-queries: the application role's statement_timeout, one point each; 0 is none"},
			// 0.2 of 50 requests/s running 3 s each keeps 30 long queries in flight, more than
			// the pool of 20: the pool saturates within 2 s, the article's tipped database. With a
			// statement_timeout of 1 s, 10 are in flight.
			{Name: "long_query", Kind: scenarios.KindDuration, Default: "3s", Min: 0.1,
				Help: "long-queries: how long a long-running query runs"},
			{Name: "long_query_share", Kind: scenarios.KindFloat, Default: "0.2", Min: 0,
				Help: "long-queries: the share of requests that are long-running queries (0 to 1)"},
		},
		Intrusive: true,
		Duration:  20 * time.Second, Warmup: 2 * time.Second,
		QuickDuration: 8 * time.Second, QuickWarmup: time.Second,
	}
}

func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	if share := p.Float("long_query_share"); share > 1 {
		return scenarios.Plan{}, harness.Usagef("--set long_query_share=%s: must be between 0 and 1", p.String("long_query_share"))
	}
	for _, st := range p.Durations("statement_timeout") {
		if st > 0 && st < time.Millisecond {
			return scenarios.Plan{}, harness.Usagef("--set statement_timeout=%s: PostgreSQL counts it in milliseconds: give 0 (none) or at least 1ms", st)
		}
	}
	var plan scenarios.Plan
	for _, v := range scenarios.Product(
		scenarios.StringDim("variant", p.Strings("variants")),
		scenarios.StringDim("connect", p.Strings("connect")),
		scenarios.IntDim("max_connections", p.Ints("max_connections")),
	) {
		variant, maxConns := v["variant"].(string), v["max_connections"].(int)
		workers := p.Int("workers")
		if workers == 0 {
			workers = 2 * maxConns
		}
		point := func(extra map[string]any) scenarios.Point {
			values := map[string]any{"connect": v["connect"], "max_connections": maxConns}
			for k, x := range extra {
				values[k] = x
			}
			return scenarios.Point{Variant: variant, Values: values, Workers: workers,
				Settings: map[string]string{"max_connections": fmt.Sprint(maxConns)}}
		}
		if variant != VariantLongQueries {
			plan.Points = append(plan.Points, point(nil))
			continue
		}
		for _, st := range p.Durations("statement_timeout") {
			plan.Points = append(plan.Points, point(map[string]any{"statement_timeout": timeoutString(st)}))
		}
	}
	return plan, nil
}

func timeoutString(d time.Duration) string {
	if d <= 0 {
		return "off"
	}
	return d.String()
}

// Setup creates users with autovacuum off (so that only the scenario's blocker vacuums it),
// filled server-side and frozen, and checks that the long-queries variant may create its role.
func (s *scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if slices.Contains(env.Params.Strings("variants"), VariantLongQueries) {
		var user string
		var may bool
		err := conn.QueryRow(ctx, `SELECT current_user::text, rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user`).
			Scan(&user, &may)
		if err != nil {
			return fmt.Errorf("read role privileges: %w", err)
		}
		if !may {
			return fmt.Errorf("the long-queries variant creates an application role and sets its "+
				"statement_timeout with ALTER ROLE, which needs CREATEROLE or superuser, and %q has neither: "+
				"grant CREATEROLE or leave the variant out (--set variants=no-timeout,lock-timeout)", user)
		}
	}
	started := time.Now()
	users := pgx.Identifier{table}.Sanitize()
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{sql: "DROP TABLE IF EXISTS " + users},
		{sql: "CREATE TABLE " + users + ` (
			id bigint PRIMARY KEY,
			email text NOT NULL,
			name text NOT NULL,
			balance bigint NOT NULL DEFAULT 0,
			updated_at timestamptz NOT NULL DEFAULT now()
		) WITH (autovacuum_enabled = off)`},
		{sql: "INSERT INTO " + users + ` (id, email, name, balance)
			SELECT i, 'user' || i || '@example.com', 'User ' || i, i % 1000 FROM generate_series(1, $1::bigint) i`,
			args: []any{env.Params.Int("users")}},
		{sql: "VACUUM (FREEZE, ANALYZE) " + users},
	} {
		if _, err := conn.Exec(ctx, stmt.sql, stmt.args...); err != nil {
			return fmt.Errorf("create %s: %w", table, err)
		}
	}
	env.Logf("ddl-lock: loaded %d users in %s", env.Params.Int("users"), time.Since(started).Round(time.Millisecond))
	return nil
}

// config is one point's parameters.
type config struct {
	variant          string
	perRequest       bool
	poolSize         int
	workers          int
	maxConnections   int
	users            int64
	blocker          string
	blockerHold      time.Duration
	ddlAt            time.Duration
	lockTimeout      time.Duration
	retryBackoff     time.Duration
	statementTimeout time.Duration
	longQuery        time.Duration
	longQueryShare   float64
	rate             float64
}

func readConfig(env *scenarios.Env, pt scenarios.Point) (config, error) {
	p := env.Params
	c := config{
		variant:        pt.Variant,
		perRequest:     pt.Values["connect"] == connectPerRequest,
		poolSize:       p.Int("pool_size"),
		workers:        pt.Workers,
		users:          int64(p.Int("users")),
		blocker:        p.String("blocker"),
		blockerHold:    p.Duration("blocker_hold"),
		ddlAt:          p.Duration("ddl_at"),
		lockTimeout:    p.Duration("lock_timeout"),
		retryBackoff:   p.Duration("retry_backoff"),
		longQuery:      p.Duration("long_query"),
		longQueryShare: p.Float("long_query_share"),
		rate:           env.Rate,
	}
	if m, ok := pt.Values["max_connections"].(int); ok {
		c.maxConnections = m
	}
	if c.rate == 0 {
		c.rate = defaultRate
	}
	if st, ok := pt.Values["statement_timeout"].(string); ok && st != "off" {
		d, err := time.ParseDuration(st)
		if err != nil {
			return c, fmt.Errorf("ddl-lock: statement_timeout %q: %w", st, err)
		}
		c.statementTimeout = d
	}
	if c.ddlAt >= env.Duration {
		return c, harness.Usagef("--set ddl_at=%s: the ALTER must come inside the measured window (--duration %s)", c.ddlAt, env.Duration)
	}
	return c, nil
}

// Run measures one point.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (report.Series, error) {
	cfg, err := readConfig(env, pt)
	if err != nil {
		return report.Series{}, err
	}
	r := &run{env: env, cfg: cfg, pt: pt}
	return r.measure(ctx)
}

// interval is a span of time in which something happened (the blocker held its lock, an ALTER
// attempt waited).
type interval struct{ from, to time.Time }

// reading is one watcher sample.
type reading struct {
	at          time.Time
	queue       int // lock requests on users not granted
	appConns    int // the application's sessions
	longRunning int // the application's sessions in pg_sleep (long-queries)
}

// run is one point in progress.
type run struct {
	env *scenarios.Env
	cfg config
	pt  scenarios.Point

	usersOID      uint32
	app           *pgx.ConnConfig // where the application connects (as the app role in long-queries)
	role          string          // the app role, when created
	appName       string          // the application's application_name
	ddlPID        uint32
	blockerPID    uint32
	usersIdent    string
	vacuumDelayMs float64 // vacuum_cost_delay (ms) of the vacuum blocker
	vacuumUnits   int64   // its cost units, counted by an unthrottled VACUUM

	// Set by the choreography; read by operations (atomics) and, after it ends, by the summary.
	ddlIssued  atomic.Int64 // unix ns; 0 until the ALTER is issued
	ddlDone    atomic.Int64 // unix ns; 0 until it succeeds
	first53300 atomic.Int64 // unix ns of the first 53300 an operation saw
	lrqStarted atomic.Int64
	lrqCancel  atomic.Int64

	mu        sync.Mutex
	blockerIv interval
	attempts  []interval
	retries   int
	ddlErr    error
	blockErr  error
	readings  []reading
	watchErr  error
}

// measure drives one point: it opens the scenario's own connections before the load (so they
// work when max_connections is gone), runs the load with the blocker and the ALTER choreographed
// into it, tears everything down, and turns what it saw into the series.
func (r *run) measure(ctx context.Context) (_ report.Series, err error) {
	env := r.env
	r.usersIdent = pgx.Identifier{table}.Sanitize()
	ctl, err := env.AdminConn(ctx)
	if err != nil {
		return report.Series{}, err
	}
	defer ctl.Close(context.Background())
	conns := make([]*pgx.Conn, 3) // watcher, blocker, ALTER
	for i := range conns {
		if conns[i], err = env.AdminConn(ctx); err != nil {
			for _, c := range conns[:i] {
				c.Close(context.Background())
			}
			return report.Series{}, err
		}
		defer conns[i].Close(context.Background())
	}
	watchConn, blockConn, ddlConn := conns[0], conns[1], conns[2]
	r.blockerPID, r.ddlPID = blockConn.PgConn().PID(), ddlConn.PgConn().PID()
	for _, c := range []*pgx.Conn{blockConn, ddlConn} {
		// The scenario's own sessions must not inherit a timeout from a dsn target's role.
		if _, err := c.Exec(ctx, "SET statement_timeout = 0"); err != nil {
			return report.Series{}, fmt.Errorf("ddl-lock: %w", err)
		}
	}
	if err := ctl.QueryRow(ctx, "SELECT $1::regclass::oid", r.usersIdent).Scan(&r.usersOID); err != nil {
		return report.Series{}, fmt.Errorf("ddl-lock: find %s: %w", table, err)
	}
	if err := r.dropColumn(ctx, ctl); err != nil {
		return report.Series{}, err
	}
	if r.cfg.blocker == blockerVacuum {
		if err := r.sizeVacuum(ctx); err != nil {
			return report.Series{}, err
		}
	}
	r.app = env.Load.Copy()
	if r.app.RuntimeParams == nil {
		r.app.RuntimeParams = map[string]string{}
	}
	// The application's sessions are known by their application_name, unique per run on a dsn
	// target where other runs may share the server.
	r.appName = roleName(env.Target.Schema())
	r.app.RuntimeParams["application_name"] = r.appName
	// Whatever happens from here, the point is torn down: the ALTER and the blocker stopped, the
	// application's sessions gone, the column and the role dropped. A failure to do so fails the
	// point: on a dsn target it would leave a role behind.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if terr := r.teardown(cctx, ctl); terr != nil {
			err = errors.Join(err, fmt.Errorf("ddl-lock: teardown: %w", terr))
		}
	}()
	if r.cfg.variant == VariantLongQueries {
		if err := r.createRole(ctx, ctl); err != nil {
			return report.Series{}, err
		}
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		r.watch(watchCtx, watchConn)
	}()
	choreoCtx, stopChoreo := context.WithCancel(ctx)
	choreoDone := make(chan struct{})
	started := make(chan time.Time, 1)
	go func() {
		defer close(choreoDone)
		r.choreograph(choreoCtx, started, blockConn, ddlConn)
	}()
	stop := func() {
		stopChoreo()
		<-choreoDone
		stopWatch()
		<-watchDone
	}

	mode := loadgen.ConnPool
	if r.cfg.perRequest {
		mode = loadgen.ConnNone // the operation connects itself, to see and time its 53300
	}
	lcfg := env.LoadConfig(r.cfg.workers, mode)
	lcfg.Rate = r.cfg.rate
	lcfg.ConnConfig = r.app
	lcfg.ConnectTimeout = connectTimeout
	if !r.cfg.perRequest {
		lcfg.PoolSize = r.cfg.poolSize
	}
	var once sync.Once
	lcfg.OnSecond = func(t loadgen.Tick) {
		once.Do(func() { started <- time.Now().Add(-t.Elapsed) })
		if env.OnSecond != nil {
			env.OnSecond(t)
		}
	}
	out, runErr := loadgen.Run(ctx, lcfg, r.op)
	stop()
	if out == nil {
		return report.Series{}, runErr
	}
	series, err := out.Series()
	if err != nil {
		return series, err
	}
	r.summarize(&series)
	env.Logf("%s", r.sentence(series))
	if runErr == nil {
		runErr = r.failure()
	}
	return series, runErr
}

// failure is an error of the choreography that makes the point's figures meaningless.
func (r *run) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.blockErr != nil:
		return fmt.Errorf("ddl-lock: blocker: %w", r.blockErr)
	case r.ddlErr != nil:
		return fmt.Errorf("ddl-lock: alter: %w", r.ddlErr)
	}
	return nil
}

// op is one application request on users.
func (r *run) op(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
	if conn == nil { // a connection per request
		started := time.Now()
		c, err := loadgen.Connect(ctx, r.app, connectTimeout)
		if err != nil {
			r.noteError(err)
			return err
		}
		w.RecordConnect(started, time.Since(started))
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = c.Close(cctx)
		}()
		conn = c
	}
	id := w.Rand.Int64N(r.cfg.users) + 1
	if r.cfg.variant == VariantLongQueries && w.Rand.Float64() < r.cfg.longQueryShare {
		r.lrqStarted.Add(1)
		// pg_sleep stands in for a slow query: it holds a connection and ACCESS SHARE on users
		// for its whole run, as a long report does, without burning the shared machine's CPU.
		_, err := conn.Exec(ctx, "SELECT pg_sleep($1) FROM "+r.usersIdent+" WHERE id = $2",
			pgx.QueryExecModeExec, r.cfg.longQuery.Seconds(), id)
		if err != nil {
			if harness.SQLState(err) == codeQueryCanceled {
				r.lrqCancel.Add(1)
			}
			r.noteError(err)
			return err
		}
		w.Observe("long_query", w.Intended, time.Since(w.Intended))
		return nil
	}
	var err error
	if w.Rand.Float64() < lockingShare {
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var balance int64
			return tx.QueryRow(ctx, "SELECT balance FROM "+r.usersIdent+" WHERE id = $1 FOR UPDATE",
				pgx.QueryExecModeExec, id).Scan(&balance)
		})
	} else {
		var name string
		var balance int64
		err = conn.QueryRow(ctx, "SELECT name, balance FROM "+r.usersIdent+" WHERE id = $1",
			pgx.QueryExecModeExec, id).Scan(&name, &balance)
	}
	if err != nil {
		r.noteError(err)
		return err
	}
	done := time.Now()
	w.Observe("app", w.Intended, done.Sub(w.Intended))
	w.Observe(r.window(w.Intended, done), w.Intended, done.Sub(w.Intended))
	return nil
}

// window names the part of the run a request fell in: over before the ALTER was issued; in
// flight while the ALTER was in progress (waiting and retrying); or due after it succeeded. A
// request due before the ALTER but still running when it came counts as during: it may have
// queued behind it. (When the application is already saturated before the ALTER, as
// long-queries without statement_timeout makes it, the slowest of those are saturation's, and
// "before" keeps only the requests that got through; app_* covers every request.)
func (r *run) window(intended, done time.Time) string {
	if issued := r.ddlIssued.Load(); issued == 0 || done.UnixNano() < issued {
		return "app_before_ddl"
	}
	if ddlDone := r.ddlDone.Load(); ddlDone == 0 || intended.UnixNano() < ddlDone {
		return "app_during_ddl"
	}
	return "app_after_ddl"
}

func (r *run) noteError(err error) {
	if harness.SQLState(err) == codeTooManyConnections {
		r.first53300.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// choreograph waits for the load to start, starts the blocker blockerLead before the ALTER, and
// issues the ALTER ddl_at into the measured window.
func (r *run) choreograph(ctx context.Context, started <-chan time.Time, blockConn, ddlConn *pgx.Conn) {
	var start time.Time
	select {
	case <-ctx.Done():
		return
	case start = <-started:
	}
	ddlAt := start.Add(r.env.Warmup + r.cfg.ddlAt)
	if !sleepUntil(ctx, ddlAt.Add(-blockerLead)) {
		return
	}
	blockerStart := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.block(ctx, blockConn, blockerStart)
	}()
	defer wg.Wait()
	// Wait until the blocker holds SHARE UPDATE EXCLUSIVE, for blockerLead at most: the ALTER
	// must not get ahead of it, even when ddl_at came before the load's first second.
	for time.Since(blockerStart) < blockerLead {
		var held bool
		err := ddlConn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'relation'
			AND relation = $1 AND pid = $2 AND mode = 'ShareUpdateExclusiveLock' AND granted)`,
			r.usersOID, r.blockerPID).Scan(&held)
		if err != nil {
			if ctx.Err() == nil {
				r.setDDLErr(fmt.Errorf("look for the blocker's lock: %w", err))
			}
			return
		}
		if held {
			r.mu.Lock()
			if r.blockerIv.from.IsZero() {
				r.blockerIv.from = time.Now()
			}
			r.mu.Unlock()
			break
		}
		if !sleepUntil(ctx, time.Now().Add(lockProbeInterval)) {
			return
		}
	}
	if !sleepUntil(ctx, ddlAt) {
		return
	}
	r.migrate(ctx, ddlConn)
}

func (r *run) setDDLErr(err error) {
	r.mu.Lock()
	r.ddlErr = err
	r.mu.Unlock()
}

// block holds SHARE UPDATE EXCLUSIVE on users: an explicit lock in an open transaction until
// blockerStart+blocker_hold, or a throttled VACUUM for as long as it runs.
func (r *run) block(ctx context.Context, conn *pgx.Conn, blockerStart time.Time) {
	var err error
	switch r.cfg.blocker {
	case blockerVacuum:
		_, err = conn.Exec(ctx, "SELECT set_config('vacuum_cost_limit', '1', false), set_config('vacuum_cost_delay', $1, false)",
			fmt.Sprintf("%.3f", r.vacuumDelayMs))
		if err == nil {
			// DISABLE_PAGE_SKIPPING reads every page although the table is frozen, so the run
			// time follows the table's size; TRUNCATE false keeps VACUUM from asking for ACCESS
			// EXCLUSIVE at its end.
			_, err = conn.Exec(ctx, "VACUUM (DISABLE_PAGE_SKIPPING, TRUNCATE false) "+r.usersIdent)
		}
	default:
		if _, err = conn.Exec(ctx, "BEGIN"); err == nil {
			if _, err = conn.Exec(ctx, "LOCK TABLE "+r.usersIdent+" IN SHARE UPDATE EXCLUSIVE MODE"); err == nil {
				sleepUntil(ctx, blockerStart.Add(r.cfg.blockerHold))
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if _, cerr := conn.Exec(rctx, "COMMIT"); err == nil && ctx.Err() == nil {
				err = cerr
			}
			cancel()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blockerIv.to = time.Now()
	if r.blockerIv.from.IsZero() {
		r.blockerIv.from = blockerStart
	}
	if err != nil && ctx.Err() == nil {
		r.blockErr = err
	}
}

// migrate issues the ALTER: once and without a lock timeout (no-timeout, long-queries), or with
// lock_timeout, retried with doubling backoff until it succeeds or the run ends (lock-timeout).
func (r *run) migrate(ctx context.Context, conn *pgx.Conn) {
	lockTimeout := "0"
	if r.cfg.variant == VariantLockTimeout {
		lockTimeout = fmt.Sprint(r.cfg.lockTimeout.Milliseconds())
	}
	if _, err := conn.Exec(ctx, "SELECT set_config('lock_timeout', $1, false)", lockTimeout); err != nil {
		if ctx.Err() == nil {
			r.setDDLErr(err)
		}
		return
	}
	alter := "ALTER TABLE " + r.usersIdent + " ADD COLUMN " + pgx.Identifier{column}.Sanitize() + " text DEFAULT 'pending'"
	r.ddlIssued.Store(time.Now().UnixNano())
	backoff := r.cfg.retryBackoff
	for {
		from := time.Now()
		_, err := conn.Exec(ctx, alter)
		to := time.Now()
		r.mu.Lock()
		r.attempts = append(r.attempts, interval{from, to})
		r.mu.Unlock()
		switch {
		case err == nil:
			r.ddlDone.Store(to.UnixNano())
			return
		case ctx.Err() != nil:
			return
		case r.cfg.variant == VariantLockTimeout && harness.SQLState(err) == codeLockNotAvailable:
			r.mu.Lock()
			r.retries++
			r.mu.Unlock()
			if !sleepUntil(ctx, time.Now().Add(backoff)) {
				return
			}
			backoff = min(2*backoff, retryBackoffCap)
		default:
			r.setDDLErr(err)
			return
		}
	}
}

// watch reads the lock queue on users, the application's sessions and its long-running queries
// every watchInterval until ctx ends.
func (r *run) watch(ctx context.Context, conn *pgx.Conn) {
	const q = `SELECT
		(SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND relation = $1 AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))::int,
		(SELECT count(*) FROM pg_stat_activity WHERE application_name = $2)::int,
		(SELECT count(*) FROM pg_stat_activity WHERE application_name = $2 AND wait_event = 'PgSleep')::int`
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		var rd reading
		err := conn.QueryRow(qctx, q, r.usersOID, r.appName).Scan(&rd.queue, &rd.appConns, &rd.longRunning)
		cancel()
		rd.at = time.Now()
		r.mu.Lock()
		if err == nil {
			r.readings = append(r.readings, rd)
		} else if ctx.Err() == nil {
			r.watchErr = err
		}
		r.mu.Unlock()
		if ctx.Err() != nil || conn.IsClosed() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sizeVacuum chooses the vacuum blocker's throttle. With vacuum_cost_limit 1, VACUUM sleeps
// vacuum_cost_delay after every cost unit, and a cached page costs one (vacuum_cost_page_hit),
// so a delay of blocker_hold / units makes it last about blocker_hold. The units are counted by
// an unthrottled VACUUM (VERBOSE) of the same kind just before: its "buffer usage" line (heap,
// visibility map and index pages: about twice the heap's pages measured on PostgreSQL 15). It
// also leaves the table in the same state for every point. Autovacuum is throttled the same way
// (2 ms per 200 units by default); this stands in for it on a table hundreds of times larger.
func (r *run) sizeVacuum(ctx context.Context) error {
	var mu sync.Mutex
	var notices []string
	cc := r.env.Admin.Copy()
	cc.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		notices = append(notices, n.Message)
		mu.Unlock()
	}
	conn, err := loadgen.Connect(ctx, cc, connectTimeout)
	if err != nil {
		return fmt.Errorf("ddl-lock: size the vacuum: %w", err)
	}
	defer conn.Close(context.Background())
	var pages int64
	if err := conn.QueryRow(ctx, "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int",
		r.usersIdent).Scan(&pages); err != nil {
		return fmt.Errorf("ddl-lock: size %s: %w", table, err)
	}
	if _, err := conn.Exec(ctx, "VACUUM (DISABLE_PAGE_SKIPPING, TRUNCATE false, VERBOSE) "+r.usersIdent); err != nil {
		return fmt.Errorf("ddl-lock: size the vacuum: %w", err)
	}
	mu.Lock()
	units, ok := vacuumUnits(notices)
	mu.Unlock()
	if !ok {
		units = 2 * pages // the measured ratio, for a server whose VERBOSE output differs
	}
	units = max(units, 1)
	r.vacuumUnits = units
	r.vacuumDelayMs = min(float64(r.cfg.blockerHold.Microseconds())/1000/float64(units), maxVacuumCostDelay)
	if r.vacuumDelayMs == maxVacuumCostDelay {
		r.env.Logf("ddl-lock: VACUUM of users costs only %d units: at the most throttle (100 ms each) it lasts about %s, less than blocker_hold %s",
			units, time.Duration(units)*100*time.Millisecond, r.cfg.blockerHold)
	}
	return nil
}

// bufferUsage is the line of VACUUM VERBOSE (PostgreSQL 14 and later) that counts the buffers a
// vacuum touched.
var bufferUsage = regexp.MustCompile(`buffer usage: (\d+) hits, (\d+) misses`)

// vacuumUnits reads the cost units of the first relation VACUUM VERBOSE reported (users; its
// TOAST table follows): every page read once, then cached, costs one unit the next time.
func vacuumUnits(notices []string) (int64, bool) {
	for _, n := range notices {
		if m := bufferUsage.FindStringSubmatch(n); m != nil {
			hits, _ := strconv.ParseInt(m[1], 10, 64)
			misses, _ := strconv.ParseInt(m[2], 10, 64)
			return hits + misses, true
		}
	}
	return 0, false
}

// roleName is the application role: unique per run on a dsn target (roles are cluster-wide).
func roleName(schema string) string {
	name := "pgscale_ddl_lock_app"
	if schema != "" && schema != "public" {
		name = schema + "_app"
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// createRole creates the application role with a random password (never logged), lets it read
// and lock users, and sets its statement_timeout when the point has one. The application then
// connects as that role, so the setting applies to every session it opens, as the article
// advises (ALTER ROLE webservice SET statement_timeout = …).
func (r *run) createRole(ctx context.Context, ctl *pgx.Conn) error {
	name := roleName(r.env.Target.Schema())
	if err := dropRole(ctx, ctl, name, r.env.Target.Schema(), r.usersIdent); err != nil {
		return err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("ddl-lock: role password: %w", err)
	}
	password := hex.EncodeToString(secret)
	role := pgx.Identifier{name}.Sanitize()
	stmts := []string{
		"CREATE ROLE " + role + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '" + password + "'",
		"GRANT USAGE ON SCHEMA " + pgx.Identifier{r.env.Target.Schema()}.Sanitize() + " TO " + role,
		"GRANT SELECT, UPDATE ON " + r.usersIdent + " TO " + role, // UPDATE: SELECT … FOR UPDATE needs it
	}
	if r.cfg.statementTimeout > 0 {
		stmts = append(stmts, fmt.Sprintf("ALTER ROLE %s SET statement_timeout = %d", role, r.cfg.statementTimeout.Milliseconds()))
	}
	r.role = name
	for _, stmt := range stmts {
		if _, err := ctl.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("ddl-lock: application role %s: %s", name, strings.ReplaceAll(err.Error(), password, "********"))
		}
	}
	r.app.User, r.app.Password = name, password
	return nil
}

// dropRole removes the application role and its privileges, if it exists.
func dropRole(ctx context.Context, ctl *pgx.Conn, name, schema, usersIdent string) error {
	var exists bool
	if err := ctl.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("ddl-lock: look for role %s: %w", name, err)
	}
	if !exists {
		return nil
	}
	// Its sessions are ended first where the admin may; DROP ROLE does not wait for them.
	_, _ = ctl.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name)
	role := pgx.Identifier{name}.Sanitize()
	for _, stmt := range []string{
		"REVOKE ALL ON " + usersIdent + " FROM " + role,
		"REVOKE ALL ON SCHEMA " + pgx.Identifier{schema}.Sanitize() + " FROM " + role,
		"DROP ROLE " + role,
	} {
		if _, err := ctl.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("ddl-lock: drop role %s: %w", name, err)
		}
	}
	return nil
}

// teardown ends what the point left behind: the ALTER and the blocker if still running (a client
// that gave up does not stop a backend waiting on a lock), every application session (the
// abandoned ones still wait in the queue, as the article's zombie queries do), then the column
// the ALTER added and the application role. It tries every step and reports every failure.
func (r *run) teardown(ctx context.Context, ctl *pgx.Conn) error {
	var errs []error
	// The ALTER and the blocker first: the application's sessions may be queued behind them. Then
	// the application's, one at a time: on a dsn target a session the admin may not signal must
	// not keep the others alive; it ends by itself once nothing blocks it. Failing to signal one
	// is an error only if the sessions do not end.
	var signalErr error
	pids := []uint32{r.ddlPID, r.blockerPID}
	rows, err := ctl.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", r.appName)
	if err == nil {
		var app []uint32
		app, err = pgx.CollectRows(rows, pgx.RowTo[uint32])
		pids = append(pids, app...)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("find sessions: %w", err))
	}
	for _, pid := range pids {
		if _, err := ctl.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil && signalErr == nil {
			signalErr = fmt.Errorf("terminate session %d: %w", pid, err)
		}
	}
	for {
		var left int
		err := ctl.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[]) OR application_name = $2`,
			[]uint32{r.ddlPID, r.blockerPID}, r.appName).Scan(&left)
		if err != nil {
			errs = append(errs, fmt.Errorf("wait for sessions to end: %w", err))
			break
		}
		if left == 0 {
			break
		}
		if !sleepUntil(ctx, time.Now().Add(50*time.Millisecond)) {
			errs = append(errs, fmt.Errorf("wait for sessions to end: %d left: %w", left, ctx.Err()), signalErr)
			break
		}
	}
	errs = append(errs, r.dropColumn(ctx, ctl))
	if r.role != "" {
		errs = append(errs, dropRole(ctx, ctl, r.role, r.env.Target.Schema(), r.usersIdent))
	}
	return errors.Join(errs...)
}

// dropColumn drops the column the ALTER adds. Its lock_timeout keeps a session that could not be
// ended from hanging the teardown.
func (r *run) dropColumn(ctx context.Context, ctl *pgx.Conn) error {
	_, err := ctl.Exec(ctx, "SELECT set_config('lock_timeout', '10000', false)")
	if err == nil {
		_, err = ctl.Exec(ctx, "ALTER TABLE "+r.usersIdent+" DROP COLUMN IF EXISTS "+pgx.Identifier{column}.Sanitize())
	}
	if err != nil {
		return fmt.Errorf("ddl-lock: drop column %s: %w", column, err)
	}
	return nil
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// summarize adds the scenario's metrics and its per-second figures to the series.
func (r *run) summarize(s *report.Series) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.Metrics == nil {
		s.Metrics = map[string]float64{}
	}
	m := s.Metrics
	start := s.StartedAt
	sinceStart := func(t time.Time) float64 { return round3(t.Sub(start).Seconds()) }

	m["errors_53300"] = float64(s.Errors[codeTooManyConnections] + s.Errors[loadgen.ClassTooManyReserved])
	m["errors_55p03"] = float64(s.Errors[codeLockNotAvailable])
	m["errors_57014"] = float64(s.Errors[codeQueryCanceled])

	if !r.blockerIv.from.IsZero() {
		m["blocker_from_s"] = sinceStart(r.blockerIv.from)
		if !r.blockerIv.to.IsZero() {
			m["blocker_held_ms"] = round3(float64(r.blockerIv.to.Sub(r.blockerIv.from).Microseconds()) / 1000)
		}
	}
	issued, done := r.ddlIssued.Load(), r.ddlDone.Load()
	m["ddl_succeeded"] = 0
	m["ddl_retries"] = float64(r.retries)
	if issued != 0 {
		m["ddl_issued_at_s"] = sinceStart(time.Unix(0, issued))
	}
	if done != 0 {
		m["ddl_succeeded"] = 1
		m["ddl_duration_ms"] = round3(float64(done-issued) / 1e6)
	}
	if issued != 0 {
		if first := r.first53300.Load(); first >= issued {
			m["time_to_connection_exhaustion_s"] = round3(float64(first-issued) / 1e9)
		} else if t, ok := first53300Second(s.Timeline, start, time.Unix(0, issued)); ok {
			// The pool met it (outside the operation): the timeline's second is the best we know.
			m["time_to_connection_exhaustion_s"] = round3(t)
		}
	}
	if b, d := m["app_before_ddl_p99_ms"], m["app_during_ddl_p99_ms"]; b > 0 && d > 0 {
		m["app_p99_during_over_before"] = round3(d / b)
	}
	maxQueue, maxConns := 0, 0
	for _, rd := range r.readings {
		maxQueue, maxConns = max(maxQueue, rd.queue), max(maxConns, rd.appConns)
	}
	m["max_lock_queue_depth"] = float64(maxQueue)
	m["max_app_connections"] = float64(maxConns)
	if r.cfg.variant == VariantLongQueries {
		m["long_queries_started"] = float64(r.lrqStarted.Load())
		m["long_queries_canceled"] = float64(r.lrqCancel.Load())
		m["statement_timeout_ms"] = float64(r.cfg.statementTimeout.Milliseconds())
	}
	if r.cfg.variant == VariantLockTimeout {
		m["lock_timeout_ms"] = float64(r.cfg.lockTimeout.Milliseconds())
	}
	if r.cfg.blocker == blockerVacuum {
		m["vacuum_cost_delay_ms"] = round3(r.vacuumDelayMs)
		m["vacuum_cost_units"] = float64(r.vacuumUnits)
	}
	if r.watchErr != nil && len(r.readings) == 0 {
		if s.ErrorSamples == nil {
			s.ErrorSamples = map[string]string{}
		}
		s.ErrorSamples["watcher"] = r.watchErr.Error()
	}

	// Per second: second t of the timeline covers (start+(t-1)s, start+t s].
	secondOf := func(at time.Time) int {
		off := at.Sub(start)
		if off <= 0 {
			return 0
		}
		return int((off + time.Second - 1) / time.Second)
	}
	overlaps := func(iv interval, t int) bool {
		if iv.from.IsZero() {
			return false
		}
		to := iv.to
		if to.IsZero() {
			to = start.Add(time.Duration(len(s.Timeline)+1) * time.Second)
		}
		lo, hi := start.Add(time.Duration(t-1)*time.Second), start.Add(time.Duration(t)*time.Second)
		return iv.from.Before(hi) && to.After(lo)
	}
	for i := range s.Timeline {
		sec := &s.Timeline[i]
		extra := map[string]float64{}
		seen := false
		for _, rd := range r.readings {
			if secondOf(rd.at) != sec.T {
				continue
			}
			if !seen {
				extra["lock_queue_depth"], extra["app_connections"] = 0, 0
				if r.cfg.variant == VariantLongQueries {
					extra["long_queries_running"] = 0
				}
				seen = true
			}
			extra["lock_queue_depth"] = max(extra["lock_queue_depth"], float64(rd.queue))
			extra["app_connections"] = max(extra["app_connections"], float64(rd.appConns))
			if r.cfg.variant == VariantLongQueries {
				extra["long_queries_running"] = max(extra["long_queries_running"], float64(rd.longRunning))
			}
		}
		extra["blocker_holding"] = 0
		if overlaps(r.blockerIv, sec.T) {
			extra["blocker_holding"] = 1
		}
		extra["ddl_waiting"], extra["ddl_attempts"] = 0, 0
		for _, a := range r.attempts {
			if overlaps(a, sec.T) {
				extra["ddl_waiting"] = 1
			}
			if secondOf(a.from) == sec.T {
				extra["ddl_attempts"]++
			}
		}
		if sec.Extra == nil {
			sec.Extra = extra
		} else {
			for k, v := range extra {
				sec.Extra[k] = v
			}
		}
	}
}

// first53300Second finds the first timeline second at or after from with a 53300, and returns
// how long after from that second began (0 when from falls inside it).
func first53300Second(timeline []report.Second, start, from time.Time) (float64, bool) {
	for _, sec := range timeline {
		if sec.ErrorsBy[codeTooManyConnections]+sec.ErrorsBy[loadgen.ClassTooManyReserved] == 0 {
			continue
		}
		begins := start.Add(time.Duration(sec.T-1) * time.Second)
		if !start.Add(time.Duration(sec.T) * time.Second).After(from) {
			continue
		}
		return max(0, begins.Sub(from).Seconds()), true
	}
	return 0, false
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// sentence says in one line what the point showed, from its figures.
func (r *run) sentence(s report.Series) string {
	m := s.Metrics
	var b strings.Builder
	fmt.Fprintf(&b, "ddl-lock %s %s: ", r.pt.Variant, report.PointString(r.pt.Values))
	if m["ddl_issued_at_s"] == 0 {
		b.WriteString("the ALTER was never issued")
		return b.String()
	}
	switch {
	case m["ddl_succeeded"] == 1 && m["ddl_retries"] > 0:
		fmt.Fprintf(&b, "the ALTER succeeded after %.0f retries (lock_timeout %s), %.1f s after it was first issued; ",
			m["ddl_retries"], r.cfg.lockTimeout, m["ddl_duration_ms"]/1000)
	case m["ddl_succeeded"] == 1:
		fmt.Fprintf(&b, "the ALTER waited %.1f s for its lock; ", m["ddl_duration_ms"]/1000)
	default:
		b.WriteString("the ALTER never got its lock before the run ended; ")
	}
	fmt.Fprintf(&b, "the lock queue on users peaked at %.0f sessions; ", m["max_lock_queue_depth"])
	if t, ok := m["time_to_connection_exhaustion_s"]; ok {
		fmt.Fprintf(&b, "max_connections (%d) was reached %.1f s after the ALTER started (53300 ×%.0f); ",
			r.cfg.maxConnections, t, m["errors_53300"])
	}
	if before, during := m["app_before_ddl_p99_ms"], m["app_during_ddl_p99_ms"]; before > 0 && during > 0 {
		fmt.Fprintf(&b, "application p99 %.1f ms before the ALTER, %.1f ms while it was in progress (×%.1f); ",
			before, during, during/before)
	}
	if r.cfg.variant == VariantLongQueries {
		fmt.Fprintf(&b, "%.0f long queries, %.0f canceled by statement_timeout %s; ",
			m["long_queries_started"], m["long_queries_canceled"], timeoutString(r.cfg.statementTimeout))
	}
	if n := m["abandoned_ops"]; n > 0 {
		fmt.Fprintf(&b, "requests still waiting when the run ended: %.0f; ", n)
	}
	fmt.Fprintf(&b, "the application saw %d errors (%s)", report.TotalErrors(s), report.ErrorString(s.Errors))
	return b.String()
}
