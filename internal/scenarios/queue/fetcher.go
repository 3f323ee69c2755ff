package queue

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// The fetcher variants answer the question the other variants cannot: do 2,000 workers need
// 2,000 connections? Here W workers in this process share K connections (conns), as river's
// producers and in-process workers do. Each connection is a lane with its share of the workers:
//   - its fetch loop claims up to batch jobs per round trip (claimBatch, the same statement as
//     the batch variant) for the lane's idle workers and hands them over a channel;
//   - the workers do the work (asleep: they hold no connection) and hand the ids back;
//   - the lane writes completions in batches (completeQueued), when batch jobs are waiting or
//     flush has passed since the first of them.
//
// fetcher polls: a fetch that found nothing waits poll before the next. fetcher-notify LISTENs
// on one more connection of its own; the producer (producer=rate) NOTIFYs as it enqueues, and
// an idle lane fetches at once. With a backlog the two are the same: the queue is never empty.
//
// With producer=rate the fetcher variants' producer enqueues into task and task_queue in one
// statement (the feeder's hop, up to feed_interval, would hide what notify changes); the feeder
// still tops the queue up from the backlog.
//
// When the run ends, the workers finish the jobs in their hands and those are completed; jobs a
// lane fetched that no worker started are given back (pending, unclaimed), so exactly-once holds
// with nothing left running.
//
// An operation (the loadgen's ops and latency) is a fetch that claimed jobs: its latency is the
// time from looking for work to having it, waits for idle workers included. jobs_per_s is the
// figure to read.

// Fetcher variants.
const (
	VariantFetcher       = "fetcher"
	VariantFetcherNotify = "fetcher-notify"
)

const (
	// notifyChannel is what the producer NOTIFYs and fetcher-notify LISTENs on.
	notifyChannel = "pgscale_queue"
	// defaultFetchBatch is the fetchers' batch when --set batch is not given: 100, as the
	// issue's comparison ("fetch batches of 100") and river's default of 100 workers per
	// producer. The batch variant keeps its own default (10).
	defaultFetchBatch = 100
)

func isFetcher(variant string) bool {
	return variant == VariantFetcher || variant == VariantFetcherNotify
}

// fetchJob is a claimed job and the claim it came with.
type fetchJob struct{ id, token int64 }

// lane is one shared connection's part of the fetcher: its workers, the jobs handed to them and
// the completions waiting to be written.
type lane struct {
	id      int
	workers int
	jobs    chan fetchJob
	// inflight counts jobs handed out and not yet finished by a worker.
	inflight atomic.Int64
	seq      uint32

	mu        sync.Mutex
	done      []fetchJob // finished by a worker, not yet written
	firstDone time.Time

	completed chan struct{} // a worker finished a job
	notified  chan struct{} // the producer enqueued (fetcher-notify)
}

// signal wakes whoever waits on ch, without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// fetcher runs one point of a fetcher variant.
type fetcher struct {
	st     *runState
	lanes  []*lane
	batch  int
	flush  time.Duration
	notify bool
	quit   chan struct{}
	wg     sync.WaitGroup
}

// newFetcher spreads workers over conns lanes (the first lanes take the remainder).
func newFetcher(st *runState, conns int, flush time.Duration) *fetcher {
	c := st.cfg
	conns = max(1, min(conns, c.workers))
	f := &fetcher{st: st, batch: c.batch, flush: flush, notify: c.variant == VariantFetcherNotify, quit: make(chan struct{})}
	for i := range conns {
		n := c.workers / conns
		if i < c.workers%conns {
			n++
		}
		f.lanes = append(f.lanes, &lane{
			id: i, workers: n, jobs: make(chan fetchJob, n),
			completed: make(chan struct{}, 1), notified: make(chan struct{}, 1),
		})
	}
	return f
}

// start starts every lane's workers.
func (f *fetcher) start() {
	for _, l := range f.lanes {
		for range l.workers {
			f.wg.Go(func() { f.worker(l) })
		}
	}
}

// worker does the jobs its lane hands it until the fetcher stops.
func (f *fetcher) worker(l *lane) {
	for {
		select {
		case <-f.quit:
			return
		case j := <-l.jobs:
			if d := f.st.cfg.work; d > 0 {
				time.Sleep(d)
			}
			l.mu.Lock()
			if len(l.done) == 0 {
				l.firstDone = time.Now()
			}
			l.done = append(l.done, j)
			l.mu.Unlock()
			l.inflight.Add(-1)
			signal(l.completed)
		}
	}
}

// listen wakes a lane when the producer NOTIFYs, until ctx ends: the one with the most idle
// workers. Waking every lane would send all but one to an empty fetch (measured: half the
// fetches came back empty at 1,000 jobs/s on 4 connections); the others still poll. A lost
// connection is reopened and LISTENs again; notifications sent meanwhile are lost, and the
// lanes' polls pick their jobs up.
func (f *fetcher) listen(ctx context.Context, listener *loadgen.Redialer) error {
	var conn *pgx.Conn
	for {
		if conn == nil || conn.IsClosed() {
			var err error
			if conn, err = listener.Conn(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				listener.Count(err)
				continue
			}
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			listener.Count(err)
			continue
		}
		signal(f.idlest().notified)
	}
}

// idlest is the lane with the most idle workers.
func (f *fetcher) idlest() *lane {
	best, most := f.lanes[0], -1<<31
	for _, l := range f.lanes {
		if idle := l.workers - int(l.inflight.Load()); idle > most {
			best, most = l, idle
		}
	}
	return best
}

// op is one fetch that claimed jobs, on lane w.ID's connection: it writes the completions that
// are due, claims for the lane's idle workers, and waits (for a worker to finish, the flush
// interval, the poll interval after an empty fetch, or a notification) when it cannot.
func (f *fetcher) op(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
	st := f.st
	l := f.lanes[w.ID]
	var lastEmpty time.Time
	for {
		if err := f.flushDue(ctx, w, conn, l); err != nil {
			return err
		}
		idle := l.workers - int(l.inflight.Load())
		polling := !lastEmpty.IsZero() && time.Since(lastEmpty) < st.cfg.poll
		if idle > 0 && !polling {
			l.seq++
			token := int64(st.workerBase+l.id)<<32 | int64(l.seq)
			// The claim runs to the end even when the run's clock runs out, so that its jobs are
			// known: the drain gives back those no worker starts, and none is left running.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
			started := time.Now()
			ids, err := claimUpTo(cctx, conn, token, min(f.batch, idle))
			finished := time.Now()
			cancel()
			w.Observe(MetricPrefixClaim, finished, finished.Sub(started))
			if err != nil {
				st.addUncertain(token)
				if ctx.Err() != nil {
					st.cutOffClaims.Add(1)
					return ctx.Err()
				}
				return fmt.Errorf("queue claim: %w", err)
			}
			if st.inWindow(ctx, finished) {
				st.claims.Add(1)
				if len(ids) == 0 {
					st.emptyClaims.Add(1)
				}
			}
			if len(ids) > 0 {
				l.inflight.Add(int64(len(ids)))
				for _, id := range ids {
					l.jobs <- fetchJob{id, token} // never blocks: the channel holds a job per worker
				}
				return ctx.Err()
			}
			lastEmpty = finished
		}
		if err := f.wait(ctx, l, lastEmpty); err != nil {
			return err
		}
		if f.notified(l) {
			lastEmpty = time.Time{}
		}
	}
}

// claimUpTo claims up to n jobs in one round trip.
func claimUpTo(ctx context.Context, conn *pgx.Conn, token int64, n int) ([]int64, error) {
	rows, err := conn.Query(ctx, claimBatch, token, n)
	if err != nil {
		return nil, err
	}
	return collectIDs(rows, nil)
}

// wait blocks until the lane has something to do: a worker finished, the completions' flush is
// due, the poll after an empty fetch is over, or (fetcher-notify) jobs were enqueued.
func (f *fetcher) wait(ctx context.Context, l *lane, lastEmpty time.Time) error {
	timeout := time.Hour
	l.mu.Lock()
	if len(l.done) > 0 {
		timeout = f.flush - time.Since(l.firstDone)
	}
	l.mu.Unlock()
	if !lastEmpty.IsZero() {
		timeout = min(timeout, f.st.cfg.poll-time.Since(lastEmpty))
	}
	if timeout <= 0 {
		return nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-l.completed:
	case <-l.notified:
		signal(l.notified) // keep it for notified(), which consumes it
	case <-t.C:
	}
	return nil
}

// notified consumes a pending notification of the lane.
func (f *fetcher) notified(l *lane) bool {
	if !f.notify {
		return false
	}
	select {
	case <-l.notified:
		return true
	default:
		return false
	}
}

// flushDue writes the lane's completions when batch of them wait or flush has passed since the
// first.
func (f *fetcher) flushDue(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn, l *lane) error {
	l.mu.Lock()
	if len(l.done) == 0 || len(l.done) < f.batch && time.Since(l.firstDone) < f.flush {
		l.mu.Unlock()
		return nil
	}
	jobs := l.done
	l.done = nil
	l.mu.Unlock()
	started := time.Now()
	e2e, err := f.complete(ctx, conn, jobs)
	done := time.Now()
	if err != nil {
		return err
	}
	w.Observe(MetricPrefixComplete, started, done.Sub(started))
	for _, s := range e2e {
		w.Observe(MetricPrefixEndToEnd, done, time.Duration(s*float64(time.Second)))
	}
	if f.st.inWindow(ctx, done) {
		f.st.jobs.Add(int64(len(e2e)))
	}
	return nil
}

// complete writes jobs' completions; it runs to the end even when the run's clock runs out, so
// that finished jobs are recorded. On failure their claims become uncertain (the check counts
// their jobs as interrupted, not lost).
func (f *fetcher) complete(ctx context.Context, conn *pgx.Conn, jobs []fetchJob) ([]float64, error) {
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.id
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
	defer cancel()
	e2e, err := f.st.complete(cctx, conn, ids)
	if err != nil {
		f.uncertain(jobs)
		return nil, fmt.Errorf("queue complete: %w", err)
	}
	f.st.acknowledged.Add(int64(len(e2e)))
	return e2e, nil
}

// uncertain marks the claims of jobs as ones whose outcome is not known.
func (f *fetcher) uncertain(jobs []fetchJob) {
	var last int64
	for _, j := range jobs {
		if j.token != last {
			f.st.addUncertain(j.token)
			last = j.token
		}
	}
}

// releaseJobs gives claimed jobs that no worker started back to the queue: pending and
// unclaimed, as if never fetched.
const releaseJobs = `WITH q AS (
  UPDATE task_queue SET attempted_at = NULL, claim_token = NULL WHERE task_id = ANY ($1)
)
UPDATE task SET status = 'pending', attempted_at = NULL, claim_token = NULL WHERE id = ANY ($1)`

// drain ends the point after the lanes stopped: the workers finish the jobs in their hands,
// whose completions are written on conn, and the jobs no worker started are released.
func (f *fetcher) drain(ctx context.Context, conn *pgx.Conn) error {
	close(f.quit)
	f.wg.Wait()
	var unstarted, finished []fetchJob
	for _, l := range f.lanes {
	collect:
		for {
			select {
			case j := <-l.jobs:
				unstarted = append(unstarted, j)
			default:
				break collect
			}
		}
		finished = append(finished, l.done...)
		l.done = nil
	}
	var errs []error
	if len(finished) > 0 {
		if _, err := f.complete(ctx, conn, finished); err != nil {
			errs = append(errs, err)
		}
	}
	if len(unstarted) > 0 {
		ids := make([]int64, len(unstarted))
		for i, j := range unstarted {
			ids[i] = j.id
		}
		if _, err := conn.Exec(ctx, releaseJobs, ids); err != nil {
			f.uncertain(unstarted)
			errs = append(errs, fmt.Errorf("queue: give back %d unstarted jobs: %w", len(ids), err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("queue fetcher drain: %w", errs[0])
	}
	return nil
}

// designs remembers the jobs/s of the connection-per-worker variants by worker count, so that
// a fetcher point can be set beside the best of them at the same workers (they run first: the
// plan orders variants within a worker count as declared).
type designs struct {
	best map[int]struct {
		variant  string
		jobsPerS float64
	}
}

// note records a point; for a fetcher point it returns the comparison sentence and puts the
// ratio in m (jobs_per_s_vs_conn_per_worker), or "" when no connection-per-worker variant ran at
// these workers.
func (d *designs) note(c config, m map[string]float64) string {
	jobs := m[MetricJobsPerS]
	if !isFetcher(c.variant) {
		if d.best == nil {
			d.best = map[int]struct {
				variant  string
				jobsPerS float64
			}{}
		}
		if b, ok := d.best[c.workers]; !ok || jobs > b.jobsPerS {
			b.variant, b.jobsPerS = c.variant, jobs
			d.best[c.workers] = b
		}
		return ""
	}
	b, ok := d.best[c.workers]
	if !ok || b.jobsPerS <= 0 {
		return ""
	}
	m[MetricJobsPerSVsConnPerWorker] = jobs / b.jobsPerS
	return fmt.Sprintf("%d workers on %d connections (%s): %.0f jobs/s; on %d connections with fetch batches of %d (%s): %.0f jobs/s, ×%.1f",
		c.workers, c.workers, b.variant, b.jobsPerS, c.conns, c.batch, c.variant, jobs, jobs/b.jobsPerS)
}
