package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// localOwnerFile is the marker in a run directory naming the pgscale process that owns it.
const localOwnerFile = "pgscale-owner"

// Clean's limits.
const (
	// cleanMarkerGrace protects a run directory that has no readable owner marker yet: it may
	// be being created (the marker is written right after the directory). Older ones are orphans.
	cleanMarkerGrace = time.Minute
	// cleanQuitTimeout is how long an orphaned postmaster gets to exit after SIGQUIT (immediate
	// shutdown, normally a few milliseconds) before SIGKILL.
	cleanQuitTimeout = 3 * time.Second
)

// CleanReport lists what Clean removed, or would remove on a dry run.
type CleanReport struct {
	Removed []CleanItem
	// Kept lists what looked like pgscale's but belongs to a live run, so was left alone.
	Kept []string
}

// CleanItem is one thing Clean removed (or would remove).
type CleanItem struct {
	Kind   string // "local server", "local pgbouncer", "local data directory", "template build", "docker container", "docker network"
	Name   string // a path, or a process or container ID
	Reason string // why it counts as left over
}

// add appends other's items to r.
func (r *CleanReport) add(other CleanReport) {
	r.Removed = append(r.Removed, other.Removed...)
	r.Kept = append(r.Kept, other.Kept...)
}

// cleanScope says where reapers look.
type cleanScope struct {
	tempDir string // where local run directories and templates are (os.TempDir())
	docker  bool   // look at the Docker engine's containers and networks too (tests of the local reapers do not)
}

// cleanReaper finds and removes one kind of leftover, writing one line per thing removed.
type cleanReaper func(ctx context.Context, w io.Writer, dryRun bool, scope cleanScope) (CleanReport, error)

// cleanReapers lists the reapers Clean runs, in order.
func cleanReapers() []cleanReaper {
	return []cleanReaper{
		reapLocalRuns,
		reapTemplateBuilds,
		reapDockerRuns,
	}
}

// Clean removes what killed runs left behind: local run directories under os.TempDir() whose
// owning pgscale process is gone, stopping the server (and PgBouncer) still running in one first,
// unfinished template builds, and containers and networks labelled by pgscale processes that are
// gone. It writes one line per thing removed ("would remove" on a dry run)
// and leaves everything of a live run alone. It goes on past a failure and returns every error.
func Clean(ctx context.Context, w io.Writer, dryRun bool) (CleanReport, error) {
	return cleanIn(ctx, w, dryRun, cleanScope{tempDir: os.TempDir(), docker: true})
}

// cleanIn is Clean within scope.
func cleanIn(ctx context.Context, w io.Writer, dryRun bool, scope cleanScope) (CleanReport, error) {
	var report CleanReport
	var errs []error
	for _, reap := range cleanReapers() {
		if err := ctx.Err(); err != nil {
			return report, errors.Join(append(errs, fmt.Errorf("clean: %w", context.Cause(ctx)))...)
		}
		r, err := reap(ctx, w, dryRun, scope)
		report.add(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return report, errors.Join(errs...)
}

// reapLocalRuns handles the pgscale-local-* directories in the temporary directory.
func reapLocalRuns(ctx context.Context, w io.Writer, dryRun bool, scope cleanScope) (CleanReport, error) {
	var report CleanReport
	parent := scope.tempDir
	entries, err := os.ReadDir(parent)
	if err != nil {
		return report, fmt.Errorf("clean: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), localDirPrefix) { // IsDir is false for symlinks
			continue
		}
		if err := ctx.Err(); err != nil {
			return report, errors.Join(append(errs, fmt.Errorf("clean: %w", context.Cause(ctx)))...)
		}
		dir := filepath.Join(parent, e.Name())
		reason, orphan := localRunOrphaned(dir)
		if !orphan {
			report.Kept = append(report.Kept, dir)
			continue
		}
		r, err := reapLocalRun(w, dryRun, dir, reason)
		report.add(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return report, errors.Join(errs...)
}

// localRunOrphaned tells whether the run directory's owner is gone, and why it thinks so.
func localRunOrphaned(dir string) (reason string, orphan bool) {
	owner, err := readLocalOwner(dir)
	if err == nil {
		if cleanProcessAlive(owner.PID, owner.ProcStart) {
			return "", false
		}
		return fmt.Sprintf("pgscale pid %d, started %s, is gone", owner.PID,
			owner.StartedAt.Local().Format(time.DateTime)), true
	}
	if errors.Is(err, fs.ErrPermission) {
		return "", false // another user's run: not ours to judge
	}
	fi, statErr := os.Stat(dir)
	if statErr != nil || time.Since(fi.ModTime()) < cleanMarkerGrace {
		return "", false
	}
	return "no owner marker (" + err.Error() + ")", true
}

// reapLocalRun stops the server running in an orphaned run directory, then removes the directory.
func reapLocalRun(w io.Writer, dryRun bool, dir, reason string) (CleanReport, error) {
	var report CleanReport
	if pid := cleanLivePooler(dir); pid > 0 {
		if !dryRun {
			if err := cleanStopProcess(pid); err != nil {
				return report, fmt.Errorf("clean: stop pgbouncer pid %d of %s: %w", pid, dir, err)
			}
		}
		report.Removed = append(report.Removed, CleanItem{Kind: "local pgbouncer", Name: strconv.Itoa(pid), Reason: reason})
		fmt.Fprintf(w, "%s local pgbouncer: pid %d of %s (%s)\n", cleanVerb(dryRun, "stopped", "stop"), pid, dir, reason)
	}
	dataDir := filepath.Join(dir, localDataSubdir)
	if pid := cleanLivePostmaster(dataDir); pid > 0 {
		if !dryRun {
			if err := cleanStopProcess(pid); err != nil {
				return report, fmt.Errorf("clean: stop postgres pid %d in %s: %w", pid, dataDir, err)
			}
		}
		report.Removed = append(report.Removed, CleanItem{Kind: "local server", Name: strconv.Itoa(pid), Reason: reason})
		fmt.Fprintf(w, "%s local server: postgres pid %d on %s (%s)\n", cleanVerb(dryRun, "stopped", "stop"), pid, dataDir, reason)
	}
	if !dryRun {
		if err := localRemoveAll(dir); err != nil {
			return report, fmt.Errorf("clean: remove %s: %w", dir, err)
		}
	}
	report.Removed = append(report.Removed, CleanItem{Kind: "local data directory", Name: dir, Reason: reason})
	fmt.Fprintf(w, "%s local data directory %s (%s)\n", cleanVerb(dryRun, "removed", "remove"), dir, reason)
	return report, nil
}

// cleanVerb is what a line says was done: done, or "would <plan>" on a dry run.
func cleanVerb(dryRun bool, done, plan string) string {
	if dryRun {
		return "would " + plan
	}
	return done
}

// reapTemplateBuilds removes unfinished template builds (pgscale-template-*.tmp-<pid>-*) of
// processes that are gone, in the temporary directory. Finished templates are a cache, not
// leftovers, and stay.
func reapTemplateBuilds(ctx context.Context, w io.Writer, dryRun bool, scope cleanScope) (CleanReport, error) {
	var report CleanReport
	parent := scope.tempDir
	entries, err := os.ReadDir(parent)
	if err != nil {
		return report, fmt.Errorf("clean: %w", err)
	}
	var errs []error
	for _, e := range entries {
		_, rest, ok := strings.Cut(e.Name(), ".tmp-")
		if !e.IsDir() || !strings.HasPrefix(e.Name(), localTemplatePrefix) || !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return report, errors.Join(append(errs, fmt.Errorf("clean: %w", context.Cause(ctx)))...)
		}
		dir := filepath.Join(parent, e.Name())
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err == nil && cleanProcessAlive(pid, "") {
			report.Kept = append(report.Kept, dir)
			continue
		}
		reason := fmt.Sprintf("pgscale pid %s is gone", pidText)
		if !dryRun {
			if err := localRemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("clean: remove %s: %w", dir, err))
				continue
			}
		}
		report.Removed = append(report.Removed, CleanItem{Kind: "template build", Name: dir, Reason: reason})
		fmt.Fprintf(w, "%s unfinished template build %s (%s)\n", cleanVerb(dryRun, "removed", "remove"), dir, reason)
	}
	return report, errors.Join(errs...)
}

// localOwner is the content of a run directory's owner marker.
type localOwner struct {
	PID int `json:"pid"`
	// ProcStart is the process's start time in clock ticks since boot (/proc/<pid>/stat, Linux),
	// so that a new process that got the same PID is not taken for the owner.
	ProcStart string    `json:"proc_start,omitempty"`
	StartedAt time.Time `json:"started_at"`
	RunID     string    `json:"run_id,omitempty"`
}

// writeLocalOwner writes the owner marker for this process into dir (atomically: a killed run
// never leaves half a marker).
func writeLocalOwner(dir, runID string) error {
	pid := os.Getpid()
	owner := localOwner{PID: pid, StartedAt: time.Now().UTC(), RunID: runID}
	if st, ok := cleanProcStat(pid); ok {
		owner.ProcStart = st.start
	}
	b, err := json.Marshal(owner)
	if err != nil {
		return fmt.Errorf("local target: owner marker: %w", err)
	}
	tmp := filepath.Join(dir, localOwnerFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("local target: owner marker: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, localOwnerFile)); err != nil {
		return fmt.Errorf("local target: owner marker: %w", err)
	}
	return nil
}

// readLocalOwner reads a run directory's owner marker.
func readLocalOwner(dir string) (localOwner, error) {
	var owner localOwner
	b, err := os.ReadFile(filepath.Join(dir, localOwnerFile))
	if err != nil {
		return owner, err
	}
	if err := json.Unmarshal(b, &owner); err != nil {
		return owner, fmt.Errorf("owner marker: %w", err)
	}
	if owner.PID <= 0 {
		return owner, fmt.Errorf("owner marker: no pid")
	}
	return owner, nil
}

// cleanLivePostmaster returns the PID in dataDir's postmaster.pid when that process is alive and
// is the postmaster of dataDir (not a later process that got the same PID), else 0.
func cleanLivePostmaster(dataDir string) int {
	f, err := os.Open(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	if err != nil || pid <= 0 || !cleanProcessAlive(pid, "") || !cleanIsPostmasterOf(pid, dataDir) {
		return 0
	}
	return pid
}

// cleanLivePooler returns the PID in a run directory's pgbouncer.pid when that process is alive
// and is a pgbouncer started on that directory's configuration, else 0. (On Linux a pgbouncer dies
// with pgscale; elsewhere it can outlive a killed run.)
func cleanLivePooler(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, localPoolerPID))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !cleanProcessAlive(pid, "") {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		out, perr := exec.Command("ps", "-ww", "-o", "command=", "-p", strconv.Itoa(pid)).Output()
		if perr != nil {
			return 0
		}
		cmdline = out
	}
	if !strings.Contains(string(cmdline), "pgbouncer") || !strings.Contains(string(cmdline), filepath.Join(dir, localPoolerIni)) {
		return 0
	}
	return pid
}

// cleanIsPostmasterOf tells whether process pid is a postgres server whose data directory is
// dataDir: on Linux by its working directory (the postmaster changes to its data directory),
// elsewhere by its command line (-D dataDir).
func cleanIsPostmasterOf(pid int, dataDir string) bool {
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return false
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil {
		return cwd == want
	}
	out, err := exec.Command("ps", "-ww", "-o", "command=", "-p", strconv.Itoa(pid)).Output()
	return err == nil && strings.Contains(string(out), "postgres") && strings.Contains(string(out), dataDir)
}

// cleanStopProcess stops an orphaned postmaster: SIGQUIT (immediate shutdown, which also ends its
// backends), then SIGKILL if it is still there after cleanQuitTimeout.
func cleanStopProcess(pid int) error {
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGQUIT, cleanQuitTimeout}, {syscall.SIGKILL, cleanQuitTimeout}} {
		if err := syscall.Kill(pid, step.sig); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return nil
			}
			return fmt.Errorf("%v: %w", step.sig, err)
		}
		for deadline := time.Now().Add(step.wait); time.Now().Before(deadline); {
			if !cleanProcessAlive(pid, "") {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return fmt.Errorf("still running after SIGKILL")
}

// cleanProcessAlive tells whether process pid exists, is not a zombie and, when procStart is
// known, started at procStart (so a reused PID does not count).
func cleanProcessAlive(pid int, procStart string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	st, ok := cleanProcStat(pid)
	if !ok {
		return true // no /proc: existence is all we can know
	}
	return st.state != 'Z' && st.state != 'X' && (procStart == "" || st.start == procStart)
}

// cleanProcStatus is what Clean reads from /proc/<pid>/stat.
type cleanProcStatus struct {
	state byte   // R, S, D, Z (zombie), X (dead), ...
	start string // start time in clock ticks since boot
}

// cleanProcStat reads /proc/<pid>/stat (Linux). The command name in parentheses may itself
// hold spaces and parentheses, so fields are counted from the last ')'.
func cleanProcStat(pid int) (cleanProcStatus, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cleanProcStatus{}, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return cleanProcStatus{}, false
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 of proc(5) (state); starttime is field 22.
	if len(fields) < 20 || len(fields[0]) != 1 {
		return cleanProcStatus{}, false
	}
	return cleanProcStatus{state: fields[0][0], start: fields[19]}, true
}
