package loadgen_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// A ramp against a real server: 100 to 1,000 operations per second over 6 s, a light query on a
// pool, in a run of 9 s: the last 3 s have nothing due, so that late operations finish. Every operation the ramp has
// due reaches the server, each second's operations (by intended start) are the ramp's target for
// that second, and the timeline carries the target. The seconds' completions, which follow the
// target only while the machine keeps up, are logged.
func TestRampFollowsTargetOnRealServer(t *testing.T) {
	p := &harness.LocalProvider{}
	harnesstest.Require(t, "PostgreSQL", p.Available(context.Background()))
	target, err := p.Start(context.Background(), harness.Spec{Kind: harness.KindLocal, RunID: "ramp-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close(context.Background()) })
	cc, err := pgx.ParseConfig(target.DSN())
	if err != nil {
		t.Fatal(err)
	}
	stages, err := loadgen.NewStages(100, []loadgen.Stage{{Duration: 6 * time.Second, Target: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var intended []time.Time
	cfg := loadgen.Config{Workers: 16, Pacer: stages, Duration: stages.Length() + 3*time.Second, ConnMode: loadgen.ConnPool, ConnConfig: cc}
	out, err := loadgen.Run(context.Background(), cfg, func(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			return err
		}
		mu.Lock()
		intended = append(intended, w.Intended)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := stages.Count(stages.Length()); out.Ops != want || report.TotalErrors(seriesOf(t, out)) != 0 {
		t.Errorf("%d operations succeeded (errors %v), want every one of the ramp's %d", out.Ops, out.Errors, want)
	}
	// Operation 0 is due at the start: the earliest intended start.
	start := intended[0]
	for _, at := range intended {
		if at.Before(start) {
			start = at
		}
	}
	bySecond := map[int]int64{}
	for _, at := range intended {
		bySecond[int(at.Sub(start)/time.Second)+1]++
	}
	for sec := 1; sec <= 6; sec++ {
		from, to := time.Duration(sec-1)*time.Second, time.Duration(sec)*time.Second
		want := stages.Count(to-1) - stages.Count(from-1)
		if bySecond[sec] != want {
			t.Errorf("second %d: %d operations due by their intended start, the ramp's target is %d", sec, bySecond[sec], want)
		}
	}
	for _, sec := range out.Timeline {
		from, to := time.Duration(sec.T-1)*time.Second, time.Duration(sec.T)*time.Second
		want := float64(stages.Count(to-1) - stages.Count(from-1))
		if sec.Extra[result.ColumnTargetPerS] != want {
			t.Errorf("second %d: the timeline's target is %v, the ramp's %v", sec.T, sec.Extra[result.ColumnTargetPerS], want)
		}
		t.Logf("second %d: %d operations completed, target %.0f", sec.T, sec.Ops, want)
	}
}

func seriesOf(t *testing.T, out *loadgen.Outcome) result.Series {
	t.Helper()
	s, err := out.Series()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
