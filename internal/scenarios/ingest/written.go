package ingest

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/result"
)

// flushSecond is what buffered's flushers committed, and how their flushes failed, in one second
// of the run.
type flushSecond struct {
	rows int64
	errs map[string]int64
	hist *hdrhistogram.Histogram // each committed event's time from generation to commit
}

// noteSecond adds a flush that ended at done to its second of the timeline: rows committed (0
// for a failed flush, whose class is given), and the events' latencies.
func (b *buffered) noteSecond(done time.Time, rows int, class string, events []event) {
	t := int((done.Sub(b.start) + time.Second - 1) / time.Second) // second t is (t-1 s, t s]
	b.secMu.Lock()
	defer b.secMu.Unlock()
	fs, ok := b.seconds[t]
	if !ok {
		// Two significant digits, as loadgen's per-second histograms.
		fs = &flushSecond{errs: map[string]int64{}, hist: hdrhistogram.New(result.HistogramMinUs, result.HistogramMaxUs, 2)}
		b.seconds[t] = fs
	}
	fs.rows += int64(rows)
	if class != "" {
		fs.errs[class]++
	}
	for i := range events {
		_ = fs.hist.RecordValue(micros(done.Sub(events[i].at)))
	}
}

// countWritten makes buffered's outcome count rows written, not events handed to the buffer. An
// operation is an event committed within the measured window (ops/s is rows_per_s), its latency
// the event's time from generation to commit (event_*, events generated in the window), and its
// errors the failed flushes by class; the producers' wait for room in the buffer becomes
// enqueue_wait_*. Each second of the timeline counts the rows committed and the flushes failed
// in it. A flusher that lost its connection then shows as missing rows and errors, not as
// producers running free into a buffer that nobody empties.
func (st *runState) countWritten(out *loadgen.Outcome) {
	b := &st.buffered
	if out.Extra == nil {
		out.Extra = map[string]*hdrhistogram.Histogram{}
	}
	out.Extra[MetricPrefixEnqueueWait] = out.Latency
	b.mu.Lock()
	out.Latency = b.eventHist.Clone()
	for class, n := range b.errs {
		out.Errors[class] += n
	}
	for class, msg := range b.samples {
		if _, ok := out.ErrorSamples[class]; !ok {
			out.ErrorSamples[class] = msg
		}
	}
	b.mu.Unlock()
	out.Ops = st.windowRows.Load()

	b.secMu.Lock()
	defer b.secMu.Unlock()
	for i := range out.Timeline {
		sec := &out.Timeline[i]
		sec.Ops, sec.Errors, sec.ErrorsBy, sec.P50Ms, sec.P99Ms = 0, 0, nil, 0, 0
		fs, ok := b.seconds[sec.T]
		if !ok {
			continue
		}
		sec.Ops = fs.rows
		for class, n := range fs.errs {
			if sec.ErrorsBy == nil {
				sec.ErrorsBy = map[string]int64{}
			}
			sec.ErrorsBy[class] += n
			sec.Errors += n
		}
		if fs.hist.TotalCount() > 0 {
			sec.P50Ms = float64(fs.hist.ValueAtQuantile(50)) / 1000
			sec.P99Ms = float64(fs.hist.ValueAtQuantile(99)) / 1000
		}
	}
}
