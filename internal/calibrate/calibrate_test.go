package calibrate_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/calibrate"
	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/usage"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := calibrate.Options{Clients: 0, Duration: 500 * time.Millisecond, Pairs: 0, Scale: 0, Modes: []string{"prepared", "fast"},
		Engines: []string{"mux", "threads"}}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"--clients 0: must be at least 1",
		"--duration 500ms: must be at least 1s",
		"--pairs 0: must be at least 1",
		"--scale 0: must be at least 1",
		`--mode "fast": valid modes are prepared, connect`,
		`--engine "threads": valid engines are mux, goroutines`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if !usage.Is(err) {
		t.Errorf("bad options are not a usage error (exit 2): %v", err)
	}
}

func TestMedianRatio(t *testing.T) {
	t.Parallel()
	pair := func(mode, engine string, ours, theirs float64) calibrate.Pair {
		return calibrate.Pair{Mode: mode, Engine: engine, Pgscale: calibrate.Sample{TPS: ours}, Pgbench: calibrate.Sample{TPS: theirs}}
	}
	rep := calibrate.Report{Pairs: []calibrate.Pair{
		pair("prepared", "mux", 90, 100), pair("prepared", "goroutines", 70, 100), pair("connect", "goroutines", 300, 250),
		pair("prepared", "mux", 120, 100), pair("prepared", "goroutines", 60, 100), pair("prepared", "mux", 50, 100),
		pair("prepared", "goroutines", 80, 100),
		pair("connect", "goroutines", 100, 0), // pgbench ran nothing: ratio 0
	}}
	if got := rep.MedianRatio("prepared", "mux"); got != 0.9 {
		t.Errorf("prepared mux median ratio %v, want 0.9", got)
	}
	if got := rep.MedianRatio("prepared", "goroutines"); got != 0.7 {
		t.Errorf("prepared goroutines median ratio %v, want 0.7", got)
	}
	if got := rep.MedianRatio("connect", "goroutines"); got != 0.6 {
		t.Errorf("connect median ratio %v, want 0.6 (the mean of 0 and 1.2)", got)
	}
	if got := rep.MedianRatio("connect", "mux"); got != 0 {
		t.Errorf("no pairs: median ratio %v, want 0", got)
	}
}

// TestRunAgainstPgbench calibrates on a real local server: both load generators run both modes,
// the prepared one on each of pgscale's engines (mux first), every figure comes from a run, the
// output names the engine of every line, and in connect mode both opened a connection per lookup, as the
// server counts them (pg_stat_database.sessions).
func TestRunAgainstPgbench(t *testing.T) {
	t.Parallel()
	requireInCI := func(what string, err error) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", what, err)
		}
		t.Skipf("no %s: %v", what, err)
	}
	if _, err := harness.FindPgbench(); err != nil {
		requireInCI("pgbench", err)
	}
	provider := &harness.LocalProvider{}
	if err := provider.Available(context.Background()); err != nil {
		requireInCI("PostgreSQL", err)
	}
	ctx := context.Background()
	target, err := provider.Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: "calibrate-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close(context.Background()) })
	sessions := func() int64 {
		t.Helper()
		conn, err := pgx.Connect(ctx, target.AdminDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int64
		if err := conn.QueryRow(ctx, "SELECT sessions FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	before := sessions()
	var out, log bytes.Buffer
	// One client a side: a closed loop of one client and its backend, which take turns, keeps
	// about one core busy, not both, and leaves the other to the tests beside it.
	rep, err := calibrate.Run(ctx, target, calibrate.Options{
		Clients: 1, Duration: 2 * time.Second, Pairs: 1, Scale: 1,
		Modes: []string{calibrate.ModePrepared, calibrate.ModeConnect}, Out: &out, Log: &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), log.String())
	}
	var kinds []string
	for _, pair := range rep.Pairs {
		kinds = append(kinds, pair.Mode+"/"+pair.Engine)
	}
	if want := "prepared/mux prepared/goroutines connect/mux connect/goroutines"; strings.Join(kinds, " ") != want {
		t.Fatalf("pairs %v, want %s (each mode on each engine, mux first):\n%s", kinds, want, out.String())
	}
	var perLookup int64
	for _, pair := range rep.Pairs {
		for side, sample := range map[string]calibrate.Sample{"pgscale": pair.Pgscale, "pgbench": pair.Pgbench} {
			if sample.TPS <= 0 || sample.Transactions <= 0 || sample.CPUSeconds <= 0 || sample.WallSeconds <= 0 {
				t.Errorf("%s %s: %+v: every figure should come from a run", pair.Mode, side, sample)
			}
		}
		if pair.Ratio() <= 0 {
			t.Errorf("%s: ratio %v", pair.Mode, pair.Ratio())
		}
		if pair.Mode == calibrate.ModeConnect {
			perLookup += pair.Pgscale.Transactions + pair.Pgbench.Transactions
		}
		t.Logf("%s on %s: pgscale %.0f tps, pgbench %.0f tps, ratio %.2f", pair.Mode, pair.Engine, pair.Pgscale.TPS,
			pair.Pgbench.TPS, pair.Ratio())
	}
	// The sessions are at least the lookups both sides counted in connect mode. pg_stat_database
	// counts a session when its backend exits, so the last ones may still be closing: poll.
	var opened int64
	for range 50 {
		if opened = sessions() - before; opened >= perLookup {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if opened < perLookup {
		t.Errorf("the server saw %d sessions during the calibration, fewer than the %d lookups both sides counted "+
			"in connect mode: not a connection per lookup", opened, perLookup)
	}
	for _, want := range []string{"pgscale's side on mux (", "median ratio prepared  mux", "median ratio prepared  goroutines",
		"median ratio connect   mux", "median ratio connect   goroutines", "pgscale tps", "pgbench tps", "engine", "cpu ratio",
		"client cpu prepared  mux", "client cpu prepared  goroutines", "client cpu connect   mux", "client cpu connect   goroutines"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestDSNTargetLeavesPublicAlone is issue 16's finding 1: calibrate on a dsn target whose database
// holds a user's public.pgbench_history with rows. Calibrate must work in its run's schema only:
// the user's table keeps its rows, nothing new appears in public, and the run's schema is gone
// afterwards.
func TestDSNTargetLeavesPublicAlone(t *testing.T) {
	t.Parallel()
	if _, err := harness.FindPgbench(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgbench is required in CI: %v", err)
		}
		t.Skipf("no pgbench: %v", err)
	}
	local := &harness.LocalProvider{}
	if err := local.Available(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("no PostgreSQL: %v", err)
	}
	ctx := context.Background()
	server, err := local.Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: "calibrate-dsn-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close(context.Background()) })
	dsn := server.AdminDSN()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE public.pgbench_history (note text);
		INSERT INTO public.pgbench_history SELECT 'the user''s row ' || i FROM generate_series(1, 42) i`); err != nil {
		t.Fatal(err)
	}
	publicTables := func() []string {
		t.Helper()
		rows, err := conn.Query(ctx, `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	before := publicTables()

	target, err := harness.DSNProvider{}.Start(ctx, harness.Spec{Kind: harness.KindDSN, DSN: dsn, RunID: "calibrate-dsn"})
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	// Both modes, as pgbench runs them with and without -C, on one engine and one client: the
	// engines share the schema and its tables, and TestRunAgainstPgbench runs both. Alone, with 2
	// clients, this test took 31.0 CPU-s on both engines and 16.8 on one (a connection per lookup
	// forks a backend per lookup).
	_, runErr := calibrate.Run(ctx, target, calibrate.Options{
		Clients: 1, Duration: 2 * time.Second, Pairs: 1, Scale: 1, Modes: []string{calibrate.ModePrepared, calibrate.ModeConnect},
		Engines: []string{calibrate.EngineMux}, Out: &out, Log: &log,
	})
	if err := target.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
	if runErr != nil {
		t.Fatalf("%v\n%s\n%s", runErr, out.String(), log.String())
	}
	var rows int
	var columns string
	if err := conn.QueryRow(ctx, `SELECT count(*), (SELECT string_agg(attname, ',') FROM pg_attribute
		WHERE attrelid = 'public.pgbench_history'::regclass AND attnum > 0) FROM public.pgbench_history`).Scan(&rows, &columns); err != nil {
		t.Fatalf("the user's public.pgbench_history: %v", err)
	}
	if rows != 42 || columns != "note" {
		t.Errorf("the user's public.pgbench_history now has %d rows and columns %s, want 42 rows and column note", rows, columns)
	}
	if after := publicTables(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("public held %v before calibrate and %v after", before, after)
	}
	var left bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname LIKE 'pgscale\_%')`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left {
		t.Error("a pgscale schema is left after calibrate")
	}
}
