package loadgen

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgscale/pgscale/result"
)

// recorderShards spreads concurrent recording over independent locks. Eight shards keep lock
// contention negligible at 2,000 workers on the machines we measured (a single lock cost ~15% of
// throughput in BenchmarkRecordParallel at 16 goroutines) while the memory stays small: each shard
// carries four histograms of ~190 KB.
const recorderShards = 8

// secondDigits is the precision of the per-second histograms behind the timeline's p50/p99:
// two significant digits (1% error) at a sixteenth of the memory of the summary histograms.
const secondDigits = 2

// Recorder collects every operation of one series: summary histograms (after warm-up), errors by
// class, and the per-second timeline. Record is safe for concurrent use and does not allocate.
type Recorder struct {
	measureFrom time.Time // operations that start before this are warm-up
	shards      [recorderShards]shard

	tlMu     sync.Mutex
	timeline []result.Second
	// secMerged sums the shards' per-second histograms in Tick, reset and reused every second
	// rather than allocated (12 KB a second); guarded by tickMu.
	tickMu    sync.Mutex
	secMerged *hdrhistogram.Histogram
	extraMu   sync.Mutex
	extra     map[string]*hdrhistogram.Histogram

	stopped   atomic.Int64 // workers stopped by their operation (StopWorker)
	parts     []part       // see parts.go
	partNames []string
}

type shard struct {
	mu       sync.Mutex
	latency  *hdrhistogram.Histogram
	service  *hdrhistogram.Histogram
	connect  *hdrhistogram.Histogram
	second   *hdrhistogram.Histogram
	ops      int64
	allOps   int64 // successes with the warm-up's
	errors   map[string]int64
	samples  map[string]string
	secOps   int64
	secErrs  map[string]int64
	abandons int64
	_        [64]byte // keep shards on separate cache lines
}

// NewRecorder returns a recorder whose summary counts operations that start at or after
// measureFrom.
func NewRecorder(measureFrom time.Time) *Recorder {
	r := &Recorder{measureFrom: measureFrom, extra: map[string]*hdrhistogram.Histogram{},
		secMerged: hdrhistogram.New(result.HistogramMinUs, result.HistogramMaxUs, secondDigits)}
	for i := range r.shards {
		s := &r.shards[i]
		s.latency = result.NewHistogram()
		s.service = result.NewHistogram()
		s.connect = result.NewHistogram()
		s.second = hdrhistogram.New(result.HistogramMinUs, result.HistogramMaxUs, secondDigits)
		s.errors = map[string]int64{}
		s.samples = map[string]string{}
		s.secErrs = map[string]int64{}
	}
	return r
}

func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	switch {
	case us < result.HistogramMinUs:
		return result.HistogramMinUs
	case us > result.HistogramMaxUs:
		return result.HistogramMaxUs
	}
	return us
}

// Record notes one operation by worker that was due at intended and finished after latency
// (counted from intended) and service (counted from the moment it really started).
// A nil err is a success; otherwise the error is counted under its class and its latency is not
// recorded.
func (r *Recorder) Record(worker int, intended time.Time, latency, service time.Duration, err error) {
	s := &r.shards[worker%recorderShards]
	measured := !intended.Before(r.measureFrom)
	var class string
	if err != nil {
		class = Classify(err)
	}
	s.mu.Lock()
	if err != nil {
		s.secErrs[class]++
		if measured {
			s.errors[class]++
			if _, ok := s.samples[class]; !ok {
				s.samples[class] = err.Error()
			}
		}
		s.mu.Unlock()
		return
	}
	s.secOps++
	s.allOps++
	_ = s.second.RecordValue(micros(latency))
	if measured {
		s.ops++
		_ = s.latency.RecordValue(micros(latency))
		_ = s.service.RecordValue(micros(service))
	}
	s.mu.Unlock()
}

// RecordConnect notes the time one connection took to open.
func (r *Recorder) RecordConnect(worker int, started time.Time, d time.Duration) {
	if started.Before(r.measureFrom) {
		return
	}
	s := &r.shards[worker%recorderShards]
	s.mu.Lock()
	_ = s.connect.RecordValue(micros(d))
	s.mu.Unlock()
}

// RecordAbandoned counts an operation cut off by the end of the run; it is neither a success nor
// an error.
func (r *Recorder) RecordAbandoned(worker int) {
	s := &r.shards[worker%recorderShards]
	s.mu.Lock()
	s.abandons++
	s.mu.Unlock()
}

// Observe records d in the named scenario-specific histogram (for example "claim" or
// "end_to_end"), reported as <name>_p50_ms … in the series' metrics. Observations during warm-up
// are dropped. It takes a lock shared by all names: use it for figures rarer than operations.
func (r *Recorder) Observe(name string, started time.Time, d time.Duration) {
	if started.Before(r.measureFrom) {
		return
	}
	r.extraMu.Lock()
	h, ok := r.extra[name]
	if !ok {
		h = result.NewHistogram()
		r.extra[name] = h
	}
	_ = h.RecordValue(micros(d))
	r.extraMu.Unlock()
}

// Tick closes the current second of the timeline and returns its entry. t counts seconds from the
// series' start; warmup marks seconds before the measurement began.
func (r *Recorder) Tick(t int, warmup bool) result.Second {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	merged := r.secMerged
	merged.Reset()
	sec := r.takeSecond(merged)
	sec.T, sec.Warmup = t, warmup
	if merged.TotalCount() > 0 {
		sec.P50Ms = float64(merged.ValueAtQuantile(50)) / 1000
		sec.P99Ms = float64(merged.ValueAtQuantile(99)) / 1000
	}
	r.tlMu.Lock()
	r.timeline = append(r.timeline, sec)
	r.tlMu.Unlock()
	return sec
}

// takeSecond takes every shard's counts of the second under way, resetting them, and merges
// their latencies into merged; the caller holds tickMu.
func (r *Recorder) takeSecond(merged *hdrhistogram.Histogram) result.Second {
	var sec result.Second
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		sec.Ops += s.secOps
		merged.Merge(s.second)
		s.second.Reset()
		s.secOps = 0
		for class, n := range s.secErrs {
			if sec.ErrorsBy == nil {
				sec.ErrorsBy = map[string]int64{}
			}
			sec.ErrorsBy[class] += n
			sec.Errors += n
		}
		clear(s.secErrs)
		s.mu.Unlock()
	}
	return sec
}

// settle adds what was recorded after the ticker's last tick to the timeline's last second: an
// operation that ended a moment before the run's end can be recorded after the ticker, stopped
// by the same end, closed that second. The timeline then sums to the run's counts (the second's
// percentiles stay as they were). Call it once the ticker and the workers have stopped.
func (r *Recorder) settle() {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	r.secMerged.Reset()
	late := r.takeSecond(r.secMerged)
	if late.Ops == 0 && late.Errors == 0 {
		return
	}
	r.tlMu.Lock()
	defer r.tlMu.Unlock()
	if len(r.timeline) == 0 {
		r.timeline = append(r.timeline, result.Second{T: 1})
	}
	last := &r.timeline[len(r.timeline)-1]
	last.Ops += late.Ops
	last.Errors += late.Errors
	for class, n := range late.ErrorsBy {
		if last.ErrorsBy == nil {
			last.ErrorsBy = map[string]int64{}
		}
		last.ErrorsBy[class] += n
	}
}

// Snapshot is everything a recorder measured, merged over its shards.
type Snapshot struct {
	Ops          int64
	Abandoned    int64
	Stopped      int64 // workers stopped by StopWorker
	AllOps       int64 // successes, the warm-up's included
	Latency      *hdrhistogram.Histogram
	Service      *hdrhistogram.Histogram
	Connect      *hdrhistogram.Histogram
	Extra        map[string]*hdrhistogram.Histogram
	Parts        []PartSnapshot // Config.Parts, in order
	Errors       map[string]int64
	ErrorSamples map[string]string
	Timeline     []result.Second
}

// Snapshot merges the shards. Call it after the run ends.
func (r *Recorder) Snapshot() Snapshot {
	snap := Snapshot{
		Latency:      result.NewHistogram(),
		Service:      result.NewHistogram(),
		Connect:      result.NewHistogram(),
		Extra:        map[string]*hdrhistogram.Histogram{},
		Errors:       map[string]int64{},
		ErrorSamples: map[string]string{},
	}
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		snap.Ops += s.ops
		snap.AllOps += s.allOps
		snap.Abandoned += s.abandons
		snap.Latency.Merge(s.latency)
		snap.Service.Merge(s.service)
		snap.Connect.Merge(s.connect)
		for class, n := range s.errors {
			snap.Errors[class] += n
		}
		for class, msg := range s.samples {
			snap.ErrorSamples[class] = msg
		}
		s.mu.Unlock()
	}
	r.extraMu.Lock()
	for name, h := range r.extra {
		snap.Extra[name] = h.Clone()
	}
	r.extraMu.Unlock()
	snap.Parts = r.snapshotParts()
	snap.Stopped = r.stopped.Load()
	r.tlMu.Lock()
	snap.Timeline = append([]result.Second(nil), r.timeline...)
	r.tlMu.Unlock()
	sort.Slice(snap.Timeline, func(i, j int) bool { return snap.Timeline[i].T < snap.Timeline[j].T })
	return snap
}
