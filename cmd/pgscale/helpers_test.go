package main

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
)

// skipWithoutPostgres skips a test that needs PostgreSQL's binaries when there are none, except
// in CI (CI=true), where their absence is a failure: .ci/run installs them.
func skipWithoutPostgres(t *testing.T) {
	t.Helper()
	if _, err := harness.FindPGBinaries(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("no PostgreSQL here: %v", err)
	}
}

// connectCounting connects to dsn for the test's length and returns the connection and a count
// of what a one-number query answers (a catalog count, say); a failing query fails t.
func connectCounting(t *testing.T, dsn string) (*pgx.Conn, func(sql string) int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn, func(sql string) int64 {
		t.Helper()
		var n int64
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
}
