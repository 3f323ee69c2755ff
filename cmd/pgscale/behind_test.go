package main

import (
	"strings"
	"testing"

	"github.com/pgscale/pgscale/result"
)

// TestRunFallingBehindItsRateSaysSo: one worker paced far above what it can serve falls behind in
// the warm-up and is still on that backlog when the run ends, so nothing due in the measured window
// starts. The run fails saying so, not that the load never ran, and the series counts the
// operations it never started.
func TestRunFallingBehindItsRateSaysSo(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	out := t.TempDir()
	// One connection does at most tens of thousands of lookups a second; 200,000 are due.
	code, stdout, stderr := runCLI(t, onShared(t, "run", "select-only", "--duration", "1s", "--warmup", "1s", "--workers", "1",
		"--rate", "200000", "--set", "scale=1", "--set", "variants=prepared", "--no-report", "--out", out)...)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitFailure, stderr)
	}
	if !strings.Contains(stderr, "the workers fell behind the rate and") {
		t.Errorf("stderr does not say the workers fell behind: %s", stderr)
	}
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusFailed || len(res.Series) != 1 {
		t.Fatalf("status %s with %d series, want failed with 1", res.Status, len(res.Series))
	}
	s := res.Series[0]
	// 1 s at 200,000/s, less the window's last 100 ms: 180,000 due.
	if n := s.Metrics[result.MetricUnstartedOps]; n < 150000 || n > 180000 {
		t.Errorf("unstarted_ops %v, want most of the 180,000 due in the window", n)
	}
	if !strings.Contains(stdout, "never started in prepared") {
		t.Errorf("the findings do not name the unstarted operations:\n%s", stdout)
	}
}
