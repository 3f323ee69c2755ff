package selectonly_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
)

// TestHeapPerWorker bounds what the goroutine engine keeps per worker: the live heap (after a
// garbage collection) once every worker has run a lookup, at two worker counts, divided by the
// difference in workers, so that what a run keeps whatever its size (the recorder's histograms,
// the server's parameters) cancels. Measured: 22 KB a worker with a connection each (pgx's 8 KB
// read buffer, its statement caches, the connection's structs), 32 KB over a pgxpool as large;
// per-worker HDR histograms would add ~190 KB. The bound is wide: a count, not a time, but pgx
// takes 8 KB buffers of its own for a write it finds slow.
func TestHeapPerWorker(t *testing.T) {
	if mode := selectonly.ConnMode("pool"); mode != loadgen.ConnPerWorker {
		t.Errorf("connect=pool runs the goroutine engine in mode %q, want a connection per worker", mode)
	}
	ctx := context.Background()
	cc := localTables(t)
	liveHeap := func(workers int) int64 {
		lookup := selectonly.Lookup(100000, pgx.QueryExecModeCacheStatement)
		ran := make([]atomic.Bool, workers)
		var started atomic.Int64
		var once sync.Once
		var live int64
		op := func(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
			err := lookup(ctx, w, conn)
			if !ran[w.ID].Swap(true) && started.Add(1) == int64(workers) {
				once.Do(func() {
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					live = int64(ms.HeapAlloc)
				})
			}
			return err
		}
		// The heap is read as the last worker's first lookup ends, moments into the run (the
		// connections are open before its clock starts); the rest of the second is only load.
		cfg := loadgen.Config{Workers: workers, Duration: time.Second, ConnConfig: cc,
			ConnMode: selectonly.ConnMode("pool"), Seed: 1}
		out, err := loadgen.Run(ctx, cfg, op)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Errors) > 0 || live == 0 {
			t.Fatalf("%d workers: errors %v, %d of them ran a lookup", workers, out.ErrorSamples, started.Load())
		}
		return live
	}
	const few, many = 10, 80 // the local target's max_connections is 100
	small, large := liveHeap(few), liveHeap(many)
	perWorker := float64(large-small) / (many - few)
	t.Logf("live heap: %d kB at %d workers, %d kB at %d: %.1f kB per worker", small>>10, few, large>>10, many, perWorker/1024)
	if perWorker > 40<<10 {
		t.Errorf("%.1f kB of live heap per worker, want at most 40 kB (22 kB measured)", perWorker/1024)
	}
}

// TestHeapFlat runs the goroutine engine's lookups at a fixed worker count and reads the heap after
// N and after 2N seconds, counting bytes: what the last collection kept (after a collection, so
// garbage does not count) may not grow between the two by more than the noise of lookups in
// flight, which catches anything kept per second or per lookup; and the heap's goal may sit at
// most about loadgen.HeapHeadroom above it. The live heap is made as large as at 2,000 workers by
// a 64 MB ballast, since the local target allows 100 connections: with GOGC's default the goal
// would be 64 MB above it, and the process's memory would rise towards that for as long as the
// run took to allocate it (the first 200 s at 2,000 workers, issue 22).
func TestHeapFlat(t *testing.T) {
	ctx := context.Background()
	cc := localTables(t)
	ballast := make([]byte, 64<<20)
	runtime.GC()
	const workers, n = 80, 2 // seconds
	type reading struct{ live, headroom uint64 }
	var readings []reading
	read := func() reading {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}}
		metrics.Read(s)
		headroom := s[1].Value.Uint64() - s[0].Value.Uint64()
		runtime.GC()
		metrics.Read(s)
		return reading{live: s[0].Value.Uint64(), headroom: headroom}
	}
	cfg := loadgen.Config{Workers: workers, Duration: (2*n + 1) * time.Second, ConnConfig: cc,
		ConnMode: selectonly.ConnMode("pool"), Seed: 1,
		OnSecond: func(tk loadgen.Tick) {
			if tk.Elapsed == n*time.Second || tk.Elapsed == 2*n*time.Second {
				readings = append(readings, read())
			}
		}}
	out, err := loadgen.Run(ctx, cfg, selectonly.Lookup(100000, pgx.QueryExecModeCacheStatement))
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(ballast)
	if len(out.Errors) > 0 || len(readings) != 2 {
		t.Fatalf("errors %v, %d readings", out.ErrorSamples, len(readings))
	}
	first, second := readings[0], readings[1]
	grown := int64(second.live) - int64(first.live)
	t.Logf("%d workers, %d lookups: live heap %d kB after %d s, %d kB after %d s (%+d kB); heap goal %d, %d kB above it",
		workers, out.Ops, first.live>>10, n, second.live>>10, 2*n, grown>>10, first.headroom>>10, second.headroom>>10)
	if grown > 1<<20 {
		t.Errorf("the live heap grew by %d kB between %d s and %d s, want at most 1024 kB", grown>>10, n, 2*n)
	}
	for _, r := range readings {
		if r.headroom > 2*loadgen.HeapHeadroom {
			t.Errorf("the heap goal is %d kB above the live heap, want at most %d kB (loadgen.HeapHeadroom, %d kB, with GOGC's floor)",
				r.headroom>>10, 2*loadgen.HeapHeadroom>>10, loadgen.HeapHeadroom>>10)
		}
	}
}
