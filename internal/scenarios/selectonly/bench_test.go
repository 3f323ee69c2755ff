package selectonly_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
)

// BenchmarkRunLookup drives prepared lookups through the load generator's whole hot loop
// (loadgen.Run, a connection per worker, the recorder), as `pgscale calibrate` does, and reports
// per lookup what the client spent: heap allocations, read and write system calls (from
// /proc/self/io, which counts every read/recv and write/send of the process) and CPU time.
// Each iteration is a one-second run; ns/op is that run's wall time, not a lookup's.
func BenchmarkRunLookup(b *testing.B) {
	target := harnesstest.Local(b)
	ctx := context.Background()
	cc, err := harness.ConnConfig(target.DSN())
	if err != nil {
		b.Fatal(err)
	}
	conn, err := loadgen.Connect(ctx, cc, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	err = selectonly.CreateTables(ctx, conn, 1, func(string, ...any) {})
	conn.Close(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cfg := loadgen.Config{Workers: workers, Duration: time.Second, ConnConfig: cc,
				ConnMode: loadgen.ConnPerWorker, Seed: 1}
			op := selectonly.Lookup(100000, pgx.QueryExecModeCacheStatement)
			var ops, mallocs, reads, writes int64
			var cpu float64
			for b.Loop() {
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				r0, w0 := ioSyscalls(b)
				c0 := cpuSeconds()
				out, err := loadgen.Run(ctx, cfg, op)
				cpu += cpuSeconds() - c0
				r1, w1 := ioSyscalls(b)
				runtime.ReadMemStats(&m1)
				if err != nil {
					b.Fatal(err)
				}
				if len(out.Errors) > 0 {
					b.Fatalf("errors: %v", out.ErrorSamples)
				}
				ops += out.AllOps
				mallocs += int64(m1.Mallocs - m0.Mallocs)
				reads += r1 - r0
				writes += w1 - w0
			}
			if ops == 0 {
				b.Fatal("no lookups")
			}
			n := float64(ops)
			b.ReportMetric(float64(mallocs)/n, "allocs/lookup")
			b.ReportMetric(float64(reads)/n, "reads/lookup")
			b.ReportMetric(float64(writes)/n, "writes/lookup")
			b.ReportMetric(cpu/n*1e6, "cpu-µs/lookup")
			b.ReportMetric(n/float64(b.N), "lookups/run")
		})
	}
}

// ioSyscalls reads the process's read and write system call counts (syscr, syscw).
func ioSyscalls(tb testing.TB) (reads, writes int64) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		tb.Skipf("no /proc/self/io to count system calls: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, value, ok := bytes.Cut(sc.Bytes(), []byte(": "))
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(string(value), 10, 64)
		switch string(name) {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
