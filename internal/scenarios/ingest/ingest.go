// Package ingest is the events-ingest scenario. It replays the "Then what?" of the article on
// serverless connections (a persistent server that queues events and writes them in batches) and
// the volume of the one on scaling to 1.2bn records a month: an events table (id, time, kind, user
// id, a payload of about 200 bytes; one or two indexes) written one INSERT per event, by multi-row
// INSERT … VALUES, by binary COPY, by pipelined single-row INSERTs, and through an in-process
// buffer that a flusher writes with COPY.
//
// Every point counts the rows it was told were written against the rows in the table
// (rows_lost), and reports rows/s, MB/s, commit latency, WAL, table and index bytes per row, and,
// across the batch sizes of a sweep, the batch size where throughput stops growing.
//
// CompareCopy measures the copy variant against `psql \copy` of the same rows as CSV.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Name of the scenario.
const Name = "ingest"

// Variants.
const (
	VariantInsert      = "insert"
	VariantMultiInsert = "multi-insert"
	VariantCopy        = "copy"
	VariantPipeline    = "pipeline"
	VariantBuffered    = "buffered"
)

var variants = []string{VariantInsert, VariantMultiInsert, VariantCopy, VariantPipeline, VariantBuffered}

// Values of the table parameter.
const (
	tableLogged   = "logged"
	tableUnlogged = "unlogged"
)

const (
	// maxBatch bounds the batch size: a batch is built in memory (the buffered variant keeps two
	// per flusher), and the sweep's largest, 10,000, already sits past where throughput stops
	// growing on the machines we measured.
	maxBatch = 100_000
	// opTimeout bounds one write (a batch, or a flush). Writes run to the end even when the run's
	// clock runs out or it is interrupted, so that every row is acknowledged or refused rather than
	// left in doubt; the largest batch (10,000 rows) commits in well under a second on 2 cores,
	// and 10 s leaves room for a checkpoint stall while keeping Ctrl-C prompt.
	opTimeout = 10 * time.Second
	// saturationShare: throughput has stopped growing at the least batch size that reaches this
	// share of the best rows/s of its sweep. 90%, as queue's saturation_workers: repeated points
	// on the shared 2-core machine differ by up to ~10%, so closer than that is a tie.
	saturationShare = 0.9
	// loadAppName marks the scenario's load connections in pg_stat_activity.
	loadAppName = "pgscale-ingest"
)

func init() {
	scenarios.Register(Name, func() scenarios.Scenario {
		return &scenario{saturation: scenarios.SaturationTracker{Metric: MetricSaturationBatch, Share: saturationShare}}
	})
}

type scenario struct {
	// saturation finds, per series group, the batch size where rows/s stops growing; insertRate
	// keeps insert's rows/s per group for the speed-up of the others.
	saturation scenarios.SaturationTracker
	insertRate map[string]float64
	// noCheckpointNoted is set once the log has said that CHECKPOINT was refused.
	noCheckpointNoted bool
}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "events one by one vs batched and bulk-loaded: INSERT, multi-row INSERT, COPY, pipeline, a buffering server",
		Shows: "Rows/s (rows_per_s) and MB/s of event data (mb_per_s) written into an events table (id, " +
			"created_at, user_id, kind, a ~200-byte payload; indexes=2: primary key and (user_id, created_at)) " +
			"by: insert, one INSERT per event, each its own transaction; multi-insert, one INSERT … VALUES of " +
			"`batch` rows; copy, one binary COPY (pgx CopyFrom) of `batch` rows; pipeline, `batch` single-row " +
			"INSERTs sent as one pgx batch (one round trip and, as pgx ends it with one Sync, one transaction); " +
			"buffered, the article's persistent server: producers hand events one by one to an in-process " +
			"buffer and a flusher per connection writes them with COPY as soon as `batch` events wait, or " +
			"`flush_interval` after the first of them arrived. " +
			"An operation (ops, ops/s, latency_ms) is one transaction of `batch` rows, so latency_ms is the commit " +
			"latency of a batch; in buffered an operation is one event committed (ops/s is rows_per_s), latency_ms " +
			"and event_* each event's time from generation to commit, enqueue_wait_* the time a producer waited " +
			"for room in the buffer (its back-pressure), and flush_* the commit latency of a flush; a flusher " +
			"whose connection is lost reconnects with a backoff (flusher_reconnects), and the run fails when it " +
			"cannot within 30 s. With --rate R, R is events per " +
			"second in every variant (a batch variant sends R/batch batches a second) and event time counts " +
			"from the intended start; in a closed loop the producers keep buffered's buffer full, so event_* " +
			"then measures the buffer's length, not the pipeline. " +
			"workers is the pool: connections, one writer each (buffered: flushers, and as many producers). " +
			"synchronous_commit is set per session; table=unlogged is informational (no WAL, lost in a crash). " +
			"Each point starts from an empty table after a CHECKPOINT. wal_bytes_per_row comes from the WAL " +
			"insert position before and after the point (writes of the warm-up and the drain included, divided " +
			"by every row they wrote); the timeline's server.wal_bytes is the sampler's WAL bytes per second. " +
			"table_bytes_per_row and index_bytes_per_row are pg_table_size and pg_indexes_size over the rows. " +
			"rows_lost counts acknowledged rows missing from the table (always 0 unless something is broken). " +
			"saturation_batch is the least batch size reaching 90% of the best rows/s of its sweep (same " +
			"variant, workers, synchronous_commit, table), final on the sweep's last series; " +
			"rows_per_s_vs_insert divides by insert's rows/s at the same point.",
		Variants: variants,
		// An operation is a batch (an event handed to the buffer in buffered): rows are the unit.
		Headline: &result.Headline{Metric: MetricRowsPerS, Label: "row throughput", Unit: "rows/s", Better: result.BetterHigher},
		Params: []scenarios.ParamSpec{
			scenarios.VariantsParam(variants...),
			{Name: "batch", Kind: scenarios.KindInt, List: true, Default: "10,1000", Quick: "10,1000", Full: "1,10,100,1000,10000", Min: 1,
				Help: "events per statement or flush (insert always writes 1)"},
			{Name: "workers", Kind: scenarios.KindInt, List: true, Default: "1,4", Quick: "2", Full: "1,2,4,8", Min: 1,
				Help: "pool size: connections, one writer each (buffered: flushers, and as many producers)"},
			{Name: "synchronous_commit", Kind: scenarios.KindString, List: true, Default: "on,off", Quick: "on",
				Choices: []string{"on", "off"}, Help: "set per session: off returns before the commit's WAL is flushed"},
			{Name: "table", Kind: scenarios.KindString, List: true, Default: tableLogged,
				Choices: []string{tableLogged, tableUnlogged},
				Help:    "logged, or unlogged (informational: no WAL, emptied by a crash)"},
			{Name: "flush_interval", Kind: scenarios.KindDuration, List: true, Default: "100ms", Quick: "50ms",
				Help: "buffered: the longest an event waits in the buffer before a flush"},
			{Name: "indexes", Kind: scenarios.KindInt, Default: "2", Choices: []string{"0", "1", "2"},
				Help: "0: a bare heap; 1: primary key (id); 2: and (user_id, created_at)"},
			{Name: "payload", Kind: scenarios.KindInt, Default: "200", Min: 0,
				Help: fmt.Sprintf("payload bytes per event (at most %d)", maxPayload)},
		},
		// 36 points by default, about 4 minutes on 2 cores; --preset full's 168 points near 18
		// minutes. 5 s + 1 s holds over a hundred commits even at batch 10,000. --quick: 9 points
		// of 2 s + 0.5 s, ~40 s.
		Duration: 5 * time.Second, Warmup: time.Second,
		QuickDuration: 2 * time.Second, QuickWarmup: 500 * time.Millisecond,
	}
}

// Plan checks what the parameter specs cannot and expands table × synchronous_commit × workers ×
// variant (× flush_interval for buffered) × batch, the batch sizes varying fastest so that each
// sweep over them ends on its own last series.
func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	var errs []error
	vs := p.Strings("variants")
	has := func(v string) bool {
		for _, x := range vs {
			if x == v {
				return true
			}
		}
		return false
	}
	for _, b := range p.Ints("batch") {
		if b > maxBatch {
			errs = append(errs, usage.Fieldf("set", "batch=%d: at most %d", b, maxBatch))
		} else if has(VariantMultiInsert) && b*len(columns) > maxParams {
			errs = append(errs, usage.Fieldf("set", "batch=%d: multi-insert binds %d parameters a row and a statement takes at most %d: "+
				"batch at most %d (or leave multi-insert out of --set variants)", b, len(columns), maxParams, maxParams/len(columns)))
		}
	}
	if has(VariantBuffered) {
		for _, d := range p.Durations("flush_interval") {
			if d < time.Millisecond {
				errs = append(errs, usage.Fieldf("set", "flush_interval=%s: must be at least 1ms", d))
			}
		}
	}
	if n := p.Int("payload"); n > maxPayload {
		errs = append(errs, usage.Fieldf("set", "payload=%d: at most %d bytes (larger values are compressed and TOASTed)", n, maxPayload))
	}
	if len(errs) > 0 {
		return scenarios.Plan{}, usage.Join(errs)
	}
	var plan scenarios.Plan
	for _, table := range p.Strings("table") {
		for _, sync := range p.Strings("synchronous_commit") {
			for _, workers := range p.Ints("workers") {
				for _, v := range vs {
					batches := p.Ints("batch")
					if v == VariantInsert {
						batches = []int{1}
					}
					flushes := []string{""}
					if v == VariantBuffered {
						flushes = p.Strings("flush_interval")
					}
					for _, f := range flushes {
						for _, b := range batches {
							values := map[string]any{"batch": b, "workers": workers, "synchronous_commit": sync, "table": table}
							if f != "" {
								values["flush_interval"] = f
							}
							plan.Points = append(plan.Points, scenarios.Point{Variant: v, Values: values, Workers: workers})
						}
					}
				}
			}
		}
	}
	return plan, nil
}

// Setup creates the events table, so that a target that cannot take it fails before any point.
func (s *scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := execAll(ctx, conn, schemaSQL(false, env.Params.Int("indexes"))); err != nil {
		return fmt.Errorf("create the events table: %w", err)
	}
	return nil
}

// config is one point's parameters.
type config struct {
	variant       string
	batch         int
	workers       int
	syncCommit    string
	unlogged      bool
	flushInterval time.Duration
	indexes       int
	payload       int
	duration      time.Duration
}

func pointConfig(env *scenarios.Env, pt scenarios.Point) config {
	c := config{
		variant: pt.Variant, batch: 1, workers: pt.Workers, syncCommit: "on",
		indexes: env.Params.Int("indexes"), payload: env.Params.Int("payload"), duration: env.Duration,
	}
	if b, ok := pt.Values["batch"].(int); ok {
		c.batch = b
	}
	if s, ok := pt.Values["synchronous_commit"].(string); ok {
		c.syncCommit = s
	}
	c.unlogged = pt.Values["table"] == tableUnlogged
	if f, ok := pt.Values["flush_interval"].(string); ok {
		c.flushInterval, _ = time.ParseDuration(f) // checked by the parameter spec
	}
	return c
}

// groupKey names the sweep over batch sizes a point belongs to.
func (c config) groupKey() string {
	return fmt.Sprintf("%s/%d/%s/%t/%s", c.variant, c.workers, c.syncCommit, c.unlogged, c.flushInterval)
}

// pointKey names the point apart from its variant and batch size (for the speed-up over insert).
func (c config) pointKey() string {
	return fmt.Sprintf("%d/%s/%t", c.workers, c.syncCommit, c.unlogged)
}

// Run measures one point: a fresh table, the load, then the row count check and the table's
// figures.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	c := pointConfig(env, pt)
	admin, err := env.AdminConn(ctx)
	if err != nil {
		return result.Series{}, err
	}
	defer admin.Close(context.Background())
	// A fresh table and a checkpoint: every point starts from the same state, and pays for the
	// full-page images after a checkpoint alike.
	if err := execAll(ctx, admin, schemaSQL(c.unlogged, c.indexes)); err != nil {
		return result.Series{}, fmt.Errorf("ingest reset: %w", err)
	}
	if skipped, err := checkpoint(ctx, admin); err != nil {
		return result.Series{}, fmt.Errorf("ingest reset: %w", err)
	} else if skipped && !s.noCheckpointNoted {
		s.noCheckpointNoted = true
		env.Logf("ingest: CHECKPOINT refused (no superuser or pg_checkpoint role): points start without one")
	}
	walBefore, err := walInsertLSN(ctx, admin)
	if err != nil {
		return result.Series{}, err
	}

	load := env.Load.Copy()
	if load.RuntimeParams == nil {
		load.RuntimeParams = map[string]string{}
	}
	load.RuntimeParams["synchronous_commit"] = c.syncCommit
	load.RuntimeParams["application_name"] = loadAppName

	st := newRunState(c)
	var out *loadgen.Outcome
	var runErr error
	if c.variant == VariantBuffered {
		out, runErr = st.runBuffered(ctx, env, load)
	} else {
		cfg := env.LoadConfig(c.workers, loadgen.ConnPerWorker)
		cfg.ConnConfig = load
		if env.Rate > 0 {
			cfg.Rate = env.Rate / float64(c.batch) // --rate is events per second
		}
		out, runErr = loadgen.Run(ctx, cfg, st.op)
	}
	if out == nil {
		return result.Series{}, runErr
	}
	series, err := out.Series()
	if err != nil {
		return series, errors.Join(runErr, err)
	}
	st.addFlushFigures(&series)

	// The checks run even after an interrupt, on a context of their own, so that the result says
	// whether every acknowledged row arrived.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	tbl, err := readTable(cctx, admin)
	if err != nil {
		return series, errors.Join(runErr, err)
	}
	walAfter, err := walInsertLSN(cctx, admin)
	if err != nil {
		return series, errors.Join(runErr, err)
	}
	tbl.walBytes = walAfter - walBefore
	st.addMetrics(series.Metrics, out.Measured, tbl)
	s.noteSweep(c, series.Metrics)
	if lost := series.Metrics[MetricRowsLost]; lost > 0 {
		env.Logf("ingest: %s lost rows: %.0f acknowledged rows are not in the table (rows_lost)", c.variant, lost)
	}
	if n := st.unflushed.Load(); n > 0 {
		env.Logf("ingest: buffered gave up on %d events still in its buffer after %s (counted as events_unflushed)", n, drainTimeout)
	}
	return series, runErr
}

// sqlstateInsufficientPrivilege is insufficient_privilege.
const sqlstateInsufficientPrivilege = "42501"

// checkpoint runs CHECKPOINT, and reports skipped instead of an error when the role may not
// (superuser or pg_checkpoint only, e.g. on a managed server given by DSN).
func checkpoint(ctx context.Context, conn *pgx.Conn) (skipped bool, err error) {
	_, err = conn.Exec(ctx, "CHECKPOINT")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == sqlstateInsufficientPrivilege {
		return true, nil
	}
	return false, err
}

// tableFigures are what the table holds after a point.
type tableFigures struct {
	rows, tableBytes, indexBytes, walBytes int64
}

func readTable(ctx context.Context, conn *pgx.Conn) (tableFigures, error) {
	var f tableFigures
	t := pgx.Identifier{tableName}.Sanitize()
	err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+t+"), pg_table_size($1::regclass), pg_indexes_size($1::regclass)",
		tableName).Scan(&f.rows, &f.tableBytes, &f.indexBytes)
	if err != nil {
		return f, fmt.Errorf("ingest table figures: %w", err)
	}
	return f, nil
}

// walInsertLSN is the WAL insert position in bytes. The insert position, not the write position:
// with synchronous_commit off the WAL written may lag what was inserted.
func walInsertLSN(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var lsn int64
	if err := conn.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint").Scan(&lsn); err != nil {
		return 0, fmt.Errorf("ingest wal position: %w", err)
	}
	return lsn, nil
}

// runState is what one point's writers share.
type runState struct {
	cfg   config
	table pgx.Identifier
	// insert and multi are the statements of insert and pipeline, and of multi-insert.
	insert, multi string

	nextID atomic.Int64
	// Rows acknowledged (over the whole run, warm-up and drain included), refused by the server
	// (rolled back), or in doubt (the client never learnt the outcome); windowRows were
	// acknowledged within the measured window.
	acked, failed, uncertain, windowRows atomic.Int64

	// win is the measured window, known once the first operation runs.
	winOnce sync.Once
	win     atomic.Pointer[window]

	buffered
}

type window struct{ from, end time.Time }

func newRunState(c config) *runState {
	st := &runState{cfg: c, table: pgx.Identifier{tableName}, insert: insertSQL()}
	if c.variant == VariantMultiInsert {
		st.multi = multiInsertSQL(c.batch)
	}
	return st
}

// noteWindow records the measured window from an operation's context: the run's operations end
// at its end, which comes the duration after the warm-up.
func (st *runState) noteWindow(ctx context.Context) {
	st.winOnce.Do(func() {
		if end, ok := ctx.Deadline(); ok {
			st.win.Store(&window{from: end.Add(-st.cfg.duration), end: end})
		}
	})
}

func (st *runState) inWindow(t time.Time) bool {
	w := st.win.Load()
	return w != nil && !t.Before(w.from) && t.Before(w.end)
}

// account counts n rows by the outcome of the write that carried them.
func (st *runState) account(n int, done time.Time, err error) {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		st.acked.Add(int64(n))
		if st.inWindow(done) {
			st.windowRows.Add(int64(n))
		}
	case errors.As(err, &pgErr), pgconn.SafeToRetry(err):
		// The statement failed (its transaction rolled back), or was never sent (the connection
		// was closed already).
		st.failed.Add(int64(n))
	default:
		st.uncertain.Add(int64(n))
	}
}

// writerState is a writer's reusable generator and buffers.
type writerState struct {
	gen  *eventGen
	src  *genSource
	ev   event
	args []any
}

// op writes one batch (one event for insert) in its own transaction.
func (st *runState) op(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
	st.noteWindow(ctx)
	ws, ok := w.State.(*writerState)
	if !ok {
		ws = &writerState{gen: &eventGen{rnd: w.Rand, payload: st.cfg.payload}}
		ws.src = newGenSource(ws.gen)
		w.State = ws
	}
	n := st.cfg.batch
	first := st.nextID.Add(int64(n)) - int64(n) + 1
	// The write runs to its end even when the run's clock runs out, so that its rows are
	// acknowledged or refused, never in doubt.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	err := st.write(wctx, conn, ws, first, n)
	st.account(n, time.Now(), err)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", st.cfg.variant, err)
	}
	return nil
}

func (st *runState) write(ctx context.Context, conn *pgx.Conn, ws *writerState, first int64, n int) error {
	switch st.cfg.variant {
	case VariantInsert:
		ws.gen.fill(&ws.ev, first)
		ev := &ws.ev
		_, err := conn.Exec(ctx, st.insert, ev.id, ev.at, ev.user, ev.kind, ev.payload)
		return err
	case VariantMultiInsert:
		ws.args = ws.args[:0]
		for i := range n {
			ws.gen.fill(&ws.ev, first+int64(i))
			ev := &ws.ev
			ws.args = append(ws.args, ev.id, ev.at, ev.user, ev.kind, ev.payload)
		}
		_, err := conn.Exec(ctx, st.multi, ws.args...)
		return err
	case VariantCopy:
		ws.src.reset(first, n)
		return copyRows(ctx, conn, st.table, ws.src, n)
	case VariantPipeline:
		b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, n)}
		for i := range n {
			ws.gen.fill(&ws.ev, first+int64(i))
			ev := &ws.ev
			b.Queue(st.insert, ev.id, ev.at, ev.user, ev.kind, ev.payload)
		}
		return conn.SendBatch(ctx, b).Close()
	default:
		return fmt.Errorf("unknown variant %q", st.cfg.variant)
	}
}

// addMetrics puts the point's figures into the series' metrics.
func (st *runState) addMetrics(m map[string]float64, measured time.Duration, t tableFigures) {
	c := st.cfg
	if s := measured.Seconds(); s > 0 {
		rps := float64(st.windowRows.Load()) / s
		m[MetricRowsPerS] = rps
		m[MetricMBPerS] = rps * eventBytes(c.payload) / 1e6
	}
	m[MetricBatch] = float64(c.batch)
	acked := st.acked.Load()
	m[MetricRowsAcknowledged] = float64(acked)
	m[MetricRowsFailed] = float64(st.failed.Load())
	m[MetricRowsUncertain] = float64(st.uncertain.Load())
	m[MetricRowsInTable] = float64(t.rows)
	// Lost: acknowledged but absent. Unaccounted: present beyond what was acknowledged or in doubt.
	m[MetricRowsLost] = float64(max(0, acked-t.rows))
	m[MetricRowsUnaccounted] = float64(max(0, t.rows-acked-st.uncertain.Load()))
	if t.rows > 0 {
		m[MetricWALBytesPerRow] = float64(t.walBytes) / float64(t.rows)
		m[MetricTableBytesPerRow] = float64(t.tableBytes) / float64(t.rows)
		m[MetricIndexBytesPerRow] = float64(t.indexBytes) / float64(t.rows)
	}
	m[MetricWALBytes] = float64(t.walBytes)
	m[MetricEventBytes] = eventBytes(c.payload)
	if c.variant == VariantBuffered {
		st.addBufferedMetrics(m)
	}
}

// noteSweep records the point's rows/s, sets saturation_batch on every series of its sweep so far
// (the maps are the ones in the series already handed to the runner; the sweep's last series has
// the value over the whole sweep in any case), and the speed-up over insert at the same point.
func (s *scenario) noteSweep(c config, m map[string]float64) {
	if s.insertRate == nil {
		s.insertRate = map[string]float64{}
	}
	rps := m[MetricRowsPerS]
	if c.variant == VariantInsert {
		s.insertRate[c.pointKey()] = rps
	} else if ins := s.insertRate[c.pointKey()]; ins > 0 {
		m[MetricRowsPerSVsInsert] = rps / ins
	}
	s.saturation.Note(c.groupKey(), c.batch, rps, m)
}

// formatCount renders n with thousands separators, for log lines.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
