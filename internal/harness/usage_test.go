package harness

import (
	"context"
	"os"
	"testing"
	"time"
)

// The server's CPU and memory on a local target come from /proc for the postmaster and its
// children: a busy backend's CPU shows, memory is more than 0, and a dsn target has none.
func TestLocalUsageReadsPostmasterAndChildren(t *testing.T) {
	skipWithoutLocalPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := (&LocalProvider{}).StartLocal(ctx, Spec{Kind: KindLocal, RunID: "usage"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close(context.Background())
	r, why := UsageReaderOf(tg)
	if r == nil || why != "" || r.CPUs() < 1 {
		t.Fatalf("reader %v, %q", r, why)
	}
	before, err := r.ReadUsage(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSampler(ctx, tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	// A backend spinning on CPU for 300 ms.
	spin, err := s.conn.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spin.Exec(ctx, "SELECT count(*) FROM generate_series(1, 3000000)"); err != nil {
		t.Fatal(err)
	}
	after, err := r.ReadUsage(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.CPUSeconds-before.CPUSeconds < 0.05 || after.MemoryBytes <= 0 {
		t.Fatalf("before %+v, after %+v: the backend's CPU did not show", before, after)
	}
	if r, why := UsageReaderOf(&dsnTarget{}); r != nil || why == "" {
		t.Fatalf("dsn target: reader %v, reason %q", r, why)
	}
}

// The sampler counts what active sessions wait on: a session in pg_sleep is Timeout:PgSleep in
// the load of the seconds it sleeps through, and the usage of both sides is read.
func TestSamplerLoadByWaitEvent(t *testing.T) {
	skipWithoutLocalPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := (&LocalProvider{}).StartLocal(ctx, Spec{Kind: KindLocal, RunID: "waits"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close(context.Background())
	s, err := NewSampler(ctx, tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := UsageReaderOf(tg)
	s.Observe(r)
	s.Start(ctx)
	sleeper, err := NewSampler(ctx, tg.AdminDSN()) // only for its connection
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := sleeper.conn.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sleep.Exec(ctx, "SELECT pg_sleep(2.5)"); err != nil {
		t.Fatal(err)
	}
	sleeper.Stop()
	time.Sleep(1100 * time.Millisecond)
	s.Stop()
	var slept float64
	usage := false
	for _, smp := range s.samples {
		slept = max(slept, smp.Load["Timeout:PgSleep"])
		usage = usage || (smp.Usage != nil && smp.Usage.ServerCPU != nil)
	}
	if slept < 0.8 || !usage {
		t.Fatalf("peak Timeout:PgSleep sessions %.2f (want about 1), server usage read %v; samples %+v", slept, usage, s.samples)
	}
}

func skipWithoutLocalPostgres(t *testing.T) {
	t.Helper()
	if _, err := FindPGBinaries(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("no PostgreSQL here: %v", err)
	}
}
