package loadgen

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// HeapHeadroom is how much garbage the Go heap may gather over its live heap during a run before
// the garbage collector runs, for runs whose live heap is large. With GOGC's default of 100 the
// heap grows to twice what the last collection kept (plus the goroutine stacks): at 2,000 workers
// with a connection each, about 50 MB live and 12 MB of stacks, a goal of 112 MB. A run allocates
// little once its connections are open (about 0.5 MB/s: pgx's command tags and slow-write
// buffers, the sampler's queries), so the heap took the first 200 s of a run to reach that goal
// and the process's memory rose all that time, 60 MB in all. Holding the headroom to 8 MiB keeps
// the heap within that of the live heap, at the cost of a collection every 13 s or so at that
// allocation rate (measured: 22 collections in 285 s at 2,000 workers, 4.3 ms of CPU a second).
const HeapHeadroom = 8 << 20

// minGCPercent is the lowest GC percent the bound sets: at that share the heap is so large that the
// collections' cost, proportional to the live heap, outweighs the memory saved.
const minGCPercent = 10

// heapGoal holds the GC percent during runs at what gcPercentFor gives and restores the process's
// own when the last run ends. Runs may overlap (a scenario's actors), hence the count.
type heapGoal struct {
	mu   sync.Mutex
	runs int
	own  int // the GC percent before the first run (GOGC, 100 by default; negative: off)
	set  int // the GC percent in effect
	read []metrics.Sample
}

var runHeapGoal heapGoal

// gcMetrics are what the pacer's goal is made of: the goal is live + (live + stacks + globals) ×
// GOGC/100, each as of the last collection.
var gcMetrics = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// begin notes a run's start; call adjust every second and end when the run ends.
func (h *heapGoal) begin() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runs == 0 {
		h.own = readGCPercent()
		h.set = h.own
	}
	h.runs++
}

// adjust sets the GC percent for what the last collection kept.
func (h *heapGoal) adjust() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runs == 0 {
		return
	}
	if h.read == nil {
		h.read = make([]metrics.Sample, len(gcMetrics))
		for i, name := range gcMetrics {
			h.read[i].Name = name
		}
	}
	metrics.Read(h.read)
	var scanned uint64
	for _, s := range h.read {
		if s.Value.Kind() == metrics.KindUint64 {
			scanned += s.Value.Uint64()
		}
	}
	if p := gcPercentFor(scanned, h.own); p != h.set {
		debug.SetGCPercent(p)
		h.set = p
	}
}

// end notes a run's end and restores the process's GC percent after the last one.
func (h *heapGoal) end() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs--
	if h.runs == 0 && h.set != h.own {
		debug.SetGCPercent(h.own)
		h.set = h.own
	}
}

// gcPercentFor is the GC percent that holds the heap's headroom over what a collection scans
// (the live heap, stacks and globals) to HeapHeadroom: never above own (the process's setting,
// which a small run keeps), never below minGCPercent, and own when the collector is off.
func gcPercentFor(scanned uint64, own int) int {
	if own <= minGCPercent || scanned == 0 {
		return own
	}
	p := int(uint64(HeapHeadroom) * 100 / scanned)
	return max(minGCPercent, min(own, p))
}

// readGCPercent reads the GC percent without changing it.
func readGCPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(s[0].Value.Uint64())
}
