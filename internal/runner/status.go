package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/result"
)

// thisProcess identifies this pgscale process in a running result.
func thisProcess() *result.Process {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return &result.Process{PID: pid, Host: host, ProcStart: harness.ProcessStart(pid)}
}

// KilledReason is the reason given to a running result whose process is gone.
func KilledReason(p *result.Process) string {
	return fmt.Sprintf("the run's process (pid %d on %s) is gone: it was killed before it finished", p.PID, p.Host)
}

// RunGone tells whether a running result's process is known to be gone: it ran on this host and
// no process with its pid and start time is alive. A result from another host cannot be told.
func RunGone(res *result.Result) bool {
	if res.Status != result.StatusRunning || res.Process == nil {
		return false
	}
	host, _ := os.Hostname()
	return res.Process.Host == host && !harness.ProcessAlive(res.Process.PID, res.Process.ProcStart)
}

// SettleKilled marks every running result under paths (result files, run directories, or
// directories of runs) whose process is gone as failed, rewriting its result.json, and says so
// on w. With dryRun it only says which it would mark. It returns how many it marked (or would).
func SettleKilled(paths []string, w io.Writer, dryRun bool) (int, error) {
	var errs []error
	marked := 0
	for _, path := range paths {
		err := filepath.WalkDir(path, func(file string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "result.json" && file != path {
				return nil // unreadable parts are for the command reading them to report
			}
			res, err := result.ReadFile(file)
			if err != nil || !RunGone(res) {
				return nil
			}
			marked++
			if dryRun {
				fmt.Fprintf(w, "would mark %s failed: %s\n", file, KilledReason(res.Process))
				return nil
			}
			res.Status, res.Reason = result.StatusFailed, KilledReason(res.Process)
			if err := result.WriteFile(file, res); err != nil {
				return err
			}
			fmt.Fprintf(w, "marked %s failed: %s\n", file, res.Reason)
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return marked, errors.Join(errs...)
}
