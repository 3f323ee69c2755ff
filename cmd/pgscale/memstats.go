package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// memStatsEvery is how often PGSCALE_MEMSTATS samples pgscale's memory.
const memStatsEvery = 15 * time.Second

// watchMemory serves PGSCALE_MEMSTATS=file, for work on the load generator's memory: every 15 s
// it appends a line to file with the process's resident memory and the Go runtime's view of it
// (heap in use, goroutine stacks, what the heap holds but the runtime has not given back), and
// writes a heap profile of that moment to file.heap, so that the last one written is from the run,
// not from after its connections closed, and to file.heap.<seconds>, so that two moments of a run
// can be compared (go tool pprof -diff_base). The returned func stops it and writes file.heap.end,
// after a collection, for what the whole command allocated.
func watchMemory(path string) (stop func()) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgscale: PGSCALE_MEMSTATS: %v\n", err)
		return func() {}
	}
	// One sample every 64 KB allocated rather than 512 KB: the profiles compare moments of a run
	// whose heap grows by a few MB.
	runtime.MemProfileRate = 64 << 10
	fmt.Fprintln(f, "t_s rss_kb heap_inuse_kb heap_alloc_kb heap_idle_kb heap_released_kb stack_inuse_kb sys_kb goroutines num_gc next_gc_kb total_alloc_kb mallocs gc_cpu_ms")
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		defer f.Close()
		tick := time.NewTicker(memStatsEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			t := time.Since(start).Seconds()
			fmt.Fprintf(f, "%.0f %d %d %d %d %d %d %d %d %d %d %d %d %.0f\n", t, loadgen.SelfRSSKB(),
				ms.HeapInuse>>10, ms.HeapAlloc>>10, ms.HeapIdle>>10, ms.HeapReleased>>10, ms.StackInuse>>10,
				ms.Sys>>10, runtime.NumGoroutine(), ms.NumGC, ms.NextGC>>10, ms.TotalAlloc>>10, ms.Mallocs, gcCPUSeconds()*1000)
			writeHeapProfile(path + ".heap")
			writeHeapProfile(fmt.Sprintf("%s.heap.%03.0f", path, t))
		}
	}()
	return func() {
		close(done)
		<-finished
		// A heap profile holds the figures of the last collection: collect, so that this one
		// counts everything the command allocated (alloc_space), the run's steady state included
		// even when it collected rarely.
		runtime.GC()
		writeHeapProfile(path + ".heap.end")
	}
}

// writeHeapProfile writes a heap profile to path; PGSCALE_MEMSTATS is a diagnostic, so a file it
// cannot write is skipped.
func writeHeapProfile(path string) {
	if hf, err := os.Create(path); err == nil {
		_ = pprof.WriteHeapProfile(hf)
		hf.Close()
	}
}

// gcCPUSeconds is the CPU time the garbage collector has used (an estimate of the runtime's).
func gcCPUSeconds() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return s[0].Value.Float64()
}
