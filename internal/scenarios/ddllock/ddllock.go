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
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
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
	// controlAppName marks the scenario's control connection in pg_stat_activity.
	controlAppName = "pgscale-ddl-lock-control"
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
		Headline: &result.Headline{Metric: result.HeadlineThroughput, Label: "request throughput", Unit: "requests/s", Better: result.BetterHigher},
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
		return scenarios.Plan{}, usage.Fieldf("set", "long_query_share=%s: must be between 0 and 1", p.String("long_query_share"))
	}
	for _, st := range p.Durations("statement_timeout") {
		if st > 0 && st < time.Millisecond {
			return scenarios.Plan{}, usage.Fieldf("set", "statement_timeout=%s: PostgreSQL counts it in milliseconds: give 0 (none) or at least 1ms", st)
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
	if err := checkDDLAt(c.ddlAt, env.Duration); err != nil {
		return c, err
	}
	return c, nil
}

// CheckRunLength refuses a ddl_at outside the measured window before anything starts.
func (s *scenario) CheckRunLength(p scenarios.Params, duration time.Duration) error {
	return checkDDLAt(p.Duration("ddl_at"), duration)
}

func checkDDLAt(ddlAt, duration time.Duration) error {
	if ddlAt >= duration {
		return usage.Fieldf("set", "ddl_at=%s: the ALTER must come inside the measured window (--duration %s); give a longer --duration or an earlier ddl_at", ddlAt, duration)
	}
	return nil
}

// Run measures one point.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	cfg, err := readConfig(env, pt)
	if err != nil {
		return result.Series{}, err
	}
	r := &run{env: env, cfg: cfg, pt: pt}
	return r.measure(ctx)
}
