package connectstorm

import (
	"fmt"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/result"
)

// sweepKey names one sweep over workers: a variant on one server size.
type sweepKey struct {
	variant  string
	maxConns int
}

// sweepState is what a sweep has found so far. Points run in increasing workers, so the first
// point with errors is where errors begin.
type sweepState struct {
	lastWorkers int
	onset       int     // workers of the first point with errors; 0: none yet
	lastClean   int     // workers of the last point without errors before onset
	bestRate    float64 // highest throughput of a point without errors
	bestRateAt  int
}

// trackSweep adds the sweep's findings so far to the series (error_onset_concurrency, once errors
// have begun; sustainable_rate_per_s, the highest error-free rate so far) and, at the sweep's
// last point, says them in a sentence. The values on a sweep's last point are the sweep's answer.
func (s *scenario) trackSweep(env *scenarios.Env, pt scenarios.Point, series *result.Series) {
	if s.sweeps == nil {
		s.sweeps = map[sweepKey]*sweepState{}
	}
	key := sweepKey{pt.Variant, pt.Values["max_connections"].(int)}
	st := s.sweeps[key]
	if st == nil || pt.Workers <= st.lastWorkers {
		st = &sweepState{} // a new sweep (the next repeat starts again from the smallest workers)
		s.sweeps[key] = st
	}
	st.lastWorkers = pt.Workers
	if report.TotalErrors(*series) > 0 {
		if st.onset == 0 {
			st.onset = pt.Workers
		}
	} else {
		if st.onset == 0 {
			st.lastClean = pt.Workers
		}
		if series.ThroughputPerS > st.bestRate {
			st.bestRate, st.bestRateAt = series.ThroughputPerS, pt.Workers
		}
	}
	if st.onset > 0 {
		series.Metrics[MetricErrorOnsetConcurrency] = float64(st.onset)
	}
	if st.bestRate > 0 {
		series.Metrics[MetricSustainableRatePerS] = st.bestRate
	}
	if pt.Workers == s.maxWorkers {
		env.Logf("connect-storm: %s", st.sentence(key))
	}
}

// sentence says what a sweep found.
func (st *sweepState) sentence(key sweepKey) string {
	head := fmt.Sprintf("%s at max_connections=%d: ", key.variant, key.maxConns)
	var onset string
	switch {
	case st.onset == 0:
		onset = fmt.Sprintf("no errors up to %d workers", st.lastWorkers)
	case st.lastClean == 0:
		onset = fmt.Sprintf("errors already at %d workers, the smallest tried", st.onset)
	default:
		onset = fmt.Sprintf("errors begin between %d and %d workers", st.lastClean, st.onset)
	}
	if st.bestRate == 0 {
		return head + onset + "; no point ran without errors"
	}
	return head + onset + fmt.Sprintf("; the highest error-free rate was %.0f requests/s (at %d workers)", st.bestRate, st.bestRateAt)
}
