package ddllock_test

import (
	"testing"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
)

// One local server is shared by this package's tests (harnesstest.Server); each run works in a
// schema of its own on it, through the dsn target. Tests that need server settings of their own
// start their own server. The tests wait on locks and timeouts under paced load (17 CPU seconds
// in 80 s of tests), so four run at once: the package took 25 s, not 46 s, side by side.
func TestMain(m *testing.M) {
	harnesstest.RunAtOnce(4)
	harnesstest.Main(m)
}
