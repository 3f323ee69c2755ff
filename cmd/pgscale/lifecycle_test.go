package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/result"
)

// readRawResult reads out/result.json as a generic document, and checks it against the schema.
func readRawResult(t *testing.T, out string) map[string]any {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := result.Validate(doc); err != nil {
		t.Errorf("result.json does not match the schema: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

// assertFailedByServerDeath checks a result a dead server ended: failed, the reason naming the
// server (not a connection of pgscale's), and the series measured before kept.
func assertFailedByServerDeath(t *testing.T, out, want string) *result.Result {
	t.Helper()
	readRawResult(t, out)
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusFailed {
		t.Errorf("status %q, want failed", res.Status)
	}
	if !strings.HasPrefix(res.Reason, "the server went away") || !strings.Contains(res.Reason, want) {
		t.Errorf("reason %q: want it to start with \"the server went away\" and hold %q", res.Reason, want)
	}
	if strings.Contains(res.Reason, "sampler") {
		t.Errorf("reason %q names the sampler, not the server", res.Reason)
	}
	if len(res.Series) == 0 || res.Series[0].Ops == 0 {
		t.Errorf("the measured series was lost: %d series", len(res.Series))
	}
	if res.FinishedAt.IsZero() {
		t.Errorf("a failed run has no finished_at")
	}
	return res
}

// TestLocalServerKilledFailsTheRun: the postmaster killed mid-run ends the run failed, exit 1,
// with the server's death and the end of its log as the reason, the series kept, nothing left.
func TestLocalServerKilledFailsTheRun(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	bin := buildPgscale(t)
	out := t.TempDir()
	cmd, stderr := startRun(t, bin, out)
	pidFile, err := os.ReadFile(filepath.Join(oneRunDirOf(t, cmd.Process.Pid), "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	postmaster, err := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(postmaster, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 30*time.Second); code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailure, stderr())
	}
	res := assertFailedByServerDeath(t, out, "postgres exited (signal: killed)")
	if !strings.Contains(res.Reason, "terminating connection due to unexpected postmaster exit") &&
		!strings.Contains(res.Reason, "ready to accept connections") {
		t.Errorf("reason %q: want the end of the server's log", res.Reason)
	}
	if all := stderr(); !strings.Contains(all, "wrote "+out) {
		t.Errorf("stderr does not say the result was written:\n%s", all)
	}
	assertNothingLeft(t, res)
}

// TestDSNServerStoppedFailsTheRun: a dsn server stopped mid-run (pg_ctl stop -m immediate, a
// SIGQUIT to the postmaster) fails the run with exit 1: the writes to its dead sockets raise
// SIGPIPE, which is no interrupt.
func TestDSNServerStoppedFailsTheRun(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	ctx := context.Background()
	server, err := (&harness.LocalProvider{}).StartLocal(ctx, harness.Spec{Kind: harness.KindLocal, RunID: "dsn-stop"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close(context.Background()) })
	bin := buildPgscale(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "run", "select-only", "--target", "dsn", "--duration", "60s", "--warmup", "0s",
		"--workers", "4", "--set", "scale=1", "--set", "variants=prepared", "--out", out)
	cmd.Env = append(os.Environ(), envDSN+"="+server.DSN())
	cmd, stderr := startRunWith(t, cmd)
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(server.PID(), syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	code := waitExit(t, cmd, 30*time.Second)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d (130 is SIGPIPE taken for Ctrl-C); stderr:\n%s", code, exitFailure, stderr())
	}
	assertFailedByServerDeath(t, out, "")
	if strings.Contains(stderr(), "stopping, writing what was measured") {
		t.Errorf("the server's death was taken for an interrupt:\n%s", stderr())
	}
}

// TestStatusRunningUntilTheEnd: result.json says running, with finished_at null and the
// process, while the run goes on; after SIGKILL it still does, and pgscale report then marks it
// failed and says so.
func TestStatusRunningUntilTheEnd(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	bin := buildPgscale(t)
	out := t.TempDir()
	cmd, _ := startRun(t, bin, out)
	raw := readRawResult(t, out)
	if raw["status"] != result.StatusRunning || raw["finished_at"] != nil {
		t.Errorf("while running: status %v, finished_at %v; want running and null", raw["status"], raw["finished_at"])
	}
	if p, _ := raw["process"].(map[string]any); p == nil || p["pid"] != float64(cmd.Process.Pid) {
		t.Errorf("while running: process %v, want pid %d", raw["process"], cmd.Process.Pid)
	}
	// The killed run's server dies with it (parent-death signal), but its data directory stays
	// for pgscale clean, as designed (TestCleanReapsOrphanedServer reaps one). The test removes
	// that directory itself: a pgscale clean here would reach every dead run of the tests beside
	// it (TestDSNSafety's and the harness's, which reap their own and check they did).
	runDir := oneRunDirOf(t, cmd.Process.Pid)
	t.Cleanup(func() {
		if err := os.RemoveAll(runDir); err != nil {
			t.Errorf("remove the killed run's directory: %v", err)
		}
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if raw := readRawResult(t, out); raw["status"] != result.StatusRunning {
		t.Errorf("after SIGKILL: status %v, want running", raw["status"])
	}
	var stdout, stderr bytes.Buffer
	rep := exec.Command(bin, "report", out, "--format", "md")
	rep.Stdout, rep.Stderr = &stdout, &stderr
	if err := rep.Run(); err != nil {
		t.Fatalf("pgscale report: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "failed") || !strings.Contains(stdout.String(), "killed before it finished") {
		t.Errorf("report does not say the run failed, killed:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "marked") {
		t.Errorf("report does not say it marked the run failed: %q", stderr.String())
	}
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusFailed || !strings.Contains(res.Reason, "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("after report: status %q, reason %q; want failed naming pid %d", res.Status, res.Reason, cmd.Process.Pid)
	}
	readRawResult(t, out)
}

// TestBrokenStdoutInterrupts: the reader of pgscale's stdout going away (`pgscale run … | less`,
// quit early) stops the run as an interrupt that still writes what was measured.
func TestBrokenStdoutInterrupts(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	bin := buildPgscale(t)
	out := t.TempDir()
	cmd := exec.Command(bin, append([]string{"run", "select-only", "--target", "local", "--duration", "60s", "--warmup", "0s",
		"--workers", "2", "--set", "scale=1", "--set", "variants=prepared", "--out", out}, pacedLoad...)...)
	reader, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd, stderr := startRunWith(t, cmd)
	reader.Close()
	if code := waitExit(t, cmd, 30*time.Second); code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr())
	}
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusInterrupted || !strings.Contains(res.Reason, "standard output was closed") {
		t.Errorf("status %q, reason %q; want interrupted, standard output closed", res.Status, res.Reason)
	}
	if len(res.Series) == 0 || res.Series[0].Ops == 0 {
		t.Errorf("the measured series was lost")
	}
	assertNothingLeft(t, res)
}

// TestRunsStartedAtOnceGetDirectoriesOfTheirOwn: two runs started together with the default
// output directory each write their own.
func TestRunsStartedAtOnceGetDirectoriesOfTheirOwn(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	bin := buildPgscale(t)
	cwd := t.TempDir()
	var cmds []*exec.Cmd
	var stderrs []*bytes.Buffer
	for range 2 {
		cmd := exec.Command(bin, append([]string{"run", "select-only", "--target", "local", "--duration", "1s", "--warmup", "0s",
			"--workers", "2", "--set", "scale=1", "--set", "variants=prepared", "--no-report"}, pacedLoad...)...)
		cmd.Dir = cwd
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmds, stderrs = append(cmds, cmd), append(stderrs, &stderr)
	}
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	wrote := map[string]bool{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, stderrs[i])
		}
		for _, line := range strings.Split(stderrs[i].String(), "\n") {
			if dir, ok := strings.CutPrefix(line, "wrote "); ok {
				wrote[dir] = true
			}
		}
	}
	if len(wrote) != 2 {
		t.Fatalf("the two runs wrote %d distinct directories (%v), want 2", len(wrote), wrote)
	}
	ids := map[string]bool{}
	for dir := range wrote {
		res, err := result.ReadFile(filepath.Join(cwd, dir))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != result.StatusOK {
			t.Errorf("%s: status %q", dir, res.Status)
		}
		ids[res.RunID] = true
	}
	if len(ids) != 2 {
		t.Errorf("the two runs share a run id: %v", ids)
	}
}

// TestOutHoldingAResult: --out at a directory that holds a result is refused (exit 2, nothing
// started) unless --force, which clears the earlier run's files (its plots too) first.
func TestOutHoldingAResult(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	out := t.TempDir()
	old := []byte(`{"schema": "pgscale.result/v1", "status": "ok"}`)
	if err := os.WriteFile(filepath.Join(out, "result.json"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(out, "plots", "old-run-timeline.png")
	mine := filepath.Join(out, "notes.txt") // not pgscale's: --force leaves it
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{stale, mine} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"run", "select-only", "--target", "local", "--duration", "1s", "--warmup", "0s",
		"--workers", "2", "--set", "scale=1", "--set", "variants=prepared", "--out", out}, pacedLoad...)
	code, _, stderr := runCLI(t, args...)
	if code != exitUsage || !strings.Contains(stderr, "--out "+out+" holds a run's result (result.json)") {
		t.Fatalf("exit %d, stderr %q; want 2 and a refusal", code, stderr)
	}
	if strings.Contains(stderr, "target local ready") {
		t.Errorf("a target was started before the refusal:\n%s", stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "result.json")); !bytes.Equal(got, old) {
		t.Errorf("the refused run changed result.json")
	}
	code, _, stderr = runCLI(t, append(args, "--force")...)
	if code != exitOK {
		t.Fatalf("--force: exit %d; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("--force left the earlier run's plot %s", stale)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("--force removed a file that is not pgscale's: %v", err)
	}
	if res, err := result.ReadFile(out); err != nil || res.Status != result.StatusOK || len(res.Series) != 1 {
		t.Errorf("after --force: %v, %+v", err, res)
	}
}

// TestNoWroteWhenWritingFailed: when the result cannot be written at the end (its directory
// removed mid-run), pgscale says why, exits 1, and never says it wrote it.
func TestNoWroteWhenWritingFailed(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	bin := buildPgscale(t)
	out := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, append([]string{"run", "select-only", "--target", "local", "--duration", "2s", "--warmup", "0s",
		"--workers", "2", "--set", "scale=1", "--set", "variants=prepared", "--out", out}, pacedLoad...)...)
	cmd, stderr := startRunWith(t, cmd) // a second into the load, a second before its end
	// The run may be writing a file into out as it goes (RemoveAll then finds the directory not
	// empty, seen once in CI): try again until out is gone.
	var err error
	for range 20 {
		if err = os.RemoveAll(out); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	code := waitExit(t, cmd, 30*time.Second)
	all := stderr()
	if code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailure, all)
	}
	if strings.Contains(all, "wrote ") {
		t.Errorf("pgscale says it wrote a result it could not write:\n%s", all)
	}
	if !strings.Contains(all, "result.json") {
		t.Errorf("stderr does not say which write failed:\n%s", all)
	}
}

// TestDockerServerKilledFailsTheRun: `docker kill` of the postgres container mid-run fails the
// run (exit 1, not 130), naming the stopped container, with the series kept and no container or
// network left.
func TestDockerServerKilledFailsTheRun(t *testing.T) {
	cli := requireDockerCLI(t)
	t.Parallel()
	bin := buildPgscale(t)
	out := t.TempDir()
	cmd := exec.Command(bin, append([]string{"run", "select-only", "--target", "docker", "--image", dockerImage(),
		"--duration", "60s", "--warmup", "0s", "--workers", "2", "--set", "scale=1", "--set", "variants=prepared", "--out", out},
		pacedLoad...)...)
	cmd, stderr := startRunWith(t, cmd)
	owner := harness.LabelOwnerPID + "=" + strconv.Itoa(cmd.Process.Pid)
	ctx := context.Background()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		Filters: make(client.Filters).Add("label", owner).Add("label", harness.LabelRole+"=postgres")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("found %d postgres containers labelled %s, want 1", len(list.Items), owner)
	}
	if _, err := cli.ContainerKill(ctx, list.Items[0].ID, client.ContainerKillOptions{}); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 60*time.Second); code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailure, stderr())
	}
	assertFailedByServerDeath(t, out, "the postgres container")
	if c, n := pgscaleContainers(t, cli, owner); len(c) != 0 || n != 0 {
		t.Errorf("after the kill: containers %v and %d networks labelled %s", c, n, owner)
	}
}
