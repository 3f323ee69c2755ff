package ddllock

import (
	"time"

	"github.com/pgscale/pgscale/internal/scenarios"
)

// userRowCost is the load of one row of the users table in Setup, for the plan before a run
// (scenarios.Estimator): 20,000 users in 0.31 s on a shared 2-core host, local target.
const userRowCost = 16 * time.Microsecond

// SetupTime is the users table's load.
func (*scenario) SetupTime(p scenarios.Params) time.Duration {
	return 200*time.Millisecond + time.Duration(p.Int("users"))*userRowCost
}

// PointExtra: a point lasts its run length (the blocker and the ALTER happen inside it).
func (*scenario) PointExtra(scenarios.Params, scenarios.Point) time.Duration { return 0 }
