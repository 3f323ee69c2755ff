package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios/ingest"
	"github.com/pgscale/pgscale/result"
)

// TestStartErrorsNameTheTargetOnce: an error starting the target says "local target: …" once,
// not "start local target: local target: …" or "target local: local target: …".
func TestStartErrorsNameTheTargetOnce(t *testing.T) {
	skipWithoutPostgres(t)
	code, _, stderr := runCLI(t, "run", "select-only", "--target", "local", "--quick", "--pg-setting", "shared_buffers=1",
		"--out", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "pgscale: local target: postgres rejected a setting") {
		t.Errorf("exit %d, stderr %q; want the rejected setting, named once", code, stderr)
	}
	t.Setenv("PGSCALE_PG_BINDIR", filepath.Join(t.TempDir(), "none"))
	code, _, stderr = runCLI(t, "run", "select-only", "--target", "local", "--quick", "--out", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "pgscale: local target: PGSCALE_PG_BINDIR=") {
		t.Errorf("exit %d, stderr %q; want the missing binaries, named once", code, stderr)
	}
	for _, doubled := range []string{"target local: local target", "local target: local target"} {
		if strings.Contains(stderr, doubled) {
			t.Errorf("stderr %q says %q", stderr, doubled)
		}
	}
}

// TestRunStampsTheHeadline: an ingest run's result names rows_per_s as its headline, every series
// has it, and the summaries show it.
func TestRunStampsTheHeadline(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, append(onShared(t, "run", "ingest", "--duration", "1s", "--warmup", "0s",
		"--set", "variants=copy", "--set", "batch=10,100", "--set", "workers=1", "--no-report", "--out", out), pacedLoad...)...)
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	doc, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := result.Validate(doc); err != nil {
		t.Fatal(err)
	}
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Headline == nil || res.Headline.Metric != ingest.MetricRowsPerS || res.Headline.Unit != "rows/s" {
		t.Fatalf("headline %+v, want rows_per_s in rows/s", res.Headline)
	}
	for _, s := range res.Series {
		if v := s.Metrics[ingest.MetricRowsPerS]; v <= s.ThroughputPerS {
			t.Errorf("%s %v: rows/s %v not above batches/s %v", s.Variant, s.Point, v, s.ThroughputPerS)
		}
	}
	if !strings.Contains(stdout, "rows/s") {
		t.Errorf("text summary without rows/s:\n%s", stdout)
	}
	bench, err := os.ReadFile(filepath.Join(out, report.BenchFile))
	if err != nil || !strings.Contains(string(bench), "Unit rows/s better=higher") {
		t.Errorf("bench.txt without the rows/s unit (%v):\n%s", err, bench)
	}
}
