package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/result"
)

// runCLI runs the CLI in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestBadInputExitsTwoWithOneLine(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	lookup, wideSetup := filepath.Join(out, "lookup.sql"), filepath.Join(out, "schema.sql")
	for path, sql := range map[string]string{lookup: "SELECT 1;\n", wideSetup: "CREATE TABLE t (id int);\n-- the load's tables\nANALYZE VERBOSE;\n"} {
		if err := os.WriteFile(path, []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		args []string
		want string // in the error line
	}{
		{"unknown scenario", []string{"run", "select-onyl"}, `unknown scenario "select-onyl" (did you mean "select-only"?); valid: `},
		{"unknown set key", []string{"run", "select-only", "--set", "wrokers=8"}, `--set wrokers: select-only has no parameter "wrokers" (did you mean "workers"?); valid: variants, workers, scale, connect`},
		{"bad set value", []string{"run", "select-only", "--set", "scale=ten"}, `--set scale=ten: not a whole number`},
		{"bad variant", []string{"run", "select-only", "--set", "variants=prepard"}, `--set variants=prepard: valid values are prepared, simple (did you mean "prepared"?)`},
		{"workers zero", []string{"run", "select-only", "--workers", "0"}, `--workers 0: must be at least 1`},
		{"workers negative", []string{"run", "select-only", "--workers", "-3"}, `--workers -3: must be at least 1`},
		{"duration zero", []string{"run", "select-only", "--duration", "0s"}, `--duration 0s: must be more than 0`},
		{"rate negative", []string{"run", "select-only", "--rate", "-5"}, `--rate -5: must be 0 (closed loop) or a positive rate per second`},
		{"malformed dsn", []string{"run", "select-only", "--target", "dsn", "--dsn", "postgres://u:hunter2@host:notaport/db"}, `is not a valid connection string`},
		{"unknown target", []string{"run", "select-only", "--target", "k8s", "--out", out}, `--target "k8s": valid targets are auto`},
		{"bad flag", []string{"run", "select-only", "--wrokers", "3"}, `unknown flag: --wrokers (did you mean "--workers"?) (see pgscale run --help)`},
		{"bare run", []string{"run"}, `pgscale run needs what to run: a scenario (` + strings.Join(scenarios.Names(), ", ") + `)`},
		{"unknown command", []string{"rn", "queue"}, `unknown command "rn" for "pgscale" (did you mean "run"?); pgscale --help lists the commands`},
		{"bad pair", []string{"run", "select-only", "--set", "workers"}, `--set "workers": want name=value`},
		{"out not writable", []string{"run", "select-only", "--out", "/proc/pgscale-cannot-write"}, `--out /proc/pgscale-cannot-write: cannot create the directory`},
		{"describe unknown", []string{"describe", "queu"}, `unknown scenario "queu"`},
		{"calibrate clients", []string{"calibrate", "--clients", "0"}, `--clients 0: must be at least 1`},
		{"calibrate engine", []string{"calibrate", "--engine", "threads"}, `--engine "threads": valid engines are mux, goroutines`},
		{"calibrate mux behind transaction pooling", []string{"calibrate", "--pooler", "pgbouncer", "--engine", "mux"}, `--engine mux prepares its lookup once per connection, which --pooler-mode transaction breaks`},
		{"rate on pgbench", []string{"run", "pgbench", "--rate", "100"}, `--rate 100: scenario pgbench runs a closed loop only (leave --rate out)`},
		{"slo unknown metric", []string{"run", "select-only", "--capacity", "--slo", "p98<5ms"}, `--slo term "p98<5ms": unknown metric "p98"; valid: p50, p90, p99, p999, max, errors`},
		{"slo no unit", []string{"run", "select-only", "--capacity", "--slo", "p99<50"}, `the bound "50" needs a unit: ms, s or us`},
		{"slo impossible", []string{"run", "select-only", "--capacity", "--slo", "p99<0ms"}, `p99<0ms can never hold`},
		{"capacity with rate", []string{"run", "select-only", "--set", "variants=prepared", "--capacity", "--rate", "100"}, `--capacity with --rate 100: the search picks the rates itself`},
		{"capacity closed loop", []string{"run", "pgbench", "--capacity"}, `--capacity: scenario pgbench runs a closed loop only, so it cannot be paced to a rate`},
		{"capacity sweep", []string{"run", "select-only", "--capacity"}, `--capacity searches one series, and scenario select-only has 2 here`},
		{"bad size", []string{"run", "wal-retention", "--set", "quota=abc"}, `--set quota=abc: not a size; give a number and a unit, e.g. 256MB, 50GB`},
		{"slo without p99", []string{"run", "select-only", "--slo", "p50<5ms"}, `--slo "p50<5ms": without --capacity it sets the p99 the findings judge by; give a p99 term`},
		{"slo errors without capacity", []string{"run", "select-only", "--slo", "p99<5ms,errors<1%"}, `only its p99 term is judged`},
		{"unknown preset", []string{"run", "queue", "--preset", "nope"}, `--preset "nope": valid presets are quick, default, full`},
		{"preset typo", []string{"run", "queue", "--preset", "ful", "--dry-run"}, `(did you mean "full"?)`},
		{"quick and full", []string{"run", "queue", "--quick", "--preset", "full"}, `--quick with --preset full: --quick is --preset quick; give one of them`},
		{"dry run bad set", []string{"run", "queue", "--dry-run", "--set", "wokers=5"}, `--set wokers: queue has no parameter "wokers" (did you mean "workers"?)`},
		{"dry run bad set value", []string{"run", "select-only", "--dry-run", "--set", "scale=0"}, `--set scale=0: must be at least 1`},
		{"long_txn on a dsn", []string{"run", "queue", "--set", "long_txn=1h", "--target", "dsn", "--dsn", "postgres://u:hunter2@127.0.0.1:1/db"}, `scenario queue is intrusive with these parameters (long_txn holds a snapshot`},
		{"idle timeout too long", []string{"run", "queue", "--set", "long_txn=1h", "--set", "idle_in_transaction_timeout=1000h"}, `PostgreSQL takes at most 596h31m23.647s`},
		{"zombie timeout too long", []string{"run", "zombie-queries", "--set", "statement_timeout=1000h"}, `--set statement_timeout=1000h: PostgreSQL takes at most`},
		// On an unreachable server: the error must come before any connection is tried.
		{"database-wide setup on a dsn", []string{"run", "script", "-f", lookup, "--setup", wideSetup, "--target", "dsn", "--dsn", "postgres://u:hunter2@127.0.0.1:1/db"},
			`--setup ` + wideSetup + `:3: "ANALYZE VERBOSE" names no table, so it acts on every table of the database`},
		{"ddl_at past the run", []string{"run", "ddl-lock", "--duration", "1s", "--target", "dsn", "--allow-intrusive", "--dsn", "postgres://u:hunter2@127.0.0.1:1/db"}, `--set ddl_at=5s: the ALTER must come inside the measured window (--duration 1s)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, c.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q does not contain %q", stderr, c.want)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Fatalf("the password reached stderr: %s", stderr)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines > 0 {
				t.Fatalf("error spans %d lines, want one: %q", lines+1, stderr)
			}
			if stdout != "" {
				t.Fatalf("stdout not empty: %q", stdout)
			}
		})
	}
}

func TestUnreachableDSNFailsFastWithoutPassword(t *testing.T) {
	t.Parallel()
	started := time.Now()
	code, _, stderr := runCLI(t, "run", "select-only", "--target", "dsn", "--out", t.TempDir(),
		"--dsn", "postgres://app:hunter2@127.0.0.1:1/app?connect_timeout=2&sslmode=disable")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitFailure, stderr)
	}
	if strings.Contains(stderr, "hunter2") {
		t.Fatalf("the password reached stderr: %s", stderr)
	}
	if !strings.Contains(stderr, "127.0.0.1") {
		t.Fatalf("stderr does not say which server: %s", stderr)
	}
	if took := time.Since(started); took > 15*time.Second {
		t.Fatalf("took %s to give up on an unreachable server", took)
	}
}

func TestListAndDescribe(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCLI(t, "list")
	if code != 0 || !strings.Contains(stdout, "select-only") {
		t.Fatalf("list: exit %d, %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "describe", "select-only")
	for _, want := range []string{"scale", "workers", "prepared", "--quick"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Fatalf("describe: exit %d, %q lacks %q", code, stdout, want)
		}
	}
}

func TestRunSelectOnlyLocalWritesValidResult(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, append([]string{"run", "select-only", "--target", "local", "--duration", "1s", "--warmup", "1s",
		"--workers", "4", "--set", "scale=1", "--set", "variants=prepared,simple", "--out", out}, pacedLoad...)...)
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	doc, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := result.Validate(doc); err != nil {
		t.Fatal(err)
	}
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusOK || len(res.Series) != 2 {
		t.Fatalf("status %s with %d series, want ok with 2", res.Status, len(res.Series))
	}
	for _, s := range res.Series {
		p := s.LatencyMs
		if s.Ops == 0 || !(p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max) {
			// Everything the series holds about where its operations went, for a failure seen
			// once in a busy CI run and not since.
			t.Errorf("%s: ops %d, percentiles %+v, errors %v %v, measured %.2f s after %.2f s of warm-up, metrics %v, timeline %s",
				s.Variant, s.Ops, p, s.Errors, s.ErrorSamples, s.DurationS, s.WarmupS, s.Metrics, timelineOps(s.Timeline))
		}
		warm := 0
		for _, sec := range s.Timeline {
			if sec.Warmup {
				warm++
			}
		}
		if warm == 0 || len(s.Timeline)-warm == 0 {
			t.Errorf("%s: timeline has %d seconds, %d of them warm-up: want both the warm-up and the measured seconds", s.Variant, len(s.Timeline), warm)
		}
		var sampled bool
		for _, sec := range s.Timeline {
			if sec.Server != nil && sec.Server.Connections >= 4 {
				sampled = true
			}
		}
		if !sampled {
			t.Errorf("%s: no second of the timeline saw the 4 workers' connections", s.Variant)
		}
	}
	if res.Environment.Settings["fsync"] != "on" || res.Environment.ServerVersion == "" {
		t.Errorf("environment lacks fsync=on or the version: %+v", res.Environment)
	}
	if _, err := os.Stat(filepath.Join(out, "summary.md")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(stdout, "prepared") || !strings.Contains(stdout, "p99") {
		t.Errorf("text summary missing: %q", stdout)
	}
}

// timelineOps shows a timeline's seconds as t:ops/errors, a w marking the warm-up's.
func timelineOps(timeline []result.Second) string {
	var b strings.Builder
	for _, sec := range timeline {
		mark := ""
		if sec.Warmup {
			mark = "w"
		}
		fmt.Fprintf(&b, " %d%s:%d/%d", sec.T, mark, sec.Ops, sec.Errors)
	}
	return strings.TrimSpace(b.String())
}

// TestHelpNamesEveryValue: run's and size's help give list flags a value name and no empty
// default, instead of pflag's type names ("durationSlice", "stringArray") and "(default [])".
func TestHelpNamesEveryValue(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"run", "size", "prepare"} {
		code, stdout, stderr := runCLI(t, cmd, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d: %s", cmd, code, stderr)
		}
		for _, bad := range []string{"durationSlice", "stringArray", "(default [])", "(default )", "--columns pgscale"} {
			if strings.Contains(stdout, bad) {
				t.Errorf("%s --help shows %q:\n%s", cmd, bad, stdout)
			}
		}
	}
	_, stdout, _ := runCLI(t, "run", "--help")
	for _, want := range []string{"--latency DURATION[,DURATION...]", "--set NAME=VALUE", "-f, --file FILE[@WEIGHT]"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
}
