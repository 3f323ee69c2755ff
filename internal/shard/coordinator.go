package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/internal/wait"
)

// Coordination constants.
const (
	// DefaultTimeout bounds every wait at the barrier (--barrier-timeout): ten minutes covers
	// pods being scheduled and pulling the image, and shard 0 loading a setup of tens of millions
	// of rows, while a Job whose pod never started still fails within the hour.
	DefaultTimeout = 10 * time.Minute
	// pollInterval is how often a waiting shard reads the barrier: a hundred waiting pods then make
	// five hundred one-row queries a second, and every shard sees the last arrival within a fifth
	// of startMargin.
	pollInterval = 200 * time.Millisecond
	// startMargin is the time from the last shard's arrival to the common start: five poll
	// intervals, so that every shard has seen the barrier complete before the start even over a
	// 100 ms round trip to a cloud server.
	startMargin = time.Second
)

// Table names inside the run's schema. They start with pgscale_ so that no scenario's tables
// collide with them.
const (
	runTable     = "pgscale_shard_run"
	memberTable  = "pgscale_shard_member"
	arrivalTable = "pgscale_shard_arrival"
)

// Coordinator is one shard's side of the coordination through the server: it joins the run
// (shard 0 creates it), waits at the barrier before each point, and leaves when the shard is
// done. It is used by one goroutine at a time, the runner's.
type Coordinator struct {
	Seg   Segment
	RunID string
	// Fingerprint identifies what the run measures (scenario, parameters, durations): shards of
	// one run must agree on it.
	Fingerprint string
	Host        string
	Timeout     time.Duration
	// Logf, when set, receives notes (joins, waits, lost shards).
	Logf func(format string, args ...any)

	schema  string
	key     int32
	conn    *pgx.Conn // this shard's session: it holds the shard's advisory lock while it lives
	gen     int
	label   string         // the label of the point under way (the last Wait's)
	lost    map[int]string // shard -> why it was counted lost
	mu      sync.Mutex
	left    bool
	leftErr error
}

// NewCoordinator returns the coordinator of shard seg of run runID.
func NewCoordinator(seg Segment, runID, fingerprint, host string, timeout time.Duration) *Coordinator {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Coordinator{Seg: seg, RunID: runID, Fingerprint: fingerprint, Host: host, Timeout: timeout,
		schema: harness.RunSchema(runID), key: harness.RunLockKey(runID), lost: map[int]string{}}
}

func (c *Coordinator) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

func (c *Coordinator) table(name string) string { return pgx.Identifier{c.schema, name}.Sanitize() }

// Provider wraps the dsn provider of a sharded run: shard 0 starts the target as usual (which
// creates the run's schema) and then the barrier tables; the other shards wait for those and work
// in the same schema. Closing a shard's target leaves the run; the last shard to leave drops the
// schema.
func (c *Coordinator) Provider(inner harness.Provider) harness.Provider {
	return &provider{inner: inner, c: c}
}

type provider struct {
	inner harness.Provider
	c     *Coordinator
}

func (p *provider) Kind() string                        { return p.inner.Kind() }
func (p *provider) Available(ctx context.Context) error { return p.inner.Available(ctx) }

func (p *provider) Start(ctx context.Context, spec harness.Spec) (harness.Target, error) {
	c := p.c
	if p.inner.Kind() != harness.KindDSN {
		return nil, usage.Fieldf("shard", "%s: shards share one server, so they need --target dsn (got --target %s)", c.Seg, p.inner.Kind())
	}
	if c.Seg.I != 0 {
		if err := c.join(ctx, spec.DSN, false); err != nil {
			return nil, err
		}
		pinned, err := harness.PinDSN(spec.DSN, c.schema)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", c.Seg, err)
		}
		if err := harness.CheckPinned(ctx, pinned, c.schema); err != nil {
			return nil, fmt.Errorf("shard %s: %w", c.Seg, err)
		}
		return &target{Target: &joinedTarget{dsn: spec.DSN, pinned: pinned, schema: c.schema}, c: c}, nil
	}
	t, err := p.inner.Start(ctx, spec)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P06" {
			return nil, fmt.Errorf("shard 0: schema %s of run %s already exists: an earlier run with this --run-id left it, "+
				"or shard 0 runs twice (if pgscale prepare made it, give every shard --skip-setup); drop the schema or give a new --run-id: %w", c.schema, c.RunID, err)
		}
		return nil, err
	}
	if err := c.join(ctx, spec.DSN, true); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return nil, errors.Join(err, t.Close(cctx))
	}
	return &target{Target: t, c: c}, nil
}

// target is a shard's view of the shared target: Close leaves the run, and only the last shard
// to leave closes the target underneath (which drops the run's schema).
type target struct {
	harness.Target
	c *Coordinator
}

func (t *target) Close(ctx context.Context) error {
	last, err := t.c.leave(ctx)
	if !last {
		return err
	}
	t.c.logf("shard %s: the last shard to finish: dropping schema %s", t.c.Seg, t.c.schema)
	return errors.Join(err, t.Target.Close(ctx))
}

// joinedTarget is the run's schema on the shared server as a shard other than 0 sees it: it did
// not create the schema, and drops it only as the last shard to leave.
type joinedTarget struct {
	dsn, schema string
	pinned      string // dsn pinned to schema (harness.PinDSN): what connections use
}

func (t *joinedTarget) Kind() string            { return harness.KindDSN }
func (t *joinedTarget) DSN() string             { return t.pinned }
func (t *joinedTarget) AdminDSN() string        { return t.pinned }
func (t *joinedTarget) Schema() string          { return t.schema }
func (t *joinedTarget) CanChangeSettings() bool { return false }
func (t *joinedTarget) Detail() map[string]string {
	return map[string]string{"dsn": harness.RedactDSN(t.dsn), "schema": t.schema}
}
func (t *joinedTarget) Info(ctx context.Context) (harness.ServerInfo, error) {
	return harness.ReadServerInfo(ctx, t.pinned)
}

func (t *joinedTarget) Close(ctx context.Context) error {
	return harness.DropRunSchema(ctx, t.pinned, t.schema)
}

// join opens this shard's session, takes its advisory lock and registers the shard. Shard 0
// (create) makes the barrier tables in the schema it just created; the others wait for them.
func (c *Coordinator) join(ctx context.Context, dsn string, create bool) error {
	cfg, err := harness.ParseDSN(dsn)
	if err != nil {
		return err
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "pgscale-shard"
	cfg.RuntimeParams["search_path"] = c.schema // its tables are qualified; nothing else is found elsewhere
	cctx, cancel := context.WithTimeout(ctx, harness.DSNConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("shard %s: connect: %s", c.Seg, harness.RedactDSN(err.Error()))
	}
	c.conn = conn
	var locked bool
	fail := func(err error) error {
		// The lock goes with the session, but only once its backend has exited, which a loaded
		// server does some time after the client hung up: release it first, so that a shard
		// started again at once finds it free.
		if locked {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = conn.Exec(uctx, "SELECT pg_advisory_unlock($1, $2)", c.key, int32(c.Seg.I))
			cancel()
		}
		conn.Close(context.Background())
		c.conn = nil
		return err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", c.key, int32(c.Seg.I)).Scan(&locked); err != nil {
		return fail(fmt.Errorf("shard %s: advisory lock: %w", c.Seg, err))
	}
	if !locked {
		return fail(fmt.Errorf("shard %s of run %s is already running elsewhere (its advisory lock is held): give each process its own --shard index", c.Seg, c.RunID))
	}
	if create {
		if err := c.create(ctx); err != nil {
			return fail(err)
		}
	} else if err := c.awaitRun(ctx); err != nil {
		return fail(err)
	}
	if err := c.checkRun(ctx); err != nil {
		return fail(err)
	}
	tag, err := conn.Exec(ctx, "INSERT INTO "+c.table(memberTable)+" (shard, host) VALUES ($1, $2) ON CONFLICT (shard) DO NOTHING",
		c.Seg.I, c.Host)
	if err != nil {
		return fail(fmt.Errorf("shard %s: join: %w", c.Seg, err))
	}
	if tag.RowsAffected() == 0 {
		return fail(fmt.Errorf("shard %s of run %s joined before and stopped; a shard cannot rejoin a run: start a new run with a new --run-id", c.Seg, c.RunID))
	}
	c.logf("shard %s: joined run %s in schema %s", c.Seg, c.RunID, c.schema)
	return nil
}

func (c *Coordinator) create(ctx context.Context) error {
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("shard barrier: create: %w", err)
	}
	defer tx.Rollback(context.Background())
	stmts := []string{
		"CREATE TABLE " + c.table(runTable) + " (run_id text NOT NULL, shards int NOT NULL, fingerprint text NOT NULL, " +
			"created_at timestamptz NOT NULL DEFAULT clock_timestamp())",
		"CREATE TABLE " + c.table(memberTable) + " (shard int PRIMARY KEY, host text NOT NULL, " +
			"joined_at timestamptz NOT NULL DEFAULT clock_timestamp(), done_at timestamptz, status text)",
		"CREATE TABLE " + c.table(arrivalTable) + " (gen int NOT NULL, shard int NOT NULL, label text NOT NULL, " +
			"at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (gen, shard))",
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("shard barrier: create: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+c.table(runTable)+" (run_id, shards, fingerprint) VALUES ($1, $2, $3)",
		c.RunID, c.Seg.N, c.Fingerprint); err != nil {
		return fmt.Errorf("shard barrier: create: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("shard barrier: create: %w", err)
	}
	return nil
}

// awaitRun waits (within the timeout) for shard 0 to have created the run: its schema and tables
// appear in one transaction.
func (c *Coordinator) awaitRun(ctx context.Context) error {
	deadline := time.Now().Add(c.Timeout)
	noted := false
	for {
		var exists bool
		if err := c.conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", c.table(runTable)).Scan(&exists); err != nil {
			return fmt.Errorf("shard %s: wait for shard 0: %w", c.Seg, err)
		}
		if exists {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("shard barrier: shard %s waited %s for shard 0 to create run %s (schema %s) and it did not: "+
				"start shard 0 with the same --run-id, or raise --barrier-timeout", c.Seg, c.Timeout, c.RunID, c.schema)
		}
		if !noted {
			c.logf("shard %s: waiting for shard 0 to create run %s", c.Seg, c.RunID)
			noted = true
		}
		if err := wait.For(ctx, pollInterval); err != nil {
			return err
		}
	}
}

// checkRun checks that the run on the server is the run this shard belongs to.
func (c *Coordinator) checkRun(ctx context.Context) error {
	var runID, fingerprint string
	var shards int
	err := c.conn.QueryRow(ctx, "SELECT run_id, shards, fingerprint FROM "+c.table(runTable)).Scan(&runID, &shards, &fingerprint)
	if err != nil {
		return fmt.Errorf("shard %s: read run: %w", c.Seg, err)
	}
	if shards != c.Seg.N {
		return fmt.Errorf("shard %s: run %s has %d shards (shard 0 was started with --shard 0/%d); give every shard the same N",
			c.Seg, c.RunID, shards, shards)
	}
	if runID != c.RunID || fingerprint != c.Fingerprint {
		return fmt.Errorf("shard %s: run %s was started by shard 0 with other parameters (%s); this shard has %s: "+
			"give every shard the same scenario, --set, --workers, --rate, --duration and --warmup", c.Seg, c.RunID, fingerprint, c.Fingerprint)
	}
	return nil
}

// memberState is what the barrier knows of one shard.
type memberState struct {
	joined, done, alive, arrived bool
	host, label                  string
}

// Wait meets the other shards at the barrier before the point named label: it returns at the
// common start time once every shard still running has arrived, or an error when one that is
// alive has not arrived within the timeout. Shards that stopped (their session ended, or they
// finished early) are not waited for: they are counted lost.
func (c *Coordinator) Wait(ctx context.Context, label string) error {
	c.label = label
	return c.meet(ctx, label, true)
}

// meet is the barrier: it records this shard's arrival at label and waits for every shard still
// running to arrive; with start, it then sleeps until the common start time.
func (c *Coordinator) meet(ctx context.Context, label string, start bool) error {
	if c.conn == nil {
		return fmt.Errorf("shard %s: wait before joining", c.Seg)
	}
	c.gen++
	if _, err := c.conn.Exec(ctx, "INSERT INTO "+c.table(arrivalTable)+" (gen, shard, label) VALUES ($1, $2, $3)",
		c.gen, c.Seg.I, label); err != nil {
		return fmt.Errorf("shard barrier at %s: %w", label, err)
	}
	started := time.Now()
	deadline := started.Add(c.Timeout)
	noted := false
	for {
		states, err := c.states(ctx, c.gen)
		if err != nil {
			return fmt.Errorf("shard barrier at %s: %w", label, err)
		}
		var waiting []int
		for i := 0; i < c.Seg.N; i++ {
			st := states[i]
			switch {
			case st.arrived && st.label != label:
				return fmt.Errorf("shard barrier: shards out of step: shard %d/%d is at %q, shard %s at %q: "+
					"give every shard the same scenario and parameters", i, c.Seg.N, st.label, c.Seg, label)
			case st.arrived:
			case !st.joined:
				waiting = append(waiting, i)
			case st.done:
				c.markLost(i, st.host, fmt.Sprintf("finished before %s (it failed or was interrupted)", label))
			case !st.alive:
				c.markLost(i, st.host, fmt.Sprintf("stopped before %s: its session with the server ended", label))
			default:
				waiting = append(waiting, i)
			}
		}
		if len(waiting) == 0 {
			if !start {
				return nil
			}
			return c.startAt(ctx, label)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("shard barrier at %s: %s of %d did not arrive within %s (run id %s): start every shard with "+
				"--run-id %s and --shard i/%d against the same --dsn, or raise --barrier-timeout",
				label, shardList(waiting), c.Seg.N, c.Timeout, c.RunID, c.RunID, c.Seg.N)
		}
		if !noted && time.Since(started) > 2*startMargin {
			c.logf("shard %s: waiting at the barrier before %s for %s", c.Seg, label, shardList(waiting))
			noted = true
		}
		if err := wait.For(ctx, pollInterval); err != nil {
			return err
		}
	}
}

// startAt sleeps until the common start: startMargin after the last arrival, both on the
// server's clock, so that the shards' own clocks do not matter.
func (c *Coordinator) startAt(ctx context.Context, label string) error {
	var untilStart float64
	err := c.conn.QueryRow(ctx, "SELECT extract(epoch FROM max(at) + $2::interval - clock_timestamp())::float8 FROM "+
		c.table(arrivalTable)+" WHERE gen = $1", c.gen, startMargin.String()).Scan(&untilStart)
	if err != nil {
		return fmt.Errorf("shard barrier at %s: start time: %w", label, err)
	}
	if untilStart <= 0 {
		return nil
	}
	return wait.For(ctx, time.Duration(untilStart*float64(time.Second)))
}

// states reads every shard's membership, liveness and arrival at generation gen.
func (c *Coordinator) states(ctx context.Context, gen int) (map[int]memberState, error) {
	return statesOf(ctx, c.conn, c.table(memberTable), c.table(arrivalTable), c.key, gen)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// statesOf reads the shards' states: a shard is alive while its advisory lock is held, which the
// server releases when the shard's session ends, however the shard ended.
func statesOf(ctx context.Context, q querier, members, arrivals string, key int32, gen int) (map[int]memberState, error) {
	rows, err := q.Query(ctx, `SELECT m.shard, m.host, m.done_at IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid::bigint = $1 AND l.objid::bigint = m.shard),
		a.shard IS NOT NULL, coalesce(a.label, '')
		FROM `+members+` m LEFT JOIN `+arrivals+` a ON a.gen = $2 AND a.shard = m.shard`,
		int64(key), gen)
	if err != nil {
		return nil, err
	}
	out := map[int]memberState{}
	for rows.Next() {
		var i int
		st := memberState{joined: true}
		if err := rows.Scan(&i, &st.host, &st.done, &st.alive, &st.arrived, &st.label); err != nil {
			rows.Close()
			return nil, err
		}
		out[i] = st
	}
	return out, rows.Err()
}

func (c *Coordinator) markLost(i int, host, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.lost[i]; seen || i == c.Seg.I {
		return
	}
	if host != "" {
		why = fmt.Sprintf("(host %s) %s", host, why)
	}
	c.lost[i] = why
	c.logf("shard %s: shard %d/%d %s; the run goes on without it and its merged result will be incomplete", c.Seg, i, c.Seg.N, why)
}

// leave marks this shard done and releases its session. last is true when no other shard is
// still running, so that this one should drop the run's schema. Shards that died without
// finishing are counted lost. leave is idempotent.
func (c *Coordinator) leave(ctx context.Context) (last bool, err error) {
	if c.left {
		return false, c.leftErr
	}
	c.left = true
	if c.conn == nil {
		return false, nil
	}
	ctx, cancel := harness.CloseContext(ctx)
	defer cancel()
	defer func() {
		c.conn.Close(context.Background())
		c.conn = nil
	}()
	last, err = c.leaveTx(ctx)
	if err != nil {
		c.leftErr = fmt.Errorf("shard %s: leave run %s: %w", c.Seg, c.RunID, err)
		return false, c.leftErr
	}
	return last, nil
}

func (c *Coordinator) leaveTx(ctx context.Context) (bool, error) {
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.Background())
	// The lock orders leaving shards, so that exactly one of them sees every other one done.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+c.table(memberTable)+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, "UPDATE "+c.table(memberTable)+" SET done_at = clock_timestamp(), status = 'done' WHERE shard = $1", c.Seg.I); err != nil {
		return false, err
	}
	states, err := statesOf(ctx, tx, c.table(memberTable), c.table(arrivalTable), c.key, c.gen)
	if err != nil {
		return false, err
	}
	running := 0
	for i, st := range states {
		switch {
		case i == c.Seg.I, st.done:
		case !st.alive:
			c.markLost(i, st.host, "stopped before the end: its session with the server ended")
		default:
			running++
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, err
	}
	return running == 0, nil
}

// Lost returns the shards this one saw stop before the end, and why, in shard order.
func (c *Coordinator) Lost() (shards []int, warnings []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.lost {
		shards = append(shards, i)
	}
	sort.Ints(shards)
	for _, i := range shards {
		warnings = append(warnings, fmt.Sprintf("shard %d/%d %s: the merged result will be incomplete", i, c.Seg.N, c.lost[i]))
	}
	return shards, warnings
}

func shardList(shards []int) string {
	s := slices.Clone(shards)
	sort.Ints(s)
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprint(v)
	}
	if len(parts) == 1 {
		return "shard " + parts[0]
	}
	return "shards " + strings.Join(parts, ", ")
}
