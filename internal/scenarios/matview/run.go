package matview

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/wait"
	"github.com/pgscale/pgscale/result"
)

const (
	// readers is how many sessions look up the summary. Two paced readers are enough to see a
	// blocked read in every interval of a 200/s schedule without taking a core from the refresh.
	readers = 2
	// writeBatch is the events per insert: a writer at 200 events/s makes 20 inserts a second.
	writeBatch = 10
	// watchInterval is how often the watcher reads pg_locks: 20 times a second catches a lock
	// held through a refresh of tens of milliseconds.
	watchInterval = 50 * time.Millisecond
	// refreshGap is the pause between refreshes, and the worker's pause when it finds nothing:
	// readers get the view between two plain refreshes.
	refreshGap = 200 * time.Millisecond
	idlePoll   = 50 * time.Millisecond
	// connectTimeout bounds one connect; cleanupTimeout the teardown (dropping the tables).
	connectTimeout = 10 * time.Second
	cleanupTimeout = 30 * time.Second
)

// interval is one timed operation: a read or write from its intended start, or a refresh or batch.
type interval struct {
	from, to time.Time
	rows     int64 // events a batch summarized
}

// point is one point's run.
type point struct {
	env     *scenarios.Env
	variant string
	rows    int
	batch   int

	mu         sync.Mutex
	reads      []interval
	writes     []interval
	refreshes  []interval
	errors     map[string]int64
	samples    map[string]string
	lockModes  map[string]bool
	waiting    []reading
	pendingMax int64
	upToDate   time.Duration
	firstOp    time.Time // the first refresh's (or batch's) start
}

// reading is one look of the watcher.
type reading struct {
	at      time.Time
	waiting int
	pending int64
}

// Run builds the point's tables, runs readers and a writer while the summary is kept up to date,
// and drops the tables.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	rows, _ := pt.Values["rows"].(int)
	p := &point{env: env, variant: pt.Variant, rows: rows, batch: env.Params.Int("batch"),
		errors: map[string]int64{}, samples: map[string]string{}, lockModes: map[string]bool{}}
	admin, err := env.AdminConn(ctx)
	if err != nil {
		return result.Series{}, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if admin.IsClosed() {
			if admin, err = env.AdminConn(cctx); err != nil {
				return
			}
		}
		_ = dropObjects(cctx, admin)
		admin.Close(cctx)
	}()
	if err := build(ctx, admin, env, pt.Variant, rows); err != nil {
		return result.Series{}, err
	}
	started := time.Now()
	err = p.measure(ctx, admin)
	series := p.series(started, time.Since(started))
	s.growth.note(pt.Variant, float64(rows), series.Metrics[MetricRefreshMs], series.Metrics)
	series.Sentence = sentence(pt.Variant, rows, series.Metrics)
	env.Logf("%s", series.Sentence)
	return series, err
}

// measure runs the load around the refreshes (or the worker) and the watcher.
func (p *point) measure(ctx context.Context, admin *pgx.Conn) error {
	env := p.env
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	writeCtx, stopWrites := context.WithCancel(loadCtx)
	defer stopWrites()

	var loadWG, writeWG sync.WaitGroup
	// Every return, early ones included, stops the readers, writer and watcher and waits for
	// them, so none queries while Run's teardown drops the objects.
	defer func() {
		stopLoad()
		writeWG.Wait()
		loadWG.Wait()
	}()
	readRate := env.Params.Float("read_rate") / readers
	for i := range readers {
		conn, err := loadgen.Connect(ctx, env.Load, connectTimeout)
		if err != nil {
			return fmt.Errorf("matview-refresh: reader %d: %w", i, err)
		}
		loadWG.Add(1)
		go func() {
			defer loadWG.Done()
			defer conn.Close(context.WithoutCancel(ctx))
			p.paced(loadCtx, conn, readRate, "read", func(c context.Context, n int) error {
				var events, total int64
				return conn.QueryRow(c, readSQL(p.variant), 1+n%accountsFor(p.rows)).Scan(&events, &total)
			})
		}()
	}
	writer, err := loadgen.Connect(ctx, env.Load, connectTimeout)
	if err != nil {
		return fmt.Errorf("matview-refresh: writer: %w", err)
	}
	writeWG.Add(1)
	go func() {
		defer writeWG.Done()
		defer writer.Close(context.WithoutCancel(ctx))
		p.paced(writeCtx, writer, env.Params.Float("write_rate")/writeBatch, "write", func(c context.Context, _ int) error {
			_, err := writer.Exec(c, writeSQL(), accountsFor(p.rows), writeBatch)
			return err
		})
	}()
	watcher, err := loadgen.Connect(ctx, env.Admin, connectTimeout)
	if err != nil {
		return fmt.Errorf("matview-refresh: watcher: %w", err)
	}
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		defer watcher.Close(context.WithoutCancel(ctx))
		p.watch(loadCtx, watcher, admin.PgConn().PID())
	}()
	start := time.Now()
	if wait.Until(ctx, start.Add(env.Params.Duration("before"))) != nil {
		return ctx.Err()
	}
	end := start.Add(env.Duration)
	err = p.keepUp(ctx, admin, end)
	stopWrites()
	writeWG.Wait()
	if err == nil {
		err = p.catchUp(ctx, admin)
	}
	return err
}

// keepUp refreshes the view back to back (with a short gap), or runs the worker, until end.
func (p *point) keepUp(ctx context.Context, admin *pgx.Conn, end time.Time) error {
	for first := true; first || time.Now().Before(end); first = false {
		if p.variant == VariantIncremental {
			n, err := p.runBatch(ctx, admin)
			if err != nil {
				return err
			}
			if n < int64(p.batch) && wait.Until(ctx, time.Now().Add(idlePoll)) != nil {
				return ctx.Err()
			}
			continue
		}
		if _, err := p.refresh(ctx, admin); err != nil {
			return err
		}
		if wait.Until(ctx, time.Now().Add(refreshGap)) != nil {
			return ctx.Err()
		}
	}
	return nil
}

// catchUp measures, once the writer has stopped, how long until the summary reflects every write:
// one refresh, or the worker's batches until nothing is pending.
func (p *point) catchUp(ctx context.Context, admin *pgx.Conn) error {
	if p.variant != VariantIncremental {
		d, err := p.refresh(ctx, admin)
		p.upToDate = d
		return err
	}
	t0 := time.Now()
	for {
		n, err := p.runBatch(ctx, admin)
		if err != nil {
			return err
		}
		if n < int64(p.batch) {
			break
		}
	}
	p.upToDate = time.Since(t0)
	return nil
}

// refresh runs one refresh of the view and records it.
func (p *point) refresh(ctx context.Context, admin *pgx.Conn) (time.Duration, error) {
	t0 := time.Now()
	p.noteFirst(t0)
	if _, err := admin.Exec(ctx, refreshSQL(p.variant)); err != nil {
		return 0, fmt.Errorf("matview-refresh: %s: %w", refreshSQL(p.variant), err)
	}
	t1 := time.Now()
	p.mu.Lock()
	p.refreshes = append(p.refreshes, interval{from: t0, to: t1})
	p.mu.Unlock()
	return t1.Sub(t0), nil
}

// runBatch runs one batch of the incremental worker and records it when it summarized anything.
func (p *point) runBatch(ctx context.Context, admin *pgx.Conn) (int64, error) {
	t0 := time.Now()
	var n int64
	if err := admin.QueryRow(ctx, batchSQL(), p.batch).Scan(&n); err != nil {
		return 0, fmt.Errorf("matview-refresh: worker batch: %w", err)
	}
	if n > 0 {
		p.noteFirst(t0)
		p.mu.Lock()
		p.refreshes = append(p.refreshes, interval{from: t0, to: time.Now(), rows: n})
		p.mu.Unlock()
	}
	return n, nil
}

func (p *point) noteFirst(t time.Time) {
	p.mu.Lock()
	if p.firstOp.IsZero() {
		p.firstOp = t
	}
	p.mu.Unlock()
}

// paced runs op at rate per second on a schedule until ctx ends, timing each from its intended
// start, so that an operation stuck behind a lock shows its whole wait and the ones due meanwhile
// show theirs.
func (p *point) paced(ctx context.Context, conn *pgx.Conn, rate float64, kind string, op func(context.Context, int) error) {
	step := time.Duration(float64(time.Second) / rate)
	due := time.Now()
	for n := 0; ; n++ {
		if wait.Until(ctx, due) != nil {
			return
		}
		err := op(ctx, n)
		done := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return // stopped mid-operation: not an error of the server's
			}
			class := loadgen.Classify(err)
			p.mu.Lock()
			p.errors[class]++
			if _, ok := p.samples[class]; !ok {
				p.samples[class] = kind + ": " + err.Error()
			}
			p.mu.Unlock()
			if conn.IsClosed() {
				return
			}
		} else {
			p.mu.Lock()
			if kind == "read" {
				p.reads = append(p.reads, interval{from: due, to: done})
			} else {
				p.writes = append(p.writes, interval{from: due, to: done})
			}
			p.mu.Unlock()
		}
		due = due.Add(step)
	}
}

// watch reads, every watchInterval, the locks the refresher holds on the view, the sessions
// waiting for a lock on it, and (incremental) the events pending.
func (p *point) watch(ctx context.Context, conn *pgx.Conn, refresher uint32) {
	rel := summaryView
	if p.variant == VariantIncremental {
		rel = summaryTable
	}
	for wait.Until(ctx, time.Now().Add(watchInterval)) == nil {
		rows, err := conn.Query(ctx, `SELECT mode, granted, pid = $2 FROM pg_locks
			WHERE locktype = 'relation' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND relation = to_regclass($1)`, ident(rel), int32(refresher))
		if err != nil {
			p.noteWatchErr(ctx, err)
			return
		}
		rd := reading{at: time.Now()}
		var held []string
		for rows.Next() {
			var mode string
			var granted, mine bool
			if err := rows.Scan(&mode, &granted, &mine); err != nil {
				break
			}
			if !granted {
				rd.waiting++
			} else if mine {
				held = append(held, mode)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			p.noteWatchErr(ctx, err)
			return
		}
		if p.variant == VariantIncremental {
			if err := conn.QueryRow(ctx, pendingSQL()).Scan(&rd.pending); err != nil {
				p.noteWatchErr(ctx, err)
				return
			}
		}
		p.mu.Lock()
		for _, m := range held {
			p.lockModes[m] = true
		}
		p.waiting = append(p.waiting, rd)
		if !p.firstOp.IsZero() { // what piles up before the worker starts is not its lag
			p.pendingMax = max(p.pendingMax, rd.pending)
		}
		p.mu.Unlock()
	}
}

func (p *point) noteWatchErr(ctx context.Context, err error) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return
	}
	p.mu.Lock()
	p.samples["watcher"] = err.Error()
	p.mu.Unlock()
}
