package columnpadding

import (
	"slices"
	"time"

	"github.com/pgscale/pgscale/internal/scenarios"
)

// Costs of a point, for the plan before a run (scenarios.Estimator): a point has no run length,
// it lasts as long as its load, scans and probes take. Measured on a shared 2-core host with the
// local target, 64 columns: careless 7.8 s and aligned 12.9 s at 100,000 rows and 5 rounds;
// 100 s and 204 s at 1,000,000 rows and 7 rounds (the load slows as the table outgrows the cache:
// 54 µs a row at 100,000, 72 to 107 µs at 1,000,000).
const (
	rowLoadCost  = 70 * time.Microsecond // one row copied in, with its share of CHECKPOINT and VACUUM
	rowScanCost  = 2 * time.Microsecond  // one row in one round of scans
	rowProbeCost = 15 * time.Microsecond // aligned after careless: one row in one round of scans of both tables and of the insert probe
)

// SetupTime is the table's generation: no data.
func (*scenario) SetupTime(scenarios.Params) time.Duration { return 200 * time.Millisecond }

// PointExtra is the whole point: the load, then the rounds of scans, and for the aligned table
// after the careless one the rounds that measure both in turns.
func (*scenario) PointExtra(p scenarios.Params, pt scenarios.Point) time.Duration {
	rows, rounds := time.Duration(p.Int("rows")), time.Duration(p.Int("scans"))
	extra := rows*rowLoadCost + rows*rounds*rowScanCost
	if variants := p.Strings("variants"); pt.Variant == Aligned && slices.Contains(variants, Careless) {
		extra += rows * rounds * rowProbeCost
	}
	return extra
}
