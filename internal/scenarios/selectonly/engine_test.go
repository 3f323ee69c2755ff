package selectonly_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/loadgen/mux"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/runner/runnertest"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
	"github.com/pgscale/pgscale/internal/usage"
)

// TestMuxEngineUsage: engine=mux refuses, before anything starts, what it cannot run.
func TestMuxEngineUsage(t *testing.T) {
	for _, c := range []struct {
		sets   map[string]string
		rate   float64
		pooler *harness.PoolerSpec
		want   string
	}{
		{map[string]string{"engine": "mux"}, 100, nil, "closed loop only"},
		{map[string]string{"engine": "threads"}, 0, nil, "valid values are auto, goroutines, mux"},
		{map[string]string{"engine": "mux"}, 0, &harness.PoolerSpec{Kind: "pgbouncer", Mode: harness.PoolerModeTransaction, Size: 4},
			"--pooler-mode transaction breaks for variant prepared with connect=pool"},
	} {
		_, err := runner.Prepare(runner.Options{Scenario: selectonly.Name, Sets: c.sets, Rate: c.rate, Target: harness.KindLocal,
			Pooler: c.pooler, Repeat: 1, Warmup: -1, Out: t.TempDir()}, time.Now())
		var usage *usage.Error
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &usage) {
			t.Errorf("sets %v, rate %g: error %v, want a usage error with %q", c.sets, c.rate, err, c.want)
		}
	}
}

// TestMuxEngineRun runs select-only with engine=mux through the runner: both variants, lookups
// without errors, the engine in the params.
func TestMuxEngineRun(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	res := runnertest.Run(t, runner.Options{Scenario: selectonly.Name, Target: harness.KindLocal, Repeat: 1, Warmup: 0,
		Duration: time.Second, Out: t.TempDir(),
		Sets: map[string]string{"engine": "mux", "workers": "3", "scale": "1"}})
	if len(res.Series) != 2 {
		t.Fatalf("%d series: want the prepared and simple variants", len(res.Series))
	}
	for _, s := range res.Series {
		if s.Ops == 0 || len(s.Errors) != 0 || s.Workers != 3 || len(s.Timeline) == 0 {
			t.Fatalf("%s: ops %d, errors %v, workers %d, timeline %d s: want lookups without errors", s.Variant, s.Ops, s.Errors,
				s.Workers, len(s.Timeline))
		}
		if res.Params["engine"] != "mux" || s.Engine != "mux" || s.EngineWhy != "" {
			t.Errorf("%s: params %v, series engine %q (%q): want engine mux recorded, asked for", s.Variant, res.Params, s.Engine,
				s.EngineWhy)
		}
	}
}

// TestMuxEngineCallsAndSwitchesLess is what the mux engine exists for: per lookup, its process
// makes fewer read system calls (/proc/self/io's syscr: a goroutine tries a read, gets EAGAIN and
// parks before each reply) and, on a quiet machine, fewer context switches (getrusage: the
// goroutine's thread sleeps and another wakes it) than with a goroutine per worker. Measured at 1
// client: reads 1.0 against 1.4-1.9, switches 1.05 against 1.4-2.2 here (perf stat,
// loadgen/README.md: 1.1-1.2 against 2.3-3.1); the test asserts the mux engine's one read per
// lookup, and fewer reads per connect, which hold on a loaded machine too.
func TestMuxEngineCallsAndSwitchesLess(t *testing.T) {
	ctx := context.Background()
	cc := localTables(t)
	// A second a run: thousands of lookups (hundreds with a connect each) to divide the counts by,
	// against a few dozen calls and switches of the run's own start and end.
	cfg := loadgen.Config{Workers: 1, Duration: time.Second, ConnMode: loadgen.ConnPerWorker, ConnConfig: cc}
	perOp := func(run func() (*loadgen.Outcome, error)) (reads, switches float64) {
		reads0, switches0 := readCalls(t), contextSwitches(t)
		out, err := run()
		if err != nil {
			t.Fatal(err)
		}
		if out.AllOps == 0 || len(out.Errors) != 0 {
			t.Fatalf("ops %d, errors %v", out.AllOps, out.Errors)
		}
		ops := float64(out.AllOps)
		return float64(readCalls(t)-reads0) / ops, float64(contextSwitches(t)-switches0) / ops
	}
	// Two rounds each, in turn, summed: a busy moment of the machine falls on both engines.
	var goReads, goSwitches, muxReads, muxSwitches float64
	for range 2 {
		r, s := perOp(func() (*loadgen.Outcome, error) {
			return loadgen.Run(ctx, cfg, selectonly.Lookup(100000, pgx.QueryExecModeCacheStatement))
		})
		goReads, goSwitches = goReads+r/2, goSwitches+s/2
		r, s = perOp(func() (*loadgen.Outcome, error) {
			engine, err := mux.New(mux.Config{ConnConfig: cc, Conns: 1, Keys: 100000,
				SQL: "SELECT abalance FROM pgbench_accounts WHERE aid = $1"})
			if err != nil {
				t.Fatal(err)
			}
			return loadgen.RunEngine(ctx, cfg, engine)
		})
		muxReads, muxSwitches = muxReads+r/2, muxSwitches+s/2
	}
	t.Logf("per lookup, 1 client: read calls goroutines %.2f, mux %.2f; context switches goroutines %.2f, mux %.2f",
		goReads, muxReads, goSwitches, muxSwitches)
	// One read per reply is the engine's design (level-triggered epoll, no read until EAGAIN);
	// the goroutine engine's count falls toward it on a busy machine, where its first read finds
	// the reply more often, so the two are not compared.
	if muxReads > 1.1 {
		t.Errorf("mux engine %.2f read calls per lookup: want one per reply", muxReads)
	}
	// Context switches are logged, not compared: on a loaded machine the server's reply comes
	// later, the engine's thread sleeps in epoll_wait before more of them, and the goroutine
	// engine's first read finds the reply more often (in a full make test: mux 0.55 a lookup,
	// goroutines 0.26). The comparison is perf stat's, side by side (loadgen/README.md).

	// A connection per lookup (pgbench -C), opened by the engine's thread: the server's answers
	// to the startup message and each SCRAM step, and the query's reply, are five flights of
	// messages at most (the last SCRAM one, AuthenticationOk and the backend's parameters may come
	// apart); the thread reads each once, when epoll says it is there, where a goroutine tries
	// a read first, gets EAGAIN and parks.
	perOpCfg := cfg
	perOpCfg.ConnMode = loadgen.ConnPerOp
	var goConnReads, muxConnReads float64
	for range 2 {
		r, _ := perOp(func() (*loadgen.Outcome, error) {
			return loadgen.Run(ctx, perOpCfg, selectonly.Lookup(100000, pgx.QueryExecModeSimpleProtocol))
		})
		goConnReads += r / 2
		r, _ = perOp(func() (*loadgen.Outcome, error) {
			engine, err := selectonly.NewMuxEngine(cc, selectonly.MuxLookups{Conns: 1, Accounts: 100000, Simple: true, PerOp: true})
			if err != nil {
				t.Fatal(err)
			}
			return loadgen.RunEngine(ctx, perOpCfg, engine)
		})
		muxConnReads += r / 2
	}
	t.Logf("per connect and lookup, 1 client: read calls goroutines %.2f, mux %.2f", goConnReads, muxConnReads)
	if muxConnReads > 5.2 {
		t.Errorf("mux engine %.2f read calls per connect and lookup: want one per flight of replies, five at most", muxConnReads)
	}
}

// contextSwitches counts the process's voluntary context switches (a thread going to sleep), its
// ended threads' included. The involuntary ones are the machine's: other processes taking the CPU
// (under make test's other packages they outnumbered the engine's own, and the order flipped).
func contextSwitches(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Nvcsw
}

// readCalls is /proc/self/io's syscr: the process's read system calls, failed ones included.
func readCalls(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no syscr in /proc/self/io: %q", data)
	return 0
}

// localTables starts a local server of the test's own with select-only's tables at scale 1
// (100,000 accounts) and returns its connection config.
func localTables(t *testing.T) *pgx.ConnConfig {
	t.Helper()
	target := harnesstest.Local(t)
	ctx := context.Background()
	cc, err := pgx.ParseConfig(target.DSN())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := loadgen.Connect(ctx, cc, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := selectonly.CreateTables(ctx, conn, 1, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	return cc
}
