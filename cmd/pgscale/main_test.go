package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/report"
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
		{"bad flag", []string{"run", "select-only", "--wrokers", "3"}, `unknown flag: --wrokers`},
		{"bad pair", []string{"run", "select-only", "--set", "workers"}, `--set "workers": want name=value`},
		{"out not writable", []string{"run", "select-only", "--out", "/proc/pgscale-cannot-write"}, `--out /proc/pgscale-cannot-write: cannot create the directory`},
		{"describe unknown", []string{"describe", "queu"}, `unknown scenario "queu"`},
		{"calibrate clients", []string{"calibrate", "--clients", "0"}, `--clients 0: must be at least 1`},
		{"rate on pgbench", []string{"run", "pgbench", "--rate", "100"}, `--rate 100: scenario pgbench runs a closed loop only (leave --rate out)`},
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
	code, stdout, stderr := runCLI(t, "run", "select-only", "--target", "local", "--duration", "2s", "--warmup", "1s",
		"--workers", "4", "--set", "scale=1", "--set", "variants=prepared,simple", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	doc, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Validate(doc); err != nil {
		t.Fatal(err)
	}
	res, err := report.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != report.StatusOK || len(res.Series) != 2 {
		t.Fatalf("status %s with %d series, want ok with 2", res.Status, len(res.Series))
	}
	for _, s := range res.Series {
		p := s.LatencyMs
		if s.Ops == 0 || !(p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max) {
			t.Errorf("%s: ops %d, percentiles %+v", s.Variant, s.Ops, p)
		}
		if len(s.Timeline) < 3 {
			t.Errorf("%s: timeline has %d seconds, want at least 3 (warm-up included)", s.Variant, len(s.Timeline))
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
