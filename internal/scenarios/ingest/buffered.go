package ingest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/result"
)

const (
	// drainTimeout bounds the flush of what the buffer holds when the producers stop (the end of
	// the run, or Ctrl-C). The buffer holds at most a few batches per flusher: 8 flushers of
	// 10,000-event batches drain in about a second on 2 cores; events still waiting after 10 s
	// are reported as events_unflushed, never dropped silently.
	drainTimeout = 10 * time.Second
	// The buffer holds bufferBatchesPerFlusher batches per flusher (one filling while the
	// flushers write theirs), and at least minBufferEvents (~0.25 MB of events): at batch 1 and
	// one flusher, a buffer of two events would stop the producers at every flush.
	minBufferEvents         = 1024
	bufferBatchesPerFlusher = 2
)

// flusherGiveUp is how long a flusher reconnects before the run fails (a variable for the tests).
var flusherGiveUp = loadgen.DefaultGiveUp

// batch is what the dispatcher hands a flusher.
type batch struct {
	events []event
	full   bool // sent because batch events waited, rather than by the flush interval
}

// buffered is the buffered variant's in-process buffer, dispatcher and flushers.
type buffered struct {
	events  chan event // producers -> dispatcher; its capacity is the back-pressure point
	batches chan batch // dispatcher -> flushers
	free    chan []event

	generated, unflushed, afterStop atomic.Int64
	flushes, flushesFull, flushRows atomic.Int64
	// stopped is set once the producers have stopped (the run's end, or Ctrl-C).
	stopped atomic.Bool
	// lost is set once a flusher could not reconnect; failRun then ends the producers with why.
	lost       atomic.Bool
	failRun    context.CancelCauseFunc
	reconnects int64
	// start is when the producers started; seconds holds what the flushers committed in each
	// second of the run, for the timeline (written.go).
	start   time.Time
	secMu   sync.Mutex
	seconds map[int]*flushSecond

	mu        sync.Mutex
	eventHist *hdrhistogram.Histogram // generation to commit, events generated in the window
	flushHist *hdrhistogram.Histogram // COPY of a batch, flushes started in the window
	errs      map[string]int64
	samples   map[string]string
}

// runBuffered runs the buffered variant: loadgen's workers are the producers (an operation is one
// event handed to the buffer), and workers flushers each write with COPY on a connection of their
// own. When the producers stop, what the buffer holds is flushed before the point ends.
func (st *runState) runBuffered(ctx context.Context, env *scenarios.Env, load *pgx.ConnConfig) (*loadgen.Outcome, error) {
	c := st.cfg
	b := &st.buffered
	b.events = make(chan event, max(minBufferEvents, bufferBatchesPerFlusher*c.batch*c.workers))
	b.batches = make(chan batch)
	b.free = make(chan []event, c.workers+2)
	b.eventHist, b.flushHist = result.NewHistogram(), result.NewHistogram()
	b.seconds = map[int]*flushSecond{}
	b.errs, b.samples = map[string]int64{}, map[string]string{}

	flushers := make([]*loadgen.Redialer, 0, c.workers)
	defer func() {
		for _, rd := range flushers {
			rd.Close()
		}
	}()
	for range c.workers {
		rd, err := loadgen.Redial(ctx, "ingest buffered flusher", load, loadgen.RedialOptions{GiveUp: flusherGiveUp})
		if err != nil {
			return nil, err
		}
		flushers = append(flushers, rd)
	}

	// A flusher that cannot get its connection back ends the run through runCtx, with the reason.
	runCtx, failRun := context.WithCancelCause(ctx)
	defer failRun(nil)
	b.failRun = failRun
	// Flushes do not end with the run's context: on Ctrl-C the buffer is still written out, and
	// only the drain timeout gives up on it.
	flushCtx, stopFlushing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFlushing()
	var wg sync.WaitGroup
	wg.Go(func() { st.dispatch() })
	for _, rd := range flushers {
		wg.Go(func() { st.flusher(flushCtx, rd) })
	}

	cfg := env.LoadConfig(c.workers, loadgen.ConnNone)
	cfg.ConnConfig = load
	b.start = time.Now()
	out, runErr := loadgen.Run(runCtx, cfg, st.produce)
	b.stopped.Store(true)
	close(b.events) // every producer has returned
	if cause := context.Cause(runCtx); ctx.Err() == nil && loadgen.IsLost(cause) {
		runErr = cause
	}

	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	timer := time.NewTimer(drainTimeout)
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
		stopFlushing()
		<-drained
	}
	for _, rd := range flushers {
		b.reconnects += rd.Reconnects()
		errs, samples := rd.Errors() // failed reconnects
		b.addErrors(errs, samples)
	}
	if out != nil {
		st.countWritten(out)
	}
	return out, runErr
}

// produce makes one event and hands it to the buffer, waiting while the buffer is full. The
// event's time is its intended start, so that in an open loop a producer that falls behind shows
// in the event latency.
func (st *runState) produce(ctx context.Context, w *loadgen.Worker, _ *pgx.Conn) error {
	st.noteWindow(ctx)
	gen, ok := w.State.(*eventGen)
	if !ok {
		gen = &eventGen{rnd: w.Rand, payload: st.cfg.payload}
		w.State = gen
	}
	var ev event
	gen.fill(&ev, st.nextID.Add(1))
	ev.at = w.Intended
	select {
	case st.events <- ev:
		st.generated.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dispatch gathers events into batches: a batch goes to a flusher when it holds cfg.batch events,
// or flush_interval after its first event arrived. While every flusher is busy it waits, the
// buffer fills, and the producers wait in turn.
func (st *runState) dispatch() {
	b := &st.buffered
	size := st.cfg.batch
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var due <-chan time.Time
	cur := b.take(size)
	send := func(full bool) {
		b.batches <- batch{events: cur, full: full}
		cur = b.take(size)
		timer.Stop()
		due = nil
	}
	for {
		select {
		case ev, ok := <-b.events:
			if !ok {
				if len(cur) > 0 {
					send(false)
				}
				close(b.batches)
				return
			}
			if len(cur) == 0 {
				timer.Reset(st.cfg.flushInterval)
				due = timer.C
			}
			cur = append(cur, ev)
			if len(cur) >= size {
				send(true)
			}
		case <-due:
			due = nil
			if len(cur) > 0 {
				send(false)
			}
		}
	}
}

// take returns an empty batch slice, reused when one is free.
func (b *buffered) take(size int) []event {
	select {
	case s := <-b.free:
		return s[:0]
	default:
		return make([]event, 0, size)
	}
}

func (b *buffered) recycle(s []event) {
	select {
	case b.free <- s:
	default:
	}
}

// flusher writes the batches it is handed with COPY, each in its own transaction, and records
// each event's time from generation to commit. A lost connection fails the batch on it (its rows
// are counted refused or in doubt) and is reopened for the next; when it cannot be, the run fails
// and what is left in the buffer is counted unflushed.
func (st *runState) flusher(ctx context.Context, rd *loadgen.Redialer) {
	b := &st.buffered
	src := newSliceSource()
	eventHist, flushHist := result.NewHistogram(), result.NewHistogram()
	errs := map[string]int64{}
	samples := map[string]string{}
	for bt := range b.batches {
		n := len(bt.events)
		var conn *pgx.Conn
		if ctx.Err() == nil && !b.lost.Load() {
			var err error
			if conn, err = rd.Conn(ctx); err != nil && loadgen.IsLost(err) && !b.lost.Swap(true) {
				b.failRun(err)
			}
		}
		if conn == nil {
			b.unflushed.Add(int64(n))
			b.recycle(bt.events)
			continue
		}
		src.reset(bt.events)
		afterStop := b.stopped.Load()
		started := time.Now()
		fctx, cancel := context.WithTimeout(ctx, opTimeout)
		err := copyRows(fctx, conn, st.table, src, n)
		cancel()
		done := time.Now()
		st.account(n, done, err)
		if err != nil {
			class := loadgen.Classify(err)
			if st.inWindow(started) {
				errs[class]++
			}
			if _, ok := samples[class]; !ok {
				samples[class] = fmt.Sprintf("ingest buffered flush: %v", err)
			}
			b.noteSecond(done, 0, class, nil)
			b.recycle(bt.events)
			continue
		}
		if afterStop {
			b.afterStop.Add(int64(n))
		}
		if st.inWindow(started) {
			_ = flushHist.RecordValue(micros(done.Sub(started)))
			b.flushes.Add(1)
			b.flushRows.Add(int64(n))
			if bt.full {
				b.flushesFull.Add(1)
			}
		}
		for i := range bt.events {
			if at := bt.events[i].at; st.inWindow(at) {
				_ = eventHist.RecordValue(micros(done.Sub(at)))
			}
		}
		b.noteSecond(done, n, "", bt.events)
		b.recycle(bt.events)
	}
	b.mu.Lock()
	b.eventHist.Merge(eventHist)
	b.flushHist.Merge(flushHist)
	b.mu.Unlock()
	b.addErrors(errs, samples)
}

// addErrors adds flush errors by class, and a message of each class.
func (b *buffered) addErrors(errs map[string]int64, samples map[string]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for class, n := range errs {
		b.errs[class] += n
	}
	for class, msg := range samples {
		if _, ok := b.samples[class]; !ok {
			b.samples[class] = msg
		}
	}
}

func micros(d time.Duration) int64 {
	return min(max(int64(d/time.Microsecond), result.HistogramMinUs), result.HistogramMaxUs)
}

// addFlushFigures puts buffered's histograms into the series, as loadgen does
// for its own: event_* (generation to commit) and flush_* (a flush's COPY) percentiles.
func (st *runState) addFlushFigures(s *result.Series) {
	if st.cfg.variant != VariantBuffered {
		return
	}
	b := &st.buffered
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.Metrics == nil {
		s.Metrics = map[string]float64{}
	}
	for name, h := range map[string]*hdrhistogram.Histogram{MetricPrefixEvent: b.eventHist, MetricPrefixFlush: b.flushHist} {
		p := result.PercentilesOf(h)
		s.Metrics[name+result.MetricSuffixP50Ms] = p.P50
		s.Metrics[name+result.MetricSuffixP90Ms] = p.P90
		s.Metrics[name+result.MetricSuffixP99Ms] = p.P99
		s.Metrics[name+result.MetricSuffixP999Ms] = p.P999
		s.Metrics[name+result.MetricSuffixMaxMs] = p.Max
		s.Metrics[name+result.MetricSuffixCount] = float64(p.Count)
		if enc, err := result.EncodeHistogram(h); err == nil && enc != "" {
			if s.Histograms.Extra == nil {
				s.Histograms.Extra = map[string]string{}
			}
			s.Histograms.Extra[name] = enc
		}
	}
}

// addBufferedMetrics adds the buffer's counts: every event handed to the buffer was committed,
// refused, left in doubt, or (after the drain timeout) never flushed.
func (st *runState) addBufferedMetrics(m map[string]float64) {
	b := &st.buffered
	m[MetricEventsGenerated] = float64(b.generated.Load())
	m[MetricEventsUnflushed] = float64(b.unflushed.Load())
	m[MetricEventsFlushedAfterStop] = float64(b.afterStop.Load())
	m[MetricFlusherReconnects] = float64(b.reconnects)
	m[MetricFlushIntervalMs] = float64(st.cfg.flushInterval) / float64(time.Millisecond)
	flushes := b.flushes.Load()
	m[MetricFlushes] = float64(flushes)
	m[MetricFlushesFull] = float64(b.flushesFull.Load())
	m[MetricFlushesByInterval] = float64(flushes - b.flushesFull.Load())
	if flushes > 0 {
		// Rows per flush, over the flushes that started in the measured window.
		m[MetricBatchRowsMean] = float64(b.flushRows.Load()) / float64(flushes)
	}
	accounted := st.acked.Load() + st.failed.Load() + st.uncertain.Load() + b.unflushed.Load()
	m[MetricEventsUnaccounted] = float64(b.generated.Load() - accounted)
}
