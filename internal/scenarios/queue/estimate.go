package queue

import (
	"time"

	"github.com/pgscale/pgscale/internal/scenarios"
)

// Costs of setup and of each point, for the plan before a run (scenarios.Estimator), measured on
// a shared 2-core host with the local target: 100,000 done jobs of history loaded in 1.3 s and
// 1,000,000 in 3.2 s; a point of 50 workers took 1.2 to 3.5 s beyond its run length over a
// 50,000-job backlog and 100,000 of history, 2 to 3 s over 100,000 and 1,000,000; at 500 workers
// (each on its own connection) 10 to 17 s.
const (
	historyLoadBase = time.Second
	historyRowCost  = 2500 * time.Nanosecond // setup: one done job of history, with its index and VACUUM
	backlogJobCost  = 20 * time.Microsecond  // each point: one job of the backlog loaded
	resetRowCost    = 500 * time.Nanosecond  // each point: VACUUM (ANALYZE) of the task table, per history row
	workerConnCost  = 20 * time.Millisecond  // each point: a connection opened, and its share of the drain after
)

// SetupTime is the history's load.
func (*scenario) SetupTime(p scenarios.Params) time.Duration {
	return historyLoadBase + time.Duration(p.Int("history"))*historyRowCost
}

// PointExtra is the reset before each point: the backlog's load and the VACUUM, and the
// connections (the workers', or the fetchers' conns).
func (*scenario) PointExtra(p scenarios.Params, pt scenarios.Point) time.Duration {
	conns := pt.Workers
	if k, ok := pt.Values["conns"].(int); ok && k > 0 { // the fetchers share k connections
		conns = k
	}
	extra := time.Duration(p.Int("history"))*resetRowCost + time.Duration(conns)*workerConnCost
	if p.String("producer") == producerBacklog {
		extra += time.Duration(p.Int("backlog")) * backlogJobCost
	}
	return extra
}
