package harnesstest

import (
	"context"
	"os"
	"testing"

	"github.com/pgscale/pgscale/internal/harness"
)

// Require stops a test that lacks what it needs (err says what): under CI=true the test fails,
// since CI installs everything and a skipped test would pass unseen; elsewhere it is skipped, so
// that a developer without, say, Docker can still run the rest.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (.ci/run installs it): %v", what, err)
	}
	t.Skipf("no %s here: %v", what, err)
}

// RequirePostgres is Require for PostgreSQL's server binaries (the local target).
func RequirePostgres(t testing.TB) {
	t.Helper()
	Require(t, "PostgreSQL", (&harness.LocalProvider{}).Available(context.Background()))
}
