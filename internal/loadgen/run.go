// Package loadgen drives a workload against PostgreSQL and records what happens: workers in a
// closed loop or paced at a fixed rate (open loop), over a shared pool, a connection per worker, or
// a new connection per operation; HDR histograms, errors by class and a per-second timeline; and a
// progress display.
//
// In an open loop, latency counts from the intended start of each operation, so a stalled server
// shows in the tail instead of slowing the schedule (coordinated omission); the service time from
// the real start is recorded beside it.
//
// The load generator must not be the bottleneck: README.md in this directory keeps what one
// operation costs the client (system calls, instructions, allocations) against pgbench's.
// Operations give pgx Worker.QueryContext for their queries, which pgx does not watch.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgscale/pgscale/internal/wait"
	"github.com/pgscale/pgscale/result"
)

// ConnMode says how workers get their connections.
type ConnMode string

// Connection modes.
const (
	// ConnPool shares a pgxpool among the workers; waiting for a connection counts as latency.
	ConnPool ConnMode = "pool"
	// ConnPerWorker gives each worker a connection of its own for the whole run, as separate
	// agents or long-lived application instances have.
	ConnPerWorker ConnMode = "per-worker"
	// ConnPerOp opens and closes a connection for every operation, as a function per request does;
	// connect times get their own histogram and count in the operation's latency.
	ConnPerOp ConnMode = "per-op"
)

// Config describes one load run.
type Config struct {
	Workers int
	Rate    float64 // operations per second over all workers; 0 runs a closed loop
	// Pacer, when set, paces the operations instead of Rate (which must then be 0): a ramp or
	// stages (see Stages, whose closed-loop stages run that many of the workers unpaced).
	Pacer    Pacer
	Duration time.Duration
	Warmup   time.Duration
	ConnMode ConnMode
	PoolSize int // ConnPool only; 0 means one connection per worker
	// ConnConfig is where the load goes; each connection gets a copy.
	ConnConfig *pgx.ConnConfig
	// ConnectTimeout bounds each connection attempt; 0 means 10 s.
	ConnectTimeout time.Duration
	// OnSecond, when set, receives each timeline entry as the second closes (for progress).
	OnSecond func(Tick)
	// Seed makes worker random streams repeatable; 0 picks one from the clock.
	Seed uint64
	// Drain lets the operations in flight at the end of the run finish (within DrainGrace) and
	// counts them, as pgbench -T does, instead of abandoning them: a transaction whose COMMIT was
	// sent is then never left uncounted while the database has it.
	Drain bool
	// Parts name what an operation breaks down into (Worker.RecordPart), such as the scripts of
	// a mix and their statements.
	Parts []string
}

// Tick is what OnSecond receives each second.
type Tick struct {
	Elapsed time.Duration
	Total   time.Duration
	Ops     int64
	Errors  int64
	P99Ms   float64
	Warmup  bool
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Workers <= 0 {
		errs = append(errs, fmt.Errorf("workers %d: must be at least 1", c.Workers))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %g: must be 0 (closed loop) or more", c.Rate))
	}
	if c.Rate > 0 && c.Pacer != nil {
		errs = append(errs, fmt.Errorf("rate %g: give a rate or a pacer, not both", c.Rate))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %s: must be more than 0", c.Duration))
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warmup %s: must be 0 or more", c.Warmup))
	}
	switch c.ConnMode {
	case ConnPool, ConnPerWorker, ConnPerOp, ConnNone:
	default:
		errs = append(errs, fmt.Errorf("connection mode %q: valid modes are pool, per-worker, per-op, none", c.ConnMode))
	}
	if c.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("pool size %d: must be 0 (one per worker) or more", c.PoolSize))
	}
	if c.ConnConfig == nil {
		errs = append(errs, errors.New("no connection config"))
	}
	return errors.Join(errs...)
}

// Worker is the state one worker carries between its operations.
type Worker struct {
	ID   int
	Rand *rand.Rand
	// State is free for the workload's own per-worker data.
	State any
	// Intended is when the current operation was due: its place in the open-loop schedule, or its
	// real start in a closed loop. An operation measures its own latency from it, as the recorder
	// does, to include the wait for a pooled or new connection.
	Intended time.Time
	rec      *Recorder
	// guard, when set, is the run's guard: a connection the worker queries through QueryContext
	// joins it, to be interrupted when the run ends (the per-worker and pool modes).
	guard *guard
	// conn is the connection the connection mode handed the current operation, and guardedConn
	// the last one QueryContext put under the guard.
	conn, guardedConn *pgx.Conn
	// queryParent and queryCtx cache QueryContext's answer for the worker's context.
	queryParent, queryCtx context.Context
	// connFailures counts the connection mode's failures to connect this worker in a row.
	connFailures int
	// due is the run's count of paced operations started in the measured window, shared by its
	// workers (nil when the run does not count them: see countsUnstarted).
	due *dueWindow
}

// Observe records a scenario-specific duration (see Recorder.Observe).
func (w *Worker) Observe(name string, started time.Time, d time.Duration) {
	w.rec.Observe(name, started, d)
}

// RecordPart records one run of part i of the current operation (see Recorder.RecordPart).
func (w *Worker) RecordPart(i int, started time.Time, d time.Duration, err error) {
	w.rec.RecordPart(i, started, d, err)
}

// RecordRetries records n retries of part i under class (see Recorder.RecordRetries).
func (w *Worker) RecordRetries(i int, started time.Time, class string, n int) {
	w.rec.RecordRetries(i, started, class, n)
}

// Op is one operation of a workload, run on the connection the mode provides. Returning an error
// counts the operation as failed under the error's class.
type Op func(ctx context.Context, w *Worker, conn *pgx.Conn) error

// Outcome is what a run measured.
type Outcome struct {
	Snapshot
	StartedAt time.Time
	Measured  time.Duration // the measured window (duration, or less when interrupted)
	Warmup    time.Duration
	Workers   int
	Rate      float64
	// Paced is set when operations had intended start times (a rate or a pacer): latency then
	// counts from them and the service time is recorded beside it.
	Paced bool
	// ClientRSSPeakKB is the load generator's peak resident memory during the run, sampled each
	// second; ClientCPUSeconds its CPU time over the measured window and warm-up.
	ClientRSSPeakKB  int64
	ClientCPUSeconds float64
	// TLSRefused is set when the connection mode asked for TLS first (sslmode=prefer), the server
	// refused it, and the run's later connects went without asking (see dialer).
	TLSRefused bool
	// Unstarted counts the operations of a paced run that were due in the measured window (but
	// for its last 100 ms) and that no worker started before the end: the workers fell behind the
	// schedule, and the latency figures cannot include them. 0 for a run cut short by its ctx,
	// one whose workers stopped on an error, and a shape with closed-loop stages.
	Unstarted int64
}

// Run drives op with cfg until the warm-up and duration have passed or ctx is canceled. A canceled
// ctx ends the run early and still returns what was measured, with ctx's error.
func Run(ctx context.Context, cfg Config, op Op) (*Outcome, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.ConnMode == ConnPerOp && serverOnThisMachine(cfg.ConnConfig) {
		defer oneProc()()
	}
	conns, err := newConnSource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conns.close()

	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	workers := make([]*Worker, cfg.Workers)
	for i := range workers {
		workers[i] = &Worker{ID: i, Rand: rand.New(rand.NewPCG(seed, uint64(i)))}
	}
	if err := conns.prepare(ctx, workers); err != nil {
		return nil, err
	}

	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	rec := NewRecorder(measureFrom)
	rec.SetParts(cfg.Parts)
	for _, w := range workers {
		w.rec = rec
	}
	conns.setRecorder(rec)

	// opCtx ends at the end of the run; operations still in flight then are abandoned, not errors.
	opCtx, stopOps := context.WithDeadline(ctx, end)
	defer stopOps()

	pacer := cfg.Pacer
	if pacer == nil && cfg.Rate > 0 {
		pacer = ConstantRate(cfg.Rate)
	}
	var due chan time.Time
	if pacer != nil {
		due = make(chan time.Time, cfg.Workers)
		go pace(opCtx, start, pacer, due)
	}
	var sched *schedule
	if st, ok := pacer.(stager); ok {
		sched = &schedule{stages: st, start: start}
	}
	var window *dueWindow
	if countsUnstarted(pacer) {
		window = newDueWindow(measureFrom, end)
		for _, w := range workers {
			w.due = window
		}
	}

	workCtx := opCtx
	if cfg.Drain {
		var stopWork context.CancelFunc
		workCtx, stopWork = context.WithDeadline(ctx, end.Add(DrainGrace))
		defer stopWork()
	}
	g := conns.interrupts()
	if g != nil {
		defer g.watch(workCtx)()
		for _, w := range workers {
			w.guard = g
		}
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runWorker(workCtx, end, cfg.Drain, w, conns, op, rec, due, sched)
		}()
	}

	watched := watchRun(opCtx, cfg, start, measureFrom, rec)
	wg.Wait()
	if g != nil {
		g.release()
	}
	stopOps()
	rssPeak, cpuSeconds := watched()
	rec.settle()

	measured := time.Since(measureFrom)
	if measured > cfg.Duration {
		measured = cfg.Duration
	}
	if measured < 0 {
		measured = 0
	}
	out := &Outcome{
		Snapshot:  rec.Snapshot(),
		StartedAt: start,
		Measured:  measured,
		Warmup:    cfg.Warmup,
		Workers:   cfg.Workers,
		Rate:      cfg.Rate,
		Paced:     pacer != nil,

		ClientRSSPeakKB:  rssPeak,
		ClientCPUSeconds: cpuSeconds,
		TLSRefused:       conns.refusedTLS(),
	}
	if pacer != nil {
		annotateTargets(out.Timeline, pacer)
		// Workers that stopped on their operation's error leave the rest of the schedule to
		// fewer workers, or to none: what they did not start is theirs, not the rate's.
		if window != nil && ctx.Err() == nil && out.Stopped == 0 {
			out.Unstarted = window.unstarted(pacer, start)
		}
	}
	return out, ctx.Err()
}

// annotateTargets puts each second's target into the timeline of a paced run.
func annotateTargets(timeline []result.Second, p Pacer) {
	for i := range timeline {
		t := time.Duration(timeline[i].T) * time.Second
		if timeline[i].Extra == nil {
			timeline[i].Extra = map[string]float64{}
		}
		timeline[i].Extra[result.ColumnTargetPerS] = float64(p.Count(t-1) - p.Count(t-time.Second-1))
	}
}

// pace sends the intended start time of each operation, as the pacer has them due from start.
// When every worker is busy the send blocks, but the schedule does not move: the late
// operations are then sent at once, carrying their original times.
func pace(ctx context.Context, start time.Time, p Pacer, due chan<- time.Time) {
	defer close(due)
	for n := int64(0); ; n++ {
		at, ok := p.Due(n)
		if !ok {
			return
		}
		intended := start.Add(at)
		if wait := time.Until(intended); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		select {
		case <-ctx.Done():
			return
		case due <- intended:
		}
	}
}

// stager is a pacer with closed-loop stages (Stages).
type stager interface {
	Closed(elapsed time.Duration) (workers int, until time.Duration)
}

// schedule tells a worker, at each moment of a staged run, whether it runs a closed loop, waits
// for paced operations, or sits out a closed-loop stage with fewer workers than the run has.
type schedule struct {
	stages stager
	start  time.Time
}

// next is what worker id does now: closed (run at once), or wait until the returned time for a
// paced operation (or, when idle is set, for the stage to end).
func (s *schedule) next(id int) (closed, idle bool, until time.Time) {
	workers, end := s.stages.Closed(time.Since(s.start))
	return workers > id, workers > 0 && workers <= id, s.start.Add(end)
}

// waitUntil sleeps until t or until ctx ends; it reports whether ctx is still live.
func waitUntil(ctx context.Context, t time.Time) bool { return wait.Until(ctx, t) == nil }

// DrainGrace bounds how long a run with Config.Drain waits for its operations in flight.
const DrainGrace = 10 * time.Second

func runWorker(ctx context.Context, end time.Time, drain bool, w *Worker, conns connSource, op Op, rec *Recorder, due <-chan time.Time, sched *schedule) {
	// A context of the worker's own keeps the cancellation hooks pgx registers per query off the
	// run context's shared lock.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for {
		var intended time.Time
		paced := due != nil
		if sched != nil {
			if !time.Now().Before(end) {
				return // a draining run's workers start nothing after the end
			}
			closed, idle, until := sched.next(w.ID)
			switch {
			case closed:
				paced = false
			case idle:
				if !waitUntil(ctx, until) {
					return
				}
				continue
			default:
				var got bool
				if intended, got = receiveUntil(ctx, &due, until); !got {
					if ctx.Err() != nil {
						return
					}
					continue // the stage ended, or the schedule's last operation was sent
				}
			}
		} else if paced {
			var ok bool
			select {
			case <-ctx.Done():
				return
			case intended, ok = <-due:
				if !ok {
					return
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		started := time.Now()
		if drain && !started.Before(end) {
			return
		}
		if paced {
			w.due.start(intended)
		} else {
			intended = started
		}
		w.Intended = intended
		err := conns.do(ctx, w, op)
		done := time.Now()
		// Cut off by the end of the run: a deadline derived from the run's can fire a moment
		// before the run's own context reports it, so the clock decides too.
		// The guard's cut-off (a past deadline on the connection) can reach the query before the
		// worker's own context reports the end: its timeout is the end of the run too.
		cutOff := err != nil && w.guard != nil && errors.Is(err, os.ErrDeadlineExceeded) && w.guard.fired()
		if err != nil && (ctx.Err() != nil || cutOff || (!drain && !done.Before(end))) {
			rec.RecordAbandoned(w.ID)
			return
		}
		rec.Record(w.ID, intended, done.Sub(intended), done.Sub(started), err)
		if err != nil && isStopWorker(err) {
			rec.stopped.Add(1)
			return
		}
		if d := w.connectBackoff(err); d > 0 && sleep(ctx, d) != nil {
			return
		}
	}
}

// receiveUntil takes the next intended start from *due, giving up at until (when the stage
// ends) or when ctx ends. A closed channel is set to nil, so that a staged run's workers wait
// out the closed-loop stages after the last paced operation.
func receiveUntil(ctx context.Context, due *<-chan time.Time, until time.Time) (time.Time, bool) {
	wait := time.Until(until)
	if wait <= 0 {
		wait = time.Hour // after the schedule's end: the run's deadline ends the wait
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return time.Time{}, false
	case <-timer.C:
		return time.Time{}, false
	case intended, ok := <-*due:
		if !ok {
			*due = nil
			return time.Time{}, false
		}
		return intended, true
	}
}

func tickSeconds(ctx context.Context, cfg Config, start, measureFrom time.Time, rec *Recorder, everySecond func()) {
	total := cfg.Warmup + cfg.Duration
	for t := 1; ; t++ {
		next := start.Add(time.Duration(t) * time.Second)
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			// Close the partial last second so its operations are not lost from the timeline.
			if time.Since(start) > time.Duration(t-1)*time.Second+100*time.Millisecond {
				sec := rec.Tick(t, next.Before(measureFrom.Add(time.Second)))
				notify(cfg, sec.Ops, sec.Errors, sec.P99Ms, sec.Warmup, time.Since(start), total)
			}
			return
		case <-timer.C:
		}
		everySecond()
		warm := !next.After(measureFrom)
		sec := rec.Tick(t, warm)
		notify(cfg, sec.Ops, sec.Errors, sec.P99Ms, warm, time.Duration(t)*time.Second, total)
	}
}

func notify(cfg Config, ops, errs int64, p99 float64, warm bool, elapsed, total time.Duration) {
	if cfg.OnSecond != nil {
		cfg.OnSecond(Tick{Elapsed: elapsed, Total: total, Ops: ops, Errors: errs, P99Ms: p99, Warmup: warm})
	}
}

// statementCacheCapacity bounds pgx's per-connection statement and description caches. pgx
// preallocates them (512 entries by default, ~53 KB a connection: two thirds of the load
// generator's heap at 2,000 workers); a scenario prepares a handful of statements.
const statementCacheCapacity = 16

// connConfig copies cc with the load generator's connection settings.
func connConfig(cc *pgx.ConnConfig) *pgx.ConnConfig {
	c := cc.Copy()
	c.StatementCacheCapacity = statementCacheCapacity
	c.DescriptionCacheCapacity = statementCacheCapacity
	return c
}

// Connect opens one connection with cfg's connect timeout.
func Connect(ctx context.Context, cc *pgx.ConnConfig, timeout time.Duration) (*pgx.Conn, error) {
	return connectWith(ctx, connConfig(cc), timeout)
}

// connectWith opens one connection with a config connConfig already made: the connection modes
// make it once per run, not once per connect (pgx.ConnectConfig copies it again itself).
func connectWith(ctx context.Context, conf *pgx.ConnConfig, timeout time.Duration) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return pgx.ConnectConfig(ctx, conf)
}

// newPool is shared by ConnPool and callers that want the same pool settings.
func newPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	size := cfg.PoolSize
	if size == 0 {
		size = cfg.Workers
	}
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("pool config: %w", err)
	}
	pc.ConnConfig = connConfig(cfg.ConnConfig)
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	pc.MaxConns = int32(size)
	pc.MinConns = 0
	pc.MaxConnIdleTime = time.Hour
	pc.HealthCheckPeriod = time.Hour
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	return pool, nil
}
