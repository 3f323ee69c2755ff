package harness_test

import (
	"testing"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
)

// One local server is shared by this package's tests (harnesstest.Server); each run works in a
// schema of its own on it, through the dsn target. Tests that need server settings of their own
// start their own server.
func TestMain(m *testing.M) { harnesstest.Main(m) }
