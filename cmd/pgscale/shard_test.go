package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios/queue"
	"github.com/pgscale/pgscale/result"
)

// shardArgs are the arguments of shard i of n of a select-only run against dsn (none: the dsn in
// PGSCALE_DSN, for a process of its own).
func shardArgs(dsn, runID, out string, i, n int, extra ...string) []string {
	args := []string{"run", "select-only", "--target", "dsn", "--shard", fmt.Sprintf("%d/%d", i, n),
		"--run-id", runID, "--set", "variants=prepared", "--set", "scale=1", "--no-report", "--barrier-timeout", "60s",
		"--out", filepath.Join(out, fmt.Sprintf("shard-%d", i))}
	if dsn != "" {
		args = append(args, "--dsn", dsn)
	}
	return append(args, extra...)
}

func runSchemaGone(t *testing.T, dsn, runID string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", harness.RunSchema(runID)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 0
}

// sessionsOf lists the client sessions on dsn's server, for a failure's message.
func sessionsOf(t *testing.T, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err.Error()
	}
	defer conn.Close(context.Background())
	var list string
	if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(format('%s %s %s %s', pid, application_name, state, left(query, 60)), '; '), 'none')
		FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&list); err != nil {
		return err.Error()
	}
	return list
}

func validateFile(t *testing.T, dir string) *result.Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := result.Validate(data); err != nil {
		t.Fatalf("%s does not validate: %v", dir, err)
	}
	r, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestShardedRunAgainstOneServer runs select-only as shards of one run against one local server
// used as a dsn target, and merges them.
func TestShardedRunAgainstOneServer(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	dsn := harnesstest.DSN(t) // the shards' run works in a schema of its own

	t.Run("two shards in two processes merge to their sum", func(t *testing.T) {
		const runID = "e2e-two"
		dir := t.TempDir()
		var wg sync.WaitGroup
		codes, stderrs := make([]int, 2), make([]string, 2)
		for i := 0; i < 2; i++ {
			wg.Go(func() {
				codes[i], _, stderrs[i] = runCLI(t, shardArgs(dsn, runID, dir, i, 2, append([]string{"--set", "workers=3", "--duration", "2s", "--warmup", "0s"}, pacedLoad...)...)...)
			})
		}
		wg.Wait()
		for i := range codes {
			if codes[i] != exitOK {
				t.Fatalf("shard %d: exit %d\n%s", i, codes[i], stderrs[i])
			}
		}
		var shards []*result.Result
		for i := 0; i < 2; i++ {
			r := validateFile(t, filepath.Join(dir, fmt.Sprintf("shard-%d", i)))
			if r.Shard == nil || r.Shard.Index == nil || *r.Shard.Index != i || r.Shard.Count != 2 || r.RunID != runID {
				t.Fatalf("shard %d: stamped %+v, run id %s", i, r.Shard, r.RunID)
			}
			shards = append(shards, r)
		}
		// 3 workers split as k6 splits them: round(1.5) = 2, then 3 - 2 = 1.
		s0, s1 := shards[0].Series[0], shards[1].Series[0]
		if s0.Workers != 2 || s1.Workers != 1 || s0.Ops == 0 || s1.Ops == 0 {
			t.Fatalf("shard workers %d and %d (want 2 and 1), ops %d and %d", s0.Workers, s1.Workers, s0.Ops, s1.Ops)
		}
		// Shard 1 does no setup: without the barrier it would have looked up accounts while shard
		// 0 was still creating them, and failed.
		if n := report.TotalErrors(s0) + report.TotalErrors(s1); n != 0 {
			t.Errorf("%d lookups failed (%v, %v): shard 1 did not wait for shard 0's setup", n, s0.Errors, s1.Errors)
		}
		t.Logf("the shards' series started %s apart", s0.StartedAt.Sub(s1.StartedAt).Abs())
		if !strings.Contains(stderrs[1], "setup is shard 0's") {
			t.Errorf("shard 1 did not leave the setup to shard 0:\n%s", stderrs[1])
		}

		mergedDir := filepath.Join(dir, "merged")
		code, stdout, stderr := runCLI(t, "merge", dir, "--out", mergedDir, "--no-report")
		if code != exitOK || !strings.Contains(stderr, "merged 2 of 2 shards of run e2e-two") {
			t.Fatalf("merge: exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stdout, "select-only") {
			t.Fatalf("merge printed no summary: %q", stdout)
		}
		m := validateFile(t, mergedDir)
		ms := m.Series[0]
		if m.Status != result.StatusOK || ms.Ops != s0.Ops+s1.Ops || ms.Workers != 3 || len(m.Environment.Hosts) != 2 {
			t.Fatalf("merged: status %s, ops %d (shards %d + %d), workers %d, hosts %d", m.Status, ms.Ops, s0.Ops, s1.Ops, ms.Workers, len(m.Environment.Hosts))
		}
		h := result.NewHistogram()
		for _, s := range []result.Series{s0, s1} {
			sh, err := result.DecodeHistogram(s.Histograms.Latency)
			if err != nil {
				t.Fatal(err)
			}
			h.Merge(sh)
		}
		if ms.LatencyMs != result.PercentilesOf(h) || ms.LatencyMs.Count != s0.LatencyMs.Count+s1.LatencyMs.Count {
			t.Fatalf("merged latency %+v, want %+v from the shards' histograms", ms.LatencyMs, result.PercentilesOf(h))
		}
		// The other commands read it like any result.
		if code, _, stderr := runCLI(t, "report", mergedDir, "--format", "md"); code != exitOK {
			t.Fatalf("report of the merged result: exit %d\n%s", code, stderr)
		}
		if code, _, stderr := runCLI(t, "compare", filepath.Join(dir, "shard-0"), mergedDir); code != exitOK {
			t.Fatalf("compare with the merged result: exit %d\n%s", code, stderr)
		}
		if !runSchemaGone(t, dsn, runID) {
			t.Error("the run's schema is still on the server")
		}
		// Merging shards of different runs is a usage error.
		other := filepath.Join(dir, "other")
		if err := os.MkdirAll(other, 0o755); err != nil {
			t.Fatal(err)
		}
		r := *shards[1]
		r.RunID = "e2e-other"
		if err := result.WriteFile(filepath.Join(other, "result.json"), &r); err != nil {
			t.Fatal(err)
		}
		code, _, stderr = runCLI(t, "merge", filepath.Join(dir, "shard-0"), other, "--out", t.TempDir())
		if code != exitUsage || !strings.Contains(stderr, "is of run e2e-other but") {
			t.Fatalf("merging two runs: exit %d, %s", code, stderr)
		}
	})

	t.Run("a killed shard leaves the merged result incomplete", func(t *testing.T) {
		bin := buildPgscale(t) // a process to kill
		const runID = "e2e-kill"
		dir := t.TempDir()
		extra := append([]string{"--set", "workers=2,4", "--duration", "3s", "--warmup", "0s"}, pacedLoad...)
		cmd := exec.Command(bin, shardArgs("", runID, dir, 1, 2, extra...)...)
		cmd.Env = dsnEnviron(dsn)
		lines, _ := startOnTerminal(t, cmd) // a progress line each second of load
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		loading := make(chan struct{})
		go func() {
			once := sync.Once{}
			for line := range lines {
				if countsOps(line) {
					once.Do(func() { close(loading) })
				}
			}
		}()
		var code0 int
		var stderr0 string
		done := make(chan struct{})
		go func() {
			defer close(done)
			code0, _, stderr0 = runCLI(t, shardArgs(dsn, runID, dir, 0, 2, extra...)...)
		}()
		select {
		case <-loading:
		case <-done:
			t.Fatalf("shard 0 ended before shard 1 put on load: exit %d\n%s", code0, stderr0)
		case <-time.After(60 * time.Second):
			t.Fatal("shard 1 put on no load within 60 s")
		}
		// Killed mid-point, as an evicted pod is: no chance to write or say goodbye.
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		if code0 != exitOK {
			t.Fatalf("shard 0: exit %d (it should finish without shard 1)\n%s", code0, stderr0)
		}
		r0 := validateFile(t, filepath.Join(dir, "shard-0"))
		if len(r0.Series) != 2 || r0.Shard == nil || fmt.Sprint(r0.Shard.Lost) != "[1]" {
			t.Fatalf("shard 0: %d series, shard %+v; want both points and shard 1 lost\n%s", len(r0.Series), r0.Shard, stderr0)
		}
		code, _, mergeErr := runCLI(t, "merge", dir, "--out", filepath.Join(dir, "merged"), "--no-report")
		// Shard 1's result.json said running when it was killed; merge finds its process gone.
		if code != exitFailure || !strings.Contains(mergeErr, "the merged result is incomplete: shard 1/2 failed: the run's process (pid "+
			strconv.Itoa(cmd.Process.Pid)) || !strings.Contains(mergeErr, "killed before it finished") {
			t.Fatalf("merge: exit %d, want %d with the run incomplete, shard 1 killed\n%s", code, exitFailure, mergeErr)
		}
		m := validateFile(t, filepath.Join(dir, "merged"))
		if m.Status != result.StatusIncomplete || fmt.Sprint(m.Shard.Lost) != "[1]" ||
			len(m.Warnings) == 0 || !strings.HasPrefix(m.Warnings[0], "incomplete: ") {
			t.Fatalf("merged: status %s, shard %+v, warnings %q", m.Status, m.Shard, m.Warnings)
		}
		if !runSchemaGone(t, dsn, runID) {
			t.Errorf("the run's schema is still on the server after its last live shard finished\nsessions: %s\nshard 0 said:\n%s",
				sessionsOf(t, dsn), stderr0)
		}
	})
}

// queueShards runs n shards of a queue run in n processes of bin, each in a working directory
// of its own, and returns their exit codes and stderr.
func queueShards(t *testing.T, bin, dsn, runID, dir string, n int, extra ...string) ([]int, []string) {
	t.Helper()
	codes, stderrs := make([]int, n), make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		args := []string{"run", "queue", "--target", "dsn", "--shard", fmt.Sprintf("%d/%d", i, n), "--run-id", runID,
			"--no-report", "--barrier-timeout", "60s", "--out", filepath.Join(dir, fmt.Sprintf("shard-%d", i))}
		cmd := exec.Command(bin, append(args, extra...)...)
		cmd.Env = dsnEnviron(dsn)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		wg.Go(func() {
			err := cmd.Wait()
			codes[i], stderrs[i] = cmd.ProcessState.ExitCode(), stderr.String()
			if err != nil && codes[i] == 0 {
				codes[i] = -1
			}
		})
	}
	wg.Wait()
	return codes, stderrs
}

// TestShardedQueueIsExactlyOnce runs the queue scenario as three processes whose workers claim
// from one queue on one server, after pgscale prepare loaded it, and checks that every job was
// done once over the whole run, as shard 0's check over all the shards' reports says and the
// merged result keeps.
func TestShardedQueueIsExactlyOnce(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	bin := buildPgscale(t)
	dsn := harnesstest.DSN(t) // the shards' run works in a schema of its own
	const runID, shards = "queue-three", 3
	params := []string{"--set", "variants=dedicated,delete-returning", "--set", "history=20000", "--set", "backlog=30000", "--workers", "7"}

	// pgscale prepare sets the queue up and writes nothing but the schema.
	work := t.TempDir()
	prep := exec.Command(bin, append([]string{"prepare", "queue", "--run-id", runID}, params...)...)
	prep.Dir, prep.Env = work, dsnEnviron(dsn)
	if out, err := prep.CombinedOutput(); err != nil || !strings.Contains(string(out), "prepared queue for run queue-three in schema pgscale_queue_three") {
		t.Fatalf("prepare: %v\n%s", err, out)
	}
	if entries, err := os.ReadDir(work); err != nil || len(entries) != 0 {
		t.Fatalf("prepare wrote %v (%v); it must write nothing but the schema", entries, err)
	}
	// Preparing the same run twice, or running one never prepared, is an error that says so.
	code, _, stderr := runCLI(t, append([]string{"prepare", "queue", "--dsn", dsn, "--run-id", runID}, params...)...)
	if code != exitFailure || !strings.Contains(stderr, "schema pgscale_queue_three exists already") {
		t.Fatalf("prepare twice: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "run", "queue", "--target", "dsn", "--dsn", dsn, "--run-id", "never-prepared", "--skip-setup", "--no-report",
		"--out", t.TempDir())
	if code != exitFailure || !strings.Contains(stderr, "schema pgscale_never_prepared of run never-prepared does not exist: run pgscale prepare") {
		t.Fatalf("a run never prepared: exit %d\n%s", code, stderr)
	}
	// A run with other parameters does not take that setup for its own.
	code, _, stderr = runCLI(t, "run", "queue", "--target", "dsn", "--dsn", dsn, "--run-id", runID, "--skip-setup", "--no-report",
		"--set", "history=10", "--workers", "7", "--set", "variants=dedicated", "--out", t.TempDir())
	if code != exitFailure || !strings.Contains(stderr, "was prepared with parameters") {
		t.Fatalf("a run with other parameters: exit %d\n%s", code, stderr)
	}

	dir := t.TempDir()
	codes, stderrs := queueShards(t, bin, dsn, runID, dir, shards, append(params, "--skip-setup", "--duration", "1s", "--warmup", "500ms")...)
	for i := range codes {
		if codes[i] != exitOK {
			t.Fatalf("shard %d: exit %d\n%s", i, codes[i], stderrs[i])
		}
	}
	if !strings.Contains(stderrs[0], "using the setup pgscale prepare made") {
		t.Errorf("shard 0 did not use the prepared setup:\n%s", stderrs[0])
	}
	var results []*result.Result
	for i := 0; i < shards; i++ {
		results = append(results, validateFile(t, filepath.Join(dir, fmt.Sprintf("shard-%d", i))))
	}
	for si := range results[0].Series {
		name := results[0].Series[si].Variant
		for i, r := range results {
			m := r.Series[si].Metrics
			if m[queue.MetricJobsPerS] <= 0 || r.Series[si].Workers == 0 {
				t.Errorf("%s: shard %d did no jobs (%d workers, %v jobs/s)", name, i, r.Series[si].Workers, m[queue.MetricJobsPerS])
			}
			// The figures read from the server are shard 0's alone, so that the merge counts them once.
			if _, ok := m[queue.MetricJobsDone]; ok != (i == 0) {
				t.Errorf("%s: shard %d has jobs_done %v: only shard 0 checks", name, i, ok)
			}
		}
		m := results[0].Series[si].Metrics
		t.Logf("%s: %v jobs done, %v acknowledged by the shards' workers, %v lost, %v duplicated, %v interrupted",
			name, m[queue.MetricJobsDone], m[queue.MetricJobsAcknowledged], m[queue.MetricJobsLost], m[queue.MetricJobsDuplicated], m[queue.MetricJobsInterrupted])
		if m[queue.MetricExactlyOnceShards] != shards || m[queue.MetricJobsDone] <= 0 || m[queue.MetricJobsLost] != 0 || m[queue.MetricJobsDuplicated] != 0 ||
			m[queue.MetricJobsDone] != m[queue.MetricJobsAcknowledged] {
			t.Errorf("%s: shard 0's check: %v", name, m)
		}
	}
	// Without --out, the merge of one directory of shards lands beside them, in DIR/merged.
	mergedDir := filepath.Join(dir, "merged")
	if code, _, stderr := runCLI(t, "merge", dir, "--no-report"); code != exitOK || !strings.Contains(stderr, "into "+mergedDir) {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	merged := validateFile(t, mergedDir)
	for si, ms := range merged.Series {
		m, m0 := ms.Metrics, results[0].Series[si].Metrics
		var perS float64
		for _, r := range results {
			perS += r.Series[si].Metrics[queue.MetricJobsPerS]
		}
		if ms.Workers != 7 || m[queue.MetricJobsDone] != m0[queue.MetricJobsDone] || m[queue.MetricJobsLost] != 0 || m[queue.MetricJobsDuplicated] != 0 ||
			m[queue.MetricExactlyOnceShards] != shards || m[queue.MetricJobsPerS] != perS {
			t.Errorf("merged %s: workers %d, metrics %v; want shard 0's check once and the shards' jobs/s summed (%v)", ms.Variant, ms.Workers, m, perS)
		}
	}
	if !runSchemaGone(t, dsn, runID) {
		t.Error("the run's schema is still on the server")
	}

	t.Run("a shard killed mid-point abandons its jobs, it does not lose them", func(t *testing.T) {
		const runID = "queue-kill"
		dir := t.TempDir()
		// Workers hold each job 300 ms, so that shard 1's are in the middle of jobs when it dies.
		// The killed shard is a process of its own, with the dsn in its environment; shard 0 runs
		// in this one, with --dsn.
		args := func(i int) []string {
			return []string{"run", "queue", "--target", "dsn", "--shard", fmt.Sprintf("%d/2", i), "--run-id", runID,
				"--no-report", "--barrier-timeout", "60s", "--out", filepath.Join(dir, fmt.Sprintf("shard-%d", i)),
				"--set", "variants=dedicated", "--set", "history=1000", "--set", "backlog=5000", "--set", "work=300ms",
				"--workers", "4", "--duration", "4s", "--warmup", "0s"}
		}
		victim := exec.Command(bin, args(1)...)
		victim.Env = dsnEnviron(dsn)
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = victim.Process.Kill(); _ = victim.Wait() })
		var code0 int
		var stderr0 string
		done := make(chan struct{})
		go func() {
			defer close(done)
			code0, _, stderr0 = runCLI(t, append(args(0), "--dsn", dsn)...)
		}()
		// Shard 1's workers are numbered 2 and 3 over the run: wait until they hold jobs.
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := pgx.Connect(cctx, dsn)
		ccancel()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		task := pgx.Identifier{harness.RunSchema(runID), "task"}.Sanitize()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var held int
			err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+task+" WHERE status = 'running' AND claim_token >> 32 >= 2").Scan(&held)
			if err == nil && held > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("shard 1's workers held no job within 60 s (last error %v)", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		if code0 != exitOK {
			t.Fatalf("shard 0: exit %d (it should finish without shard 1)\n%s", code0, stderr0)
		}
		r0 := validateFile(t, filepath.Join(dir, "shard-0"))
		if len(r0.Series) != 1 || r0.Shard == nil || fmt.Sprint(r0.Shard.Lost) != "[1]" {
			t.Fatalf("shard 0: %d series, shard %+v; want shard 1 lost\n%s", len(r0.Series), r0.Shard, stderr0)
		}
		m := r0.Series[0].Metrics
		t.Logf("shard 0's check: %v jobs done, %v abandoned by shard 1, %v lost, %v duplicated, over %v shard's report",
			m[queue.MetricJobsDone], m[queue.MetricJobsAbandonedByLostShards], m[queue.MetricJobsLost], m[queue.MetricJobsDuplicated], m[queue.MetricExactlyOnceShards])
		if m[queue.MetricJobsAbandonedByLostShards] < 1 || m[queue.MetricJobsAbandonedByLostShards] > 2 || m[queue.MetricJobsLost] != 0 ||
			m[queue.MetricJobsDuplicated] != 0 || m[queue.MetricExactlyOnceShards] != 1 {
			t.Fatalf("shard 0's check after shard 1 died: %v", m)
		}
	})
}

func TestShardBadInput(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	dsn := "postgres://app:hunter2@127.0.0.1:1/app"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"index out of range", []string{"run", "select-only", "--target", "dsn", "--dsn", dsn, "--shard", "2/2", "--run-id", "r"},
			"--shard 2/2: shard index out of range: valid indexes are 0 to 1"},
		{"not i/N", []string{"run", "select-only", "--shard", "first"}, `--shard "first": want i/N`},
		{"not dsn", []string{"run", "select-only", "--target", "local", "--shard", "0/2", "--run-id", "r", "--out", out},
			"--shard 0/2 needs --target dsn"},
		{"no run id", []string{"run", "select-only", "--target", "dsn", "--dsn", dsn, "--shard", "0/2", "--out", out},
			"--shard 0/2 needs --run-id"},
		{"too few workers", []string{"run", "select-only", "--target", "dsn", "--dsn", dsn, "--shard", "0/4", "--run-id", "r",
			"--set", "workers=2", "--out", out}, "has 2 workers, fewer than the 4 shards, which leaves a shard none: use at most 2 shards or more workers"},
		{"not shardable", []string{"run", "ingest", "--target", "dsn", "--dsn", dsn, "--shard", "0/2", "--run-id", "r", "--out", out},
			"--shard 0/2: scenario ingest cannot run sharded yet (its shards would reset each other's tables and count the server's figures once per shard); scenarios that can: queue, select-only"},
		{"bad run id", []string{"run", "select-only", "--run-id", "a b", "--out", out}, `--run-id "a b": want 1 to 40 letters`},
		{"barrier timeout", []string{"run", "select-only", "--barrier-timeout", "0s"}, "--barrier-timeout 0s: must be more than 0"},
		{"skip setup not dsn", []string{"run", "select-only", "--target", "local", "--skip-setup", "--run-id", "r", "--out", out},
			"--skip-setup is for --target dsn"},
		{"skip setup no run id", []string{"run", "select-only", "--target", "dsn", "--dsn", dsn, "--skip-setup", "--out", out},
			"--skip-setup needs --run-id"},
		{"shard latency sweep", []string{"run", "select-only", "--target", "dsn", "--dsn", dsn, "--shard", "0/2", "--run-id", "r",
			"--latency", "0ms,2ms", "--out", out}, "--shard 0/2: a --latency sweep runs each latency on a target of its own"},
		{"skip setup latency sweep", []string{"run", "select-only", "--target", "dsn", "--dsn", dsn, "--skip-setup", "--run-id", "r",
			"--latency", "0ms,2ms", "--out", out}, "--skip-setup: a --latency sweep runs each latency on a target of its own"},
		{"prepare no run id", []string{"prepare", "queue", "--dsn", dsn}, "pgscale prepare needs --run-id"},
		{"prepare no dsn", []string{"prepare", "queue", "--run-id", "r"}, "--dsn is empty"},
		{"prepare bad set", []string{"prepare", "queue", "--dsn", dsn, "--run-id", "r", "--set", "histroy=1"}, `queue has no parameter "histroy"`},
		{"merge nothing", []string{"merge", out}, "no result.json in this directory nor in its subdirectories"},
		{"merge no args", []string{"merge"}, "requires at least 1 arg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runCLI(t, c.args...)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d with %q", code, stderr, exitUsage, c.want)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Fatalf("the password reached stderr: %s", stderr)
			}
		})
	}
}
