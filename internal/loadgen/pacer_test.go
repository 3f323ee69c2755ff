package loadgen

import (
	"math"
	"strings"
	"testing"
	"time"
)

// checkPacer holds the contract of a Pacer over its first n operations: Due never goes back,
// Count(Due(i)) counts operation i, Count just before Due(i) does not, and Count between two
// due times equals the brute-force count.
func checkPacer(t *testing.T, p Pacer, n int64) []time.Duration {
	t.Helper()
	var dues []time.Duration
	prev := time.Duration(-1)
	for i := int64(0); i < n; i++ {
		at, ok := p.Due(i)
		if !ok {
			break
		}
		if at < prev {
			t.Fatalf("Due(%d) = %s is before Due(%d) = %s", i, at, i-1, prev)
		}
		prev = at
		dues = append(dues, at)
	}
	for i, at := range dues {
		if c := p.Count(at); c < int64(i)+1 {
			t.Fatalf("Count(Due(%d)=%s) = %d, want at least %d", i, at, c, i+1)
		}
		if at > 0 && (i == 0 || dues[i-1] < at) {
			if c := p.Count(at - 1); c != int64(i) {
				t.Fatalf("Count(Due(%d)-1ns=%s) = %d, want %d", i, at-1, c, i)
			}
		}
	}
	return dues
}

func TestConstantRateDue(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{0.5, 1, 3, 100, 1000, 33333, 1e6} {
		p := ConstantRate(rate)
		dues := checkPacer(t, p, 5000)
		if len(dues) != 5000 {
			t.Fatalf("rate %g: %d operations due, want an endless schedule", rate, len(dues))
		}
		for i, at := range dues {
			want := time.Duration(float64(i) / rate * float64(time.Second))
			if at != want {
				t.Fatalf("rate %g: Due(%d) = %s, want %s", rate, i, at, want)
			}
		}
		// Over one second of fake time, exactly rate operations (rounded up) come due.
		if got, want := p.Count(time.Second-1), int64(math.Ceil(rate)); rate >= 1 && got != want {
			t.Errorf("rate %g: %d due in the first second, want %d", rate, got, want)
		}
	}
	if _, ok := ConstantRate(0).Due(0); ok {
		t.Error("rate 0 has operations due")
	}
	if ConstantRate(100).Count(-time.Second) != 0 {
		t.Error("operations due before the start")
	}
}

// A linear ramp from 100 to 2,000 per second over 30 s: each second's count is the integral of
// the target over it, and the total is the area under the ramp.
func TestStagesRamp(t *testing.T) {
	t.Parallel()
	p, err := NewStages(100, []Stage{{Duration: 30 * time.Second, Target: 2000}})
	if err != nil {
		t.Fatal(err)
	}
	dues := checkPacer(t, p, 100_000)
	if want := (100 + 2000) / 2 * 30; len(dues) != want {
		t.Fatalf("%d operations over the ramp, want %d", len(dues), want)
	}
	for sec := 0; sec < 30; sec++ {
		from, to := time.Duration(sec)*time.Second, time.Duration(sec+1)*time.Second
		got := float64(p.Count(to-1) - p.Count(from-1))
		r0, r1 := 100+1900*float64(sec)/30, 100+1900*float64(sec+1)/30
		if want := (r0 + r1) / 2; math.Abs(got-want) > 1 {
			t.Errorf("second %d: %g due, want %.1f", sec+1, got, want)
		}
		if mid := p.Target(from + 500*time.Millisecond); math.Abs(mid-(r0+r1)/2) > 1e-6 {
			t.Errorf("second %d: target %g at its middle, want %g", sec+1, mid, (r0+r1)/2)
		}
	}
	if _, ok := p.Due(int64(len(dues))); ok {
		t.Error("an operation due after the end")
	}
	if c := p.Count(time.Hour); c != int64(len(dues)) {
		t.Errorf("Count after the end = %d, want %d", c, len(dues))
	}
}

// Ramps up and down, from zero, steps, a flat zero stage and closed-loop stages in between:
// the count over each stage is the area under its rate, nothing is due inside a closed-loop
// stage, and the first operation after one is due at its end.
func TestStagesMixed(t *testing.T) {
	t.Parallel()
	stages := []Stage{
		{Duration: 2 * time.Second, Target: 50},          // 0 -> 50: 50
		{Duration: 3 * time.Second, Target: 50},          // flat: 150
		{Duration: time.Second, Workers: 4},              // closed
		{Duration: 2 * time.Second, Target: 10},          // starts at 10: 20
		{Duration: 1500 * time.Millisecond, Target: 0},   // 10 -> 0: 7.5
		{Duration: time.Second, Target: 0},               // nothing
		{Duration: 4 * time.Second, Target: 7},           // 0 -> 7: 14
		{Duration: 500 * time.Millisecond, Workers: 2},   // closed
		{Duration: 250 * time.Millisecond, Target: 1000}, // step to 1000: 250
	}
	p, err := NewStages(0, stages)
	if err != nil {
		t.Fatal(err)
	}
	dues := checkPacer(t, p, 10_000)
	total := 50 + 150 + 20 + 7.5 + 14 + 250
	if want := int(math.Ceil(total)); len(dues) != want {
		t.Fatalf("%d operations due, want %d", len(dues), want)
	}
	closed := [][2]time.Duration{{5 * time.Second, 6 * time.Second}, {14500 * time.Millisecond, 15 * time.Second}}
	for _, c := range closed {
		for _, at := range dues {
			if at > c[0] && at < c[1] {
				t.Errorf("operation due at %s, inside the closed-loop stage %s-%s", at, c[0], c[1])
			}
		}
		if w, until := p.Closed(c[0] + time.Millisecond); w == 0 || until != c[1] {
			t.Errorf("Closed(%s) = %d workers until %s, want a closed stage until %s", c[0], w, until, c[1])
		}
		if p.Count(c[1]-1) != p.Count(c[0]) {
			t.Errorf("operations came due inside the closed stage %s-%s", c[0], c[1])
		}
	}
	// The open stage after the first closed one begins with an operation at its start.
	if n := p.Count(6*time.Second - 1); dues[n] != 6*time.Second {
		t.Errorf("first operation after the closed stage due at %s, want 6s", dues[n])
	}
	if w, _ := p.Closed(time.Second); w != 0 {
		t.Errorf("Closed in an open stage = %d workers", w)
	}
	if p.MaxWorkers() != 4 || !p.Open() || p.Length() != 15250*time.Millisecond {
		t.Errorf("MaxWorkers %d, Open %v, Length %s", p.MaxWorkers(), p.Open(), p.Length())
	}
	// Brute force: Count at every millisecond equals the number of due times at or before it.
	j := 0
	for ms := time.Duration(0); ms <= p.Length()+time.Second; ms += time.Millisecond {
		for j < len(dues) && dues[j] <= ms {
			j++
		}
		if c := p.Count(ms); c != int64(j) {
			t.Fatalf("Count(%s) = %d, brute force %d", ms, c, j)
		}
	}
}

// Random shapes: the contract holds and the total is the area under the rate.
func TestStagesRandomShapes(t *testing.T) {
	t.Parallel()
	seed := uint64(1)
	next := func(n int) int { // a small LCG keeps the test independent of math/rand's streams
		seed = seed*6364136223846793005 + 1442695040888963407
		return int((seed >> 33) % uint64(n))
	}
	for round := 0; round < 300; round++ {
		var stages []Stage
		for i := 0; i <= next(5); i++ {
			st := Stage{Duration: time.Duration(1+next(3000)) * time.Millisecond}
			if next(4) == 0 {
				st.Workers = 1 + next(8)
			} else {
				st.Target = float64(next(3000)) / float64(1+next(10))
			}
			stages = append(stages, st)
		}
		start := float64(next(500))
		p, err := NewStages(start, stages)
		if err != nil {
			t.Fatal(err)
		}
		dues := checkPacer(t, p, 1_000_000)
		var area float64
		prev := start
		for _, st := range stages {
			if st.Closed() {
				prev = -1
				continue
			}
			if prev < 0 {
				prev = st.Target
			}
			area += (prev + st.Target) / 2 * st.Duration.Seconds()
			prev = st.Target
		}
		if want := math.Ceil(area - 1e-9); math.Abs(float64(len(dues))-want) > 1 {
			t.Fatalf("round %d: %d operations due, want %g (stages %+v, start %g)", round, len(dues), want, stages, start)
		}
		for _, at := range dues {
			if at > p.Length() {
				t.Fatalf("round %d: operation due at %s, after the end %s", round, at, p.Length())
			}
		}
	}
}

func TestValidateStagesReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := ValidateStages(-1, []Stage{{Target: 10}, {Duration: time.Second, Workers: -2}, {Duration: time.Second, Target: 5, Workers: 3}})
	for _, want := range []string{"start rate -1", "stage 1: duration 0s", "stage 2: workers -2", "stage 3: give a target rate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateStages = %v, want it to mention %q", err, want)
		}
	}
	if err := ValidateStages(0, nil); err == nil || !strings.Contains(err.Error(), "no stages") {
		t.Errorf("no stages: %v", err)
	}
}
