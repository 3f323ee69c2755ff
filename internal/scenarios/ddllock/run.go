package ddllock

// The measuring of one point: the run's state, the load generator's operation, and what a failed
// point reports.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/result"
)

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
func (r *run) measure(ctx context.Context) (_ result.Series, err error) {
	env := r.env
	r.usersIdent = pgx.Identifier{table}.Sanitize()
	// The control connection sets up and tears down; it is reopened for the teardown if the
	// point lost it, and known by an application_name of its own.
	ctlConfig := env.Admin.Copy()
	ctlConfig.RuntimeParams = maps.Clone(ctlConfig.RuntimeParams)
	if ctlConfig.RuntimeParams == nil {
		ctlConfig.RuntimeParams = map[string]string{}
	}
	ctlConfig.RuntimeParams["application_name"] = controlAppName
	control, err := loadgen.Redial(ctx, "ddl-lock control", ctlConfig, loadgen.RedialOptions{})
	if err != nil {
		return result.Series{}, err
	}
	defer control.Close()
	ctl, err := control.Conn(ctx)
	if err != nil {
		return result.Series{}, err
	}
	conns := make([]*pgx.Conn, 3) // watcher, blocker, ALTER
	for i := range conns {
		if conns[i], err = env.AdminConn(ctx); err != nil {
			for _, c := range conns[:i] {
				c.Close(context.Background())
			}
			return result.Series{}, err
		}
		defer conns[i].Close(context.Background())
	}
	watchConn, blockConn, ddlConn := conns[0], conns[1], conns[2]
	r.blockerPID, r.ddlPID = blockConn.PgConn().PID(), ddlConn.PgConn().PID()
	for _, c := range []*pgx.Conn{blockConn, ddlConn} {
		// The scenario's own sessions must not inherit a timeout from a dsn target's role.
		if _, err := c.Exec(ctx, "SET statement_timeout = 0"); err != nil {
			return result.Series{}, fmt.Errorf("ddl-lock: %w", err)
		}
	}
	if err := ctl.QueryRow(ctx, "SELECT $1::regclass::oid", r.usersIdent).Scan(&r.usersOID); err != nil {
		return result.Series{}, fmt.Errorf("ddl-lock: find %s: %w", table, err)
	}
	if err := r.dropColumn(ctx, ctl); err != nil {
		return result.Series{}, err
	}
	if r.cfg.blocker == blockerVacuum {
		if err := r.sizeVacuum(ctx); err != nil {
			return result.Series{}, err
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
		ctl, terr := control.Live(cctx)
		if terr == nil {
			terr = r.teardown(cctx, ctl)
		}
		if terr != nil {
			err = errors.Join(err, fmt.Errorf("ddl-lock: teardown: %w", terr))
		}
	}()
	if r.cfg.variant == VariantLongQueries {
		if err := r.createRole(ctx, ctl); err != nil {
			return result.Series{}, err
		}
	}

	stopWatch := scenarios.StartActor(ctx, func(ctx context.Context) { r.watch(ctx, watchConn) })
	started := make(chan time.Time, 1)
	stopChoreo := scenarios.StartActor(ctx, func(ctx context.Context) { r.choreograph(ctx, started, blockConn, ddlConn) })
	stop := func() {
		stopChoreo()
		stopWatch()
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
	lcfg.OnSecond = env.FirstSecond(func(at time.Time) { started <- at })
	out, runErr := loadgen.Run(ctx, lcfg, r.op)
	stop()
	// The teardown checks the control connection again.
	series, err := scenarios.FinishPoint(ctx, env, out, runErr, control, r.summarize, r.sentence)
	if err == nil && out != nil {
		err = r.failure()
	}
	return series, err
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
	w.Observe(MetricPrefixApp, w.Intended, done.Sub(w.Intended))
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
		return MetricPrefixAppBeforeDDL
	}
	if ddlDone := r.ddlDone.Load(); ddlDone == 0 || intended.UnixNano() < ddlDone {
		return MetricPrefixAppDuringDDL
	}
	return MetricPrefixAppAfterDDL
}

func (r *run) noteError(err error) {
	if harness.SQLState(err) == codeTooManyConnections {
		r.first53300.CompareAndSwap(0, time.Now().UnixNano())
	}
}
