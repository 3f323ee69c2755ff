package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/report"
)

// An open loop above capacity: one worker, 100 operations a second due, each taking 20 ms. The
// service time stays near 20 ms, but latency counted from the intended start grows as the backlog
// does: the stall shows in the tail instead of slowing the schedule (coordinated omission).
func TestOpenLoopCountsFromIntendedStart(t *testing.T) {
	t.Parallel()
	cc, _ := pgx.ParseConfig("postgres://unused@127.0.0.1:1/x")
	cfg := Config{Workers: 1, Rate: 100, Duration: 2 * time.Second, ConnMode: ConnNone, ConnConfig: cc}
	out, err := Run(context.Background(), cfg, func(ctx context.Context, _ *Worker, _ *pgx.Conn) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	lat, svc := report.PercentilesOf(out.Latency), report.PercentilesOf(out.Service)
	if svc.P50 < 19 || svc.P50 > 60 {
		t.Errorf("service p50 = %.1f ms, want about 20 ms", svc.P50)
	}
	if lat.P99 < 10*svc.P99 {
		t.Errorf("latency p99 %.1f ms is not far above service p99 %.1f ms: the backlog is hidden", lat.P99, svc.P99)
	}
	if out.Ops > 110 {
		t.Errorf("%d operations in 2 s at 20 ms each with one worker: the pacer ran ahead", out.Ops)
	}
}

// A closed loop measures latency as service time.
func TestClosedLoopLatencyIsServiceTime(t *testing.T) {
	t.Parallel()
	cc, _ := pgx.ParseConfig("postgres://unused@127.0.0.1:1/x")
	cfg := Config{Workers: 2, Duration: time.Second, ConnMode: ConnNone, ConnConfig: cc}
	out, err := Run(context.Background(), cfg, func(ctx context.Context, _ *Worker, _ *pgx.Conn) error {
		time.Sleep(5 * time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if lat := report.PercentilesOf(out.Latency); lat.P99 > 50 || out.Ops < 100 {
		t.Errorf("closed loop: %d ops, p99 %.1f ms; want ~400 ops at ~5 ms", out.Ops, lat.P99)
	}
	if len(out.Timeline) == 0 {
		t.Error("no timeline")
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	cc, _ := pgx.ParseConfig("postgres://unused@127.0.0.1:1/x")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	started := time.Now()
	out, err := Run(ctx, Config{Workers: 4, Duration: time.Hour, ConnMode: ConnNone, ConnConfig: cc},
		func(ctx context.Context, _ *Worker, _ *pgx.Conn) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
				return nil
			}
		})
	if err == nil || out == nil || out.Ops == 0 {
		t.Fatalf("canceled run: err %v, outcome %v; want the context error and what was measured", err, out)
	}
	if took := time.Since(started); took > 5*time.Second {
		t.Fatalf("took %s to stop", took)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := Config{Workers: 0, Rate: -1, Duration: 0, ConnMode: "x"}.Validate()
	for _, want := range []string{"workers 0", "rate -1", "duration 0s", `connection mode "x"`, "no connection config"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}
