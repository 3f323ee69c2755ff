package all

import (
	"testing"

	"github.com/pgscale/pgscale/internal/scenarios"
)

// TestEveryScenarioDoc checks the contract every registered scenario's Doc must keep, so that a
// new scenario is held to it without a test of its own: run lengths, a summary and what it shows,
// and the defaults of every preset (--quick, default, --preset full) resolve into a plan.
func TestEveryScenarioDoc(t *testing.T) {
	for _, name := range scenarios.Names() {
		t.Run(name, func(t *testing.T) {
			sc, err := scenarios.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			d := sc.Doc()
			if d.Summary == "" || d.Shows == "" {
				t.Errorf("Doc has no Summary or Shows: describe would print nothing")
			}
			// A scenario that drives no timed load (column-padding measures a table) has neither.
			if (d.Duration > 0) != (d.QuickDuration > 0) || d.Duration < 0 {
				t.Errorf("run lengths: default %s, --quick %s; want both above 0, or both 0 for no timed load", d.Duration, d.QuickDuration)
			}
			if d.QuickDuration > d.Duration || d.QuickWarmup > d.Warmup {
				t.Errorf("--quick (%s + %s warm-up) is longer than the default (%s + %s)",
					d.QuickDuration, d.QuickWarmup, d.Duration, d.Warmup)
			}
			seen := map[string]bool{}
			for _, p := range d.Params {
				if p.Name == "" || p.Help == "" {
					t.Errorf("parameter %q has no name or no help", p.Name)
				}
				if seen[p.Name] {
					t.Errorf("parameter %q declared twice", p.Name)
				}
				seen[p.Name] = true
			}
			if full, _ := d.RunLength(scenarios.PresetFull); full < d.Duration {
				t.Errorf("--preset full (%s) is shorter than the default (%s)", full, d.Duration)
			}
			for _, preset := range scenarios.Presets {
				params, err := scenarios.ResolvePreset(d, nil, preset)
				if err != nil {
					t.Fatalf("defaults (--preset %s) do not resolve: %v", preset, err)
				}
				plan, err := sc.Plan(params)
				if err != nil {
					t.Fatalf("defaults (--preset %s) do not plan: %v", preset, err)
				}
				if len(plan.Points) == 0 && name != "script" {
					t.Errorf("defaults (--preset %s) plan no points", preset)
				}
			}
		})
	}
}
