package harness

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCleanDSNRemovesOnlyDeadRuns puts on a real server: the leftovers of a killed run (a marked
// schema, a marked role with a grant and a role setting, a session of it stuck in pg_sleep), a
// live run's schema, a recent run of another host, a prepared schema, an unmarked pgscale_*
// schema and the user's own objects. clean --dsn --dry-run changes nothing; clean --dsn removes
// the dead run's objects and session, and nothing else.
func TestCleanDSNRemovesOnlyDeadRuns(t *testing.T) {
	t.Parallel()
	server := startLocalTest(t, localTestProvider(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := server.AdminDSN()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	host, _ := os.Hostname()
	mark := func(schema string, m RunMarker) {
		t.Helper()
		m.Schema, m.Database = schema, "postgres"
		exec("CREATE SCHEMA " + schema + "; CREATE TABLE " + schema + ".t (i int); " + markSchemaSQL(m))
	}
	dead := RunMarker{RunID: "dead", PID: cleanTestDeadPID(t), Host: host, StartedAt: time.Now().Add(-time.Minute), State: MarkerRunning}
	mark("pgscale_dead", dead)
	live := newRunMarker("live", "", MarkerRunning)
	mark("pgscale_live", live)
	mark("pgscale_away", RunMarker{RunID: "away", PID: 1, Host: "another-host", StartedAt: time.Now().Add(-time.Hour), State: MarkerRunning})
	mark("pgscale_prep", RunMarker{RunID: "prep", PID: cleanTestDeadPID(t), Host: host, StartedAt: time.Now(), State: MarkerPrepared})
	exec("CREATE SCHEMA pgscale_unmarked; CREATE TABLE public.pgbench_history (i int); INSERT INTO public.pgbench_history VALUES (1), (2)")
	exec("CREATE ROLE pgscale_dead_app LOGIN PASSWORD 'x'; GRANT USAGE ON SCHEMA pgscale_dead TO pgscale_dead_app; " +
		"GRANT SELECT ON pgscale_dead.t TO pgscale_dead_app; ALTER ROLE pgscale_dead_app SET statement_timeout = 1000")
	if err := MarkRole(ctx, conn, "pgscale_dead_app", "pgscale_dead"); err != nil {
		t.Fatal(err)
	}
	// Sessions stuck in the server as a killed run's are: one named after the dead run's schema,
	// one as a scenario names its own (<schema>-…), and one of another run whose schema begins
	// with the dead one's, which clean must leave alone.
	sleeper := func(appName string) (uint32, chan error) {
		t.Helper()
		cfg, _ := pgx.ParseConfig(dsn)
		cfg.RuntimeParams["application_name"] = appName
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		var pid uint32
		if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := c.Exec(ctx, "SELECT pg_sleep(60)"); done <- err }()
		return pid, done
	}
	stuckPID, stuckDone := sleeper("pgscale_dead")
	ownPID, ownDone := sleeper("pgscale_dead-zombie-probe")
	otherPID, otherDone := sleeper("pgscale_dead_2")

	state := func() string {
		t.Helper()
		var s string
		err := conn.QueryRow(ctx, `SELECT concat_ws(' ',
			(SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname LIKE 'pgscale\_%'),
			(SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'pgscale\_%'),
			(SELECT count(*) FROM public.pgbench_history))`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := state()
	want := "pgscale_away,pgscale_dead,pgscale_live,pgscale_prep,pgscale_unmarked pgscale_dead_app 2"
	if before != want {
		t.Fatalf("before: %s, want %s", before, want)
	}

	var out bytes.Buffer
	rep, err := CleanDSN(ctx, &out, CleanDSNOptions{DSN: dsn, DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	if got := state(); got != before {
		t.Errorf("the dry run changed the server: %s, was %s", got, before)
	}
	if len(rep.Removed) != 4 || !strings.Contains(out.String(), "would drop schema pgscale_dead") ||
		!strings.Contains(out.String(), "would drop role pgscale_dead_app") || !strings.Contains(out.String(), "would terminate session pid") {
		t.Errorf("dry run: %d items, output:\n%s", len(rep.Removed), out.String())
	}

	out.Reset()
	rep, err = CleanDSN(ctx, &out, CleanDSNOptions{DSN: dsn})
	if err != nil {
		t.Fatalf("clean: %v\n%s", err, out.String())
	}
	t.Logf("clean --dsn:\n%s", out.String())
	if got, want := state(), "pgscale_away,pgscale_live,pgscale_prep,pgscale_unmarked 2"; got != want {
		t.Errorf("after clean: %s, want %s", got, want)
	}
	for _, s := range []struct {
		pid  uint32
		done chan error
	}{{stuckPID, stuckDone}, {ownPID, ownDone}} {
		select {
		case err := <-s.done:
			if err == nil {
				t.Errorf("the dead run's session pid %d finished its pg_sleep instead of being terminated", s.pid)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("the dead run's session pid %d still runs", s.pid)
		}
	}
	select {
	case err := <-otherDone:
		t.Errorf("another run's session pid %d ended (%v); clean must leave it", otherPID, err)
	default:
	}
	var settings int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_db_role_setting WHERE setrole <> 0").Scan(&settings); err != nil || settings != 0 {
		t.Errorf("role settings left: %d (%v)", settings, err)
	}
	for _, kept := range []string{"pgscale_live", "pgscale_away", "pgscale_prep", "pgscale_unmarked"} {
		if !strings.Contains(strings.Join(rep.Kept, "\n"), kept) {
			t.Errorf("the report does not list %s as kept: %q", kept, rep.Kept)
		}
	}

	// --prepared takes the prepared schema, and --any-host the other host's run; the live run stays.
	out.Reset()
	if _, err := CleanDSN(ctx, &out, CleanDSNOptions{DSN: dsn, Prepared: true, AnyHost: true}); err != nil {
		t.Fatalf("clean --prepared --any-host: %v\n%s", err, out.String())
	}
	if got, want := state(), "pgscale_live,pgscale_unmarked 2"; got != want {
		t.Errorf("after clean --prepared --any-host: %s, want %s\n%s", got, want, out.String())
	}
}
