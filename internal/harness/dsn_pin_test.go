package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPinDSNKeepsTheUsersOptionsAndPinsTheSchema(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://app:s3cr%20et@db.example:5433/shop?sslmode=disable&options=-c%20work_mem%3D4MB",
		"postgres://app:s3cr%20et@db.example:5433/shop?sslmode=disable&options=-c%20work_mem%3D4MB&application_name=mine",
		"host=db.example port=5433 dbname=shop user=app password='s3cr et' sslmode=disable options='-c work_mem=4MB'",
		"host=db.example port=5433 dbname=shop user=app password='s3cr et' sslmode=disable options='-c work_mem=4MB' application_name=mine",
	} {
		pinned, err := PinDSN(dsn, "pgscale_r1")
		if err != nil {
			t.Fatalf("%s: %v", RedactDSN(dsn), err)
		}
		cfg, err := pgx.ParseConfig(pinned)
		if err != nil {
			t.Fatalf("pinned %s does not parse: %v", RedactDSN(pinned), err)
		}
		if got, want := cfg.RuntimeParams["options"], "-c work_mem=4MB -c search_path=pgscale_r1"; got != want {
			t.Errorf("%s: options %q, want %q", RedactDSN(dsn), got, want)
		}
		if got := cfg.RuntimeParams["application_name"]; got != "pgscale_r1" {
			t.Errorf("%s: application_name %q, want the run's schema", RedactDSN(dsn), got)
		}
		if cfg.Password != "s3cr et" || cfg.Host != "db.example" || cfg.Port != 5433 || cfg.Database != "shop" || cfg.User != "app" {
			t.Errorf("%s: pinning changed where it connects: %s:%d/%s as %s", RedactDSN(dsn), cfg.Host, cfg.Port, cfg.Database, cfg.User)
		}
	}
	// pgx sends a search_path parameter of the DSN's after options, so it would win: it is pinned too.
	for _, dsn := range []string{"host=h search_path=public", "postgres://h/db?search_path=public"} {
		pinned, err := PinDSN(dsn, "pgscale_r1")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pgx.ParseConfig(pinned)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.RuntimeParams["search_path"]; got != "pgscale_r1" {
			t.Errorf("%s pinned: search_path %q", dsn, got)
		}
	}
	for _, schema := range []string{"public", "", "x; DROP TABLE t"} {
		if _, err := PinDSN("host=h", schema); err == nil {
			t.Errorf("PinDSN to schema %q: no error", schema)
		}
	}
	if _, err := PinDSN("postgres://u:hunter2@h:bad/db", "pgscale_r1"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad DSN: error %v, want one without the password", err)
	}
}

func TestRunMarkerRoundTrip(t *testing.T) {
	t.Parallel()
	m := newRunMarker(`it's\a "run"`, "pgscale_r1", MarkerRunning)
	m.Database = "shop"
	got, ok := parseRunMarker(m.comment())
	if !ok || got.RunID != m.RunID || got.PID != m.PID || got.Host != m.Host || !got.StartedAt.Equal(m.StartedAt) || got.State != MarkerRunning {
		t.Errorf("marker %+v read back as %+v (ok %v)", m, got, ok)
	}
	if time.Since(got.StartedAt) > time.Minute {
		t.Errorf("started_at %s", got.StartedAt)
	}
	for _, c := range []string{"", "the user's schema", "pgscale run {", `pgscale run {"run_id":"r","schema":"public; x","pid":1}`, `pgscale run {"run_id":"r","schema":"pgscale_r","pid":0}`,
		`pgscale run {"run_id":"r","schema":"public","pid":1}`} {
		if _, ok := parseRunMarker(c); ok {
			t.Errorf("comment %q read as a marker", c)
		}
	}
	if lit := sqlLiteral(`a'b\c`); lit != `E'a''b\\c'` {
		t.Errorf("sqlLiteral: %s", lit)
	}
}

// TestCheckPinnedRefusesASchemaThatDidNotTake: a pin to a schema the session does not end up in
// (here one that does not exist, as when a pooler drops the options parameter and the server's
// search_path applies) is refused; a pin that holds passes.
func TestCheckPinnedRefusesASchemaThatDidNotTake(t *testing.T) {
	p := localTestProvider(t)
	t.Parallel()
	server := startLocalTest(t, p, nil)
	ctx := context.Background()
	missing, err := PinDSN(server.DSN(), "pgscale_never_made")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPinned(ctx, missing, "pgscale_never_made"); err == nil || !strings.Contains(err.Error(), "works in schema none instead") {
		t.Fatalf("a pin that did not take: %v", err)
	}
	conn, err := pgx.Connect(ctx, server.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA pgscale_made"); err != nil {
		t.Fatal(err)
	}
	made, err := PinDSN(server.DSN(), "pgscale_made")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPinned(ctx, made, "pgscale_made"); err != nil {
		t.Fatalf("a pin that holds: %v", err)
	}
}
