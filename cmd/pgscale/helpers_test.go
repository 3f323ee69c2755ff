package main

import (
	"context"
	"os"
	"testing"

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
