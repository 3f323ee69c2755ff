package walretention

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/runner"
)

// startLogicalServer starts a local server with wal_level=logical, to stand in for a dsn target,
// closed when the test ends.
func startLogicalServer(t *testing.T) harness.Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := (&harness.LocalProvider{}).Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: "walretention-dsn",
		Settings: map[string]string{"wal_level": "logical"}})
	if err != nil {
		t.Fatalf("start a local server: %v", err)
	}
	t.Cleanup(func() {
		if err := tg.Close(context.Background()); err != nil {
			t.Errorf("close the local server: %v", err)
		}
	})
	return tg
}

// serverState is what a run must leave as it found it: the replication slots and pgscale's sessions.
func serverState(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var s string
	err := conn.QueryRow(context.Background(), `SELECT concat_ws(' | ',
		'slots: ' || coalesce((SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots), ''),
		'sessions: ' || (SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgscale%' AND pid <> pg_backend_pid()),
		'schemas: ' || coalesce((SELECT string_agg(nspname, ',') FROM pg_namespace WHERE nspname LIKE 'pgscale\_%'), ''))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// settledState is serverState once it is back to want, or after 5 s what it is then: a backend
// whose client has closed its connection leaves pg_stat_activity a moment later.
func settledState(t *testing.T, conn *pgx.Conn, want string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := serverState(t, conn)
		if s == want || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNoSlotLeftOnDSNTarget runs the unattended slot against an existing server, to the end and
// then canceled while the slot holds WAL (as Ctrl-C does): both times the server is left with the
// slots, sessions and schemas it had. Without --allow-intrusive the run is refused.
func TestNoSlotLeftOnDSNTarget(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel() // on a server of its own
	tg := startLogicalServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot('users_own_slot', 'pgoutput')"); err != nil {
		t.Fatal(err)
	}
	before := serverState(t, conn)

	opts := runner.Options{
		Scenario: Name, Target: harness.KindDSN, DSN: tg.AdminDSN(), Repeat: 1, Seed: 1, NoReport: true,
		Sets: map[string]string{"variants": VariantUnattended, "write_mb_s": "4"}, Duration: 3 * time.Second, Warmup: 0, Log: harnesstest.Log(t),
	}
	opts.Out = t.TempDir()
	if _, err := runner.Prepare(opts, time.Now()); err == nil || !strings.Contains(err.Error(), "--allow-intrusive") {
		t.Fatalf("without --allow-intrusive: %v; want a usage error asking for it", err)
	}
	opts.AllowIntrusive = true

	p, err := runner.Prepare(opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(ctx)
	if err != nil || res.Status != report.StatusOK {
		t.Fatalf("run: %v (status %s)", err, res.Status)
	}
	if held := harnesstest.Metric(t, res.Series[0], MetricSlotRetainedEndMB); held <= 0 {
		t.Errorf("the slot held %v MB at the end; want the WAL written", held)
	}
	if after := settledState(t, conn, before); after != before {
		t.Errorf("after the run: %s; before: %s", after, before)
	}

	// Cancel once the run's slot exists and holds WAL.
	opts.Out = t.TempDir()
	opts.Duration = time.Minute
	p, err = runner.Prepare(opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for runCtx.Err() == nil {
			var held float64
			err := conn.QueryRow(ctx, `SELECT coalesce(max(pg_current_wal_lsn() - restart_lsn), 0)::float8 FROM pg_replication_slots
				WHERE slot_name LIKE 'pgscale\_%'`).Scan(&held)
			if err == nil && held > 1<<20 {
				stop()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	started := time.Now()
	res, err = p.Run(runCtx)
	if err == nil || res.Status != report.StatusInterrupted {
		t.Fatalf("canceled run: %v (status %s); want interrupted", err, res.Status)
	}
	if d := time.Since(started); d > 45*time.Second {
		t.Errorf("the canceled run took %s to return", d)
	}
	if after := settledState(t, conn, before); after != before {
		t.Errorf("after the canceled run: %s; before: %s", after, before)
	}
}
