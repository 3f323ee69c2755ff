package loadgen

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Pacer is a load shape: a pure function of the time since the run began and the number of
// operations started, with no clock of its own. Operations are numbered from 0 in the order
// they are due.
type Pacer interface {
	// Due is when operation n is due, counted from the run's start; ok is false when the
	// schedule ends before operation n.
	Due(n int64) (at time.Duration, ok bool)
	// Count is how many operations are due by elapsed: the least n with Due(n) > elapsed (or
	// the schedule's total after its end).
	Count(elapsed time.Duration) int64
}

// ConstantRate paces operations at a fixed number per second, for ever: operation n is due at
// n/rate seconds.
type ConstantRate float64

// Due implements Pacer.
func (r ConstantRate) Due(n int64) (time.Duration, bool) {
	if r <= 0 || n < 0 {
		return 0, false
	}
	return time.Duration(float64(n) / float64(r) * float64(time.Second)), true
}

// Count implements Pacer.
func (r ConstantRate) Count(elapsed time.Duration) int64 {
	if r <= 0 || elapsed < 0 {
		return 0
	}
	return countFrom(r, int64(elapsed.Seconds()*float64(r))+1, elapsed)
}

// countFrom turns an estimate of Count(elapsed) into the exact count by Due, so that Count and
// Due never disagree through floating-point rounding.
func countFrom(p Pacer, n int64, elapsed time.Duration) int64 {
	n = max(n, 0)
	for n > 0 {
		if at, ok := p.Due(n - 1); ok && at <= elapsed {
			break
		}
		n--
	}
	for {
		at, ok := p.Due(n)
		if !ok || at > elapsed {
			return n
		}
		n++
	}
}

// Stage is one step of a load shape, as k6's stages: for Duration, either the arrival rate
// ramps linearly to Target operations per second (from where the previous stage ended), or,
// with Workers set, that many workers run a closed loop.
type Stage struct {
	Duration time.Duration
	Target   float64
	Workers  int
}

// Closed tells whether the stage is a closed loop.
func (s Stage) Closed() bool { return s.Workers > 0 }

// Stages is a load shape made of stages. It paces the open-loop stages; in a closed-loop stage
// no operation is due (Count stays flat) and Closed names its worker count.
type Stages struct {
	stages []Stage
	// start[i] and from[i] are when stage i begins and the rate it ramps from; cum[i] is the
	// number of operations due before it (a real number: the integral of the rate).
	start []time.Duration
	from  []float64
	cum   []float64
	total float64
	end   time.Duration
}

// NewStages builds a load shape; the first open-loop stage ramps from startRate, and an
// open-loop stage after a closed one starts at its own target.
func NewStages(startRate float64, stages []Stage) (*Stages, error) {
	if err := ValidateStages(startRate, stages); err != nil {
		return nil, err
	}
	s := &Stages{stages: append([]Stage(nil), stages...)}
	var at time.Duration
	var cum float64
	prev := startRate
	for _, st := range stages {
		s.start = append(s.start, at)
		s.cum = append(s.cum, cum)
		if st.Closed() {
			s.from = append(s.from, 0)
			prev = -1
		} else {
			if prev < 0 {
				prev = st.Target
			}
			s.from = append(s.from, prev)
			cum += (prev + st.Target) / 2 * st.Duration.Seconds()
			prev = st.Target
		}
		at += st.Duration
	}
	s.total, s.end = cum, at
	return s, nil
}

// ValidateStages reports every problem with a load shape at once; the messages name stages
// from 1.
func ValidateStages(startRate float64, stages []Stage) error {
	var errs []error
	if startRate < 0 || math.IsNaN(startRate) || math.IsInf(startRate, 0) {
		errs = append(errs, fmt.Errorf("start rate %g: must be 0 or a positive rate per second", startRate))
	}
	if len(stages) == 0 {
		errs = append(errs, errors.New("no stages"))
	}
	for i, st := range stages {
		if st.Duration <= 0 {
			errs = append(errs, fmt.Errorf("stage %d: duration %s: must be more than 0", i+1, st.Duration))
		}
		if st.Workers < 0 {
			errs = append(errs, fmt.Errorf("stage %d: workers %d: must be at least 1", i+1, st.Workers))
		}
		if st.Target < 0 || math.IsNaN(st.Target) || math.IsInf(st.Target, 0) {
			errs = append(errs, fmt.Errorf("stage %d: target %g: must be 0 or a positive rate per second", i+1, st.Target))
		}
		if st.Workers > 0 && st.Target > 0 {
			errs = append(errs, fmt.Errorf("stage %d: give a target rate (open loop) or workers (closed loop), not both", i+1))
		}
	}
	return errors.Join(errs...)
}

// Length is the shape's whole duration.
func (s *Stages) Length() time.Duration { return s.end }

// List returns the stages.
func (s *Stages) List() []Stage { return append([]Stage(nil), s.stages...) }

// stageAt is the index of the stage running at elapsed (the last one after the end).
func (s *Stages) stageAt(elapsed time.Duration) int {
	i := 0
	for i+1 < len(s.stages) && elapsed >= s.start[i+1] {
		i++
	}
	return i
}

// Target is the target rate at elapsed (0 in a closed-loop stage and after the end).
func (s *Stages) Target(elapsed time.Duration) float64 {
	if elapsed < 0 || elapsed >= s.end {
		return 0
	}
	i := s.stageAt(elapsed)
	st := s.stages[i]
	if st.Closed() {
		return 0
	}
	frac := float64(elapsed-s.start[i]) / float64(st.Duration)
	return s.from[i] + (st.Target-s.from[i])*frac
}

// Closed returns the worker count of the closed-loop stage running at elapsed and when it ends;
// workers is 0 in an open-loop stage and after the end (until is then the stage's end, or the
// shape's).
func (s *Stages) Closed(elapsed time.Duration) (workers int, until time.Duration) {
	if elapsed < 0 || elapsed >= s.end {
		return 0, s.end
	}
	i := s.stageAt(elapsed)
	return s.stages[i].Workers, s.start[i] + s.stages[i].Duration
}

// MaxWorkers is the largest worker count of the closed-loop stages (0 when there are none).
func (s *Stages) MaxWorkers() int {
	n := 0
	for _, st := range s.stages {
		n = max(n, st.Workers)
	}
	return n
}

// Open tells whether any stage is an open loop.
func (s *Stages) Open() bool {
	for _, st := range s.stages {
		if !st.Closed() {
			return true
		}
	}
	return false
}

// Due implements Pacer. Operation n falls in the open-loop stage i with cum[i] <= n < cum[i+1];
// within it, the rate r(τ) = r0 + (r1-r0)τ/D is integrated to r0τ + (r1-r0)τ²/(2D) = k, and τ
// is the root 2k / (r0 + sqrt(r0² + 2(r1-r0)k/D)), which stays exact when r1 = r0.
func (s *Stages) Due(n int64) (time.Duration, bool) {
	k := float64(n)
	if n < 0 || k >= s.total {
		return 0, false
	}
	for i, st := range s.stages {
		if st.Closed() {
			continue
		}
		next := s.total
		if i+1 < len(s.stages) {
			next = s.cum[i+1]
		}
		if k >= next {
			continue
		}
		kk := k - s.cum[i]
		if kk <= 0 {
			return s.start[i], true
		}
		r0, d := s.from[i], st.Duration.Seconds()
		disc := r0*r0 + 2*(st.Target-r0)*kk/d
		tau := 2 * kk / (r0 + math.Sqrt(max(disc, 0)))
		at := s.start[i] + time.Duration(tau*float64(time.Second))
		return min(at, s.start[i]+st.Duration), true
	}
	return 0, false
}

// Count implements Pacer.
func (s *Stages) Count(elapsed time.Duration) int64 {
	if elapsed < 0 {
		return 0
	}
	return countFrom(s, int64(s.cumAt(elapsed)), elapsed)
}

// cumAt is the number of operations due by elapsed as a real number.
func (s *Stages) cumAt(elapsed time.Duration) float64 {
	if elapsed >= s.end {
		return s.total
	}
	i := s.stageAt(elapsed)
	st := s.stages[i]
	if st.Closed() {
		return s.cum[i]
	}
	tau := (elapsed - s.start[i]).Seconds()
	return s.cum[i] + s.from[i]*tau + (st.Target-s.from[i])*tau*tau/(2*st.Duration.Seconds())
}
