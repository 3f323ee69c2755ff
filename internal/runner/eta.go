package runner

import (
	"fmt"
	"time"
)

// progressState follows a run against its plan: which point runs, and when the run started,
// so the progress line can say "point i/N" and the time left.
type progressState struct {
	plan    *Plan
	started time.Time
	next    int // the index of the next point to begin
}

// startProgress plans the run on the target kind chosen, says the plan in one line and starts
// the clock the time left is measured by.
func (p *prepared) startProgress(kind string) {
	p.progress = progressState{plan: p.planOn(kind), started: time.Now()}
	p.logf("%s", p.progress.plan.Line())
}

// progressLabel is label for the progress line, led by the point's number and the time left
// in the run: "[3/20, ~4m10s left] queue naive workers=10".
func (p *prepared) progressLabel(label string) string {
	st := &p.progress
	if st.plan == nil {
		return label
	}
	i := st.next
	st.next++
	n := len(st.plan.Points)
	if st.plan.Capacity {
		return fmt.Sprintf("[probe %d] %s", i+1, label)
	}
	if i >= n {
		return fmt.Sprintf("[%d/%d] %s", i+1, n, label)
	}
	left := st.plan.Remaining(i, time.Since(st.started))
	return fmt.Sprintf("[%d/%d, ~%s left] %s", i+1, n, ShortDuration(left), label)
}
