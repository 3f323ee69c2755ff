package workload

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/usage"
)

func parse(t *testing.T, text string) (*File, error) {
	t.Helper()
	return Parse([]byte(text), filepath.Join("testdata", "w.yaml"))
}

func TestParseFullFile(t *testing.T) {
	t.Parallel()
	f, err := parse(t, `
name: orders
setup: [schema.sql]
scripts:
  - file: one.sql
    weight: 3
  - builtin: select-only
vars: {scale: 4, items: 100}
protocol: prepared
max_tries: 3
continue_on_error: true
connect: per-transaction
workers: 16
start_rate: 100
stages:
  - {duration: 30s, target: 2000}
  - {duration: 10s, workers: 4}
warmup: 2s
checks:
  - latency_ms.p99 < 50
  - "errors == 0"
`)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "orders" || len(f.Setup) != 1 || f.Setup[0] != filepath.Join("testdata", "schema.sql") {
		t.Errorf("name %q, setup %v", f.Name, f.Setup)
	}
	if len(f.Scripts) != 2 || f.Scripts[0].Spec() != filepath.Join("testdata", "one.sql")+"@3" || f.Scripts[1].Spec() != "select-only@1" {
		t.Errorf("scripts %+v", f.Scripts)
	}
	if f.Vars["scale"] != "4" || f.Scale() != 4 || f.Connect != ConnectPerTransaction || f.MaxTries != 3 {
		t.Errorf("vars %v, connect %q, max tries %d", f.Vars, f.Connect, f.MaxTries)
	}
	if !f.ContinueOnError || !f.ScriptOptions().ContinueOnError {
		t.Errorf("continue_on_error not read")
	}
	if len(f.Checks) != 2 || f.Checks[1].Expr != "errors == 0" || f.Checks[0].Line != 20 {
		t.Errorf("checks %+v", f.Checks)
	}
	sh, err := f.Shape(false, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sh.Stages == nil || sh.Stages.Length() != 40*time.Second || sh.Warmup != 2*time.Second || sh.Duration != 38*time.Second || sh.Workers != 16 {
		t.Errorf("shape %+v", sh)
	}
	quick, _ := f.Shape(true, 0, 0)
	if quick.Stages.Length() != QuickLength || quick.Duration+quick.Warmup != QuickLength {
		t.Errorf("quick shape lasts %s (%s + %s), want %s", quick.Stages.Length(), quick.Warmup, quick.Duration, QuickLength)
	}
	if got := quick.Stages.Target(quick.Stages.Length() * 3 / 4 / 2); got < 100 || got > 2000 {
		t.Errorf("quick ramp target %g: the rates must be kept", got)
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	f, err := parse(t, "scripts: [{file: one.sql}]\n")
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := f.Shape(false, 0, 0)
	if f.Name != "w" || f.Connect != ConnectPerWorker || sh.Workers != DefaultWorkers || sh.Duration != DefaultDuration || sh.Warmup != DefaultWarmup || sh.Stages != nil || sh.Rate != 0 {
		t.Errorf("defaults: %+v, shape %+v", f, sh)
	}
	sh, _ = f.Shape(true, 3, 250)
	if sh.Duration+sh.Warmup != QuickLength || sh.Workers != 3 || sh.Rate != 250 {
		t.Errorf("quick with --workers 3 --rate 250: %+v", sh)
	}
}

// Each bad input is a usage error naming the file, the line and the bad value.
func TestParseBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct{ text, want string }{
		{"scripts: [{file: one.sql}]\nstagse: []\n", `w.yaml:2: unknown field "stagse" (did you mean "stages"?)`},
		{"scripts: [{file: one.sql, wieght: 2}]\n", `unknown field "wieght" in a script (did you mean "weight"?)`},
		{"scripts: [{file: one.sql}]\nstages:\n  - {target: 100}\n", `w.yaml:3: stage 1: no duration (e.g. duration: 30s)`},
		{"scripts: [{file: one.sql}]\nstages:\n  - {duration: 10s, traget: 5}\n", `unknown field "traget" in a stage (did you mean "target"?)`},
		{"scripts:\n  - {file: one.sql, weight: 0}\n", `w.yaml:2: script weight 0: must be at least 1`},
		{"scripts:\n  - {file: one.sql, weight: -2}\n", `script weight -2: must be at least 1`},
		{"scripts: [{file: nope.sql}]\n", `w.yaml:1: script file nope.sql: no such file`},
		{"setup: [gone.sql]\nscripts: [{file: one.sql}]\n", `w.yaml:1: setup file gone.sql: no such file`},
		{"scripts: [{builtin: tpcb}]\n", `builtin "tpcb": valid: tpcb-like, simple-update, select-only`},
		{"scripts: [{file: one.sql}]\nconnect: per-request\n", `connect "per-request": valid: per-worker, pool, per-transaction`},
		{"scripts: [{file: one.sql}]\nstages: [{duration: 5s, target: 10, workers: 2}]\n", `stage 1: give target: (an arrival rate, open loop) or workers: (closed loop), not both`},
		{"scripts: [{file: one.sql}]\nduration: 10\n", `duration "10": not a duration`},
		{"scripts: [{file: one.sql}]\nrate: 5\nstages: [{duration: 5s, target: 10}]\n", `rate: the stages give the load shape`},
		{"scripts: [{file: one.sql}]\nwarmup: 10s\nstages: [{duration: 5s, target: 10}]\n", `warmup 10s: must be shorter than the stages`},
		{"setup: []\n", `no scripts`},
		{"scripts: [{file: one.sql}]\nprotocol: prepard\n", `protocol "prepard": valid: simple, extended, prepared (did you mean "prepared"?)`},
		{"scripts: [{file: one.sql}\n", `w.yaml:1: did not find expected`},
	}
	for _, c := range cases {
		_, err := parse(t, c.text)
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant a usage error with %q", c.text, err, c.want)
		}
	}
}

// Several problems come back at once, one line each.
func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := parse(t, "scripts:\n  - {file: nope.sql, weight: 0}\nstages:\n  - {target: 5}\nworkerz: 3\n")
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 1 || !strings.Contains(err.Error(), "workerz") {
		t.Errorf("unknown fields first, alone: %q", lines)
	}
	_, err = parse(t, "scripts:\n  - {file: nope.sql, weight: 0}\nstages:\n  - {target: 5}\n")
	if err == nil || len(strings.Split(err.Error(), "\n")) != 3 {
		t.Errorf("want three problems, got %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), "none.yaml: no such file") {
		t.Errorf("Load of a missing file: %v", err)
	}
	if !IsWorkloadPath("a/b.YML") || !IsWorkloadPath("x.yaml") || IsWorkloadPath("select-only") {
		t.Error("IsWorkloadPath")
	}
}

func TestParseTypeError(t *testing.T) {
	t.Parallel()
	_, err := parse(t, "scripts: [{file: one.sql}]\nworkers: many\n")
	if err == nil || !strings.Contains(err.Error(), "w.yaml:2: cannot unmarshal") {
		t.Errorf("workers: many: %v", err)
	}
}
