package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/result"
)

// TestRunWithRepeatsShowsTheirSpread runs three repeats of a real run and checks the spread over
// them in the console summary, result.json (which must still match the schema) and compare: each
// figure's median of the three, its cv, and min to max as the interval of the median at 75%
// (1 − 2/2³), the level three repeats reach.
func TestRunWithRepeatsShowsTheirSpread(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, append([]string{"run", "select-only", "--target", "local", "--duration", "1s", "--warmup", "0s",
		"--workers", "2", "--set", "scale=1", "--set", "variants=prepared", "--repeat", "3", "--no-report", "--out", out}, pacedLoad...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	row := regexp.MustCompile(`(?m)^  prepared +\S.* +ops/s +3 +[0-9.]+ +[0-9.]+% +[0-9.]+–[0-9.]+ +75%$`)
	if !strings.Contains(stdout, "spread over repeats: median of the per-repeat figures;") || !row.MatchString(stdout) {
		t.Errorf("the summary lacks the spread over 3 repeats:\n%s", stdout)
	}

	readRawResult(t, out) // validates against the schema
	res, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Repeats) != 1 || len(res.Repeats[0].Figures) == 0 {
		t.Fatalf("result.json repeats = %+v, want the spread of prepared", res.Repeats)
	}
	var ops []float64
	for _, s := range res.Series {
		ops = append(ops, s.ThroughputPerS)
	}
	got, want := res.Repeats[0].Figures[0], result.SpreadOf("ops/s", ops)
	if got.Figure != "ops/s" || got.N != 3 || got.Median != want.Median || got.Low == nil || *got.Low != *want.Low ||
		*got.High != *want.High || got.Level != 0.75 || !(*got.Low <= got.Median && got.Median <= *got.High) {
		t.Errorf("ops/s spread in result.json = %+v, want %+v of the series' %v", got, want, ops)
	}

	code, stdout, stderr = runCLI(t, "compare", out, out)
	if code != 0 {
		t.Fatalf("compare: exit %d: %s", code, stderr)
	}
	if !regexp.MustCompile(`(?m)^    interval +\S+–\S+ +\S+–\S+  \(75%\)$`).MatchString(stdout) {
		t.Errorf("compare lacks the interval of each side's median:\n%s", stdout)
	}
}
