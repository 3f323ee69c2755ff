package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/report"
	scriptscn "github.com/pgscale/pgscale/internal/scenarios/script"
	"github.com/pgscale/pgscale/result"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunScriptBadInputExitsTwoWithOneLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeFile(t, dir, "good.sql", "SELECT 1;\n")
	syntax := writeFile(t, dir, "syntax.sql", "SELECT 1;\n\\set x random(1,\n")
	shell := writeFile(t, dir, "shell.sql", "\\shell rm -rf /\n")
	pipeline := writeFile(t, dir, "pipeline.sql", "\\startpipeline\nSELECT 1;\n\\endpipeline\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"syntax error", []string{"-f", syntax}, syntax + ":2:"},
		{"shell", []string{"-f", shell}, "shell is refused"},
		{"missing file", []string{"-f", filepath.Join(dir, "nope.sql")}, "nope.sql"},
		{"weight 0", []string{"-f", good + "@0"}, `invalid weight "0"`},
		{"negative weight", []string{"-b", "tpcb-like@-1"}, `invalid weight "-1"`},
		{"unknown builtin", []string{"-b", "tpcb-liek"}, `(did you mean "tpcb-like"?)`},
		{"protocol", []string{"-f", good, "--protocol", "binary"}, "--protocol binary: valid protocols are simple, extended, prepared"},
		{"define", []string{"-f", good, "-D", "novalue"}, `-D "novalue": want NAME=VALUE`},
		{"missing setup", []string{"-f", good, "--setup", filepath.Join(dir, "schema.sql")}, "schema.sql: no such file or directory"},
		{"script flag elsewhere", []string{"--init"}, "--init is for pgscale run script"},
		{"mux pipeline", []string{"-f", pipeline, "--protocol", "extended", "--set", "engine=mux"}, "--set engine=mux does not run pipelines"},
		{"mux rate", []string{"-f", good, "--set", "engine=mux", "--rate", "100"}, "--set engine=mux runs a closed loop only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			scenario := "script"
			if c.name == "script flag elsewhere" {
				scenario = "select-only"
			}
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"run", scenario, "--target", "local", "--out", out}, c.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q does not contain %q", stderr, c.want)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines > 0 || stdout != "" {
				t.Fatalf("want one line on stderr and nothing on stdout: %q, %q", stderr, stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("%s was created: something started", out)
			}
		})
	}
}

func TestRunScriptQuickLocalReportsStatements(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	out := t.TempDir()
	// --quick's parameters, but 1 s of load after 500 ms of warm-up, not its 5 s after 1 s: the
	// statements' counts and percentiles need transactions, not minutes.
	code, stdout, stderr := runCLI(t, "run", "script", "-b", "tpcb-like", "--init", "--quick", "--duration", "1s", "--warmup", "500ms",
		"--target", "local", "--out", out)
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
	if res.Schema != result.SchemaVersion || res.Status != result.StatusOK || len(res.Series) != 1 {
		t.Fatalf("schema %s, status %s, %d series: want %s, ok, 1", res.Schema, res.Status, len(res.Series), result.SchemaVersion)
	}
	s := res.Series[0]
	if len(s.Scripts) != 1 || s.Scripts[0].Transactions != s.Ops || s.Ops == 0 || len(s.Statements) != 7 {
		t.Fatalf("scripts %+v, %d statements, %d ops: want tpcb-like's transactions and 7 statements", s.Scripts, len(s.Statements), s.Ops)
	}
	if got := res.Params["scripts"]; got == nil || !strings.Contains(strings.Join(toStrings(got), " "), "tpcb-like@1") {
		t.Errorf("params.scripts %v: want the tpcb-like script and its weight", got)
	}
	md, err := os.ReadFile(filepath.Join(out, report.ReportMarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Scripts", "## Statements", "UPDATE pgbench_tellers", "p99.9 ms", "script-statements.png"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, want := range []string{"tx/s", "statement", "UPDATE pgbench_branches", "p99.9 ms"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the summary lacks %q:\n%s", want, stdout)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	if list, ok := v.([]any); ok {
		for _, x := range list {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// On a dsn target, --init creates the pgbench tables in the run's schema only; without --init
// or --setup the scripts run against the database as it is.
func TestRunScriptOnDSN(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	ctx := context.Background()
	dsn := harnesstest.Database(t) // its catalog counts are the run's alone
	conn, count := connectCounting(t, dsn)

	code, _, stderr := runCLI(t, "run", "script", "-b", "tpcb-like", "--init", "--target", "dsn", "--dsn", dsn,
		"--duration", "1s", "--warmup", "0s", "--workers", "2", "--rate", "200", "--out", t.TempDir())
	if code != 0 {
		t.Fatalf("--init: exit %d; stderr: %s", code, stderr)
	}
	if n := count("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'pgbench%' OR schemaname LIKE 'pgscale%'"); n != 0 {
		t.Fatalf("%d pgbench or pgscale tables are left after the run", n)
	}

	// --setup runs in the run's schema too, and goes with it.
	dir := t.TempDir()
	setup := writeFile(t, dir, "setup.sql", "CREATE TABLE tally (n int NOT NULL);\nINSERT INTO tally VALUES (0);\n")
	tally := writeFile(t, dir, "tally.sql", "UPDATE tally SET n = n + 1;\n")
	code, _, stderr = runCLI(t, "run", "script", "-f", tally, "--setup", setup, "--target", "dsn", "--dsn", dsn,
		"--duration", "1s", "--warmup", "0s", "--workers", "2", "--rate", "200", "--out", t.TempDir())
	if code != 0 {
		t.Fatalf("--setup: exit %d; stderr: %s", code, stderr)
	}
	if n := count("SELECT count(*) FROM pg_tables WHERE tablename = 'tally' OR schemaname LIKE 'pgscale%'"); n != 0 {
		t.Fatalf("%d tables of the setup are left after the run", n)
	}

	if _, err := conn.Exec(ctx, "CREATE TABLE public.visits (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"); err != nil {
		t.Fatal(err)
	}
	visit := writeFile(t, t.TempDir(), "visit.sql", "INSERT INTO visits DEFAULT VALUES;\n")
	out := t.TempDir()
	code, _, stderr = runCLI(t, "run", "script", "-f", visit, "--target", "dsn", "--dsn", dsn,
		"--duration", "1s", "--warmup", "0s", "--workers", "2", "--out", out)
	if code != 0 {
		t.Fatalf("as it is: exit %d; stderr: %s", code, stderr)
	}
	if !strings.Contains(stderr, "run against the database as it is") {
		t.Errorf("no note that the scripts run against the database as it is: %s", stderr)
	}
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rows := count("SELECT count(*) FROM public.visits")
	if committed := int64(res.Series[0].Metrics[scriptscn.MetricTransactionsWithWarmup]); rows == 0 || rows != committed {
		t.Fatalf("public.visits has %d rows, the run committed %d transactions", rows, committed)
	}
}
