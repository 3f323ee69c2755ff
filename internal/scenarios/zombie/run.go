package zombie

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/wait"
)

const (
	// sleepQuery stands for a slow query that uses no CPU: the backend waits on a latch and does
	// not read its socket, as a query waiting on IO or a lock does not.
	sleepQuery = "SELECT pg_sleep(%.3f)"
	// cpuQuery counts generate_series rows: a set-returning function in the select list runs
	// value by value (no tuplestore, no temporary files), so it is pure CPU, checks for
	// interrupts as it goes, and sends one row when it ends.
	cpuQuery = "SELECT count(*) FROM (SELECT generate_series(1, %d::bigint)) s"
	// connectTimeout bounds one request's connect (loadgen's default).
	connectTimeout = 10 * time.Second
	// cleanupTimeout bounds the teardown: terminated backends exit in milliseconds; 30 s leaves
	// room for a loaded machine.
	cleanupTimeout = 30 * time.Second
)

// errClientTimeout is what the web tier answers when it gives up on a request (Heroku's H12).
type errClientTimeout struct{ after time.Duration }

func (e *errClientTimeout) Error() string {
	return fmt.Sprintf("the web tier gave up on the request after %s", e.after)
}

// ErrorClass names the error in the series' errors.
func (e *errClientTimeout) ErrorClass() string { return "client_timeout" }

// run is one point in progress.
type run struct {
	env           *scenarios.Env
	cfg           config
	pt            scenarios.Point
	serverVersion int
	cpuRowsPerSec float64

	app       *pgx.ConnConfig // the web tier's sessions: application_name and the variant's settings
	appName   string
	probeName string
	loadStart atomic.Int64 // unix ns of the load's first second; 0 before

	slowStarted    atomic.Int64
	clientTimeouts atomic.Int64
	canceled       atomic.Int64 // 57014: statement_timeout
	first53300     atomic.Int64 // unix ns
	// clientGone counts the connections the web tier closed with their query running.
	clientGone atomic.Int64

	mu sync.Mutex
	// abandoned maps the pid of each backend whose client the web tier closed mid-query to when
	// it closed it; the watcher moves it to lifetimes when the backend has gone.
	abandoned map[uint32]gone
	lifetimes []time.Duration // from the client's close to the backend's exit, as the watcher saw it
	// probeExits holds when the watcher saw each probe's backend gone, by pid.
	probeExits map[uint32]time.Time
	readings   []reading
	watchErr   error
	probes     []probeResult
}

// appNameFor is the web tier's application_name: unique per run on a dsn target where other
// runs may share the server, and short enough to come back from the server unchanged. There it
// is <schema>-zombie, which pgscale clean --dsn ends with the rest of a killed run's sessions
// (a schema name has no '-').
func appNameFor(schema string) string {
	name := "pgscale_zombie"
	if schema != "" && schema != "public" {
		name = schema + "-zombie"
	}
	if len(name) > 57 { // room for the probes' probeSuffix
		name = name[:57]
	}
	return name
}

// probeSuffix ends the probes' application_name: the web tier's, then this.
const probeSuffix = "-probe"

// sessionSettings are the startup options of the web tier's sessions: the variant's bound, and
// the other bound explicitly off, so that a dsn target's role settings do not change the variant.
func (r *run) sessionSettings() map[string]string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	out := map[string]string{"statement_timeout": ms(r.cfg.statementTimeout)}
	if r.serverVersion >= checkIntervalMinVersion {
		out["client_connection_check_interval"] = ms(r.cfg.checkInterval)
	}
	return out
}

// measure drives one point: it opens the scenario's own connections before the load (so they
// work when max_connections is gone), runs the load with the watcher and the probes beside it,
// terminates every backend it started, and turns what it saw into the series.
func (r *run) measure(ctx context.Context) (_ report.Series, err error) {
	env := r.env
	r.appName = appNameFor(env.Target.Schema())
	r.probeName = r.appName + probeSuffix
	r.app = env.Load.Copy()
	r.app.RuntimeParams = maps.Clone(r.app.RuntimeParams)
	if r.app.RuntimeParams == nil {
		r.app.RuntimeParams = map[string]string{}
	}
	maps.Copy(r.app.RuntimeParams, r.sessionSettings())
	r.app.RuntimeParams["application_name"] = r.appName

	ctlConfig := env.Admin.Copy()
	ctlConfig.RuntimeParams = maps.Clone(ctlConfig.RuntimeParams)
	if ctlConfig.RuntimeParams == nil {
		ctlConfig.RuntimeParams = map[string]string{}
	}
	ctlConfig.RuntimeParams["application_name"] = r.appName + "_ctl"
	control, err := loadgen.Redial(ctx, "zombie-queries control", ctlConfig, loadgen.RedialOptions{})
	if err != nil {
		return report.Series{}, err
	}
	defer control.Close()
	// Whatever happens from here, every backend the point started is ended: a zombie left
	// running on a dsn target would hold a connection slot and a CPU for up to slow_query.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		ctl, terr := control.Live(cctx)
		if terr == nil {
			terr = r.teardown(cctx, ctl)
		}
		if terr != nil {
			err = errors.Join(err, fmt.Errorf("zombie-queries: teardown: %w", terr))
		}
	}()
	ctl, err := control.Conn(ctx)
	if err != nil {
		return report.Series{}, err
	}
	// The server's own limit: on a dsn target it is not the one asked for.
	if err := ctl.QueryRow(ctx, "SELECT current_setting('max_connections')::int").Scan(&r.cfg.maxConnections); err != nil {
		return report.Series{}, fmt.Errorf("zombie-queries: read max_connections: %w", err)
	}
	if err := r.teardown(ctx, ctl); err != nil { // what an interrupted earlier point may have left
		return report.Series{}, fmt.Errorf("zombie-queries: clear earlier sessions: %w", err)
	}
	watchConn, err := env.AdminConn(ctx)
	if err != nil {
		return report.Series{}, err
	}
	defer watchConn.Close(context.Background())
	probes, err := r.openProbes(ctx)
	if err != nil {
		return report.Series{}, err
	}
	defer func() {
		for _, p := range probes {
			p.sess.close()
		}
	}()

	stopWatch := scenarios.StartActor(ctx, func(ctx context.Context) { r.watch(ctx, watchConn) })
	probeCtx, stopProbes := context.WithCancel(ctx)
	probesDone := make(chan struct{})
	started := make(chan time.Time, 1)
	go func() {
		defer close(probesDone)
		select {
		case <-probeCtx.Done():
			return
		case t := <-started:
			r.runProbes(probeCtx, probes, t)
		}
	}()

	lcfg := env.LoadConfig(r.cfg.workers, loadgen.ConnNone) // the operation connects itself
	if env.Pacer == nil {
		lcfg.Rate = r.cfg.rate
	}
	lcfg.ConnConfig = r.app
	lcfg.ConnectTimeout = connectTimeout
	lcfg.OnSecond = env.FirstSecond(func(at time.Time) {
		r.loadStart.Store(at.UnixNano())
		started <- at
	})
	out, runErr := loadgen.Run(ctx, lcfg, r.op)
	// A load shorter than its first second never started the probes: they are not waited for.
	if r.loadStart.Load() == 0 {
		stopProbes()
	}
	// The probes' backends may outlive the load (a slow query of no-timeout runs slow_query):
	// they are waited for up to probeGrace past the load's end, so that the probes time their
	// exit; one still running then is reported as such and terminated by the teardown.
	<-probesDone
	stopProbes()
	stopWatch()
	return scenarios.FinishPoint(ctx, env, out, runErr, control, r.summarize, r.sentence)
}

// slowSQL is the slow query of a kind, sized to run for d: seconds of pg_sleep, or rows of the CPU
// query at the pace Setup measured. The values are numbers pgscale formats, so the text is safe
// to send with the simple protocol.
func (r *run) slowSQL(kind string, d time.Duration) string {
	if kind == kindCPU {
		return fmt.Sprintf(cpuQuery, max(int64(r.cpuRowsPerSec*d.Seconds()), 1))
	}
	return fmt.Sprintf(sleepQuery, d.Seconds())
}

// op is one web request: connect, run the query, and give up client_timeout after the request
// arrived by closing the socket, as a web server that kills the request does. No cancel request
// goes to the server: the backend learns of it only when it next talks to its client, or checks
// (client_connection_check_interval).
func (r *run) op(ctx context.Context, w *loadgen.Worker, _ *pgx.Conn) error {
	deadline := w.Intended.Add(r.cfg.clientTimeout)
	connStarted := time.Now()
	cctx, cancelConnect := context.WithDeadline(ctx, deadline)
	sess, err := openSession(cctx, r.app)
	cancelConnect()
	if err != nil {
		if cctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			r.clientTimeouts.Add(1)
			return &errClientTimeout{after: r.cfg.clientTimeout}
		}
		r.noteError(err)
		return err
	}
	w.RecordConnect(connStarted, time.Since(connStarted))
	var gaveUp atomic.Bool
	timer := time.AfterFunc(time.Until(deadline), func() {
		gaveUp.Store(true)
		r.abandon(sess.pid, time.Now(), "")
		sess.drop()
	})
	defer func() {
		timer.Stop()
		sess.close() // a no-op once dropped
	}()
	// The web tier's own work before its query, up to a normal query's time: it varies where the
	// query starts against the request's deadline, as in real requests, and with it where the
	// close falls between two checks of client_connection_check_interval (its timer is armed when
	// the query starts).
	if r.cfg.normalQuery > 0 && wait.For(ctx, time.Duration(w.Rand.Int64N(int64(r.cfg.normalQuery)))) != nil {
		return ctx.Err()
	}
	query := fmt.Sprintf(sleepQuery, r.cfg.normalQuery.Seconds())
	slow := w.Rand.Float64() < r.cfg.slowShare
	if slow {
		r.slowStarted.Add(1)
		query = r.slowSQL(r.cfg.slowKind, r.cfg.slowQuery)
	}
	err = sess.query(ctx, query)
	if !timer.Stop() && gaveUp.Load() {
		// The web tier closed the connection; whatever the query did, no one waits for it.
		r.clientTimeouts.Add(1)
		r.clientGone.Add(1)
		return &errClientTimeout{after: r.cfg.clientTimeout}
	}
	if err != nil {
		r.noteError(err)
		return err
	}
	name := "normal"
	if slow {
		name = "slow"
	}
	w.Observe(name, w.Intended, time.Since(w.Intended))
	return nil
}

func (r *run) noteError(err error) {
	switch harness.SQLState(err) {
	case codeTooManyConnections:
		r.first53300.CompareAndSwap(0, time.Now().UnixNano())
	case codeQueryCanceled:
		r.canceled.Add(1)
	}
}

// teardown terminates every backend the point started (the web tier's, zombies included, and the
// probes'), found by application_name, and waits until they are gone. A backend the admin may not
// signal (another role's, on a dsn target) still ends when its query does, within slow_query.
func (r *run) teardown(ctx context.Context, ctl *pgx.Conn) error {
	names := []string{r.appName, r.probeName}
	if _, err := ctl.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = ANY($1::text[]) AND pid <> pg_backend_pid()`, names); err != nil {
		return fmt.Errorf("terminate the scenario's sessions: %w", err)
	}
	for {
		var left int
		err := ctl.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY($1::text[])`, names).Scan(&left)
		if err != nil {
			return fmt.Errorf("wait for the scenario's sessions to end: %w", err)
		}
		if left == 0 {
			return nil
		}
		if wait.For(ctx, 50*time.Millisecond) != nil {
			return fmt.Errorf("wait for the scenario's sessions to end: %d left: %w", left, ctx.Err())
		}
	}
}
