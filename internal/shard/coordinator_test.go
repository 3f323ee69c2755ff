package shard

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
)

// startServer starts a local PostgreSQL for the test and returns its DSN, used as the dsn target
// the shards share. The server is closed when the test ends, even when it fails.
func startServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := harness.FindPGBinaries(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("no PostgreSQL here: %v", err)
	}
	target, err := (&harness.LocalProvider{}).Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: "shard-coord"})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := target.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return target.AdminDSN()
}

// join starts shard seg of runID against dsn, as the runner does.
func join(ctx context.Context, dsn, runID string, seg Segment, fingerprint string, timeout time.Duration) (*Coordinator, harness.Target, error) {
	c := NewCoordinator(seg, runID, fingerprint, "host", timeout)
	t, err := c.Provider(harness.DSNProvider{}).Start(ctx, harness.Spec{Kind: harness.KindDSN, RunID: runID, DSN: dsn})
	return c, t, err
}

func schemaExists(t *testing.T, dsn, runID string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", harness.RunSchema(runID)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// waitAll has every coordinator wait at the barrier at once.
func waitAll(ctx context.Context, label string, cs ...*Coordinator) []error {
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { errs[i] = c.Wait(ctx, label) })
	}
	wg.Wait()
	return errs
}

func TestBarrier(t *testing.T) {
	dsn := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("a dead shard is lost, not waited for, and the last to leave drops the schema", func(t *testing.T) {
		const runID = "t-lost"
		var cs []*Coordinator
		var ts []harness.Target
		for i := 0; i < 3; i++ {
			c, tg, err := join(ctx, dsn, runID, Segment{I: i, N: 3}, "fp", 30*time.Second)
			if err != nil {
				t.Fatalf("shard %d: %v", i, err)
			}
			cs, ts = append(cs, c), append(ts, tg)
		}
		for i, err := range waitAll(ctx, "point 1", cs...) {
			if err != nil {
				t.Fatalf("shard %d at point 1: %v", i, err)
			}
		}
		// Shard 2 dies: its socket closes with no goodbye, as when its pod is killed.
		if err := cs[2].conn.PgConn().Conn().Close(); err != nil {
			t.Fatal(err)
		}
		for i, err := range waitAll(ctx, "point 2", cs[0], cs[1]) {
			if err != nil {
				t.Fatalf("shard %d at point 2 (after shard 2 died): %v", i, err)
			}
		}
		lost, warnings := cs[0].Lost()
		if len(lost) != 1 || lost[0] != 2 || len(warnings) != 1 || !strings.Contains(warnings[0], "session with the server ended") {
			t.Fatalf("shard 0 saw lost %v %q, want shard 2", lost, warnings)
		}
		if err := ts[0].Close(ctx); err != nil {
			t.Fatalf("shard 0 leaves: %v", err)
		}
		if !schemaExists(t, dsn, runID) {
			t.Fatal("shard 0 dropped the run's schema while shard 1 was still running")
		}
		if err := ts[1].Close(ctx); err != nil {
			t.Fatalf("shard 1 leaves: %v", err)
		}
		if schemaExists(t, dsn, runID) {
			t.Fatal("the last shard to leave did not drop the run's schema")
		}
		_ = ts[2].Close(ctx) // its session is gone: leaving fails, and must not panic
	})

	t.Run("a barrier that times out names the missing shard", func(t *testing.T) {
		const runID = "t-timeout"
		c0, t0, err := join(ctx, dsn, runID, Segment{I: 0, N: 2}, "fp", 1500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		err = c0.Wait(ctx, "select-only prepared workers=2")
		want := "shard barrier at select-only prepared workers=2: shard 1 of 2 did not arrive within 1.5s (run id t-timeout)"
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--barrier-timeout") {
			t.Fatalf("Wait: %v, want %q", err, want)
		}
		if err := t0.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if schemaExists(t, dsn, runID) {
			t.Fatal("the schema outlived the only shard that joined")
		}
		_, _, err = join(ctx, dsn, "t-nobody", Segment{I: 1, N: 2}, "fp", time.Second)
		if err == nil || !strings.Contains(err.Error(), "shard 1/2 waited 1s for shard 0 to create run t-nobody") {
			t.Fatalf("shard 1 without shard 0: %v", err)
		}
	})

	t.Run("shards of different runs refuse to meet", func(t *testing.T) {
		const runID = "t-mismatch"
		c0, t0, err := join(ctx, dsn, runID, Segment{I: 0, N: 2}, "fp", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer t0.Close(ctx)
		cases := []struct {
			seg  Segment
			fp   string
			want string
		}{
			{Segment{I: 1, N: 3}, "fp", "run t-mismatch has 2 shards"},
			{Segment{I: 1, N: 2}, "other", "started by shard 0 with other parameters"},
			{Segment{I: 0, N: 2}, "fp", "schema pgscale_t_mismatch of run t-mismatch already exists"},
		}
		for _, c := range cases {
			_, tg, err := join(ctx, dsn, runID, c.seg, c.fp, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				if tg != nil {
					tg.Close(ctx)
				}
				t.Fatalf("shard %s fingerprint %s: %v, want %q", c.seg, c.fp, err, c.want)
			}
		}
		c1, t1, err := join(ctx, dsn, runID, Segment{I: 1, N: 2}, "fp", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer t1.Close(ctx)
		if _, _, err := join(ctx, dsn, runID, Segment{I: 1, N: 2}, "fp", 5*time.Second); err == nil ||
			!strings.Contains(err.Error(), "already running elsewhere") {
			t.Fatalf("a second shard 1: %v", err)
		}
		for i, err := range waitAll(ctx, "point 1", c0, c1) {
			if err != nil {
				t.Fatalf("shard %d at point 1: %v", i, err)
			}
		}
		// Then they disagree on the next point: both must say so rather than start.
		errs := make([]error, 2)
		var wg sync.WaitGroup
		wg.Go(func() { errs[0] = c0.Wait(ctx, "point x") })
		wg.Go(func() { errs[1] = c1.Wait(ctx, "point y") })
		wg.Wait()
		for i, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "shards out of step") {
				t.Errorf("shard %d: %v, want shards out of step", i, err)
			}
		}
	})
}
