package script_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/scenarios"
	scriptscn "github.com/pgscale/pgscale/internal/scenarios/script"
	"github.com/pgscale/pgscale/internal/script"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// onMux are the parameters of a run of workers clients on the mux engine.
func onMux(workers string) map[string]string {
	return map[string]string{"workers": workers, "engine": "mux"}
}

func TestMuxTPCBKeepsPgbenchInvariants(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	for _, protocol := range []script.Protocol{script.ProtocolSimple, script.ProtocolExtended, script.ProtocolPrepared} {
		t.Run(string(protocol), func(t *testing.T) {
			s, err := runScriptWith(t, target, scriptscn.Options{Builtins: []string{"tpcb-like"}, Scale: 1, Init: true,
				Protocol: protocol}, onMux("4"))
			if err != nil {
				t.Fatal(err)
			}
			checkTPCB(t, target, s)
			if len(s.Errors) != 0 || s.Scripts[0].Transactions != s.Ops || len(s.Statements) != 7 {
				t.Fatalf("errors %v, script %+v, %d statements: want none, the series' %d transactions, tpcb-like's 7",
					s.Errors, s.Scripts[0], len(s.Statements), s.Ops)
			}
			for _, st := range s.Statements {
				if st.Count < s.Ops || st.LatencyMs.P99 <= 0 {
					t.Errorf("statement %+v: want at least %d runs and a p99", st, s.Ops)
				}
			}
		})
	}
}

// TestMuxGsetIfCountsAsGoroutinesDo runs the \gset/\if counter script on both engines: on each,
// the counters add up to the transactions it reports.
func TestMuxGsetIfCountsAsGoroutinesDo(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	var total int64
	setup := []string{"testdata/counters-setup.sql"} // the first run's: the others count on
	for _, run := range []struct {
		engine   string
		protocol script.Protocol
	}{{"goroutines", script.ProtocolSimple}, {"mux", script.ProtocolSimple}, {"mux", script.ProtocolPrepared}} {
		s, err := runScriptWith(t, target, scriptscn.Options{Files: []string{"testdata/counter.sql"},
			Setup: setup, Vars: map[string]string{"keys": "100"}, Protocol: run.protocol},
			map[string]string{"workers": "4", "engine": run.engine})
		if err != nil {
			t.Fatalf("%s %s: %v", run.engine, run.protocol, err)
		}
		setup = nil
		committed := int64(s.Metrics[scriptscn.MetricTransactionsWithWarmup])
		total += committed
		if got := query(t, target, "SELECT sum(n) FROM counters"); got != total || committed == 0 || len(s.Errors) != 0 {
			t.Fatalf("%s %s: the counters add up to %d, the runs report %d committed transactions (this one %d, errors %v)",
				run.engine, run.protocol, got, total, committed, s.Errors)
		}
	}
	if top := query(t, target, "SELECT k FROM counters ORDER BY n DESC, k LIMIT 1"); top != 1 {
		t.Errorf("the most counted key is %d, want 1 under random_zipfian", top)
	}
}

func TestMuxRetriesSerializationFailures(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	s, err := runScriptWith(t, target, scriptscn.Options{Files: []string{"testdata/hot.sql"}, Setup: []string{"testdata/hot-setup.sql"},
		MaxTries: 1000}, onMux("4"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Scripts[0].Retries["40001"] == 0 || s.Metrics[scriptscn.MetricRetries] == 0 {
		t.Fatalf("retries %v: want 40001 retries from four clients on one row", s.Scripts[0].Retries)
	}
	if got, committed := query(t, target, "SELECT n FROM hot"), int64(s.Metrics[scriptscn.MetricTransactionsWithWarmup]); got != committed {
		t.Fatalf("the row counts %d updates, the run reports %d committed transactions", got, committed)
	}
}

func TestMuxRuntimeErrors(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	s, err := runScriptWith(t, target, scriptscn.Options{Files: []string{"testdata/unset.sql"}, ContinueOnError: true}, onMux("2"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Errors[scriptscn.ClassScriptError] == 0 || !strings.Contains(s.ErrorSamples[scriptscn.ClassScriptError], "never_set") ||
		s.Statements[0].Count == 0 {
		t.Fatalf("errors %v, samples %v, first statement %d: want script_error naming never_set, runs going on",
			s.Errors, s.ErrorSamples, s.Statements[0].Count)
	}
	s, err = runScriptWith(t, target, scriptscn.Options{Files: []string{"testdata/unset.sql"}}, onMux("2"))
	if err == nil || !strings.Contains(err.Error(), "every worker stopped") || s.Metrics[result.MetricStoppedWorkers] != 2 {
		t.Fatalf("err %v, stopped %v: want every worker stopped", err, s.Metrics[result.MetricStoppedWorkers])
	}
}

func TestMuxRefusesWhatItCannotRun(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts scriptscn.Options
		sets map[string]string
		want string
	}{
		{"pipeline", scriptscn.Options{Files: []string{"testdata/pipeline.sql"}, Protocol: script.ProtocolExtended},
			onMux("1"), "pipelines"},
		{"pool", scriptscn.Options{Builtins: []string{"tpcb-like"}, Connect: "pool"}, onMux("1"), "connect=pool"},
		{"threads with goroutines", scriptscn.Options{Builtins: []string{"tpcb-like"}},
			map[string]string{"mux_threads": "2", "engine": "goroutines"}, "mux_threads=2 is for the mux engine"},
		{"unknown engine", scriptscn.Options{Builtins: []string{"tpcb-like"}}, map[string]string{"engine": "epoll"}, "mux"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := scriptscn.New(c.opts)
			params, err := scenarios.ResolveParams(sc.Doc(), c.sets, false)
			if err == nil {
				_, err = sc.Plan(params)
			}
			if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v: want a one-line usage error containing %q", err, c.want)
			}
		})
	}
	sc := scriptscn.New(scriptscn.Options{})
	params, err := scenarios.ResolveParams(sc.Doc(), onMux("1"), false)
	if err != nil {
		t.Fatal(err)
	}
	if with := sc.ClosedLoopOnlyWith(params); with != "--set engine=mux" {
		t.Fatalf("ClosedLoopOnlyWith %q: want --set engine=mux, so that --rate and stages are refused", with)
	}
}

// sleepingClients picks the script clients' backends running testdata/sleep.sql's sleep.
const sleepingClients = `WHERE query LIKE 'SELECT pg_sleep(0.2)%' AND state = 'active' AND pid <> pg_backend_pid()`

// TestMuxReportsTheServersReason: when the server ends a connection after the warm-up
// (pg_terminate_backend sends FATAL 57P01, then closes), the transaction in flight fails under the server's SQLSTATE, not
// as an unexpected end of the stream, and each client is counted as stopped once.
func TestMuxReportsTheServersReason(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, target.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	killed := make(chan int64, 1)
	go func() {
		// Past the 1 s warm-up, whose failures are not counted: counted from the first sleep seen
		// running (the load's start, after setup and the clients' connects), not from here.
		for ctx.Err() == nil {
			var running int64
			_ = admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity "+sleepingClients).Scan(&running)
			if running > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(1500 * time.Millisecond)
		var n int64
		for ctx.Err() == nil && n < 2 {
			var k int64
			_ = admin.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "+sleepingClients).Scan(&k)
			n += k
			time.Sleep(50 * time.Millisecond)
		}
		killed <- n
	}()
	// A 1 s warm-up and 3 s measured, so that the terminations land well inside the measured part.
	s, _ := runScriptEnv(t, target, scriptscn.Options{Files: []string{"testdata/sleep.sql"}}, onMux("2"), func(env *scenarios.Env) {
		env.Duration, env.Warmup = 3*time.Second, time.Second
	})
	if n := <-killed; n != 2 {
		t.Fatalf("terminated %d backends, want the 2 clients'", n)
	}
	if s.Errors["57P01"] != 2 {
		t.Errorf("errors %v (%v): want both transactions failed under 57P01", s.Errors, s.ErrorSamples)
	}
	if stopped := s.Metrics[result.MetricStoppedWorkers]; stopped != 2 {
		t.Errorf("stopped workers %v, want 2", stopped)
	}
}
