package loadgen

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/result"
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
	lat, svc := result.PercentilesOf(out.Latency), result.PercentilesOf(out.Service)
	if svc.P50 < 19 {
		t.Errorf("service p50 = %.1f ms, want at least the 20 ms each operation sleeps", svc.P50)
	}
	// Due at twice the rate it can serve, the schedule falls ~1 s behind over 2 s; a slower
	// service (a starved machine) only grows the backlog.
	if lat.P99 < svc.P99+500 {
		t.Errorf("latency p99 %.1f ms is not 500 ms above service p99 %.1f ms: the backlog is hidden", lat.P99, svc.P99)
	}
	if out.Ops > 110 {
		t.Errorf("%d operations in 2 s at 20 ms each with one worker: the pacer ran ahead", out.Ops)
	}
	// 190 were due before the last 100 ms and at most 100 started: the rest are counted, and the
	// series says so.
	if out.Unstarted < 190-out.Ops-out.Abandoned || out.Unstarted > 190-out.Ops+1 {
		t.Errorf("%d unstarted of 190 due with %d done (+%d cut off): want the difference", out.Unstarted, out.Ops, out.Abandoned)
	}
	series, err := out.Series()
	if err != nil {
		t.Fatal(err)
	}
	if got := series.Metrics[result.MetricUnstartedOps]; got != float64(out.Unstarted) {
		t.Errorf("metric %s = %v, want %d", result.MetricUnstartedOps, got, out.Unstarted)
	}
}

// An open loop its worker keeps up with leaves (nearly) nothing unstarted, after a warm-up too.
func TestOpenLoopKeptUpLeavesNothingUnstarted(t *testing.T) {
	t.Parallel()
	cc, _ := pgx.ParseConfig("postgres://unused@127.0.0.1:1/x")
	cfg := Config{Workers: 1, Rate: 50, Warmup: 500 * time.Millisecond, Duration: time.Second, ConnMode: ConnNone, ConnConfig: cc}
	out, err := Run(context.Background(), cfg, func(context.Context, *Worker, *pgx.Conn) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	// 45 are due before the window's last 100 ms: a count that took them all for unstarted would
	// say 45; a busy machine's stall of up to 300 ms at the end may leave a few behind.
	if out.Unstarted > 15 || out.Ops < 20 {
		t.Errorf("%d unstarted, %d done of the 50 due: want nearly all done and few unstarted", out.Unstarted, out.Ops)
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
	// Each operation starts when its worker is free, so its latency is its service time: the two
	// agree however slow a busy machine makes the 5 ms sleep (which the open loop above does not).
	lat, svc := result.PercentilesOf(out.Latency), result.PercentilesOf(out.Service)
	if out.Ops < 20 || svc.P50 < 5 || lat.P99 > 1.5*svc.P99+1 {
		t.Errorf("closed loop: %d ops, latency p99 %.1f ms, service p50 %.1f and p99 %.1f ms; want ~400 ops whose latency is their service time",
			out.Ops, lat.P99, svc.P50, svc.P99)
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

// A staged run without a server: in the closed-loop stage only its 2 workers run (each
// operation starting at once, its intended start its real one), and the open stages around it
// hand out exactly the operations the pacer has due, each timed from its due time. Operations
// are told apart by their intended starts, which do not depend on how loaded the machine is.
func TestStagedRunFollowsTheShape(t *testing.T) {
	t.Parallel()
	cc, _ := pgx.ParseConfig("postgres://unused@127.0.0.1:1/x")
	stages, err := NewStages(0, []Stage{
		{Duration: time.Second, Target: 200},            // 100 operations
		{Duration: time.Second, Workers: 2},             // closed: 2 of the 6 workers
		{Duration: 500 * time.Millisecond, Target: 100}, // 50 operations
	})
	if err != nil {
		t.Fatal(err)
	}
	due := map[time.Duration]bool{}
	for n := int64(0); ; n++ {
		at, ok := stages.Due(n)
		if !ok {
			break
		}
		due[at] = true
	}
	type opSpan struct {
		id                 int
		intended, from, to time.Time
	}
	var mu sync.Mutex
	var spans []opSpan
	cfg := Config{Workers: 6, Pacer: stages, Duration: stages.Length(), ConnMode: ConnNone, ConnConfig: cc}
	out, err := Run(context.Background(), cfg, func(ctx context.Context, w *Worker, _ *pgx.Conn) error {
		from := time.Now()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		spans = append(spans, opSpan{id: w.ID, intended: w.Intended, from: from, to: time.Now()})
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := spans[0].intended // operation 0 is due at the start: the earliest intended start
	for _, sp := range spans {
		if sp.intended.Before(start) {
			start = sp.intended
		}
	}
	paced, closedOps, peak := 0, 0, 0
	closedWorkers := map[int]bool{}
	var closed []opSpan
	for _, sp := range spans {
		at := sp.intended.Sub(start)
		switch {
		case due[at]:
			paced++
		case at >= time.Second && at < 2*time.Second:
			closedOps++
			closedWorkers[sp.id] = true
			closed = append(closed, sp)
		}
	}
	for _, a := range closed { // the most closed-loop operations in flight at once
		n := 0
		for _, b := range closed {
			if !b.from.After(a.from) && b.to.After(a.from) {
				n++
			}
		}
		peak = max(peak, n)
	}
	if peak > 2 || len(closedWorkers) > 2 || closedOps == 0 {
		t.Errorf("closed-loop stage: %d operations by workers %v, at most %d at once; want only 2 workers", closedOps, closedWorkers, peak)
	}
	if paced > len(due) || paced < len(due)/2 {
		t.Errorf("%d paced operations ran, the pacer had %d due", paced, len(due))
	}
	if int64(paced+closedOps) != out.Ops+out.Abandoned && int64(paced+closedOps) != out.Ops {
		t.Errorf("%d paced and %d closed-loop operations, the recorder counted %d", paced, closedOps, out.Ops)
	}
	if !out.Paced || out.Service.TotalCount() == 0 {
		t.Error("a paced run recorded no service times")
	}
}
