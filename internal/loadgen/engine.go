package loadgen

import (
	"context"
	"fmt"
	"time"
)

// Engine drives a closed loop on connections of its own instead of workers calling an Op (such as
// loadgen/mux, which serves many connections from one OS thread). RunEngine gives it the run's
// clock and recorder, so its series looks like any other.
type Engine interface {
	// Open connects and prepares before the clock starts.
	Open(ctx context.Context) error
	// Run records every operation into rec (its worker index picking the recorder's shard) until
	// end or until ctx ends; operations in flight then are recorded as abandoned.
	Run(ctx context.Context, rec *Recorder, end time.Time) error
	// Close ends every connection the engine opened (a Terminate each); it is called on every
	// path once Open has been called.
	Close()
}

// RunEngine is Run for an engine: the same warm-up, duration, timeline, progress and client CPU
// and memory figures, and cfg.Parts for the engine to record into. cfg's connection mode, rate,
// pacer and drain are the engine's business (it runs a closed loop).
func RunEngine(ctx context.Context, cfg Config, engine Engine) (*Outcome, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	defer engine.Close()
	if err := engine.Open(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	rec := NewRecorder(measureFrom)
	rec.SetParts(cfg.Parts)

	tickCtx, stopTicks := context.WithDeadline(ctx, end)
	defer stopTicks()
	watched := watchRun(tickCtx, cfg, start, measureFrom, rec)
	runErr := engine.Run(ctx, rec, end)
	if runErr == nil && ctx.Err() == nil && time.Now().Before(end) {
		// Every connection broke: the measured window is short and would read as a success.
		runErr = fmt.Errorf("the engine stopped %s before the end of the run: every connection broke (stopped_workers counts them)",
			time.Until(end).Round(time.Millisecond))
	}
	stopTicks()
	rssPeak, cpuSeconds := watched()
	rec.settle()

	measured := min(max(time.Since(measureFrom), 0), cfg.Duration)
	out := &Outcome{
		Snapshot:  rec.Snapshot(),
		StartedAt: start,
		Measured:  measured,
		Warmup:    cfg.Warmup,
		Workers:   cfg.Workers,

		ClientRSSPeakKB:  rssPeak,
		ClientCPUSeconds: cpuSeconds,
	}
	if runErr != nil {
		return out, runErr
	}
	return out, ctx.Err()
}

// RecordStopped counts a worker (an engine's connection) that stopped for good, as StopWorker
// does for a worker: the series reports it in its stopped_workers metric.
func (r *Recorder) RecordStopped() { r.stopped.Add(1) }

// watchRun starts the per-second ticker (the timeline and progress, until ctx ends, and the bound on
// the heap's headroom, heapgoal.go) and notes the process's CPU time. The returned func waits for the ticker and gives the peak RSS it saw, in
// kB, and the CPU seconds used since watchRun.
func watchRun(ctx context.Context, cfg Config, start, measureFrom time.Time, rec *Recorder) func() (rssPeakKB int64, cpuSeconds float64) {
	cpuBefore := selfCPUSeconds()
	var rssPeak int64
	tickerDone := make(chan struct{})
	runHeapGoal.begin()
	go func() {
		defer close(tickerDone)
		defer runHeapGoal.end()
		tickSeconds(ctx, cfg, start, measureFrom, rec, func() {
			runHeapGoal.adjust()
			rssPeak = max(rssPeak, SelfRSSKB())
		})
	}()
	return func() (int64, float64) {
		<-tickerDone
		return rssPeak, selfCPUSeconds() - cpuBefore
	}
}
