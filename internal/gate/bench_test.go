package gate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgscale/pgscale/internal/harness"
)

// BenchmarkFalseAlarms measures how often an unchanged configuration fails the gate: it makes a
// baseline with the repository's pgscale.gate.yaml, then runs the same suite b.N times against
// it and counts runs with a failed relative check, as the gate decides them (calibrated) and as
// they would be decided on the figures as measured. Each run takes about a minute on 2 cores:
//
//	go test ./gate -run '^$' -bench FalseAlarms -benchtime 10x -timeout 30m
//
// PGSCALE_GATE_CONFIG names another gate file. It is not part of `make test`.
func BenchmarkFalseAlarms(b *testing.B) {
	if _, err := harness.FindPGBinaries(context.Background()); err != nil {
		b.Skipf("no PostgreSQL here: %v", err)
	}
	path := os.Getenv("PGSCALE_GATE_CONFIG")
	if path == "" {
		path = "../../pgscale.gate.yaml"
	}
	cfg, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	opts := Options{Baseline: filepath.Join(dir, "baseline"), UpdateBaseline: true, Out: filepath.Join(dir, "base-run")}
	o, err := Run(context.Background(), cfg, opts)
	if err != nil || o.ExitCode() != ExitPass || !o.BaselineUpdated {
		b.Fatalf("baseline run: %v %+v", err, o)
	}
	raw := *cfg
	raw.Calibrate = false
	alarms, rawAlarms, checks, rawChecks := 0, 0, 0, 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		opts := Options{Baseline: filepath.Join(dir, "baseline"), Out: filepath.Join(dir, "run", fmt.Sprint(i))}
		o, err := Run(context.Background(), cfg, opts)
		if err != nil || o.Err != nil {
			b.Fatalf("run %d: %v %v", i, err, o.Err)
		}
		if failedRelative(o.Checks, &checks) {
			alarms++
		}
		rawResults, err := Evaluate(&raw, o.Now, o.Base)
		if err != nil {
			b.Fatal(err)
		}
		if failedRelative(rawResults, &rawChecks) {
			rawAlarms++
		}
		for _, c := range o.Checks {
			if c.Status == Fail {
				b.Logf("run %d: %s: %s", i, c.Name(), c.Note)
			}
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(alarms)/n, "false-alarm-runs/run")
	b.ReportMetric(float64(rawAlarms)/n, "uncalibrated-false-alarm-runs/run")
	b.ReportMetric(float64(checks)/n, "failed-relative-checks/run")
	b.ReportMetric(float64(rawChecks)/n, "uncalibrated-failed-relative-checks/run")
}

// failedRelative tells whether a relative check failed, and counts the failures into n.
func failedRelative(rs []CheckResult, n *int) bool {
	failed := false
	for _, r := range rs {
		if r.Check.Relative && r.Status == Fail {
			*n++
			failed = true
		}
	}
	return failed
}
