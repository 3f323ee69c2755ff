package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/gate"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/internal/workload"
)

// workloadRun is a run of a workload file: the runner's options and the checks to hold after.
type workloadRun struct {
	file   *workload.File
	checks []*gate.Check
}

// loadWorkload reads a workload file and its checks, and fills opts (made from the flags) with
// the file's scenario and load shape. Every problem is a usage error: nothing has started.
func loadWorkload(path string, opts runner.Options) (*workloadRun, runner.Options, error) {
	f, err := workload.Load(path)
	if err != nil {
		return nil, opts, err
	}
	w := &workloadRun{file: f}
	var errs []error
	for _, c := range f.Checks {
		chk, err := gate.ParseExpr(c.Expr)
		if err != nil {
			errs = append(errs, usage.Errorf("%s:%d: %v", path, c.Line, err))
			continue
		}
		w.checks = append(w.checks, chk)
	}
	if len(errs) > 0 {
		return nil, opts, usage.Join(errs)
	}
	opts, err = f.RunOptions(opts, time.Now())
	if err != nil {
		return nil, opts, err
	}
	return w, opts, nil
}

// runWorkload runs a workload file and holds its checks: a failed check exits 1.
func runWorkload(cmd *cobra.Command, w *workloadRun, opts runner.Options, asJSON bool, stdout, stderr io.Writer) error {
	res, err := runAndPrint(cmd, opts, asJSON, stdout, stderr)
	if err != nil || res == nil || len(w.checks) == 0 {
		return err
	}
	failed := 0
	for _, c := range w.checks {
		for _, r := range gate.HoldExpr(c, res) {
			fmt.Fprintf(stderr, "check %s\n", r)
			if !r.Pass {
				failed++
			}
		}
	}
	if failed > 0 {
		return &gate.ExitError{Code: gate.ExitRegression, Msg: fmt.Sprintf("%s: %d check%s failed", w.file.Path, failed, plural(failed))}
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
