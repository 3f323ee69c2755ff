package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/result"
)

// TestSizeReadsCapacityResultAsCeiling: size --result on a capacity result prints the shape's
// measured ceiling and what bound it past it.
func TestSizeReadsCapacityResultAsCeiling(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pct, broken := 97.0, 2470.0
	d := &result.Diagnosis{Bound: result.BoundServerCPU, Evidence: "server CPU 97% of 2 CPUs; top wait CPU, 90% of active time", ServerCPUPct: &pct}
	res := &result.Result{Schema: result.SchemaVersion, Scenario: "select-only", RunID: "cap", Status: result.StatusOK,
		StartedAt: time.Now(), FinishedAt: time.Now(), Params: map[string]any{},
		Environment: result.Environment{Target: "docker", TargetDetail: map[string]string{"shape": "2cpu-4gb", "shape_cpus": "2", "shape_memory_mb": "4096"},
			Resources: &result.Resources{ServerCPUs: 2, ClientCPUs: 2, HostCPUs: 2, WaitSamplesPerS: 10}},
		Series: []result.Series{{Variant: "prepared", Point: map[string]any{"workers": 8, "rate_per_s": 2340.0}}},
		Capacity: &result.Capacity{RatePerS: 2340, Unit: "ops/s", SLO: "p99<50ms", BrokenAtPerS: &broken, Diagnosis: d,
			Probes: []result.CapacityProbe{{Phase: "ramp", RatePerS: 2340, Met: true}}}}
	if err := result.WriteFile(filepath.Join(dir, "result.json"), res); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "size", "--result", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"measured ceiling of shape 2cpu-4gb (2 CPU, 4096 MiB): 2,340 ops/s of select-only prepared workers=8 at p99<50ms",
		"past it (2,470 ops/s): server CPU bound: server CPU 97% of 2 CPUs"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}
