package selectonly_test

import (
	"context"
	"runtime"
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
		cfg := loadgen.Config{Workers: workers, Duration: 2 * time.Second, ConnConfig: cc,
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
