package queue

// A long transaction beside the queue (--set long_txn=DURATION): the article on scaling to 1.2bn
// records warns that "running long transactions against the master instance would have prevented
// autovacuum and caused table bloat". A session of its own opens a REPEATABLE READ transaction,
// takes its snapshot with a first SELECT and sits idle in transaction, so its backend_xmin holds
// the database's xmin horizon: every row version the workers delete or update after it stays
// (dead but not removable), autovacuum runs and removes nothing, and the claims' index scans wade
// through the dead entries at the head of the queue. The fix, idle_in_transaction_session_timeout
// (--set idle_in_transaction_timeout=DURATION), has the server end the holder's session; vacuum
// then catches up.
//
// The holder is ended on every path: when its time is up, when the point ends, and when the run's
// context is canceled (Ctrl-C), its connection is closed, which rolls the transaction back, so
// nothing is left on a dsn target.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Parameter and point names of the long transaction.
const (
	paramLongTxn     = "long_txn"
	paramIdleTimeout = "idle_in_transaction_timeout"
	pointLongTxn     = "long_txn_s"
	pointIdleTimeout = "idle_in_transaction_timeout_s"
)

const (
	// holderAppName marks the long transaction's session in pg_stat_activity; it differs from
	// the workers' so that the end of a point does not wait for it as for a worker.
	holderAppName = "pgscale-queue-xmin-holder"
	// codeIdleInTransactionTimeout is the SQLSTATE of the FATAL the server sends when
	// idle_in_transaction_session_timeout ends a session.
	codeIdleInTransactionTimeout = "25P03"
	// eagerNaptime is the autovacuum_naptime a long_txn run asks the server for: the launcher
	// visits the database every second instead of every minute (the default), so that in a run of
	// a minute autovacuum gets dozens of chances to clean the queue, and the timeline shows
	// whether it can.
	eagerNaptime = "1s"
	// eagerThreshold is the queue tables' autovacuum_vacuum_threshold (with a scale factor of 0):
	// a vacuum once 1,000 rows have died, a fraction of a second of a queue at thousands of jobs/s.
	eagerThreshold = 1000
)

// longTxnParams are the long transaction's parameters, listed after the queue's own.
func longTxnParams() []scenarios.ParamSpec {
	return []scenarios.ParamSpec{
		{Name: paramLongTxn, Kind: scenarios.KindDuration, List: true, Default: "0s",
			Help: "a session holds a REPEATABLE READ snapshot idle in transaction this long from the point's start " +
				"(the whole point when longer), holding back vacuum; 0: none; a list runs each side by side (0,10m). " +
				"Given, autovacuum is made eager (naptime 1s, queue tables vacuumed every 1,000 dead rows)"},
		{Name: paramIdleTimeout, Kind: scenarios.KindDuration, List: true, Default: "0s",
			Help: "the fix for long_txn: idle_in_transaction_session_timeout on the holder's session, after which the " +
				"server ends it and vacuum catches up; 0: off; a list runs each (0,20s)"},
	}
}

// IntrusiveWith: a long transaction holds back vacuum in the whole database, not only in the
// run's schema, so on a dsn target it needs --allow-intrusive as the intrusive scenarios do.
func (s *scenario) IntrusiveWith(p scenarios.Params) string {
	if hasLongTxn(p) {
		return "long_txn holds a snapshot that keeps vacuum from removing dead rows anywhere in the database"
	}
	return ""
}

// maxTimeoutSetting is the largest value PostgreSQL takes for a timeout setting (INT_MAX ms).
const maxTimeoutSetting = 2147483647 * time.Millisecond

// checkLongTxn reports what the parameter specs cannot check.
func checkLongTxn(p scenarios.Params) []error {
	var errs []error
	for _, d := range p.Durations(paramIdleTimeout) {
		if d > 0 && d < time.Millisecond {
			errs = append(errs, usage.Fieldf("set", "%s=%s: must be 0 (off) or at least 1ms, the setting's unit", paramIdleTimeout, d))
		}
		if d > maxTimeoutSetting {
			errs = append(errs, usage.Fieldf("set", "%s=%s: PostgreSQL takes at most %s", paramIdleTimeout, d, maxTimeoutSetting))
		}
	}
	if p.Given(paramIdleTimeout) && !hasLongTxn(p) {
		errs = append(errs, usage.Fieldf("set", "%s: it ends a long transaction, and long_txn=%s holds none; give long_txn a duration (e.g. long_txn=10m)",
			paramIdleTimeout, strings.Join(p.Strings(paramLongTxn), ",")))
	}
	return errs
}

func hasLongTxn(p scenarios.Params) bool {
	for _, d := range p.Durations(paramLongTxn) {
		if d > 0 {
			return true
		}
	}
	return false
}

// expandLongTxn multiplies the points by the long transactions asked for: each point runs once
// per long_txn value, and those that hold one once per idle_in_transaction_timeout value. Without
// long_txn given, the points are left as they are. It also returns the server settings the
// long_txn points share (eager autovacuum).
func expandLongTxn(p scenarios.Params, points []scenarios.Point) ([]scenarios.Point, map[string]string) {
	if !p.Given(paramLongTxn) {
		return points, nil
	}
	var out []scenarios.Point
	for _, pt := range points {
		for _, hold := range p.Durations(paramLongTxn) {
			timeouts := p.Durations(paramIdleTimeout)
			if hold == 0 {
				timeouts = []time.Duration{0}
			}
			for _, timeout := range timeouts {
				values := make(map[string]any, len(pt.Values)+2)
				for k, v := range pt.Values {
					values[k] = v
				}
				values[pointLongTxn] = hold.Seconds()
				if p.Given(paramIdleTimeout) {
					values[pointIdleTimeout] = timeout.Seconds()
				}
				next := pt
				next.Values = values
				out = append(out, next)
			}
		}
	}
	return out, map[string]string{"autovacuum_naptime": eagerNaptime}
}

// longTxnOf reads a point's long transaction: how long it holds, and the idle timeout that may
// end it first.
func longTxnOf(pt scenarios.Point) (hold, idleTimeout time.Duration) {
	seconds := func(key string) time.Duration {
		s, _ := pt.Values[key].(float64)
		return time.Duration(s * float64(time.Second))
	}
	return seconds(pointLongTxn), seconds(pointIdleTimeout)
}

// eagerAutovacuum sets the queue tables' autovacuum to start at eagerThreshold dead rows, with
// no cost delay, when long_txn is given: table settings, in the run's own schema, so that they
// apply on a dsn target too (whose autovacuum_naptime stays the server's).
func eagerAutovacuum(ctx context.Context, conn *pgx.Conn, p scenarios.Params) error {
	if !p.Given(paramLongTxn) {
		return nil
	}
	for _, table := range []string{"task", "task_queue"} {
		sql := fmt.Sprintf("ALTER TABLE %s SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = %d, autovacuum_vacuum_cost_delay = 0)",
			pgx.Identifier{table}.Sanitize(), eagerThreshold)
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("queue eager autovacuum on %s: %w", table, err)
		}
	}
	return nil
}

// xminHolder is the long transaction of one point.
type xminHolder struct {
	hold, idleTimeout time.Duration

	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	// started is when the snapshot was taken; ended when the transaction ended (zero while held).
	started, ended time.Time
	// endedByTimeout is set when the server ended the session for idle_in_transaction_session_timeout.
	endedByTimeout bool
	// endCode is the SQLSTATE of the error that ended the session, when the server ended it.
	endCode string
}

// startHolder opens the holder's session on a connection of its own, begins a REPEATABLE READ
// transaction and takes its snapshot with a first SELECT; it then sits idle in transaction for
// hold, until stop, or until ctx ends, whichever is first (or until the server ends it).
func startHolder(ctx context.Context, admin *pgx.ConnConfig, hold, idleTimeout time.Duration) (*xminHolder, error) {
	h := &xminHolder{hold: hold, idleTimeout: idleTimeout, done: make(chan struct{})}
	cfg := admin.Copy()
	params := map[string]string{}
	for k, v := range admin.RuntimeParams {
		params[k] = v
	}
	params["application_name"] = holderAppName
	if idleTimeout > 0 {
		params["idle_in_transaction_session_timeout"] = fmt.Sprint(idleTimeout.Milliseconds())
	}
	cfg.RuntimeParams = params
	cfg.OnPgError = func(_ *pgconn.PgConn, pgErr *pgconn.PgError) bool {
		if strings.EqualFold(pgErr.Severity, "FATAL") {
			h.mu.Lock()
			h.endCode = pgErr.Code
			h.mu.Unlock()
			return false // the session is over: close the connection
		}
		return true
	}
	conn, err := loadgen.Connect(ctx, cfg, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("queue long transaction: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
		closeHolderConn(conn)
		return nil, fmt.Errorf("queue long transaction: begin: %w", err)
	}
	var queued int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM task_queue").Scan(&queued); err != nil {
		closeHolderConn(conn)
		return nil, fmt.Errorf("queue long transaction: first select: %w", err)
	}
	h.started = time.Now()
	holdCtx, cancel := context.WithTimeout(ctx, hold)
	h.cancel = cancel
	go h.sit(holdCtx, conn)
	return h, nil
}

// sit waits, idle in transaction, reading nothing but what the server may send: the FATAL of an
// idle-in-transaction timeout and the end of the connection. Then it ends the transaction.
func (h *xminHolder) sit(ctx context.Context, conn *pgx.Conn) {
	defer close(h.done)
	defer closeHolderConn(conn)
	err := conn.PgConn().WaitForNotification(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = time.Now()
	if ctx.Err() == nil && err != nil {
		// The server ended the session before the hold was up.
		h.endedByTimeout = h.endCode == codeIdleInTransactionTimeout
	}
}

// closeHolderConn rolls the transaction back where the connection still works, and closes it:
// closing alone would roll back too, as the backend exits.
func closeHolderConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !conn.IsClosed() {
		_, _ = conn.Exec(ctx, "ROLLBACK")
	}
	_ = conn.Close(ctx)
}

// stop ends the transaction if it still holds, and waits until its connection is closed. It is
// safe to call more than once, and on a nil holder.
func (h *xminHolder) stop() {
	if h == nil {
		return
	}
	h.cancel()
	<-h.done
}

// span returns when the snapshot was taken and when the transaction ended (zero while it holds).
func (h *xminHolder) span() (started, ended time.Time, byTimeout bool, code string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started, h.ended, h.endedByTimeout, h.endCode
}

// addLongTxnFigures puts the long transaction's figures into a series of a long_txn run: when
// the holder held and when it was ended, dead tuples at their peak during the load (both
// tables), autovacuum runs while it
// held, and jobs/s and latency in the first and last third of the measured window, beside the
// per-second columns xmin_held and xmin_released. h is nil for a point that holds none.
func addLongTxnFigures(s *result.Series, h *xminHolder, readings []tableReading) {
	m := s.Metrics
	loadEnd := s.StartedAt.Add(time.Duration((s.WarmupS + s.DurationS) * float64(time.Second)))
	var peak int64
	for _, r := range readings {
		if r.at.After(s.StartedAt) && !r.at.After(loadEnd) {
			peak = max(peak, r.deadTuples())
		}
	}
	m[MetricDeadTuplesPeak] = float64(peak)
	addThirds(s)
	if h == nil {
		m[MetricLongTxnHeldS] = 0
		return
	}
	started, ended, byTimeout, _ := h.span()
	if ended.IsZero() {
		ended = time.Now()
	}
	early := ended.Before(loadEnd)
	m[MetricLongTxnHeldS] = ended.Sub(started).Seconds()
	m[MetricLongTxnEndedByTimeout] = 0
	if byTimeout {
		m[MetricLongTxnEndedByTimeout] = 1
	}
	if early {
		m[MetricXminReleasedAtS] = ended.Sub(s.StartedAt).Seconds()
		// Dead tuples when the holder went, and the least they came down to after.
		var at, least int64 = -1, -1
		for _, r := range readings {
			switch {
			case !r.at.After(ended):
				at = r.deadTuples()
			case least < 0 || r.deadTuples() < least:
				least = r.deadTuples()
			}
		}
		if at >= 0 && least >= 0 {
			m[MetricDeadTuplesAtRelease], m[MetricDeadTuplesLeastAfterRelease] = float64(at), float64(least)
		}
	}
	// Autovacuum runs from the first reading after the snapshot to the last one before its end.
	var first, last *tableReading
	for i := range readings {
		r := &readings[i]
		if r.at.After(started) && r.at.Before(ended) {
			if first == nil {
				first = r
			}
			last = r
		}
	}
	if first != nil {
		m[MetricAutovacuumRunsWhileHeld] = float64(last.autovacuums() - first.autovacuums())
	}
	for i := range s.Timeline {
		sec := &s.Timeline[i]
		lo, hi := s.StartedAt.Add(time.Duration(sec.T-1)*time.Second), s.StartedAt.Add(time.Duration(sec.T)*time.Second)
		if sec.Extra == nil {
			sec.Extra = map[string]float64{}
		}
		sec.Extra[result.ColumnXminHeld], sec.Extra[result.ColumnXminReleased] = 0, 0
		if started.Before(hi) && ended.After(lo) {
			sec.Extra[result.ColumnXminHeld] = 1
		}
		if early && ended.Before(hi) {
			sec.Extra[result.ColumnXminReleased] = 1
		}
	}
}

// addThirds sets jobs/s and the mean per-second p99 over the first and the last third of the
// measured window, which show the decay over a run: jobs_per_s scaled by each third's operations
// per second over the window's (an operation is a job, or a batch of them).
func addThirds(s *result.Series) {
	var measured []result.Second
	for _, sec := range s.Timeline {
		if !sec.Warmup {
			measured = append(measured, sec)
		}
	}
	n := len(measured) / 3
	if n == 0 {
		return
	}
	mean := func(secs []result.Second, get func(result.Second) float64) float64 {
		var sum float64
		for _, sec := range secs {
			sum += get(sec)
		}
		return sum / float64(len(secs))
	}
	ops := func(sec result.Second) float64 { return float64(sec.Ops) }
	p99 := func(sec result.Second) float64 { return sec.P99Ms }
	all := mean(measured, ops)
	first, last := measured[:n], measured[len(measured)-n:]
	if all > 0 {
		m := s.Metrics
		m[MetricJobsPerSFirstThird] = m[MetricJobsPerS] * mean(first, ops) / all
		m[MetricJobsPerSLastThird] = m[MetricJobsPerS] * mean(last, ops) / all
	}
	s.Metrics[MetricP99MsFirstThird] = mean(first, p99)
	s.Metrics[MetricP99MsLastThird] = mean(last, p99)
}

// startWatchAndHolder starts, on the process that owns the queue (not the other shards), the
// per-second table watch and, for a point that holds one, the long transaction.
func startWatchAndHolder(ctx context.Context, env *scenarios.Env, c config, owner bool) (*tableWatch, *xminHolder, error) {
	if !owner {
		return nil, nil, nil
	}
	watch, err := startTableWatch(ctx, env.Admin)
	if err != nil {
		return nil, nil, err
	}
	if c.longTxn == 0 {
		return watch, nil, nil
	}
	holder, err := startHolder(ctx, env.Admin, c.longTxn, c.idleTxnTimeout)
	if err != nil {
		_, _ = watch.stop()
		return nil, nil, err
	}
	return watch, holder, nil
}

// longTxnSentence is a long_txn series' headline: what held the horizon, the dead tuples, the
// autovacuum runs, and jobs/s from the first third of the run to the last.
func longTxnSentence(m map[string]float64) string {
	trend := ""
	if first, ok := m[MetricJobsPerSFirstThird]; ok {
		trend = fmt.Sprintf("; jobs/s %.0f in the first third, %.0f in the last", first, m[MetricJobsPerSLastThird])
	}
	switch {
	case m[MetricLongTxnHeldS] == 0:
		return fmt.Sprintf("no long transaction: %.0f autovacuum runs, dead tuples at most %.0f, %.0f at the end%s",
			m[MetricAutovacuumRuns], m[MetricDeadTuplesPeak], m[MetricDeadTuples], trend)
	case m[MetricLongTxnEndedByTimeout] == 1:
		return fmt.Sprintf("idle_in_transaction_session_timeout ended the long transaction at %.1f s: dead tuples %.0f, then down to %.0f%s",
			m[MetricXminReleasedAtS], m[MetricDeadTuplesAtRelease], m[MetricDeadTuplesLeastAfterRelease], trend)
	default:
		after := ""
		if at, ok := m[MetricXminReleasedAtS]; ok {
			after = fmt.Sprintf(", then it ended at %.1f s and they came down to %.0f", at, m[MetricDeadTuplesLeastAfterRelease])
		}
		return fmt.Sprintf("a snapshot held %.0f s: dead tuples rose to %.0f through %.0f autovacuum runs while it held%s%s",
			m[MetricLongTxnHeldS], m[MetricDeadTuplesPeak], m[MetricAutovacuumRunsWhileHeld], after, trend)
	}
}
