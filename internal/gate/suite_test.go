package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

func writeBaselineFiles(t *testing.T, dir string, files map[string]*result.Result) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, res := range files {
		if err := result.WriteFile(filepath.Join(dir, name), res); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMissingBaselineSaysHowToCreateOne(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, decisionConfig)
	dir := filepath.Join(t.TempDir(), "base")
	_, _, err := LoadBaseline(cfg, dir, false)
	want := "baseline " + dir + ": no such directory, and the relative checks need one; create it with " +
		"`pgscale gate --config gate.yaml --baseline " + dir + " --update-baseline` (it runs the suite and writes the baseline when every check passes)"
	if err == nil || err.Error() != want || !usage.Is(err) {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	// With --update-baseline there is nothing to compare with yet, and that is fine.
	if m, _, err := LoadBaseline(cfg, dir, true); m != nil || err != nil {
		t.Fatalf("update: %v %v", m, err)
	}
	// Absolute checks alone need no baseline.
	abs := mustParse(t, "suite:\n  - scenario: select-only\nchecks:\n  - \"select-only: errors == 0\"\n")
	if m, _, err := LoadBaseline(abs, dir, false); m != nil || err != nil {
		t.Fatalf("absolute only: %v %v", m, err)
	}
}

func TestBaselineOfOtherParametersIsRejected(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, "calibrate: true\n"+decisionConfig)
	dir := t.TempDir()
	other := selectOnly(baseTput, baseP99)
	other.Params["workers"] = []int{8}
	other.Duration = "30s"
	queue := selectOnly(baseTput, baseP99)
	queue.Scenario = "queue"
	writeBaselineFiles(t, dir, map[string]*result.Result{"select-only.json": other})
	_, _, err := LoadBaseline(cfg, dir, false)
	path := filepath.Join(dir, "select-only.json")
	want := "baseline " + path + " was measured with other settings than suite entry select-only: workers=8 in the baseline, 4 now; " +
		"duration 30s in the baseline, 5s now\nbaseline " + dir + ": no calibration.json, and calibrate: true needs one\ncreate it with"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !usage.Is(err) {
		t.Fatalf("got\n%v\nwant prefix\n%s", err, want)
	}

	writeBaselineFiles(t, dir, map[string]*result.Result{"select-only.json": queue})
	_, _, err = LoadBaseline(cfg, dir, false)
	if err == nil || !strings.Contains(err.Error(), "was measured with other settings than suite entry select-only: it is a result of queue, not select-only") {
		t.Fatalf("another scenario: %v", err)
	}

	// --update-baseline replaces a mismatched baseline, with a note.
	_, notes, err := LoadBaseline(cfg, dir, true)
	if err != nil || len(notes) != 1 || !strings.HasSuffix(notes[0], "(ignored: --update-baseline replaces it)") {
		t.Fatalf("update: %v %q", err, notes)
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, "calibrate: true\n"+decisionConfig)
	dir := t.TempDir()
	// A result of an entry no longer in the suite goes; other files stay.
	stale := selectOnly(baseTput, baseP99)
	writeBaselineFiles(t, dir, map[string]*result.Result{"old-entry.json": stale})
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("ours\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := measured(selectOnly(baseTput, baseP99), calibration([]float64{1, 2, 3, 4, 5}))
	calEntry := calibrationEntry(&Config{})
	m.Calibration.Params, m.Calibration.Duration, m.Calibration.Warmup = calEntry.params, "2s", "500ms"
	if err := writeBaseline(dir, m); err != nil {
		t.Fatal(err)
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "README.md calibration.json select-only.json" {
		t.Fatalf("baseline files: %v", names)
	}
	got, notes, err := LoadBaseline(cfg, dir, false)
	if err != nil || len(notes) > 0 || got == nil || got.Calibration == nil || len(got.Results["select-only"].Series) != 5 {
		t.Fatalf("load: %v %v %+v", err, notes, got)
	}
}

// TestParameterAddedSinceTheBaseline: a parameter the baseline lacks matches when the suite runs
// what the baseline ran: the default when the parameter came, which for select-only's engine is
// goroutines (ParamSpec.Before), not today's auto; any other value is a mismatch.
func TestParameterAddedSinceTheBaseline(t *testing.T) {
	base := &result.Result{Scenario: "select-only", Duration: "5s", Warmup: "1s",
		Params: map[string]any{"variants": []any{"prepared"}, "workers": []any{4}, "scale": 1, "connect": "pool"}}
	for engine, wantMismatch := range map[string]bool{"goroutines": false, "auto": true, "mux": true} {
		e := &Entry{Scenario: "select-only", duration: 5 * time.Second, warmup: time.Second,
			params: map[string]any{"variants": []any{"prepared"}, "workers": []any{4}, "scale": 1, "connect": "pool", "engine": engine}}
		if got := mismatch(e, base); (len(got) > 0) != wantMismatch {
			t.Errorf("engine=%s against a baseline without engine: mismatch %q, want a mismatch: %v", engine, got, wantMismatch)
		}
	}
}
