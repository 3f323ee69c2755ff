package harness_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/conninfo"
	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
)

// TestDropSchemaWaitsOutAFullServer drops a run's schema as a role allowed one connection while
// another session of that role holds it: the server refuses the drop's connection (53300) until
// that session ends, and DropSchema asks again until it can, as a run sharing a busy server must
// to leave nothing behind. Given no time for that, it fails naming the refusal, without the
// password.
func TestDropSchemaWaitsOutAFullServer(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	dsn := harnesstest.Database(t)
	const role, password, schema = "pgscale_drop_test", "drop-hunter2", "pgscale_drop_test_run"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"CREATE ROLE " + role + " LOGIN CONNECTION LIMIT 1 PASSWORD '" + password + "'",
		"CREATE SCHEMA " + schema + " AUTHORIZATION " + role,
		"CREATE TABLE " + schema + ".t (id int PRIMARY KEY)",
		"ALTER TABLE " + schema + ".t OWNER TO " + role,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		defer admin.Close(context.Background())
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		_, _ = admin.Exec(cctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		_, _ = admin.Exec(cctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		if _, err := admin.Exec(cctx, "DROP ROLE "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	d, err := conninfo.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	roleDSN := d.With("user", role).With("password", password).Secret()

	hold := func() *pgx.Conn {
		conn, err := pgx.Connect(ctx, roleDSN)
		if err != nil {
			t.Fatalf("the role's one connection: %v", err)
		}
		if _, err := pgx.Connect(ctx, roleDSN); err == nil || !strings.Contains(err.Error(), "too many connections") {
			t.Fatalf("a second connection of the role: %v, want too many connections", err)
		}
		return conn
	}

	// Given a second, the drop is refused throughout and says why.
	held := hold()
	short, shortCancel := context.WithTimeout(ctx, time.Second)
	err = harness.DropSchema(short, roleDSN, schema)
	shortCancel()
	if err == nil || !strings.Contains(err.Error(), "too many connections") || !strings.Contains(err.Error(), schema) ||
		!strings.Contains(err.Error(), "gave up after") {
		t.Fatalf("a drop refused throughout: %v, want it to name the schema, the attempts and the last refusal", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("the drop's error shows the password: %v", err)
	}
	if !schemaExists(ctx, t, admin, schema) {
		t.Fatal("the schema is gone though every drop was refused")
	}

	// The session that holds the role's connection ends a moment after the drop began: its first
	// connection is refused, and only a drop that asks again gets one.
	releasing := make(chan struct{})
	go func() {
		time.Sleep(500 * time.Millisecond)
		close(releasing)
		held.Close(context.Background())
	}()
	if err := harness.DropSchema(ctx, roleDSN, schema); err != nil {
		t.Fatalf("the drop once the connection was free: %v", err)
	}
	select {
	case <-releasing:
	default:
		t.Fatal("the drop returned before the role's connection was free")
	}
	if schemaExists(ctx, t, admin, schema) {
		t.Fatal("the schema is still there after the drop")
	}
}

func schemaExists(ctx context.Context, t *testing.T, conn *pgx.Conn, schema string) bool {
	t.Helper()
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}
