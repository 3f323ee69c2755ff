package runner

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/usage"
)

// RunsDir is where runs land by default.
var RunsDir = filepath.Join("results", "runs")

// defaultRun picks the run id and claims the directory of a run given neither --run-id nor
// --out: results/runs/<utc-time>-<random>-<scenario>. The directory is made with os.Mkdir, so
// that two runs started in the same second never share it (a taken name draws another).
func defaultRun(now time.Time, scenario string) (runID, dir string, err error) {
	if err := os.MkdirAll(RunsDir, 0o755); err != nil {
		return "", "", usage.Errorf("cannot create %s for the run's results: %v", RunsDir, unwrapPathError(err))
	}
	for range 100 {
		runID = newRunID(now, scenario)
		dir = filepath.Join(RunsDir, runID)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return runID, dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", "", usage.Errorf("cannot create the run directory %s: %v", dir, unwrapPathError(err))
		}
	}
	return "", "", fmt.Errorf("no free run directory in %s for %s", RunsDir, now.UTC().Format(time.RFC3339))
}

// newRunID is a run id for a run not given one: <utc-time>-<random>-<scenario>. The random part
// keeps apart runs started in the same second (their directories, and their schemas on a dsn
// target).
func newRunID(now time.Time, scenario string) string {
	var suffix [2]byte
	_, _ = rand.Read(suffix[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix[:]) + "-" + scenario
}

// outputFiles are what a run writes into its directory; --force removes them (and nothing else)
// before the run.
var outputFiles = []string{"result.json", "summary.md", report.BenchFile, report.ReportMarkdownFile, report.ReportHTMLFile, report.PlotsDir}

// claimOut checks that dir holds no run's result, or with force clears the run's files from it,
// so that a new run never leaves an earlier one's figures, plots or status beside its own.
func claimOut(dir string, force bool) error {
	if _, err := os.Stat(filepath.Join(dir, "result.json")); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if !force {
		return usage.Fieldf("out", "%s holds a run's result (result.json): give another --out, or --force to clear it first", dir)
	}
	for _, name := range outputFiles {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return usage.Fieldf("out", "%s --force: cannot clear %s: %v", dir, name, unwrapPathError(err))
		}
	}
	temps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")) // left by a write cut short
	for _, t := range temps {
		_ = os.Remove(t)
	}
	return nil
}
