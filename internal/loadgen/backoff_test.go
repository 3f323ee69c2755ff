package loadgen_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
)

// TestWorkersBackOffFromADeadServer stops a server, then runs 8 workers against it in every
// connection mode (in none, the workload connects itself): each worker's connect attempts are counted as connect_refused errors, and it
// waits longer after each, instead of spinning (~170,000 attempts in 7 s before).
func TestWorkersBackOffFromADeadServer(t *testing.T) {
	tg := harnesstest.Local(t)
	cc, err := pgx.ParseConfig(tg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	const workers, duration = 8, 2 * time.Second
	for _, mode := range []loadgen.ConnMode{loadgen.ConnPool, loadgen.ConnPerWorker, loadgen.ConnPerOp, loadgen.ConnNone} {
		out, err := loadgen.Run(context.Background(), loadgen.Config{Workers: workers, Duration: duration, ConnMode: mode, ConnConfig: cc},
			func(ctx context.Context, _ *loadgen.Worker, conn *pgx.Conn) error {
				if conn == nil { // ConnNone: the workload connects itself, as connect-storm does
					c, err := loadgen.Connect(ctx, cc, time.Second)
					if err != nil {
						return err
					}
					defer c.Close(context.Background())
					conn = c
				}
				_, err := conn.Exec(ctx, "SELECT 1")
				return err
			})
		if err != nil {
			t.Fatal(err)
		}
		refused := out.Errors[loadgen.ClassConnectRefused]
		t.Logf("%s: %d workers, %s against a stopped server: %d ops, errors %v", mode, workers, duration, out.Ops, out.Errors)
		if out.Ops != 0 || refused == 0 {
			t.Errorf("%s: %d ops, %d connect_refused; want none succeeded and the refusals counted", mode, out.Ops, refused)
		}
		// Waits of 25-50, 50-100, 100-200 … ms: at most 9 attempts a worker fit in 2 s; 20 leaves
		// room for a slow start, and spinning makes thousands.
		if refused > 20*workers {
			t.Errorf("%s: %d connect attempts by %d workers in %s: want a backoff, not a spin", mode, refused, workers, duration)
		}
	}
}

// TestBackoffDelayGrowsToItsCap checks the jittered delays: within [d/2, d] of Base·2ⁿ, capped.
func TestBackoffDelayGrowsToItsCap(t *testing.T) {
	b := loadgen.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	for n, want := range []time.Duration{10, 20, 40, 80, 100, 100, 100} {
		want *= time.Millisecond
		for range 100 {
			if d := b.Delay(n); d < want/2 || d > want {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", n, d, want/2, want)
			}
		}
	}
	if d := b.Delay(1000); d > b.Max {
		t.Errorf("Delay(1000) = %s, want at most %s", d, b.Max)
	}
}
