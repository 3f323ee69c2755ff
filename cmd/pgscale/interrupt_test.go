package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgscale/pgscale/result"
)

// startRun starts `pgscale run select-only` on a local target and returns once the load runs
// (the first progress line), with stderr still draining into a buffer the caller can read.
func startRun(t *testing.T, bin, out string) (*exec.Cmd, func() string) {
	t.Helper()
	return startRunWith(t, exec.Command(bin, "run", "select-only", "--target", "local", "--duration", "60s", "--warmup", "0s",
		"--workers", "4", "--set", "scale=1", "--set", "variants=prepared", "--out", out))
}

// startRunWith starts cmd (a pgscale run) and returns once its load runs, as startRun does.
func startRunWith(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, func() string) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 100)
	var all strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line := <-lines:
			if strings.Contains(line, "ops/s") {
				return cmd, func() string { <-done; return all.String() }
			}
		case <-deadline:
			t.Fatalf("the run did not start its load within 60 s")
		}
	}
}

// assertNothingLeft checks that the local target's data directory and server are gone.
func assertNothingLeft(t *testing.T, res *result.Result) {
	t.Helper()
	dataDir := res.Environment.TargetDetail["data_dir"]
	if dataDir == "" {
		t.Fatalf("result does not name the data directory: %+v", res.Environment.TargetDetail)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory %s is still there (%v)", dataDir, err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(cmdline), dataDir) {
			t.Errorf("a process still runs on %s: %s", dataDir, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) int {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		t.Fatalf("pgscale did not exit within %s of the interrupt", within)
		return -1
	}
}

func TestCtrlCWritesInterruptedResultAndLeavesNothing(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	bin := buildPgscale(t)
	out := t.TempDir()
	cmd, stderr := startRun(t, bin, out)
	time.Sleep(1500 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code := waitExit(t, cmd, 5*time.Second)
	t.Logf("stopped %s after the interrupt", time.Since(sent).Round(time.Millisecond))
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr())
	}
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusInterrupted {
		t.Errorf("status %q, want interrupted", res.Status)
	}
	if len(res.Series) != 1 || res.Series[0].Ops == 0 {
		t.Errorf("the interrupted result lost what was measured: %d series", len(res.Series))
	}
	doc, _ := os.ReadFile(filepath.Join(out, "result.json"))
	if err := result.Validate(doc); err != nil {
		t.Error(err)
	}
	assertNothingLeft(t, res)
}

// runDirsOf lists the local run directories whose owner marker names pid.
func runDirsOf(pid int) []string {
	var dirs []string
	candidates, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgscale-local-*"))
	for _, dir := range candidates {
		b, err := os.ReadFile(filepath.Join(dir, "pgscale-owner"))
		var owner struct {
			PID int `json:"pid"`
		}
		if err == nil && json.Unmarshal(b, &owner) == nil && owner.PID == pid {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// oneRunDirOf is the one local target's run directory that pgscale process pid owns; finding
// none or several fails t.
func oneRunDirOf(t *testing.T, pid int) string {
	t.Helper()
	dirs := runDirsOf(pid)
	if len(dirs) != 1 {
		t.Fatalf("found %d run directories owned by pgscale (pid %d), want 1", len(dirs), pid)
	}
	return dirs[0]
}

func TestSecondCtrlCStopsAtOnceAndStillCleansUp(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	bin := buildPgscale(t)
	out := t.TempDir()
	cmd, stderr := startRun(t, bin, out)
	runDir := oneRunDirOf(t, cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(20 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGINT)
	code := waitExit(t, cmd, 5*time.Second)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr())
	}
	if _, err := os.Stat(runDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run directory %s is still there after a second Ctrl-C (%v); stderr:\n%s", runDir, err, stderr())
	}
}
