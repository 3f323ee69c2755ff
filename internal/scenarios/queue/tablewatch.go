package queue

// The queue tables over time: while a point runs, a connection of its own reads the tables'
// dead tuples, sizes and autovacuum runs, and the age of the database's oldest snapshot, every
// second, into the series' timeline (extra columns), so that a result shows dead tuples piling up
// while a long transaction holds the xmin horizon, and falling once it is gone.

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/result"
)

// tableWatchInterval is how often the tables are read: the timeline's resolution.
const tableWatchInterval = time.Second

// tableReading is one reading of the queue tables.
type tableReading struct {
	at     time.Time
	tables map[string]tableStats
	// oldestXminAge is the age, in transactions, of the oldest backend_xmin in the database
	// outside autovacuum (whose snapshots vacuum ignores): how far the xmin horizon lags behind.
	oldestXminAge int64
}

// tableWatch reads the tables every tableWatchInterval until stopped.
type tableWatch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	readings []tableReading
	err      error
}

// startTableWatch opens its connection and takes a first reading at once.
func startTableWatch(ctx context.Context, admin *pgx.ConnConfig) (*tableWatch, error) {
	cfg := admin.Copy()
	params := map[string]string{}
	for k, v := range admin.RuntimeParams {
		params[k] = v
	}
	params["application_name"] = "pgscale-queue-table-watch"
	cfg.RuntimeParams = params
	// A connection lost mid-run (a terminated backend, a restart) is reopened for the next reading.
	conn, err := loadgen.Redial(ctx, "queue table watch", cfg, loadgen.RedialOptions{})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &tableWatch{cancel: cancel, done: make(chan struct{})}
	go w.loop(wctx, conn)
	return w, nil
}

func (w *tableWatch) loop(ctx context.Context, conn *loadgen.Redialer) {
	defer close(w.done)
	defer conn.Close()
	t := time.NewTicker(tableWatchInterval)
	defer t.Stop()
	for {
		w.read(ctx, conn)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *tableWatch) read(ctx context.Context, redial *loadgen.Redialer) {
	var tables map[string]tableStats
	var age int64
	err := redial.Do(ctx, func(conn *pgx.Conn) error {
		var err error
		if tables, err = readTableStats(ctx, conn); err != nil {
			return err
		}
		return conn.QueryRow(ctx, `SELECT coalesce(max(age(backend_xmin)), 0)::bigint FROM pg_stat_activity
WHERE datname = current_database() AND backend_type <> 'autovacuum worker'`).Scan(&age)
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			w.err = err
		}
		return
	}
	w.readings = append(w.readings, tableReading{at: time.Now(), tables: tables, oldestXminAge: age})
}

// stop ends the readings and returns them, with the last reading error, if any. Safe on nil.
func (w *tableWatch) stop() ([]tableReading, error) {
	if w == nil {
		return nil, nil
	}
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.readings, w.err
}

// joinTableTimeline puts the readings into the timeline: second t, covering (start+(t-1)s,
// start+t s], gets the last reading taken within it. Autovacuum runs count from before (the
// point's start).
func joinTableTimeline(s *result.Series, readings []tableReading, before map[string]tableStats) {
	for i := range s.Timeline {
		sec := &s.Timeline[i]
		r, ok := readingIn(readings, s.StartedAt, sec.T)
		if !ok {
			continue
		}
		if sec.Extra == nil {
			sec.Extra = map[string]float64{}
		}
		for _, key := range []string{MetricPrefixTask, MetricPrefixQueue} {
			a := r.tables[key]
			sec.Extra[tableMetric(key, ColumnFigureDeadTuples)] = float64(a.deadTuples)
			sec.Extra[tableMetric(key, ColumnFigureTableBytes)] = float64(a.tableBytes)
			sec.Extra[tableMetric(key, ColumnFigureIndexBytes)] = float64(a.indexBytes)
			sec.Extra[tableMetric(key, ColumnFigureAutovacuumRuns)] = float64(a.autovacuumCount - before[key].autovacuumCount)
		}
		sec.Extra[ColumnOldestXminAgeXacts] = float64(r.oldestXminAge)
	}
}

// readingIn returns the last reading within second t of a timeline that started at start.
func readingIn(readings []tableReading, start time.Time, t int) (tableReading, bool) {
	lo, hi := start.Add(time.Duration(t-1)*time.Second), start.Add(time.Duration(t)*time.Second)
	var found tableReading
	ok := false
	for _, r := range readings {
		if r.at.After(lo) && !r.at.After(hi) {
			found, ok = r, true
		}
	}
	return found, ok
}

// deadTuples is the dead tuples of both tables in a reading.
func (r tableReading) deadTuples() int64 {
	return r.tables[MetricPrefixTask].deadTuples + r.tables[MetricPrefixQueue].deadTuples
}

// autovacuums is the autovacuum count of both tables in a reading.
func (r tableReading) autovacuums() int64 {
	return r.tables[MetricPrefixTask].autovacuumCount + r.tables[MetricPrefixQueue].autovacuumCount
}
