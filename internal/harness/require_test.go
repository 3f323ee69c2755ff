package harness

import (
	"os"
	"testing"
)

// require is harnesstest.Require for harness's own tests, which cannot import harnesstest (it
// imports harness): under CI=true a missing prerequisite fails the test; elsewhere it skips it.
func require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (.ci/run installs it): %v", what, err)
	}
	t.Skipf("no %s here: %v", what, err)
}
