package pgbench

import (
	"time"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
)

// SetupTime is the tables' load, the same as select-only's (scenarios.Estimator).
func (*scenario) SetupTime(p scenarios.Params) time.Duration {
	return selectonly.SetupEstimate(p.Int("scale"))
}

// PointExtra: a point lasts its run length, and pgbench's log is read after it.
func (*scenario) PointExtra(scenarios.Params, scenarios.Point) time.Duration {
	return 500 * time.Millisecond
}
