package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureDir puts one of report/testdata's hand-built results into a run directory.
func fixtureDir(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "internal", "report", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "result.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReportWritesFilesIntoTheRunDirectory(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t, "sweep.json")
	code, _, stderr := runCLI(t, "report", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range []string{"report.md", "report.html", "bench.txt", "plots/connect-storm-sweep-workers.png",
		"plots/connect-storm-sweep-workers.svg", "plots/connect-storm-latency-spectrum.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "errors began at 60 concurrent workers (max_connections=40)") {
		t.Errorf("report.md lacks the error onset finding:\n%s", md)
	}
}

func TestReportFormatsOnStdout(t *testing.T) {
	t.Parallel()
	a, b := fixtureDir(t, "repeats-a.json"), fixtureDir(t, "repeats-b.json")
	code, stdout, stderr := runCLI(t, "report", "--format", "gobench", a, b)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(stdout, "\nBenchmarkSelectOnly/variant=prepared/connect=pool/workers=8\t"); n != 10 {
		t.Errorf("%d prepared lines, want one per repeat of both runs (10):\n%s", n, stdout)
	}
	code, stdout, stderr = runCLI(t, "report", "--format", "md", a)
	if code != 0 || !strings.HasPrefix(stdout, "# pgscale report: select-only") || strings.Contains(stdout, "plots/") {
		t.Errorf("--format md: exit %d, stderr %s, stdout:\n%s", code, stderr, stdout)
	}
}

func TestCompareCommand(t *testing.T) {
	t.Parallel()
	a, b := fixtureDir(t, "repeats-a.json"), fixtureDir(t, "repeats-b.json")
	code, stdout, stderr := runCLI(t, "compare", a, filepath.Join(b, "result.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "+20.00%   better  (p=0.008 n=5)") {
		t.Errorf("compare output:\n%s", stdout)
	}
}

func TestReportAndCompareBadInputExitTwo(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	future := fixtureDir(t, "sweep.json")
	data, err := os.ReadFile(filepath.Join(future, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "pgscale.result/v1", "pgscale.result/v9", 1))
	if err := os.WriteFile(filepath.Join(future, "result.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sweep, sel := fixtureDir(t, "sweep.json"), fixtureDir(t, "repeats-a.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", empty}, "no result.json in this directory"},
		{[]string{"report", future}, `unknown result schema "pgscale.result/v9"`},
		{[]string{"report", "--format", "pdf", sweep}, `--format "pdf": want one of files, md, html, gobench, text`},
		{[]string{"report"}, "requires at least 1 arg"},
		{[]string{"compare", sweep, sel}, "cannot compare different scenarios"},
		{[]string{"compare", sel, empty}, "no result.json"},
		{[]string{"compare", sel, sel, "--alpha", "2"}, "--alpha 2: must be between 0 and 1"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with one line containing %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestRunWritesReportsUnlessNoReport(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	args := append(onShared(t, "run", "select-only", "--duration", "1s", "--warmup", "0s",
		"--workers", "2", "--set", "scale=1", "--set", "variants=prepared"), pacedLoad...)
	with, without := t.TempDir(), t.TempDir()
	if code, _, stderr := runCLI(t, append(args, "--out", with)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, append(args, "--out", without, "--no-report")...); code != 0 {
		t.Fatalf("--no-report: exit %d: %s", code, stderr)
	}
	for _, f := range []string{"report.md", "report.html", "bench.txt", "plots/select-only-latency-spectrum.png"} {
		if _, err := os.Stat(filepath.Join(with, f)); err != nil {
			t.Errorf("run: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(without, "bench.txt")); err != nil {
		t.Errorf("--no-report still writes bench.txt: %v", err)
	}
	for _, f := range []string{"report.md", "report.html", "plots"} {
		if _, err := os.Stat(filepath.Join(without, f)); err == nil {
			t.Errorf("--no-report wrote %s", f)
		}
	}
}
