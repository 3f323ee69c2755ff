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

// TestCleanDSNDropsSlotsOfDeadRuns puts replication slots on a real server: one named after a
// killed run's schema, one after a live run's, one whose run's schema is gone, a physical one
// with no run here, and the user's own. clean --dsn --dry-run changes nothing; clean --dsn drops
// the dead run's slot and the orphan, and nothing else.
func TestCleanDSNDropsSlotsOfDeadRuns(t *testing.T) {
	t.Parallel()
	server := startLocalTest(t, localTestProvider(t), map[string]string{"wal_level": "logical"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := server.AdminDSN()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	host, _ := os.Hostname()
	mark := func(schema string, m RunMarker) {
		t.Helper()
		m.Schema, m.Database = schema, "postgres"
		exec("CREATE SCHEMA " + schema + "; " + markSchemaSQL(m))
	}
	mark("pgscale_deadslot", RunMarker{RunID: "deadslot", PID: cleanTestDeadPID(t), Host: host, StartedAt: time.Now().Add(-time.Minute), State: MarkerRunning})
	mark("pgscale_liveslot", newRunMarker("liveslot", "", MarkerRunning))
	for _, name := range []string{"pgscale_deadslot", "pgscale_liveslot", "pgscale_orphan", "user_slot"} {
		exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", name)
	}
	exec("SELECT pg_create_physical_replication_slot('pgscale_phys', true)")
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots")
	})
	slots := func() string {
		t.Helper()
		var s string
		if err := conn.QueryRow(ctx, "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := slots()
	if want := "pgscale_deadslot,pgscale_liveslot,pgscale_orphan,pgscale_phys,user_slot"; before != want {
		t.Fatalf("before: %s, want %s", before, want)
	}
	var out bytes.Buffer
	if _, err := CleanDSN(ctx, &out, CleanDSNOptions{DSN: dsn, DryRun: true}); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	if got := slots(); got != before {
		t.Errorf("the dry run dropped slots: %s, was %s", got, before)
	}
	for _, want := range []string{"would drop replication slot pgscale_deadslot", "would drop replication slot pgscale_orphan"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run: no %q in:\n%s", want, out.String())
		}
	}
	out.Reset()
	rep, err := CleanDSN(ctx, &out, CleanDSNOptions{DSN: dsn})
	if err != nil {
		t.Fatalf("clean: %v\n%s", err, out.String())
	}
	t.Logf("clean --dsn:\n%s", out.String())
	if got, want := slots(), "pgscale_liveslot,pgscale_phys,user_slot"; got != want {
		t.Errorf("after clean: %s, want %s", got, want)
	}
	kept := strings.Join(rep.Kept, "\n")
	for _, want := range []string{"pgscale_liveslot", "replication slot pgscale_phys"} {
		if !strings.Contains(kept, want) {
			t.Errorf("the report does not list %s as kept: %q", want, rep.Kept)
		}
	}
}
