package loadgen_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
)

// TestQueryContextIsCutOffAtTheEnd: a query run with Worker.QueryContext, which pgx does not
// watch, still ends with the run: a 30 s pg_sleep in a 1 s run is abandoned, not waited for and
// not an error, in the modes whose connections the run holds (pool, per-worker); and a query that
// fails on the server still counts under its SQLSTATE.
func TestQueryContextIsCutOffAtTheEnd(t *testing.T) {
	tg := harnesstest.Local(t)
	cc, err := harness.ConnConfig(tg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []loadgen.ConnMode{loadgen.ConnPool, loadgen.ConnPerWorker} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := loadgen.Config{Workers: 2, Duration: time.Second, ConnMode: mode, ConnConfig: cc}
			started := time.Now()
			out, err := loadgen.Run(context.Background(), cfg, func(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
				qctx := w.QueryContext(ctx)
				if w.ID == 1 {
					_, err := conn.Exec(qctx, "SELECT 1/0")
					return err
				}
				_, err := conn.Exec(qctx, "SELECT pg_sleep(30)")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(started); took > 15*time.Second {
				t.Errorf("the run took %s: the sleeping query was not cut off at its end", took.Round(time.Millisecond))
			}
			if out.Abandoned < 1 {
				t.Errorf("abandoned = %d, want the sleeping query counted as abandoned", out.Abandoned)
			}
			if out.Errors["22012"] < 1 {
				t.Errorf("errors = %v, want division_by_zero (22012) counted", out.Errors)
			}
			for class := range out.Errors {
				if class != "22012" {
					t.Errorf("error class %s (%s): the cut-off query counted as an error", class, out.ErrorSamples[class])
				}
			}
		})
	}
}

// TestGuardReleasesItsConnections: the run's cut-off leaves a past deadline on every guarded
// connection, so a connection still open at the end could not even send Terminate when closed;
// release takes it off. Without release, the next query fails on the deadline: the check
// that the case is real.
func TestGuardReleasesItsConnections(t *testing.T) {
	tg := harnesstest.Local(t)
	ctx := context.Background()
	for _, release := range []bool{false, true} {
		conn, err := pgx.Connect(ctx, tg.DSN())
		if err != nil {
			t.Fatal(err)
		}
		loadgen.CutOffAndRelease(conn, release)
		_, err = conn.Exec(ctx, "SELECT 1")
		if release && err != nil {
			t.Errorf("after release: %v, want the connection usable (and its Terminate sent on close)", err)
		}
		if !release && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("cut off, not released: %v, want a deadline error", err)
		}
		_ = conn.Close(ctx)
	}
}
