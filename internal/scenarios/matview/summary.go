package matview

import (
	"math"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgscale/pgscale/result"
)

// series turns what the point recorded into its series: refreshes (or batches) are the ops and
// their durations the latency; readers and writers are split into before the first refresh and
// during refreshes; the watcher's readings go into the timeline.
func (p *point) series(started time.Time, elapsed time.Duration) result.Series {
	p.mu.Lock()
	defer p.mu.Unlock()
	ops := result.NewHistogram()
	for _, r := range p.refreshes {
		_ = ops.RecordValue(max(1, r.to.Sub(r.from).Microseconds()))
	}
	s := result.Series{
		StartedAt: started, DurationS: elapsed.Seconds(), Workers: readers + 1, Ops: int64(len(p.refreshes)),
		LatencyMs: result.PercentilesOf(ops), Errors: p.errors, Metrics: map[string]float64{},
	}
	if len(p.samples) > 0 {
		s.ErrorSamples = p.samples
	}
	if elapsed > 0 {
		s.ThroughputPerS = float64(len(p.refreshes)) / elapsed.Seconds()
	}
	s.Histograms.Latency, _ = result.EncodeHistogram(ops)
	m := s.Metrics
	m[MetricRows] = float64(p.rows)
	m[MetricAccounts] = float64(accountsFor(p.rows))
	m[MetricRefreshes] = float64(len(p.refreshes))
	m[MetricRefreshMs] = round3(float64(ops.ValueAtQuantile(50)) / 1000)
	m[MetricUpToDateMs] = round3(float64(p.upToDate.Microseconds()) / 1000)
	if p.variant == VariantIncremental {
		var rows int64
		for _, r := range p.refreshes {
			rows += r.rows
		}
		if len(p.refreshes) > 0 {
			m[MetricRowsPerBatch] = round3(float64(rows) / float64(len(p.refreshes)))
		}
		m[MetricMaxPendingRows] = float64(p.pendingMax)
	} else {
		m[MetricRefreshLockAccessExclusive] = flag(p.lockModes[lockAccessExclusive])
		m[MetricRefreshLockExclusive] = flag(p.lockModes[lockExclusive])
	}
	waitingMax := 0
	for _, rd := range p.waiting {
		waitingMax = max(waitingMax, rd.waiting)
	}
	m[MetricReadersWaitingMax] = float64(waitingMax)

	readBefore, readDuring := p.split(p.reads)
	writeBefore, writeDuring := p.split(p.writes)
	put := func(name string, h *hdrhistogram.Histogram) {
		if h.TotalCount() > 0 {
			m[name+result.MetricSuffixP99Ms] = round3(float64(h.ValueAtQuantile(99)) / 1000)
			m[name+result.MetricSuffixCount] = float64(h.TotalCount())
		}
	}
	put(MetricPrefixReaderBefore, readBefore)
	put(MetricPrefixReaderDuring, readDuring)
	put(MetricPrefixWriterBefore, writeBefore)
	put(MetricPrefixWriterDuring, writeDuring)
	if b, d := m[MetricReaderBeforeP99Ms], m[MetricReaderDuringP99Ms]; b > 0 && d > 0 {
		m[MetricReaderP99DuringOverBefore] = round3(d / b)
	}
	if b, d := m[MetricWriterBeforeP99Ms], m[MetricWriterDuringP99Ms]; b > 0 && d > 0 {
		m[MetricWriterP99DuringOverBefore] = round3(d / b)
	}
	s.Timeline = p.timeline(started, elapsed)
	return s
}

// split puts each operation into before (ended before the first refresh or batch started) or
// during (overlapping one), leaving out those between refreshes.
func (p *point) split(ops []interval) (before, during *hdrhistogram.Histogram) {
	before, during = result.NewHistogram(), result.NewHistogram()
	refs := p.refreshes // in start order
	for _, o := range ops {
		us := max(1, o.to.Sub(o.from).Microseconds())
		if p.firstOp.IsZero() || o.to.Before(p.firstOp) {
			_ = before.RecordValue(us)
			continue
		}
		i := sort.Search(len(refs), func(i int) bool { return refs[i].to.After(o.from) })
		if i < len(refs) && refs[i].from.Before(o.to) {
			_ = during.RecordValue(us)
		}
	}
	return before, during
}

// timeline is the per-second view: refreshes (or batches) done, reads' p50 and p99, and the
// watcher's sessions waiting on the view and pending events.
func (p *point) timeline(started time.Time, elapsed time.Duration) []result.Second {
	seconds := max(1, int((elapsed+time.Second-1)/time.Second))
	tl := make([]result.Second, seconds)
	secondOf := func(t time.Time) int {
		return min(seconds-1, max(0, int(t.Sub(started)/time.Second)))
	}
	reads := make([][]float64, seconds)
	for i := range tl {
		tl[i].T = i + 1
		tl[i].Extra = map[string]float64{ColumnRefreshing: 0, ColumnReadersWaiting: 0}
	}
	for _, r := range p.refreshes {
		tl[secondOf(r.to)].Ops++
		for i := secondOf(r.from); i <= secondOf(r.to); i++ {
			tl[i].Extra[ColumnRefreshing] = 1
		}
	}
	for _, o := range p.reads {
		i := secondOf(o.from)
		reads[i] = append(reads[i], float64(o.to.Sub(o.from).Microseconds())/1000)
	}
	for i, ls := range reads {
		if len(ls) == 0 {
			continue
		}
		sort.Float64s(ls)
		q := func(f float64) float64 { return ls[int(f*float64(len(ls)-1))] }
		tl[i].P50Ms, tl[i].P99Ms = round3(q(0.5)), round3(q(0.99))
	}
	for _, rd := range p.waiting {
		e := tl[secondOf(rd.at)].Extra
		e[ColumnReadersWaiting] = max(e[ColumnReadersWaiting], float64(rd.waiting))
		if p.variant == VariantIncremental {
			e[ColumnPendingRows] = max(e[ColumnPendingRows], float64(rd.pending))
		}
	}
	return tl
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
