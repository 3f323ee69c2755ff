package gate

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// regressionOutcome is a calibrated gate with a baseline where throughput fell and p99 rose
// beyond their limits, significantly.
func regressionOutcome(t *testing.T) *Outcome {
	t.Helper()
	cfg := mustParse(t, "calibrate: true\n"+decisionConfig+`  - "select-only: throughput_per_s > 500"
  - "select-only: client_rss_peak_mb may rise 50%"
`)
	cal := []float64{20000, 20100, 20200, 20300, 20400}
	base := measured(selectOnly(baseTput, baseP99), calibration(cal))
	now := measured(selectOnly([]float64{800, 805, 810, 815, 820}, []float64{3.0, 3.1, 3.2, 3.3, 3.4}, 0, 0, 1, 0, 0),
		calibration([]float64{19900, 20000, 20150, 20250, 20500}))
	checks, err := Evaluate(cfg, now, base)
	if err != nil {
		t.Fatal(err)
	}
	return &Outcome{Config: cfg, Checks: checks, Calibration: Calibration(now, base), BaselineDir: "results/baselines/gate",
		Baseline:    "2026-11-20 10:00 UTC, local target, PostgreSQL 15.18, pgscale v0.1.0, 5 repeats",
		Environment: "2026-11-23 13:00 UTC, local target, PostgreSQL 15.18, pgscale v0.1.1, 5 repeats",
		Notes:       []string{"an example note"}}
}

func TestOutputGolden(t *testing.T) {
	t.Parallel()
	o := regressionOutcome(t)
	if o.ExitCode() != ExitRegression {
		t.Fatalf("exit %d, want 1", o.ExitCode())
	}
	goldenCheck(t, "regression.txt.golden", o.Text())
	goldenCheck(t, "regression.md.golden", o.Markdown())
	goldenCheck(t, "regression.junit.xml.golden", string(o.JUnit()))

	cfg := mustParse(t, decisionConfig)
	first := &Outcome{Config: cfg, BaselineDir: "results/baselines/gate", BaselineUpdated: true,
		Environment: "2026-11-23 13:00 UTC, local target, PostgreSQL 15.18, pgscale v0.1.1, 5 repeats"}
	var err error
	if first.Checks, err = Evaluate(cfg, measured(selectOnly(baseTput, baseP99), nil), nil); err != nil {
		t.Fatal(err)
	}
	goldenCheck(t, "first-run.txt.golden", first.Text())
	goldenCheck(t, "first-run.junit.xml.golden", string(first.JUnit()))

	fail := errors.New("select-only, repeat 2: start local target: initdb: exit status 1")
	could := &Outcome{Config: cfg, BaselineDir: "results/baselines/gate", Err: fail, Checks: pending(cfg, fail)}
	goldenCheck(t, "could-not-run.md.golden", could.Markdown())
	goldenCheck(t, "could-not-run.junit.xml.golden", string(could.JUnit()))
}

// TestJUnitShape reads junit.xml back: one testcase per check, failures where checks failed.
func TestJUnitShape(t *testing.T) {
	t.Parallel()
	o := regressionOutcome(t)
	var doc junitSuites
	if err := xml.Unmarshal(o.JUnit(), &doc); err != nil {
		t.Fatal(err)
	}
	_, fail, _, _ := o.Counts()
	if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != len(o.Checks) || doc.Tests != len(o.Checks) || doc.Failures != fail || fail != 3 {
		t.Fatalf("junit: %d suites, tests %d, failures %d; checks %d, failed %d", len(doc.Suites), doc.Tests, doc.Failures, len(o.Checks), fail)
	}
	for i, tc := range doc.Suites[0].Cases {
		if tc.Name != o.Checks[i].Name() || (tc.Failure != nil) != (o.Checks[i].Status == Fail) {
			t.Errorf("testcase %d: %q failure %v; check %q %s", i, tc.Name, tc.Failure != nil, o.Checks[i].Name(), o.Checks[i].Status)
		}
	}
}

func TestWriteAppendsStepSummary(t *testing.T) {
	t.Parallel()
	o := regressionOutcome(t)
	o.OutDir = t.TempDir()
	summary := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(summary, []byte("# earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := o.write(summary); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{MarkdownFile, JUnitFile, TextFile} {
		if _, err := os.Stat(filepath.Join(o.OutDir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	got, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "# earlier step\n## ✗ pgscale gate: FAIL: 3 of 5 checks failed") {
		t.Errorf("step summary not appended:\n%s", got)
	}
}
