package script_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/scenarios"
	scriptscn "github.com/pgscale/pgscale/internal/scenarios/script"
	"github.com/pgscale/pgscale/internal/script"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// startLocal starts a local server for one test. Without PostgreSQL the test skips, except in CI
// (CI=true), where it fails.
func startLocal(t *testing.T) harness.Target {
	t.Helper()
	p := &harness.LocalProvider{}
	harnesstest.Require(t, "PostgreSQL", p.Available(context.Background()))
	target, err := p.Start(context.Background(), harness.Spec{Kind: harness.KindLocal, RunID: "script-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close(context.Background()) })
	return target
}

// runScript plans, sets up and runs opts on target with workers workers, as the runner does.
func runScript(t *testing.T, target harness.Target, opts scriptscn.Options, workers int) (result.Series, error) {
	t.Helper()
	return runScriptWith(t, target, opts, map[string]string{"workers": strconv.Itoa(workers)})
}

// runScriptWith is runScript with the scenario's parameters (--set) given.
func runScriptWith(t *testing.T, target harness.Target, opts scriptscn.Options, sets map[string]string) (result.Series, error) {
	t.Helper()
	return runScriptEnv(t, target, opts, sets, nil)
}

// runScriptEnv is runScriptWith with env changed by with (nil: as runScriptWith leaves it).
func runScriptEnv(t *testing.T, target harness.Target, opts scriptscn.Options, sets map[string]string,
	with func(*scenarios.Env)) (result.Series, error) {
	t.Helper()
	sc := scriptscn.New(opts)
	params, err := scenarios.ResolveParams(sc.Doc(), sets, false)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan(params)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := pgx.ParseConfig(target.DSN())
	if err != nil {
		t.Fatal(err)
	}
	// A second and a half of load: the tests count transactions, retries and errors (hundreds of
	// them or more), not how fast they ran.
	env := &scenarios.Env{Target: target, Load: cc, Admin: cc, Params: params, Duration: time.Second,
		Warmup: 500 * time.Millisecond, Log: harnesstest.Log(t), Seed: 1}
	if with != nil {
		with(env)
	}
	if err := sc.Setup(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return sc.Run(context.Background(), env, plan.Points[0])
}

func query(t *testing.T, target harness.Target, sql string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), target.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// checkTPCB checks pgbench's invariants: every balance moved by the same deltas, and one history
// row per committed transaction, warm-up included.
func checkTPCB(t *testing.T, target harness.Target, s result.Series) {
	t.Helper()
	committed := int64(s.Metrics[scriptscn.MetricTransactionsWithWarmup])
	if s.Ops == 0 || committed < s.Ops {
		t.Fatalf("ops %d, transactions_with_warmup %d: want some, and the second at least the first", s.Ops, committed)
	}
	sums := map[string]int64{}
	for _, c := range []struct{ col, table string }{
		{"abalance", "pgbench_accounts"}, {"tbalance", "pgbench_tellers"},
		{"bbalance", "pgbench_branches"}, {"delta", "pgbench_history"},
	} {
		sums[c.col] = query(t, target, "SELECT coalesce(sum("+c.col+"), 0) FROM "+c.table)
	}
	if sums["abalance"] != sums["tbalance"] || sums["tbalance"] != sums["bbalance"] || sums["bbalance"] != sums["delta"] {
		t.Errorf("sums %v: want sum(abalance) = sum(tbalance) = sum(bbalance) = sum(delta)", sums)
	}
	if rows := query(t, target, "SELECT count(*) FROM pgbench_history"); rows != committed {
		t.Errorf("pgbench_history has %d rows, the run reports %d committed transactions", rows, committed)
	}
}

func TestBuiltinTPCBKeepsPgbenchInvariants(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	s, err := runScript(t, target, scriptscn.Options{Builtins: []string{"tpcb-like"}, Scale: 1}, 4)
	if err != nil {
		t.Fatal(err)
	}
	checkTPCB(t, target, s)
	if len(s.Scripts) != 1 || s.Scripts[0].Transactions != s.Ops || s.Scripts[0].Weight != 1 {
		t.Fatalf("scripts %+v: want one, with the series' %d transactions", s.Scripts, s.Ops)
	}
	if len(s.Statements) != 7 {
		t.Fatalf("%d statements, want tpcb-like's 7 (BEGIN, 3 UPDATE, SELECT, INSERT, END)", len(s.Statements))
	}
	for _, st := range s.Statements {
		if st.Count < s.Ops || st.LatencyMs.P99 <= 0 || st.Histogram == "" || st.Label == "" {
			t.Errorf("statement %+v: want at least %d runs, a p99 and a histogram", st, s.Ops)
		}
	}
	if err := result.ValidateResult(&result.Result{Schema: result.SchemaVersion, Scenario: "script", RunID: "x",
		Status: "ok", Params: map[string]any{}, Series: []result.Series{withPoint(s)}}); err != nil &&
		strings.Contains(err.Error(), "scripts") {
		t.Fatalf("the breakdown does not match the schema: %v", err)
	}
}

func withPoint(s result.Series) result.Series {
	s.Variant, s.Point, s.Repeat = "simple", map[string]any{"workers": 4}, 1
	return s
}

func TestScriptFileRunsAsPgbenchWould(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	for _, protocol := range []string{"simple", "prepared"} {
		t.Run(protocol, func(t *testing.T) {
			s, err := runScript(t, target, scriptscn.Options{Files: []string{"testdata/tpcb-like.sql@2"}, Init: true,
				Protocol: script.Protocol(protocol), Scale: 1}, 4)
			if err != nil {
				t.Fatal(err)
			}
			checkTPCB(t, target, s)
			if s.Scripts[0].Weight != 2 || !strings.HasPrefix(s.Statements[1].Label, "testdata/tpcb-like.sql:7: UPDATE pgbench_accounts") {
				t.Fatalf("script %+v, second statement %q: want weight 2 and a file:line label", s.Scripts[0], s.Statements[1].Label)
			}
		})
	}
}

func TestZipfianIfGsetCountsAsTheDatabaseDoes(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	s, err := runScript(t, target, scriptscn.Options{Files: []string{"testdata/counter.sql"},
		Setup: []string{"testdata/counters-setup.sql"}, Vars: map[string]string{"keys": "100"}}, 4)
	if err != nil {
		t.Fatal(err)
	}
	committed := int64(s.Metrics[scriptscn.MetricTransactionsWithWarmup])
	if got := query(t, target, "SELECT sum(n) FROM counters"); got != committed || committed == 0 {
		t.Fatalf("the counters add up to %d, the run reports %d committed transactions", got, committed)
	}
	// Zipfian: key 1 is the most often drawn.
	if top := query(t, target, "SELECT k FROM counters ORDER BY n DESC, k LIMIT 1"); top != 1 {
		t.Errorf("the most counted key is %d, want 1 under random_zipfian", top)
	}
}

func TestRuntimeErrorIsAScriptError(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	s, err := runScript(t, target, scriptscn.Options{Files: []string{"testdata/unset.sql"}, ContinueOnError: true}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s.Errors[scriptscn.ClassScriptError] == 0 || !strings.Contains(s.ErrorSamples[scriptscn.ClassScriptError], "never_set") {
		t.Fatalf("errors %v, samples %v: want script_error naming never_set", s.Errors, s.ErrorSamples)
	}
	if s.Statements[0].Count == 0 {
		t.Fatalf("the first statement ran %d times: the runs went on with --continue-on-error", s.Statements[0].Count)
	}

	// Without --continue-on-error, each worker stops at its first script error, as pgbench's.
	s, err = runScript(t, target, scriptscn.Options{Files: []string{"testdata/unset.sql"}}, 2)
	if err == nil || !strings.Contains(err.Error(), "every worker stopped") {
		t.Fatalf("err %v: want every worker stopped", err)
	}
	if s.Metrics[result.MetricStoppedWorkers] != 2 {
		t.Fatalf("stopped_workers %v, want 2", s.Metrics[result.MetricStoppedWorkers])
	}
}

func TestBadInputIsAUsageError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts scriptscn.Options
		want string
	}{
		{"syntax", scriptscn.Options{Files: []string{"testdata/syntax.sql"}}, "testdata/syntax.sql:2:"},
		{"shell", scriptscn.Options{Files: []string{"testdata/shell.sql"}}, "shell"},
		{"missing file", scriptscn.Options{Files: []string{"testdata/nope.sql"}}, "testdata/nope.sql"},
		{"weight 0", scriptscn.Options{Files: []string{"testdata/tpcb-like.sql@0"}}, "weight"},
		{"negative weight", scriptscn.Options{Builtins: []string{"tpcb-like@-1"}}, "weight"},
		{"unknown builtin", scriptscn.Options{Builtins: []string{"tpcc"}}, `tpcb-like`},
		{"protocol", scriptscn.Options{Builtins: []string{"tpcb-like"}, Protocol: "binary"}, "--protocol binary"},
		{"missing setup", scriptscn.Options{Builtins: []string{"tpcb-like"}, Setup: []string{"testdata/nope.sql"}}, "--setup testdata/nope.sql"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sc := scriptscn.New(c.opts)
			params, err := scenarios.ResolveParams(sc.Doc(), nil, false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sc.Plan(params)
			if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v: want a usage error containing %q", err, c.want)
			}
		})
	}
}

func TestSubstituteLeavesCastsAndQuotesAlone(t *testing.T) {
	t.Parallel()
	got := scriptscn.Substitute(`SELECT :n::int, ':n', ":n", :m FROM t`, map[string]string{"n": "5"})
	if want := `SELECT 5::int, ':n', ":n", :m FROM t`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSerializationFailuresAreRetriedAndCounted(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	s, err := runScript(t, target, scriptscn.Options{Files: []string{"testdata/hot.sql"}, Setup: []string{"testdata/hot-setup.sql"},
		MaxTries: 1000}, 4)
	if err != nil {
		t.Fatal(err)
	}
	sc := s.Scripts[0]
	if sc.Retries["40001"] == 0 || s.Metrics[scriptscn.MetricRetries] == 0 {
		t.Fatalf("retries %v (metric %v): want 40001 retries from four clients on one row", sc.Retries, s.Metrics[scriptscn.MetricRetries])
	}
	committed := int64(s.Metrics[scriptscn.MetricTransactionsWithWarmup])
	if got := query(t, target, "SELECT n FROM hot"); got != committed {
		t.Fatalf("the row counts %d updates, the run reports %d committed transactions", got, committed)
	}
	var update result.StatementStats
	for _, st := range s.Statements {
		if strings.Contains(st.Label, "UPDATE hot") {
			update = st
		}
	}
	if update.Errors["40001"] == 0 {
		t.Errorf("the UPDATE's errors %v: want its 40001s counted", update.Errors)
	}
}

func TestSerializationFailuresWithoutRetryFailAndGoOn(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	s, err := runScript(t, target, scriptscn.Options{Files: []string{"testdata/hot.sql"}, Setup: []string{"testdata/hot-setup.sql"}}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if s.Scripts[0].Errors["40001"] == 0 || s.Errors["40001"] == 0 || s.Metrics[result.MetricStoppedWorkers] != 0 {
		t.Fatalf("script errors %v, series errors %v, stopped %v: want failed 40001 transactions and every worker going on",
			s.Scripts[0].Errors, s.Errors, s.Metrics[result.MetricStoppedWorkers])
	}
	if got, committed := query(t, target, "SELECT n FROM hot"), int64(s.Metrics[scriptscn.MetricTransactionsWithWarmup]); got != committed {
		t.Fatalf("the row counts %d updates, the run reports %d committed transactions", got, committed)
	}
}
