package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/pgscale/pgscale/result"
)

// startRun starts `pgscale run select-only` on a local target and returns once the load runs
// (the first progress line that counts operations), with stderr still draining into a buffer the
// caller can read. The load is paced (pacedLoad): what these tests check is how a run ends, not
// how fast it goes.
func startRun(t *testing.T, bin, out string) (*exec.Cmd, func() string) {
	t.Helper()
	return startRunWith(t, exec.Command(bin, append([]string{"run", "select-only", "--target", "local", "--duration", "60s", "--warmup", "0s",
		"--workers", "4", "--set", "scale=1", "--set", "variants=prepared", "--out", out}, pacedLoad...)...))
}

// startRunWith starts cmd (a pgscale run) and returns once its load runs, as startRun does. Its
// stderr is a terminal where one can be had (a pseudo-terminal this test reads): there pgscale
// redraws its progress line every second, not every 5 s as into a pipe, so the first one comes
// a second into the load.
func startRunWith(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, func() string) {
	t.Helper()
	return startRunWithin(t, cmd, 60*time.Second)
}

// startRunWithin is startRunWith for a run whose load may take up to limit to start (a docker
// target's containers).
func startRunWithin(t *testing.T, cmd *exec.Cmd, limit time.Duration) (*exec.Cmd, func() string) {
	t.Helper()
	lines, all := startOnTerminal(t, cmd)
	deadline := time.After(limit)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("pgscale ended before its load started:\n%s", all())
			}
			if countsOps(line) {
				return cmd, all
			}
		case <-deadline:
			t.Fatalf("the run did not start its load within %s", limit)
		}
	}
}

// opsLine is a progress line's count of the operations of its last second.
var opsLine = regexp.MustCompile(`(\d+) ops/s`)

// countsOps tells whether line is a progress line with operations done.
func countsOps(line string) bool {
	m := opsLine.FindStringSubmatch(line)
	return m != nil && m[1] != "0"
}

// startOnTerminal starts cmd with its stderr on the terminal side of a pseudo-terminal, killed
// when the test ends, and reads that terminal: each line (a progress line redrawn after \r is a
// line of its own) goes to the returned channel, which closes when cmd has ended; all waits for
// that end and returns everything read. Where no pseudo-terminal can be had, stderr is a pipe,
// and the first progress line comes 5 s into the load.
func startOnTerminal(t *testing.T, cmd *exec.Cmd) (lines <-chan string, all func() string) {
	t.Helper()
	var r io.ReadCloser
	ptm, pts, err := pty.Open()
	if err != nil {
		t.Logf("no pseudo-terminal (%v): stderr is a pipe", err)
		if r, err = cmd.StderrPipe(); err != nil {
			t.Fatal(err)
		}
	} else {
		cmd.Stderr, r = pts, ptm
	}
	err = cmd.Start()
	if pts != nil {
		pts.Close() // the child has its own copy: reading ends (EIO) once it has ended
	}
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	ch := make(chan string, 100)
	var mu sync.Mutex
	var b strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Split(splitLines)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			b.WriteString(line + "\n")
			mu.Unlock()
			select {
			case ch <- line:
			default:
			}
		}
	}()
	return ch, func() string {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return b.String()
	}
}

// splitLines is bufio.ScanLines for a terminal: a line ends at \n or \r, and empty ones are
// dropped.
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	start := 0
	for start < len(data) && (data[start] == '\n' || data[start] == '\r') {
		start++
	}
	if i := bytes.IndexAny(data[start:], "\r\n"); i >= 0 {
		return start + i + 1, data[start : start+i], nil
	}
	if atEOF && start < len(data) {
		return len(data), data[start:], nil
	}
	return start, nil, nil
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

// TestCtrlCWritesInterruptedResultAndLeavesNothing interrupts a closed loop on the mux engine (the
// default engine, which paced runs do not use; one worker, so that it takes less CPU from the
// tests beside it): the result is written as interrupted, with what was measured.
func TestCtrlCWritesInterruptedResultAndLeavesNothing(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	bin := buildPgscale(t)
	out := t.TempDir()
	cmd, stderr := startRunWith(t, exec.Command(bin, "run", "select-only", "--target", "local", "--duration", "60s",
		"--warmup", "0s", "--workers", "1", "--set", "scale=1", "--set", "variants=prepared", "--set", "engine=mux",
		"--out", out)) // a second of load measured
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// Well short of the run's 60 s, with room for a starved machine to write the result and the
	// report and stop its server.
	code := waitExit(t, cmd, 20*time.Second)
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
	} else if res.Series[0].Engine != "mux" {
		t.Errorf("engine %q, want mux", res.Series[0].Engine)
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
	// pgscale gives the cleanup 5 s after a second Ctrl-C, and a server that will not stop 3 s
	// more after SIGKILL: the bound is those and some slack, far short of the run's 60 s.
	code := waitExit(t, cmd, 12*time.Second)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr())
	}
	if _, err := os.Stat(runDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run directory %s is still there after a second Ctrl-C (%v); stderr:\n%s", runDir, err, stderr())
	}
}
