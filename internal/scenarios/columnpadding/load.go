package columnpadding

// Loading the generated rows with COPY, in batches timed as the series operations.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/result"
)

// loaded is what loading a table recorded.
type loaded struct {
	started time.Time
	elapsed time.Duration
	rows    int64
	latency *hdrhistogram.Histogram
	batches []batch
}

type batch struct {
	done    time.Duration // since started
	rows    int64
	latency time.Duration
}

// load copies rows 1..rows into table in batches of one COPY statement each, reporting progress
// every second.
func (s *scenario) load(ctx context.Context, conn *pgx.Conn, env *scenarios.Env, table string, order []int,
	seed uint64, rows, batchRows int64) (*loaded, error) {
	srcOrder := s.copyOrder(order)
	copySQL := s.copySQL(table, order)
	ld := &loaded{latency: result.NewHistogram(), started: time.Now()}
	var done atomic.Int64
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		if env.OnSecond == nil {
			return
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				n := done.Load()
				elapsed := time.Since(ld.started)
				total := elapsed
				if n > 0 {
					total = time.Duration(float64(elapsed) * float64(rows) / float64(n))
				}
				env.OnSecond(loadgen.Tick{Elapsed: elapsed, Total: total, Ops: n - last})
				last = n
			}
		}
	}()
	defer func() { close(stop); <-ticked }()
	for first := int64(1); first <= rows; first += batchRows {
		last := min(first+batchRows-1, rows)
		src := newRowSource(s.layout.cols, srcOrder, seed, first, last)
		t0 := time.Now()
		if _, err := conn.PgConn().CopyFrom(ctx, src, copySQL); err != nil {
			ld.elapsed = time.Since(ld.started)
			return ld, fmt.Errorf("column-padding: copy rows %d-%d into %s: %w", first, last, table, err)
		}
		d := time.Since(t0)
		_ = ld.latency.RecordValue(max(d.Microseconds(), 1))
		ld.rows += last - first + 1
		done.Store(ld.rows)
		ld.batches = append(ld.batches, batch{done: time.Since(ld.started), rows: last - first + 1, latency: d})
	}
	ld.elapsed = time.Since(ld.started)
	return ld, nil
}

// copyOrder is order without the columns COPY leaves to the server.
func (s *scenario) copyOrder(order []int) []int {
	var out []int
	for _, i := range order {
		if !s.layout.cols[i].omit {
			out = append(out, i)
		}
	}
	return out
}

// copySQL is the COPY of the layout's columns into table, in order.
func (s *scenario) copySQL(table string, order []int) string {
	var names []string
	for _, i := range s.copyOrder(order) {
		names = append(names, pgx.Identifier{s.layout.cols[i].name}.Sanitize())
	}
	return fmt.Sprintf("COPY %s (%s) FROM STDIN", pgx.Identifier{table}.Sanitize(), strings.Join(names, ", "))
}

// series turns a load into a result series: ops are rows loaded, latency is per COPY batch, and
// the timeline counts the rows of the batches finished in each second.
func (ld *loaded) series(rows int64) result.Series {
	s := result.Series{
		StartedAt: ld.started, DurationS: ld.elapsed.Seconds(), Workers: 1, Ops: ld.rows,
		LatencyMs: result.PercentilesOf(ld.latency), Errors: map[string]int64{}, Metrics: map[string]float64{},
	}
	if ld.elapsed > 0 {
		s.ThroughputPerS = float64(ld.rows) / ld.elapsed.Seconds()
	}
	s.Histograms.Latency, _ = result.EncodeHistogram(ld.latency)
	seconds := max(1, int((ld.elapsed+time.Second-1)/time.Second))
	perSecond := make([][]time.Duration, seconds)
	s.Timeline = make([]result.Second, seconds)
	for i := range s.Timeline {
		s.Timeline[i].T = i + 1
	}
	for _, b := range ld.batches {
		i := min(seconds-1, max(0, int((b.done+time.Second-1)/time.Second)-1))
		s.Timeline[i].Ops += b.rows
		perSecond[i] = append(perSecond[i], b.latency)
	}
	for i, ls := range perSecond {
		if len(ls) == 0 {
			continue
		}
		sort.Slice(ls, func(a, b int) bool { return ls[a] < ls[b] })
		q := func(f float64) float64 { return float64(ls[int(f*float64(len(ls)-1))].Microseconds()) / 1000 }
		s.Timeline[i].P50Ms, s.Timeline[i].P99Ms = q(0.5), q(0.99)
	}
	return s
}
