package gate

import (
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// decisionConfig gates one select-only series with the two relative checks.
const decisionConfig = `
repeats: 5
suite:
  - scenario: select-only
    quick: true
    set: {variants: prepared, workers: 4}
checks:
  - "select-only: throughput_per_s may fall 5%"
  - "select-only: latency_ms.p99 may rise 10%"
  - "select-only: errors == 0"
`

// selectOnly builds a select-only result with one series per repeat, carrying the given
// throughput and p99 (and errors when given).
func selectOnly(tput, p99 []float64, errs ...int64) *result.Result {
	res := &result.Result{Schema: result.SchemaVersion, Scenario: "select-only", Status: result.StatusOK,
		Params:   map[string]any{"variants": []string{"prepared"}, "workers": []int{4}, "scale": 1, "connect": []string{"pool"}, "engine": "auto", "repeat": len(tput)},
		Duration: "5s", Warmup: "1s"}
	for i := range tput {
		s := result.Series{Variant: "prepared", Point: map[string]any{"connect": "pool", "workers": 4}, Repeat: i + 1,
			ThroughputPerS: tput[i], LatencyMs: result.Percentiles{P99: p99[i]}, Errors: map[string]int64{},
			Metrics: map[string]float64{result.MetricClientRSSPeakMB: 30}}
		if i < len(errs) && errs[i] > 0 {
			s.Errors["53300"] = errs[i]
		}
		res.Series = append(res.Series, s)
	}
	return res
}

// calibration builds a calibration result with the given lookups/s per repeat.
func calibration(tput []float64) *result.Result {
	res := &result.Result{Schema: result.SchemaVersion, Scenario: "select-only", Status: result.StatusOK}
	for i, v := range tput {
		res.Series = append(res.Series, result.Series{Variant: "prepared", Point: map[string]any{"connect": "pool", "workers": 4},
			Repeat: i + 1, ThroughputPerS: v})
	}
	return res
}

func measured(res, cal *result.Result) *Measured {
	return &Measured{Results: map[string]*result.Result{"select-only": res}, Calibration: cal}
}

var (
	baseTput = []float64{1000, 1005, 1010, 1015, 1020}
	baseP99  = []float64{2.00, 2.02, 2.04, 2.06, 2.08}
)

// TestRelativeDecisionTable: a relative check fails only when the change is beyond its limit
// and significant.
func TestRelativeDecisionTable(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, decisionConfig)
	base := measured(selectOnly(baseTput, baseP99), nil)
	cases := []struct {
		name      string
		tput, p99 []float64
		// want: status of the throughput check, then of the p99 check
		wantTput, wantP99 Status
		// and the words the notes must carry
		noteTput, noteP99 string
	}{
		{
			name: "beyond but not significant passes with a note",
			// medians 940 (-6.9%) and 2.3 (+12.7%), but the repeats overlap the baseline's.
			tput: []float64{700, 900, 940, 1012, 1300}, p99: []float64{1.5, 2.01, 2.3, 2.5, 3.0},
			wantTput: Pass, wantP99: Pass,
			noteTput: "fell 6.9%: beyond the 5% fall allowed, but not significant", noteP99: "rose 12.7%: beyond the 10% rise allowed, but not significant",
		},
		{
			name: "significant but within the limit passes",
			// every repeat below every baseline repeat (p = 0.008), by 3% and 5%.
			tput: []float64{970, 975, 980, 985, 990}, p99: []float64{2.1, 2.12, 2.14, 2.16, 2.18},
			wantTput: Pass, wantP99: Pass,
			noteTput: "fell 3.0%: significant (p=0.008) but within the 5% fall allowed", noteP99: "rose 4.9%: significant (p=0.008) but within the 10% rise allowed",
		},
		{
			name: "beyond and significant fails",
			tput: []float64{800, 805, 810, 815, 820}, p99: []float64{3.0, 3.1, 3.2, 3.3, 3.4},
			wantTput: Fail, wantP99: Fail,
			noteTput: "fell 19.8%: beyond the 5% fall allowed, and significant (p=0.008 <= 0.05)", noteP99: "rose 56.9%: beyond the 10% rise allowed, and significant (p=0.008 <= 0.05)",
		},
		{
			name: "a significant improvement passes",
			tput: []float64{1500, 1505, 1510, 1515, 1520}, p99: []float64{1.0, 1.01, 1.02, 1.03, 1.04},
			wantTput: Pass, wantP99: Pass,
			noteTput: "rose 49.5%: better (p=0.008)", noteP99: "fell 50.0%: better (p=0.008)",
		},
		{
			name: "unchanged within noise passes",
			tput: []float64{1001, 1006, 1009, 1012, 1017}, p99: []float64{2.01, 2.03, 2.05, 2.07, 2.09},
			wantTput: Pass, wantP99: Pass,
			noteTput: "within the 5% fall allowed", noteP99: "within the 10% rise allowed",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Evaluate(cfg, measured(selectOnly(c.tput, c.p99), nil), base)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("%d results, want 3", len(got))
			}
			for i, want := range []struct {
				status Status
				note   string
			}{{c.wantTput, c.noteTput}, {c.wantP99, c.noteP99}} {
				r := got[i]
				if r.Status != want.status || !strings.Contains(r.Note, want.note) {
					t.Errorf("%s: %s, %q; want %s with %q", r.Check.Text, r.Status, r.Note, want.status, want.note)
				}
				if r.Normalised {
					t.Errorf("%s: normalised without calibrate", r.Check.Text)
				}
				if len(r.Now) != 5 || len(r.Base) != 5 || !r.Tested {
					t.Errorf("%s: figures missing: %+v", r.Check.Text, r)
				}
			}
		})
	}
}

// TestCalibrationNormalises: a machine 20% slower in every repeat lowers the suite's throughput
// and the calibration's alike; normalised, the check passes, while as measured it fails.
func TestCalibrationNormalises(t *testing.T) {
	t.Parallel()
	calBase := []float64{20000, 20100, 20200, 20300, 20400}
	calSlow := make([]float64, 5)
	tputSlow, p99Slow := make([]float64, 5), make([]float64, 5)
	for i := range calBase {
		calSlow[i] = calBase[i] * 0.8
		tputSlow[i] = baseTput[i] * 0.8
		p99Slow[i] = baseP99[i] / 0.8
	}
	base := measured(selectOnly(baseTput, baseP99), calibration(calBase))
	now := measured(selectOnly(tputSlow, p99Slow), calibration(calSlow))

	plain := mustParse(t, decisionConfig)
	got, err := Evaluate(plain, now, base)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Status != Fail || got[1].Status != Fail {
		t.Fatalf("as measured, a 20%% slower machine must fail both checks: %s %q; %s %q", got[0].Status, got[0].Note, got[1].Status, got[1].Note)
	}

	calibrated := mustParse(t, "calibrate: true\n"+decisionConfig)
	got, err = Evaluate(calibrated, now, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got[:2] {
		if r.Status != Pass || !r.Normalised || r.Change > 1e-9 || r.Change < -1e-9 {
			t.Errorf("%s: %s, normalised %v, change %g (%q); want a pass at +0.0%%", r.Check.Text, r.Status, r.Normalised, r.Change, r.Note)
		}
		if r.RawChange > -0.19 && r.RawChange < 0.24 {
			t.Errorf("%s: raw change %g, want the measured -20%% or +25%%", r.Check.Text, r.RawChange)
		}
	}
	if got[2].Normalised {
		t.Errorf("an absolute check was normalised")
	}
	move := Calibration(now, base)
	if move == nil || move.Change > -0.199 || move.Change < -0.201 || move.P > 0.05 {
		t.Errorf("calibration move %+v, want -20%% and significant", move)
	}
}

func TestAbsoluteChecks(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, `
suite:
  - scenario: select-only
    quick: true
    set: {variants: prepared, workers: 4}
checks:
  - "select-only: errors == 0"
  - "select-only: median(errors) == 0"
  - "select-only: throughput_per_s > 1000"
  - "select-only: min(throughput_per_s) > 1000"
  - "select-only: latency_ms.p99 < 2.5"
  - "select-only: client_rss_peak_mb <= 30"
`)
	now := measured(selectOnly([]float64{900, 1100, 1200, 1300, 1400}, []float64{1, 2, 2.4, 2.6, 9}, 0, 0, 0, 0, 3), nil)
	got, err := Evaluate(cfg, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status Status
		note   string
	}{
		{Fail, "max of 5 repeats: 3 (0 to 3), not == 0"}, // one repeat with errors fails it
		{Pass, "median of 5 repeats: 0 (0 to 3)"},
		{Pass, "median of 5 repeats: 1200 (900 to 1400)"},
		{Fail, "min of 5 repeats: 900 (900 to 1400), not > 1000"},
		{Pass, "median of 5 repeats: 2.4 (1 to 9)"},
		{Pass, "median of 5 repeats: 30"},
	}
	for i, w := range want {
		if got[i].Status != w.status || got[i].Note != w.note {
			t.Errorf("%s: %s %q, want %s %q", got[i].Check.Text, got[i].Status, got[i].Note, w.status, w.note)
		}
	}
}

func TestRelativeWithoutBaselineIsSkipped(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, decisionConfig)
	got, err := Evaluate(cfg, measured(selectOnly(baseTput, baseP99), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Status != Skip || got[1].Status != Skip || got[2].Status != Pass {
		t.Fatalf("statuses %s %s %s, want skip skip pass", got[0].Status, got[1].Status, got[2].Status)
	}
	o := &Outcome{Config: cfg, Checks: got}
	if o.ExitCode() != ExitPass {
		t.Errorf("skipped checks made exit %d", o.ExitCode())
	}
}

func TestUnknownMetricIsAConfigurationError(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, `
suite:
  - scenario: select-only
    quick: true
    set: {variants: prepared, workers: 4}
checks:
  - "select-only: client_rss_peak_mb < 100"
  - "select-only variant=prepared: claim_latency_p99_ms < 5"
`)
	err := CheckMetrics(cfg, measured(selectOnly(baseTput, baseP99), nil), "the baseline results/baselines/gate")
	want := `gate.yaml:7: check "select-only variant=prepared: claim_latency_p99_ms < 5": unknown field "claim_latency_p99_ms": ` +
		`select-only prepared connect=pool workers=4 has no such metric in the baseline results/baselines/gate; valid: throughput_per_s, ` +
		`errors, latency_ms.p50, latency_ms.p90, latency_ms.p99, latency_ms.p999, latency_ms.max, latency_ms.mean, errors.<class>, ` +
		`or its metrics: client_rss_peak_mb`
	if err == nil || err.Error() != want || !usage.Is(err) {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

func TestOutcomeExitCodes(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, decisionConfig)
	pass := &Outcome{Config: cfg, Checks: []CheckResult{{Check: cfg.Checks[0], Status: Pass}, {Check: cfg.Checks[1], Status: Skip}}}
	fail := &Outcome{Config: cfg, Checks: []CheckResult{{Check: cfg.Checks[0], Status: Pass}, {Check: cfg.Checks[1], Status: Fail}}}
	could := &Outcome{Config: cfg, Err: usage.Errorf("x"), Checks: pending(cfg, usage.Errorf("x"))}
	if pass.ExitCode() != ExitPass || pass.Result() != nil {
		t.Errorf("pass: %d %v", pass.ExitCode(), pass.Result())
	}
	if fail.ExitCode() != ExitRegression {
		t.Errorf("fail: %d", fail.ExitCode())
	}
	want := "gate: 1 of 2 checks failed: select-only: latency_ms.p99 may rise 10%"
	if err := fail.Result(); err == nil || err.Error() != want {
		t.Errorf("fail: %v, want %q", err, want)
	}
	if could.ExitCode() != ExitCouldNot || len(could.Checks) != 3 || could.Checks[0].Status != Error {
		t.Errorf("could not run: %d %+v", could.ExitCode(), could.Checks)
	}
	var coded interface{ ExitCode() int }
	if err := could.Result(); err == nil || !asExit(err, &coded) || coded.ExitCode() != 3 {
		t.Errorf("could not run: %v", err)
	}
}

func asExit(err error, target *interface{ ExitCode() int }) bool {
	e, ok := err.(*ExitError)
	if ok {
		*target = e
	}
	return ok
}
