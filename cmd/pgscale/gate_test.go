package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/gate"
)

// writeGateFile writes a gate file into a fresh directory and returns its path.
func writeGateFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pgscale.gate.yaml")
	if err := os.WriteFile(path, []byte(strings.TrimLeft(text, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGateBadConfigurationExitsTwo(t *testing.T) {
	t.Parallel()
	bad := writeGateFile(t, `
repeats: 5
suite:
  - scenario: select-only
checks:
  - "select-only: throughput > 5"
  - "select-only: latency_ms.p99 may grow 10%"
`)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"every problem at once", []string{"gate", "--config", bad}, []string{
			bad + `:5: check "select-only: throughput > 5": unknown field "throughput" (did you mean "throughput_per_s"?)`,
			bad + `:6: check "select-only: latency_ms.p99 may grow 10%": relative check "latency_ms.p99 may grow 10%": "grow" is not a direction; want rise or fall`,
		}},
		{"no gate file", []string{"gate", "--config", filepath.Join(t.TempDir(), "none.yaml")}, []string{"no such file"}},
		{"bad flag", []string{"gate", "--latency", "-1ms"}, []string{"--latency -1ms: must be from 0 (none) to 1m0s"}},
		{"missing baseline", []string{"gate", "--config", writeGateFile(t, `
suite:
  - scenario: select-only
checks:
  - "select-only: throughput_per_s may fall 5%"
`), "--baseline", filepath.Join(t.TempDir(), "nothing")}, []string{"no such directory, and the relative checks need one; create it with `pgscale gate --config", "--update-baseline`"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, c.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
		})
	}
}

// TestGateCouldNotRunExitsThree: an unreachable server is not a regression; every check is
// reported as not evaluated, and the password reaches no output.
func TestGateCouldNotRunExitsThree(t *testing.T) {
	t.Parallel()
	cfg := writeGateFile(t, `
target: dsn
dsn: postgres://app:hunter2@127.0.0.1:1/app?connect_timeout=2&sslmode=disable
repeats: 1
suite:
  - scenario: select-only
    set: {variants: prepared}
checks:
  - "select-only: errors == 0"
`)
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "gate", "--config", cfg, "--out", out)
	if code != gate.ExitCouldNot {
		t.Fatalf("exit %d, want 3; stderr: %s", code, stderr)
	}
	if !strings.Contains(stdout, "COULD NOT RUN") || !strings.Contains(stderr, "gate: could not run the suite: select-only, repeat 1:") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	junit, err := os.ReadFile(filepath.Join(out, gate.JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, gate.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"stdout": stdout, "stderr": stderr, "junit.xml": string(junit), "gate.md": string(md)} {
		if strings.Contains(text, "hunter2") {
			t.Errorf("the password reached %s", name)
		}
	}
	if !strings.Contains(string(junit), `errors="1"`) || !strings.Contains(string(junit), `type="could-not-run"`) || strings.Contains(string(junit), `name="now"`) {
		t.Errorf("junit.xml:\n%s", junit)
	}
}

func TestExitCodeOfErrors(t *testing.T) {
	t.Parallel()
	if got := exitCode(&gate.ExitError{Code: gate.ExitRegression, Msg: "x"}); got != 1 {
		t.Errorf("regression: %d", got)
	}
	if got := exitCode(&gate.ExitError{Code: gate.ExitCouldNot, Msg: "x"}); got != 3 {
		t.Errorf("could not run: %d", got)
	}
	if got := exitCode(os.ErrNotExist); got != 0 {
		t.Errorf("plain error: %d", got)
	}
}

// TestGateEndToEndPasses runs a tiny suite on a real local server twice: the first run writes
// the baseline, the second compares with it and passes.
func TestGateEndToEndPasses(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline")
	// 3 repeats of half a second keep the test short; the U test cannot call 3 + 3 repeats
	// significant, so the relative checks here exercise the comparison, and the decision is
	// tested in the gate package with controlled figures.
	cfg := writeGateFile(t, `
target: local
repeats: 3
suite:
  - scenario: select-only
    quick: true
    set: {variants: prepared, workers: 2}
    duration: 500ms
    warmup: 100ms
checks:
  - "select-only variant=prepared: errors == 0"
  - "select-only variant=prepared: throughput_per_s > 100"
  - "select-only variant=prepared: throughput_per_s may fall 5%"
  - "select-only variant=prepared: latency_ms.p99 may rise 10%"
`)
	code, stdout, stderr := runCLI(t, onShared(t, "gate", "--config", cfg, "--baseline", base, "--update-baseline", "--out", filepath.Join(dir, "first"))...)
	if code != exitOK {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "PASS: 2 of 4 checks passed, 2 skipped (no baseline)") || !strings.Contains(stdout, "baseline updated: "+base) {
		t.Errorf("first run:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(base, "select-only.json")); err != nil {
		t.Fatalf("no baseline written: %v", err)
	}

	out := filepath.Join(dir, "second")
	code, stdout, stderr = runCLI(t, onShared(t, "gate", "--config", cfg, "--baseline", base, "--out", out)...)
	if code != exitOK {
		t.Fatalf("second run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "PASS: 4 of 4 checks passed") {
		t.Errorf("second run:\n%s", stdout)
	}
	data, err := os.ReadFile(filepath.Join(out, gate.JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name string `xml:"name,attr"`
				Out  string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 4 || doc.Failures != 0 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 4 {
		t.Fatalf("junit.xml: %s", data)
	}
	// The relative checks compared 3 repeats with the baseline's 3.
	for _, c := range doc.Suites[0].Cases[2:] {
		if !strings.Contains(c.Out, "\nbaseline: ") || !strings.Contains(c.Out, "p=") || len(strings.Fields(between(c.Out, "\nnow: ", "\n"))) != 3 {
			t.Errorf("%s: no comparison with the baseline:\n%s", c.Name, c.Out)
		}
	}
	if _, err := os.Stat(filepath.Join(out, gate.MarkdownFile)); err != nil {
		t.Error(err)
	}
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	before, _, _ := strings.Cut(after, to)
	return before
}

// TestGateCatchesInjectedLatency: the same suite with 20 ms added to every round trip fails
// against its own baseline with exit 1 and names the checks. With 4 repeats a side the U test
// needs every slow repeat beyond every baseline one (p = 2/70); 20 ms on a lookup of well under
// 1 ms keeps them apart even on a loaded machine, so it runs beside the parallel tests, and
// half a second a repeat is plenty: 2 workers at 20 ms a round trip do at most 100 lookups a
// second, a fraction of what they do without it. -short skips it (8 repeats one after another).
func TestGateCatchesInjectedLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 8 repeats one after another; runs without -short")
	}
	skipWithoutPostgres(t)
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline")
	// 4 repeats a side: the fewest at which the U test can reach p <= 0.05 (2/70 = 0.029).
	cfg := writeGateFile(t, `
target: local
repeats: 4
suite:
  - scenario: select-only
    quick: true
    set: {variants: prepared, workers: 2}
    duration: 500ms
    warmup: 100ms
checks:
  - "select-only variant=prepared: errors == 0"
  - "select-only variant=prepared: throughput_per_s may fall 5%"
  - "select-only variant=prepared: latency_ms.p50 may rise 10%"
`)
	if code, stdout, stderr := runCLI(t, onShared(t, "gate", "--config", cfg, "--baseline", base, "--update-baseline", "--out", filepath.Join(dir, "base"))...); code != exitOK {
		t.Fatalf("baseline run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr := runCLI(t, onShared(t, "gate", "--config", cfg, "--baseline", base, "--latency", "20ms", "--out", filepath.Join(dir, "slow"))...)
	if code != gate.ExitRegression {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	for _, check := range []string{"select-only variant=prepared: throughput_per_s may fall 5%", "select-only variant=prepared: latency_ms.p50 may rise 10%"} {
		if !strings.Contains(stderr, check) || !strings.Contains(stdout, "✗  "+check) {
			t.Errorf("the failure does not name %q:\n%s\n%s", check, stdout, stderr)
		}
	}
	if strings.Contains(stdout, "✗  select-only variant=prepared: errors == 0") {
		t.Errorf("latency made errors:\n%s", stdout)
	}
}
