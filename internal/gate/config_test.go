package gate

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
)

const goodConfig = `
target: local
repeats: 6
alpha: 0.01
calibrate: true
baseline: results/baselines/ci
suite:
  - scenario: select-only
    quick: true
    set:
      variants: prepared,simple
      workers: [4]
    duration: 2s
    warmup: 0
  - scenario: ingest
    name: ingest-copy
    quick: true
    set: {variants: copy, batch: "10,1000"}
    latency: 1ms
    pg_settings: {synchronous_commit: "on"}
checks:
  - "select-only variant=prepared: throughput_per_s > 1_000"
  - "select-only: max(latency_ms.p99) <= 50"
  - "ingest-copy batch=1000: errors.53300 == 0"
  - "ingest-copy batch=1000: rows_per_s may fall by at most 5%"
  - "ingest-copy batch=10: metrics.wal_bytes_per_row may rise 10 %"
`

func TestParseGoodConfig(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, goodConfig)
	if cfg.Target != "local" || cfg.Repeats != 6 || cfg.Alpha != 0.01 || !cfg.Calibrate || cfg.Baseline != "results/baselines/ci" {
		t.Fatalf("top level: %+v", cfg)
	}
	if len(cfg.Suite) != 2 {
		t.Fatalf("suite: %d entries", len(cfg.Suite))
	}
	so, in := cfg.Suite[0], cfg.Suite[1]
	if so.Name != "select-only" || so.Sets["variants"] != "prepared,simple" || so.Sets["workers"] != "4" ||
		so.Duration != 2*time.Second || so.Warmup != 0 || !so.Quick {
		t.Errorf("select-only entry: %+v", so)
	}
	if len(so.Points()) != 2 {
		t.Errorf("select-only points: %v", so.Points())
	}
	if in.Name != "ingest-copy" || in.Scenario != "ingest" || in.Latency != time.Millisecond || in.Warmup != -1 ||
		in.PGSettings["synchronous_commit"] != "on" || len(in.Points()) != 2 {
		t.Errorf("ingest entry: %+v", in)
	}
	if in.duration != 2*time.Second || in.warmup != 500*time.Millisecond {
		t.Errorf("ingest run lengths %s + %s, want the quick preset's 2s + 500ms", in.duration, in.warmup)
	}
	if len(cfg.Checks) != 5 {
		t.Fatalf("checks: %d", len(cfg.Checks))
	}
	c := cfg.Checks[0]
	if c.Line != 21 || c.Entry != "select-only" || c.Where["variant"] != "prepared" || c.Field.String() != "throughput_per_s" ||
		c.Op != ">" || c.Threshold != 1000 || c.Relative {
		t.Errorf("check 0: %+v", c)
	}
	// A selector that matches both variants makes one check per series.
	if n := len(matching(cfg.Checks[1], so)); n != 2 || cfg.Checks[1].Agg != "max" {
		t.Errorf("check 1 selects %d series with %q, want 2 with max", n, cfg.Checks[1].Agg)
	}
	if c := cfg.Checks[3]; !c.Relative || c.Direction != Fall || c.MaxChange != 0.05 || c.Field.Kind != fieldMetric || c.Field.Name != "rows_per_s" {
		t.Errorf("check 3: %+v", c)
	}
	if c := cfg.Checks[4]; !c.Relative || c.Direction != Rise || c.MaxChange != 0.10 || c.Field.Name != "wal_bytes_per_row" {
		t.Errorf("check 4: %+v", c)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
}

// TestParseCalibrateWith: calibrate names the calibration's scenario, or true for select-only.
func TestParseCalibrateWith(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{"true": "", "pgbench": "pgbench", "select-only": "select-only", "false": ""} {
		cfg, err := Parse([]byte("calibrate: "+text+"\nsuite:\n  - scenario: select-only\nchecks:\n  - \"select-only: throughput_per_s may fall 5%\"\n"), "gate.yaml")
		if err != nil {
			t.Fatalf("calibrate: %s: %v", text, err)
		}
		if cfg.CalibrateWith != want || cfg.Calibrate != (text != "false") {
			t.Errorf("calibrate: %s: Calibrate %v, CalibrateWith %q; want %v, %q", text, cfg.Calibrate, cfg.CalibrateWith, text != "false", want)
		}
		scenario := want
		if scenario == "" {
			scenario = "select-only"
		}
		if got := calibrationEntry(cfg).Scenario; got != scenario {
			t.Errorf("calibrate: %s: the calibration runs %s, want %s", text, got, scenario)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, `
suite:
  - scenario: select-only
checks:
  - "select-only: errors == 0"
`)
	if cfg.Target != harness.KindAuto || cfg.Repeats != DefaultRepeats || cfg.Alpha != DefaultAlpha || cfg.Calibrate ||
		cfg.Baseline != DefaultBaselineDir {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestParseWarnsWhenRelativeChecksCannotFail(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, `
repeats: 3
suite:
  - scenario: select-only
checks:
  - "select-only: throughput_per_s may fall 5%"
`)
	want := "with 3 repeats a side the U test's smallest p-value is 0.100, above alpha 0.05: no relative check can fail; use repeats: 4 or more"
	if len(cfg.Warnings) != 1 || cfg.Warnings[0] != want {
		t.Fatalf("warnings %q, want %q", cfg.Warnings, want)
	}
}

// TestParseReportsEveryProblem pins the messages of a file with many problems: each names its
// line and what is valid, all at once, in line order.
func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/bad.gate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(data, "bad.gate.yaml")
	if err == nil || !usage.Is(err) {
		t.Fatalf("want a usage error, got %v", err)
	}
	// The list of valid scenarios grows with every scenario: the golden file names it once.
	msg := strings.ReplaceAll(err.Error(), strings.Join(scenarios.Names(), ", "), "<every registered scenario>")
	goldenCheck(t, "bad.gate.errors.golden", msg+"\n")
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, text, want string
	}{
		{"empty", ``, `gate.yaml: empty file: a gate file needs a suite and checks`},
		{"not yaml", "suite: [", `gate.yaml: line 1: did not find expected node content`},
		{"no suite", "checks:\n  - \"x: errors == 0\"\n", "gate.yaml: no suite: list the scenarios to run under suite:, e.g.\n  suite:\n    - scenario: select-only\n      quick: true"},
		{"no checks", "suite:\n  - scenario: select-only\n",
			"gate.yaml: no checks: list them under checks:, e.g.\n  checks:\n    - \"select-only variant=prepared: throughput_per_s > 1000\"\n    - \"select-only variant=prepared: latency_ms.p99 may rise 10%\""},
		{"unknown metric syntax", "suite:\n  - scenario: select-only\nchecks:\n  - \"select-only: metrics.Rows/s > 5\"\n",
			`gate.yaml:4: check "select-only: metrics.Rows/s > 5": metric "Rows/s": metric names are snake_case (claim_p99_ms)`},
		{"bad percentage", "suite:\n  - scenario: select-only\nchecks:\n  - \"select-only: latency_ms.p99 may rise ten%\"\n",
			`gate.yaml:4: check "select-only: latency_ms.p99 may rise ten%": relative check "latency_ms.p99 may rise ten%": "ten%" is not a percentage (want a number from 0, e.g. 10%)`},
		{"fall by 100", "suite:\n  - scenario: select-only\nchecks:\n  - \"select-only: throughput_per_s may fall 100%\"\n",
			`gate.yaml:4: check "select-only: throughput_per_s may fall 100%": relative check "throughput_per_s may fall 100%": a figure cannot fall by 100% or more; the check could never fail`},
		{"relative without may", "suite:\n  - scenario: select-only\nchecks:\n  - \"select-only: latency_ms.p99 +10%\"\n",
			"gate.yaml:4: check \"select-only: latency_ms.p99 +10%\": malformed relative check \"latency_ms.p99 +10%\": want `<field> may rise <N>%` or `<field> may fall <N>%`"},
		{"missing threshold", "suite:\n  - scenario: select-only\nchecks:\n  - \"select-only: errors ==\"\n",
			"gate.yaml:4: check \"select-only: errors ==\": malformed expression \"errors ==\"; write `<entry> [key=value ...]: <field> <op> <number>` (op: < <= > >= == !=; optionally median(), mean(), min() or max() around the field) or `<entry> [key=value ...]: <field> may rise|fall <N>%`"},
		{"duplicate name", "suite:\n  - scenario: select-only\n  - scenario: select-only\nchecks:\n  - \"select-only: errors == 0\"\n",
			`gate.yaml:3: suite entry "select-only": the name is taken by the entry on line 2; give one of them name: <other>`},
		{"reserved name", "suite:\n  - scenario: select-only\n    name: calibration\nchecks:\n  - \"select-only: errors == 0\"\n",
			`gate.yaml:3: name "calibration": want lowercase letters, digits, - and _ (it names a baseline file), and not "calibration"`},
		{"dsn without target", "dsn: postgres://x@h/db\nsuite:\n  - scenario: select-only\nchecks:\n  - \"select-only: errors == 0\"\n",
			`gate.yaml:1: dsn is only for target: dsn (target is auto)`},
		{"dsn target without dsn", "target: dsn\nsuite:\n  - scenario: select-only\nchecks:\n  - \"select-only: errors == 0\"\n",
			`gate.yaml:1: target dsn: dsn is empty: give a URL (postgres://user@host:5432/db) or key=value pairs (host=... dbname=...) (dsn: $VAR reads it from the environment)`},
		{"bad entry key", "suite:\n  - scenario: select-only\n    sets: {workers: 4}\nchecks:\n  - \"select-only: errors == 0\"\n",
			`gate.yaml:3: suite entry: unknown key "sets" (did you mean "set"?); valid: scenario, workload, script, name, set, quick, duration, warmup, rate, latency, pg_settings, allow_intrusive`},
		{"bad values", "repeats: 0\nalpha: 2\nsuite:\n  - scenario: select-only\n    rate: -1\n    latency: 2h\n    warmup: -1s\nchecks:\n  - \"select-only: errors == 0\"\n",
			"gate.yaml:1: repeats 0: must be at least 1 (5 or more for relative checks)\n" +
				"gate.yaml:2: alpha 2: must be between 0 and 1 (e.g. 0.05)\n" +
				"gate.yaml:5: rate -1: must be 0 (closed loop) or a positive rate per second\n" +
				"gate.yaml:6: latency 2h0m0s: must be from 0 (none) to 1m0s, e.g. 2ms or 12ms\n" +
				"gate.yaml:7: warmup -1s: must be 0 or more"},
		{"bad calibrate", "calibrate: pgbnech\nsuite:\n  - scenario: select-only\nchecks:\n  - \"select-only: errors == 0\"\n",
			`gate.yaml:1: calibrate "pgbnech": want true (select-only), pgbench, select-only or false`},
		{"bad set value", "suite:\n  - scenario: select-only\n    set: {workers: many}\nchecks:\n  - \"select-only: errors == 0\"\n",
			`gate.yaml:3: select-only: set workers=many: not a whole number`},
		{"duplicate check", "suite:\n  - scenario: select-only\nchecks:\n  - \"select-only: errors == 0\"\n  - \"select-only:  errors == 0 \"\n",
			``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.text), "gate.yaml")
			if c.want == "" {
				// Checks that differ only in spacing are different lines, not duplicates.
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !usage.Is(err) {
				t.Errorf("not a usage error (exit 2): %v", err)
			}
			if got := err.Error(); got != c.want {
				t.Errorf("error\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/no-such.gate.yaml")
	want := "--config testdata/no-such.gate.yaml: no such file; write one (see pgscale.gate.yaml at the repository's root) or name it with --config"
	if err == nil || err.Error() != want || !usage.Is(err) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// TestExampleGateFile keeps the repository's pgscale.gate.yaml valid.
func TestExampleGateFile(t *testing.T) {
	t.Parallel()
	cfg, err := Load("../../pgscale.gate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) > 0 || !cfg.Calibrate || cfg.Repeats < minRepeats(cfg.Alpha) || !strings.HasPrefix(cfg.Baseline, "results/baselines/") {
		t.Fatalf("example: %+v", cfg)
	}
}

func TestMinP(t *testing.T) {
	t.Parallel()
	// Two-sided exact minimum p-values: 2 / C(2n, n).
	for n, want := range map[int]float64{3: 0.1, 4: 2.0 / 70, 5: 2.0 / 252} {
		if got := minP(n); got < want*0.999 || got > want*1.001 {
			t.Errorf("minP(%d) = %g, want %g", n, got, want)
		}
	}
	if got := minRepeats(0.05); got != 4 {
		t.Errorf("minRepeats(0.05) = %d, want 4", got)
	}
}
