package mux_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/loadgen/mux"
)

const keys = 1000

// setup starts a local server with two tables of keys rows (one to count on, one to drop), and
// returns its DSN and an admin connection.
func setup(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	harnesstest.RequirePostgres(t)
	target := harnesstest.Local(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, target.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	for _, table := range []string{"mux_counted", "mux_dropped"} {
		for _, stmt := range []string{
			fmt.Sprintf("CREATE TABLE %s (aid int PRIMARY KEY, abalance int NOT NULL DEFAULT 0)", table),
			fmt.Sprintf("INSERT INTO %s (aid) SELECT generate_series(1, %d)", table, keys),
		} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	return target.DSN(), admin
}

// runEngine runs conns connections of lookups on table for d under app's application_name.
func runEngine(ctx context.Context, t *testing.T, dsn, app, table string, conns int, d time.Duration) (*loadgen.Outcome, error) {
	t.Helper()
	return runEngineWatched(ctx, t, dsn, app, table, conns, d, nil)
}

// runEngineWatched is runEngine with onSecond given each second's tick.
func runEngineWatched(ctx context.Context, t *testing.T, dsn, app, table string, conns int, d time.Duration, onSecond func(loadgen.Tick)) (*loadgen.Outcome, error) {
	t.Helper()
	return runEngineThreads(ctx, t, dsn, app, table, conns, 1, d, onSecond)
}

// runEngineThreads is runEngineWatched on threads engine threads (0: mux.DefaultThreads).
func runEngineThreads(ctx context.Context, t *testing.T, dsn, app, table string, conns, threads int, d time.Duration, onSecond func(loadgen.Tick)) (*loadgen.Outcome, error) {
	t.Helper()
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cc.RuntimeParams["application_name"] = app
	engine, err := mux.New(mux.Config{ConnConfig: cc, Conns: conns, Threads: threads, Keys: keys,
		SQL: fmt.Sprintf("SELECT abalance FROM %s WHERE aid = $1", table)})
	if err != nil {
		t.Fatal(err)
	}
	return loadgen.RunEngine(ctx, loadgen.Config{Workers: conns, Duration: d, ConnMode: loadgen.ConnPerWorker, ConnConfig: cc,
		OnSecond: onSecond}, engine)
}

// sessions counts the server's backends under app, waiting up to 10 s for them to end (a backend
// exits a moment after its Terminate).
func sessions(t *testing.T, admin *pgx.Conn, app string) int {
	t.Helper()
	var n int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := admin.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 || time.Now().After(deadline) {
			return n
		}
	}
}

func indexScans(t *testing.T, admin *pgx.Conn, table string) int64 {
	t.Helper()
	var n int64
	if _, err := admin.Exec(context.Background(), "SELECT pg_stat_clear_snapshot()"); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow(context.Background(),
		"SELECT coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = $1", table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMux runs the engine against a real server: every lookup it counts is one the server ran,
// an ErrorResponse is counted by its SQLSTATE, and no connection outlives the run, whether it
// ends on time or is canceled.
func TestMux(t *testing.T) {
	dsn, admin := setup(t)

	t.Run("counts", func(t *testing.T) {
		before := indexScans(t, admin, "mux_counted")
		const d = time.Second // thousands of lookups to count
		out, err := runEngine(context.Background(), t, dsn, "mux-counts", "mux_counted", 4, d)
		if err != nil {
			t.Fatal(err)
		}
		if left := sessions(t, admin, "mux-counts"); left != 0 {
			t.Fatalf("%d connections left after the run", left)
		}
		if out.Ops == 0 || len(out.Errors) != 0 || out.Stopped != 0 {
			t.Fatalf("ops %d, errors %v, stopped %d: want lookups and no errors", out.Ops, out.Errors, out.Stopped)
		}
		var timeline int64
		for _, s := range out.Timeline {
			timeline += s.Ops
		}
		if out.Latency.TotalCount() != out.Ops || timeline != out.AllOps || out.Ops != out.AllOps {
			t.Errorf("ops %d, all ops %d, latencies %d, timeline %d: want one count", out.Ops, out.AllOps,
				out.Latency.TotalCount(), timeline)
		}
		// The server ran each counted lookup, and the ones abandoned at the end at most.
		scans := indexScans(t, admin, "mux_counted") - before
		if scans < out.AllOps || scans > out.AllOps+out.Abandoned {
			t.Errorf("server index scans %d, engine counted %d (+%d abandoned)", scans, out.AllOps, out.Abandoned)
		}
		if p50, maxUs := out.Latency.ValueAtQuantile(50), out.Latency.Max(); p50 <= 0 || maxUs > d.Microseconds() {
			t.Errorf("latency p50 %d µs, max %d µs: want above 0 and within the run", p50, maxUs)
		}
	})

	// Engine threads keep their P while they wait (procs.go): the run raises GOMAXPROCS above
	// the threads and puts it back, and a stop-the-world (a forced GC each second) still gets
	// every thread to stop, or the run would hang.
	t.Run("threads keep their P", func(t *testing.T) {
		const conns = 4
		threads := max(2, mux.DefaultThreads(conns))
		procsBefore := runtime.GOMAXPROCS(0)
		var procsDuring, gcs atomic.Int64
		before := indexScans(t, admin, "mux_counted")
		// 2 s: two ticks, each forcing a GC (the last one closes with the run).
		out, err := runEngineThreads(context.Background(), t, dsn, "mux-threads", "mux_counted", conns, threads, 2*time.Second,
			func(loadgen.Tick) {
				if n := int64(runtime.GOMAXPROCS(0)); n > procsDuring.Load() { // the last tick may follow the run
					procsDuring.Store(n)
				}
				runtime.GC()
				gcs.Add(1)
			})
		if err != nil {
			t.Fatal(err)
		}
		if got := procsDuring.Load(); got < int64(threads+1) {
			t.Errorf("GOMAXPROCS %d during a run of %d engine threads: want at least %d", got, threads, threads+1)
		}
		if after := runtime.GOMAXPROCS(0); after != procsBefore {
			t.Errorf("GOMAXPROCS %d after the run, %d before", after, procsBefore)
		}
		if gcs.Load() < 2 {
			t.Errorf("%d forced GCs during the run: want one a second", gcs.Load())
		}
		if out.Ops == 0 || len(out.Errors) != 0 || out.Stopped != 0 {
			t.Fatalf("ops %d, errors %v, stopped %d: want lookups and no errors", out.Ops, out.Errors, out.Stopped)
		}
		// A backend reports its scans when it exits: wait for the sessions to end first.
		if left := sessions(t, admin, "mux-threads"); left != 0 {
			t.Fatalf("%d connections left after the run", left)
		}
		if scans := indexScans(t, admin, "mux_counted") - before; scans < out.AllOps || scans > out.AllOps+out.Abandoned {
			t.Errorf("server index scans %d, engine counted %d (+%d abandoned)", scans, out.AllOps, out.Abandoned)
		}
	})

	t.Run("errors by SQLSTATE", func(t *testing.T) {
		dropped := make(chan error, 1)
		go func() {
			time.Sleep(time.Second)
			_, err := admin.Exec(context.Background(), "DROP TABLE mux_dropped")
			dropped <- err
		}()
		out, err := runEngine(context.Background(), t, dsn, "mux-errors", "mux_dropped", 2, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-dropped; err != nil {
			t.Fatal(err)
		}
		if out.Ops == 0 || out.Errors["42P01"] == 0 || out.Stopped != 0 {
			t.Fatalf("ops %d, errors %v, stopped %d: want lookups, then 42P01 undefined_table on live connections",
				out.Ops, out.Errors, out.Stopped)
		}
		if left := sessions(t, admin, "mux-errors"); left != 0 {
			t.Fatalf("%d connections left after the run", left)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Canceled once the first second with lookups has closed, not at a fixed time: on a
		// loaded machine connecting alone can take longer than any fixed delay.
		out, err := runEngineWatched(ctx, t, dsn, "mux-canceled", "mux_counted", 4, time.Minute, func(tk loadgen.Tick) {
			if tk.Ops > 0 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || out == nil || out.Ops == 0 {
			t.Fatalf("err %v, outcome %v: want context.Canceled after some lookups", err, out != nil)
		}
		if left := sessions(t, admin, "mux-canceled"); left != 0 {
			t.Fatalf("%d connections left after the run", left)
		}
	})
}

// TestMuxReconnects: when the server terminates the engine's backends mid-run
// (pg_terminate_backend: FATAL 57P01, then the socket closes), each lookup in flight fails under
// 57P01, the connection is reopened (its connect time recorded) and the lookups go on: the run
// ends on time, with no connection stopped and lookups counted after the terminations.
func TestMuxReconnects(t *testing.T) {
	dsn, admin := setup(t)
	const conns, app = 2, "mux-reconnects"
	ctx := context.Background()
	kill := make(chan struct{})
	killed := make(chan int64, 1)
	var afterKill atomic.Int64 // lookups in the seconds that closed after the terminations
	var done atomic.Bool
	go func() {
		<-kill
		var n int64
		err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1`, app).Scan(&n)
		if err != nil {
			t.Error(err)
		}
		done.Store(true)
		killed <- n
	}()
	var once sync.Once
	// 4 s: the terminations go at the first second with lookups, and seconds with lookups after
	// the reconnects follow, even when connecting at the start took a second or two.
	out, err := runEngineWatched(ctx, t, dsn, app, "mux_counted", conns, 4*time.Second, func(tk loadgen.Tick) {
		switch {
		case done.Load():
			afterKill.Add(tk.Ops)
		case tk.Ops > 0:
			once.Do(func() { close(kill) })
		}
	})
	once.Do(func() { close(kill) }) // no second with lookups: the checks below fail
	n := <-killed
	if err != nil {
		t.Fatalf("the run did not go on after its backends were terminated: %v", err)
	}
	if n != conns {
		t.Fatalf("terminated %d backends, want the engine's %d", n, conns)
	}
	if out.Errors["57P01"] != n || len(out.Errors) != 1 {
		t.Errorf("errors %v (%v): want %d lookups failed under 57P01 and nothing else", out.Errors, out.ErrorSamples, n)
	}
	if out.Stopped != 0 {
		t.Errorf("%d connections stopped: want each reopened", out.Stopped)
	}
	if got := out.Connect.TotalCount(); got != n {
		t.Errorf("%d connects recorded, want the %d reopened", got, n)
	}
	if afterKill.Load() == 0 {
		t.Errorf("no lookups after the terminations (%d in all): the engine did not go on", out.Ops)
	}
	if left := sessions(t, admin, app); left != 0 {
		t.Fatalf("%d connections left after the run", left)
	}
}
