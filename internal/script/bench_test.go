package script

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuiltins runs the built-in tpcb-like and select-only scripts on one connection with each protocol: the
// client's share of a transaction (allocations, CPU) is what must stay close to pgbench's.
func BenchmarkBuiltins(b *testing.B) {
	dsn := benchDSN(b)
	if out, err := exec.Command(pgbenchBin(b), "-i", "-q", "-s", "1", dsn).CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	for _, name := range []string{"tpcb-like", "select-only"} {
		script, err := Builtin(name)
		if err != nil {
			b.Fatal(err)
		}
		m, _ := NewMix([]*Script{script})
		for _, proto := range protocols {
			b.Run(name+"/"+string(proto), func(b *testing.B) {
				conn := benchConnect(b, dsn)
				c := NewClient(0, Options{Protocol: proto}, nil)
				ctx := context.Background()
				b.ReportAllocs()
				began := cpuTime()
				for b.Loop() {
					if out := c.Run(ctx, conn, m, 0, nil); out.Err != nil {
						b.Fatal(out.Err)
					}
				}
				b.ReportMetric(float64(cpuTime()-began)/float64(time.Microsecond)/float64(b.N), "client-cpu-us/op")
			})
		}
	}
}
