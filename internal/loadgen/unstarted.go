package loadgen

import (
	"sync/atomic"
	"time"
)

// An open-loop run whose workers fall behind its schedule leaves operations that were due and
// never started: still queued when the run ends, they have no latency to record, so the
// percentiles describe only the operations that did start, however late. Outcome.Unstarted counts
// them, for the measured window, so that a result says how much of its schedule it never ran.

// unstartedGrace is the end of the measured window left out of the count: an operation due in
// its last moments may simply not have reached a worker yet, behind by a scheduler's time slice.
const unstartedGrace = 100 * time.Millisecond

// countsUnstarted tells whether a run paced by p counts its unstarted operations: an open loop,
// without closed-loop stages. At the end of an open stage followed by a closed one, operations due
// a moment before it can be left in the schedule's queue without the workers being behind.
func countsUnstarted(p Pacer) bool {
	if p == nil {
		return false
	}
	st, staged := p.(*Stages)
	return !staged || st.MaxWorkers() == 0
}

// dueWindow counts the paced operations that started with an intended start in [from, until):
// the measured window but for its last unstartedGrace.
type dueWindow struct {
	from, until time.Time
	started     atomic.Int64
}

// newDueWindow is the window of a run measured from measureFrom until end.
func newDueWindow(measureFrom, end time.Time) *dueWindow {
	grace := min(unstartedGrace, end.Sub(measureFrom)/2)
	return &dueWindow{from: measureFrom, until: end.Add(-grace)}
}

// start notes that a paced operation due at intended started.
func (d *dueWindow) start(intended time.Time) {
	if d != nil && !intended.Before(d.from) && intended.Before(d.until) {
		d.started.Add(1)
	}
}

// unstarted is how many operations p had due in the window, counted from the run's start, that
// never started.
func (d *dueWindow) unstarted(p Pacer, start time.Time) int64 {
	due := p.Count(d.until.Sub(start)-1) - p.Count(d.from.Sub(start)-1)
	return max(0, due-d.started.Load())
}
