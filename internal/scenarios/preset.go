package scenarios

import (
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"
)

// Presets size a run: quick is the short run make bench and CI take, default what a laptop
// finishes in about five minutes, full the big sweeps of the articles.
const (
	PresetQuick   = "quick"
	PresetDefault = "default"
	PresetFull    = "full"
)

// Presets lists the presets from smallest to largest.
var Presets = []string{PresetQuick, PresetDefault, PresetFull}

// CheckPreset refuses a preset that is not one of Presets, naming the valid ones.
func CheckPreset(name string) error {
	for _, p := range Presets {
		if name == p {
			return nil
		}
	}
	return usage.Fieldf("preset", "%q: valid presets are %s%s", name, strings.Join(Presets, ", "), suggest.DidYouMean(name, Presets))
}

// DefaultIn is the parameter's default under a preset: Quick under quick and Full under full
// when set, Default otherwise.
func (s ParamSpec) DefaultIn(preset string) string {
	switch {
	case preset == PresetQuick && s.Quick != "":
		return s.Quick
	case preset == PresetFull && s.Full != "":
		return s.Full
	}
	return s.Default
}

// RunLength is the measured run length and warm-up of each point under a preset: QuickDuration
// and QuickWarmup under quick, FullDuration and FullWarmup under full when set, Duration and
// Warmup otherwise.
func (d Doc) RunLength(preset string) (duration, warmup time.Duration) {
	switch preset {
	case PresetQuick:
		return d.QuickDuration, d.QuickWarmup
	case PresetFull:
		duration, warmup = d.Duration, d.Warmup
		if d.FullDuration > 0 {
			duration = d.FullDuration
		}
		if d.FullWarmup > 0 {
			warmup = d.FullWarmup
		}
		return duration, warmup
	}
	return d.Duration, d.Warmup
}

// HasFull tells whether --preset full differs from the default: a parameter or run length of
// its own.
func (d Doc) HasFull() bool {
	if d.FullDuration > 0 || d.FullWarmup > 0 {
		return true
	}
	for _, p := range d.Params {
		if p.Full != "" {
			return true
		}
	}
	return false
}

// Estimator is a scenario whose time is not only its points' run lengths: the plan before a run
// (its points, their time, the total) asks it, when it is one, for the time its setup and each
// point take. A scenario that is not takes a constant for each (runner/plan.go).
type Estimator interface {
	// SetupTime is how long Setup takes on a fresh target (creating and loading tables).
	SetupTime(p Params) time.Duration
	// PointExtra is how much longer than its warm-up and duration Run takes for pt, beyond the
	// few hundred milliseconds every point takes: loading a backlog, opening its workers'
	// connections, checking its rows; for a scenario with no run length, all of its work.
	PointExtra(p Params, pt Point) time.Duration
}
