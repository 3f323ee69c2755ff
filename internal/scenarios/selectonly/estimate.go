package selectonly

import (
	"time"

	"github.com/pgscale/pgscale/internal/scenarios"
)

// The load of the tables by CreateTables, for the plan before a run (scenarios.Estimator): on a
// shared 2-core host, local target, scale 1 (100,000 accounts) took 1.08 s and scale 10 1.28 s.
const (
	tablesLoadBase = time.Second
	scaleLoadCost  = 30 * time.Millisecond // one unit of scale: 100,000 accounts
)

// SetupEstimate is how long CreateTables takes at scale (pgbench's scenario loads the same).
func SetupEstimate(scale int) time.Duration {
	return tablesLoadBase + time.Duration(scale)*scaleLoadCost
}

// SetupTime is the tables' load.
func (*scenario) SetupTime(p scenarios.Params) time.Duration { return SetupEstimate(p.Int("scale")) }

// PointExtra: a point lasts its run length.
func (*scenario) PointExtra(scenarios.Params, scenarios.Point) time.Duration { return 0 }
