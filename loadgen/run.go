// Package loadgen drives a workload against PostgreSQL and records what happens: workers in a
// closed loop or paced at a fixed rate (open loop), over a shared pool, a connection per worker, or
// a new connection per operation; HDR histograms, errors by class and a per-second timeline; and a
// progress display.
//
// In an open loop, latency counts from the intended start of each operation, so a stalled server
// shows in the tail instead of slowing the schedule (coordinated omission); the service time from
// the real start is recorded beside it.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
	Workers  int
	Rate     float64 // operations per second over all workers; 0 runs a closed loop
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
}

// Observe records a scenario-specific duration (see Recorder.Observe).
func (w *Worker) Observe(name string, started time.Time, d time.Duration) {
	w.rec.Observe(name, started, d)
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
	// ClientRSSPeakKB is the load generator's peak resident memory during the run, sampled each
	// second; ClientCPUSeconds its CPU time over the measured window and warm-up.
	ClientRSSPeakKB  int64
	ClientCPUSeconds float64
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
	for _, w := range workers {
		w.rec = rec
	}
	conns.setRecorder(rec)

	// opCtx ends at the end of the run; operations still in flight then are abandoned, not errors.
	opCtx, stopOps := context.WithDeadline(ctx, end)
	defer stopOps()

	var due chan time.Time
	if cfg.Rate > 0 {
		due = make(chan time.Time, cfg.Workers)
		go pace(opCtx, start, cfg.Rate, due)
	}

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runWorker(opCtx, end, w, conns, op, rec, due)
		}()
	}

	cpuBefore := selfCPUSeconds()
	var rssPeak int64
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		tickSeconds(opCtx, cfg, start, measureFrom, rec, func() { rssPeak = max(rssPeak, selfRSSKB()) })
	}()
	wg.Wait()
	stopOps()
	<-tickerDone

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

		ClientRSSPeakKB:  rssPeak,
		ClientCPUSeconds: selfCPUSeconds() - cpuBefore,
	}
	return out, ctx.Err()
}

// pace sends the intended start time of each operation, rate per second from start. When every
// worker is busy the send blocks, but the schedule does not move: the late operations are then
// sent at once, carrying their original times.
func pace(ctx context.Context, start time.Time, rate float64, due chan<- time.Time) {
	defer close(due)
	interval := float64(time.Second) / rate
	for i := 0; ; i++ {
		intended := start.Add(time.Duration(float64(i) * interval))
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

func runWorker(ctx context.Context, end time.Time, w *Worker, conns connSource, op Op, rec *Recorder, due <-chan time.Time) {
	// A context of the worker's own keeps the cancellation hooks pgx registers per query off the
	// run context's shared lock.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for {
		var intended time.Time
		if due != nil {
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
		if due == nil {
			intended = started
		}
		w.Intended = intended
		err := conns.do(ctx, w, op)
		done := time.Now()
		// Cut off by the end of the run: a deadline derived from the run's can fire a moment
		// before the run's own context reports it, so the clock decides too.
		if err != nil && (ctx.Err() != nil || !done.Before(end)) {
			rec.RecordAbandoned(w.ID)
			return
		}
		rec.Record(w.ID, intended, done.Sub(intended), done.Sub(started), err)
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return pgx.ConnectConfig(ctx, connConfig(cc))
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
