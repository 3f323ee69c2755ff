package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/report"
)

// --dry-run prints the whole plan and starts nothing: a target that could never start (a dsn
// on a closed port) is not touched, and no out directory is made.
func TestDryRunStartsNothing(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "never")
	code, stdout, stderr := runCLI(t, "run", "connect-storm", "--dry-run", "--allow-intrusive", "--target", "dsn",
		"--dsn", "postgres://pgscale@127.0.0.1:1/none?connect_timeout=1", "--out", out, "--preset", "full")
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	for _, want := range []string{"plan: 48 points of 10s + 2s warm-up", "(preset full, target dsn)", "max_connections=200",
		"retry-batch", "nothing was started (--dry-run)"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("plan lacks %q:\n%s", want, stdout)
		}
	}
	if lines := strings.Count(stdout, "\n"); lines < 48 {
		t.Fatalf("the plan has %d lines, want one per point:\n%s", lines, stdout)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a dry run made its out directory (%v)", err)
	}
	if strings.Contains(stderr, "target") {
		t.Fatalf("a dry run touched the target: %s", stderr)
	}
}

// describe says what each preset costs, as the plan counts it.
func TestDescribeShowsCost(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, "describe", "queue")
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	for _, want := range []string{"Cost of a run", "--preset quick:   6 points", "--preset default: 12 points", "--preset full:    30 points",
		"peak 2002 connections", "--preset full: 30s + 5s"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("describe queue lacks %q:\n%s", want, stdout)
		}
	}
}

// run --slo sets the p99 the findings judge by; result.json keeps it, so a later report judges
// the same. The run lasts 2 s: a starved machine once got no lookup through in 1 s, and a report
// of no operations has no p99 to judge.
func TestRunSLOKeptForReport(t *testing.T) {
	t.Parallel()
	skipWithoutPostgres(t)
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCLI(t, onShared(t, "run", "select-only", "--quick", "--set", "variants=prepared",
		"--set", "workers=2", "--duration", "2s", "--warmup", "200ms", "--slo", "p99<0.001ms", "--rate", "200", "--out", out, "--no-report")...)
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	if !strings.Contains(stderr, "plan: 1 point of 2s + 200ms warm-up") || !strings.Contains(stderr, "[1/1, ~") {
		t.Fatalf("no plan line or point i/N on stderr:\n%s", stderr)
	}
	raw, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res report.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if res.SLO != "p99<0.001ms" {
		t.Fatalf("result.json slo %q, want p99<0.001ms", res.SLO)
	}
	code, md, stderr := runCLI(t, "report", out, "--format", "md")
	if code != 0 {
		t.Fatalf("report: exit %d; stderr: %s", code, stderr)
	}
	if !strings.Contains(md, "0.001 ms SLO") {
		t.Fatalf("the report does not judge by the run's SLO (0.001 ms):\n%s", md)
	}
	code, md, _ = runCLI(t, "report", out, "--format", "md", "--slo", "10s")
	if code != 0 || strings.Contains(md, "0.001 ms SLO") {
		t.Fatalf("report --slo 10s did not override the run's SLO (exit %d):\n%s", code, md)
	}
}
