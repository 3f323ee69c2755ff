package runner

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/result"
)

// deadProcess is a process of this host that has exited, as a killed run's is.
func deadProcess(t *testing.T) *result.Process {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := thisProcess()
	p.PID, p.ProcStart = cmd.Process.Pid, ""
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeRunning(t *testing.T, dir string, p *result.Process) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	res := &result.Result{Schema: result.SchemaVersion, Scenario: "select-only", RunID: filepath.Base(dir),
		Status: result.StatusRunning, StartedAt: time.Now().UTC(), Process: p, Params: map[string]any{}, Series: []result.Series{}}
	if err := result.WriteFile(filepath.Join(dir, "result.json"), res); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "result.json")
}

// TestSettleKilled: a running result whose process is gone is marked failed (only said with
// dryRun); one whose process lives, or that ran on another host, is left running.
func TestSettleKilled(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	killed := writeRunning(t, filepath.Join(root, "killed"), deadProcess(t))
	live := writeRunning(t, filepath.Join(root, "live"), thisProcess())
	elsewhere := deadProcess(t)
	elsewhere.Host = "another-host"
	remote := writeRunning(t, filepath.Join(root, "remote"), elsewhere)

	var out bytes.Buffer
	if n, err := SettleKilled([]string{root}, &out, true); err != nil || n != 1 || !strings.Contains(out.String(), "would mark "+killed) {
		t.Fatalf("dry run: %d, %v, %q; want 1 would-mark of %s", n, err, out.String(), killed)
	}
	if res, _ := result.ReadFile(killed); res.Status != result.StatusRunning {
		t.Errorf("the dry run changed %s to %s", killed, res.Status)
	}
	out.Reset()
	if n, err := SettleKilled([]string{root}, &out, false); err != nil || n != 1 {
		t.Fatalf("settle: %d, %v; want 1", n, err)
	}
	res, err := result.ReadFile(killed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusFailed || !strings.Contains(res.Reason, "killed before it finished") {
		t.Errorf("killed run: status %q, reason %q", res.Status, res.Reason)
	}
	for _, f := range []string{live, remote} {
		if res, _ := result.ReadFile(f); res.Status != result.StatusRunning {
			t.Errorf("%s: status %q, want running", f, res.Status)
		}
	}
}
