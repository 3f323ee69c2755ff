package loadgen

import (
	"testing"
	"time"
)

// TestDueWindowCountsWhatNeverStarted: at 10/s, a window from 1 s to 2 s has the operations due at
// 1.0 to 1.8 s (1.9 s is in its last 100 ms); those started count only when due inside it.
func TestDueWindowCountsWhatNeverStarted(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	w := newDueWindow(start.Add(time.Second), start.Add(2*time.Second))
	if got := w.unstarted(ConstantRate(10), start); got != 9 {
		t.Fatalf("none started: %d unstarted, want 9", got)
	}
	for _, at := range []time.Duration{900 * time.Millisecond, time.Second, 1800 * time.Millisecond, 1900 * time.Millisecond} {
		w.start(start.Add(at))
	}
	if got := w.unstarted(ConstantRate(10), start); got != 7 {
		t.Errorf("those due at 1.0 and 1.8 s started, and at 0.9 and 1.9 s: %d unstarted, want 7", got)
	}
	// A window shorter than 200 ms leaves out its last half.
	short := newDueWindow(start, start.Add(100*time.Millisecond))
	if got := short.unstarted(ConstantRate(100), start); got != 5 {
		t.Errorf("a 100 ms window at 100/s: %d unstarted, want the 5 due in its first 50 ms", got)
	}
}

// TestCountsUnstartedOnlyInOpenLoops: closed-loop stages leave the schedule's queue unread at their
// start, so a shape with any is not counted.
func TestCountsUnstartedOnlyInOpenLoops(t *testing.T) {
	t.Parallel()
	open, err := NewStages(0, []Stage{{Duration: time.Second, Target: 10}})
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := NewStages(0, []Stage{{Duration: time.Second, Target: 10}, {Duration: time.Second, Workers: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    Pacer
		want bool
	}{{"closed loop", nil, false}, {"constant rate", ConstantRate(5), true}, {"open stages", open, true}, {"a closed stage", mixed, false}} {
		if got := countsUnstarted(c.p); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
