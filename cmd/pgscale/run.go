package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/scenarios"
	scriptscn "github.com/pgscale/pgscale/internal/scenarios/script"
	"github.com/pgscale/pgscale/internal/shard"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/internal/workload"
	"github.com/pgscale/pgscale/result"
)

// runFlags are `pgscale run`'s flags before they become runner.Options.
type runFlags struct {
	target, dsn, image, shape, out string
	pooler                         poolerFlags
	latencies                      []time.Duration
	duration, warmup               time.Duration
	workers                        int
	rate                           float64
	sets, pgSettings               []string
	quick, json, allowIntrusive    bool
	force                          bool
	noReport                       bool
	repeat                         int
	seed                           uint64
	shard, runID                   string        // --shard i/N, --run-id
	barrierTimeout                 time.Duration // --barrier-timeout
	skipSetup                      bool          // --skip-setup
	script                         scriptFlags   // run script's own (run_script.go)
	capacity                       bool          // --capacity
	slo                            string        // --slo
	preset                         string        // --preset
	dryRun                         bool          // --dry-run
}

func newRunCmd(stdout, stderr io.Writer, tracker *harness.Tracker) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run SCENARIO|WORKLOAD.yaml [flags]",
		Short: "Run a scenario and write its result",
		Example: `  pgscale run select-only --target local --duration 10s --workers 8
  pgscale run select-only --quick
  pgscale run queue --dry-run --preset full
  pgscale run ingest --slo 'p99<50ms'
  pgscale run select-only --set variants=prepared --set workers=1,8,32 --repeat 3
  pgscale run select-only --target dsn --dsn 'postgres://app@db.example.com:5432/app'
  pgscale run select-only --target docker --image pgscale/postgres:15-bookworm --shape 1cpu-1gb
  pgscale run select-only --pooler pgbouncer --pooler-mode session --pooler-size 10 --latency 2ms
  pgscale run queue --set variants=dedicated --set workers=50 --latency 0ms,1ms,12ms
  pgscale run script -b tpcb-like --scale 10 --workers 8 --target local
  pgscale run script -f orders.sql@3 -f report.sql@1 -D region=eu --setup schema.sql
  pgscale run examples/workloads/orders.yaml --target local --quick
  pgscale run select-only --set variants=prepared --capacity --slo 'p99<50ms,errors<0.1%'`,
		Args: runArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(args[0], cmd.Flags().Changed)
			if err != nil {
				return err
			}
			var w *workloadRun
			if workload.IsWorkloadPath(args[0]) {
				if w, opts, err = loadWorkload(args[0], opts); err != nil {
					return err
				}
			}
			opts.Log = stderr
			opts.Tracker = tracker
			if !f.json || isTerminal(stderr) {
				opts.Progress = loadgen.NewProgress(stderr, isTerminal(stderr))
			}
			if w != nil {
				return runWorkload(cmd, w, opts, f.json, stdout, stderr)
			}
			return runScenario(cmd, opts, f.json, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "auto", "where PostgreSQL runs: auto, docker, local or dsn")
	fl.StringVar(&f.dsn, "dsn", "", "existing server for --target dsn (URL or key=value; default $"+envDSN+", which keeps a password off the command line)")
	fl.StringVar(&f.image, "image", "", "container image for --target docker (default $PGSCALE_IMAGE, else "+harness.DefaultImage+")")
	fl.StringVar(&f.shape, "shape", "", "CPU and memory limits for --target docker: <cpus>cpu-<memory> (1cpu-1gb, 2cpu-4gb) or a name from docker/shapes.yaml")
	f.pooler.register(fl)
	fl.DurationSliceVar(&f.latencies, "latency", nil, "`DURATION[,DURATION...]` of round trip added between the load and the server, e.g. 2ms (an in-process proxy); a list (0ms,1ms,12ms) runs every point at each")
	fl.DurationVar(&f.duration, "duration", 0, "measured run length per point (default: the scenario's)")
	fl.DurationVar(&f.warmup, "warmup", 0, "warm-up before each point, measured but excluded (default: the scenario's)")
	fl.IntVar(&f.workers, "workers", 0, "concurrent workers, same as --set workers=N (default: the scenario's)")
	fl.Float64Var(&f.rate, "rate", 0, "open loop: operations per second over all workers (0: closed loop)")
	fl.StringArrayVar(&f.sets, "set", nil, "scenario parameter `NAME=VALUE`, repeatable; a list is a,b,c")
	fl.StringArrayVar(&f.pgSettings, "pg-setting", nil, "server setting `NAME=VALUE`, repeatable")
	fl.StringVar(&f.out, "out", "", "output directory (default results/runs/<utc-time>-<random>-<scenario>); one holding a result is refused unless --force")
	fl.BoolVar(&f.force, "force", false, "with --out: clear the result, report and plots of an earlier run there first")
	fl.BoolVar(&f.quick, "quick", false, "the scenario's short preset (what make bench runs), same as --preset quick")
	fl.StringVar(&f.preset, "preset", "", "`NAME` of the run's size: quick, default (about 5 minutes on 2 cores) or full (the articles' big sweeps; pgscale describe says what each costs)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan (every point, the server settings it needs, its time, the total) and start nothing")
	fl.IntVar(&f.repeat, "repeat", 1, "run every point N times")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON on stdout")
	fl.BoolVar(&f.allowIntrusive, "allow-intrusive", false, "allow scenarios that exhaust connections or take ACCESS EXCLUSIVE locks on a dsn target")
	fl.BoolVar(&f.noReport, "no-report", false, "write no report.md, report.html or plots (result.json, summary.md and bench.txt only)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the workers' random streams")
	fl.StringVar(&f.shard, "shard", "", "run shard i of N of a run shared by N processes (--target dsn; see pgscale merge), e.g. 0/4")
	fl.StringVar(&f.runID, "run-id", "", "the run's id, the same for every shard (default <utc-time>-<random>-<scenario>)")
	fl.DurationVar(&f.barrierTimeout, "barrier-timeout", shard.DefaultTimeout, "how long a shard waits for the others at the barrier")
	fl.BoolVar(&f.skipSetup, "skip-setup", false, "use the schema and data pgscale prepare made for this --run-id (--target dsn)")
	f.script.register(fl)
	fl.BoolVar(&f.capacity, "capacity", false, "search the highest open-loop rate that meets --slo: ramp up, then bisect; every probe is a series")
	fl.StringVar(&f.slo, "slo", "", "`SLO` the findings judge p99 by, e.g. 'p99<50ms' (default 100ms); with --capacity what each rate is held to: "+
		"p50|p90|p99|p999|max<duration and errors<percent (default 'p99<50ms,errors<0.1%')")
	return cmd
}

// runArgs wants one scenario, script or workload file; with none it lists what there is.
func runArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usage.Errorf("pgscale run needs what to run: a scenario (%s), script (your pgbench scripts: "+
			"pgscale run script -f FILE), or a workload file (FILE.yaml); pgscale list describes the scenarios",
			strings.Join(scenarios.Names(), ", "))
	}
	return usageArgs(cobra.ExactArgs(1))(cmd, args)
}

// options checks the flags (changed tells which the user gave) and turns them into runner options.
func (f runFlags) options(scenario string, changed func(string) bool) (runner.Options, error) {
	sets, err := parsePairs("--set", f.sets)
	if err != nil {
		return runner.Options{}, err
	}
	pgSettings, err := parsePairs("--pg-setting", f.pgSettings)
	if err != nil {
		return runner.Options{}, err
	}
	if changed("duration") && f.duration <= 0 {
		return runner.Options{}, usage.Fieldf("duration", "%s: must be more than 0 (e.g. 10s, 1m)", f.duration)
	}
	if changed("workers") && f.workers <= 0 {
		return runner.Options{}, usage.Fieldf("workers", "%d: must be at least 1", f.workers)
	}
	if f.rate < 0 {
		return runner.Options{}, usage.Fieldf("rate", "%g: must be 0 (closed loop) or a positive rate per second", f.rate)
	}
	pooler, err := f.pooler.spec(changed)
	if err != nil {
		return runner.Options{}, err
	}
	if f.barrierTimeout <= 0 {
		return runner.Options{}, usage.Fieldf("barrier-timeout", "%s: must be more than 0 (default %s)", f.barrierTimeout, shard.DefaultTimeout)
	}
	seg := shard.Segment{}
	if changed("shard") {
		if seg, err = shard.Parse(f.shard); err != nil {
			return runner.Options{}, err
		}
	}
	scriptOpts, err := f.script.options(scenario, changed)
	if err != nil {
		return runner.Options{}, err
	}
	var slo *report.SLO
	if changed("preset") {
		if err := scenarios.CheckPreset(f.preset); err != nil {
			return runner.Options{}, err
		}
	}
	if changed("slo") {
		parsed, err := report.ParseSLO(f.slo)
		if err != nil {
			return runner.Options{}, usage.Errorf("%v", err)
		}
		slo = &parsed
	}
	warmup := time.Duration(-1)
	if changed("warmup") {
		if f.warmup < 0 {
			return runner.Options{}, usage.Fieldf("warmup", "%s: must be 0 or more", f.warmup)
		}
		warmup = f.warmup
	}
	var instance scenarios.Scenario
	if scenario == scriptscn.Name {
		instance = scriptscn.New(scriptOpts)
	}
	return runner.Options{
		Scenario: scenario, Instance: instance, Sets: sets, PGSettings: pgSettings,
		Target: f.target, DSN: dsnOrEnv(f.dsn, f.target), Image: f.image, Shape: f.shape, Pooler: pooler, Latencies: f.latencies,
		Duration: f.duration, Warmup: warmup, Workers: f.workers, Rate: f.rate,
		Quick: f.quick, Repeat: f.repeat, Out: f.out, Force: f.force, AllowIntrusive: f.allowIntrusive, Seed: f.seed,
		NoReport: f.noReport, Shard: seg, RunID: f.runID, BarrierTimeout: f.barrierTimeout, SkipSetup: f.skipSetup,
		Capacity: f.capacity, SLO: slo, Preset: f.preset, DryRun: f.dryRun,
	}, nil
}

// poolerFlags are --pooler, --pooler-mode and --pooler-size, shared by run and calibrate.
type poolerFlags struct {
	kind, mode string
	size       int
}

func (p *poolerFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&p.kind, "pooler", "", "put a connection pooler between the load and the server: pgbouncer (docker and local targets)")
	fl.StringVar(&p.mode, "pooler-mode", harness.DefaultPoolerMode, "pooling mode of --pooler: transaction or session")
	fl.IntVar(&p.size, "pooler-size", harness.DefaultPoolerSize, "server connections the pooler may open (default_pool_size)")
}

// spec is the pooler asked for, nil for none; changed tells which flags the user gave.
func (p *poolerFlags) spec(changed func(string) bool) (*harness.PoolerSpec, error) {
	if p.kind == "" {
		for _, name := range []string{"pooler-mode", "pooler-size"} {
			if changed(name) {
				return nil, usage.Errorf("--%s needs --pooler pgbouncer", name)
			}
		}
		return nil, nil
	}
	spec := &harness.PoolerSpec{Kind: p.kind, Mode: p.mode, Size: p.size}
	if err := harness.ValidatePooler(spec); err != nil {
		return nil, err
	}
	return spec, nil
}

func parsePairs(flag string, pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usage.Errorf("%s %q: want name=value", flag, kv)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

func runScenario(cmd *cobra.Command, opts runner.Options, asJSON bool, stdout, stderr io.Writer) error {
	_, err := runAndPrint(cmd, opts, asJSON, stdout, stderr)
	return err
}

// runAndPrint prepares and runs opts, prints what it measured and says where it was written.
// The result is nil when nothing was measured or it could not be printed.
func runAndPrint(cmd *cobra.Command, opts runner.Options, asJSON bool, stdout, stderr io.Writer) (*result.Result, error) {
	prep, err := runner.Prepare(opts, time.Now())
	if err != nil {
		return nil, err
	}
	if opts.DryRun {
		prep.Plan().Write(stdout)
		return nil, nil
	}
	res, err := prep.Run(cmd.Context())
	if res != nil {
		if perr := printResult(res, asJSON, stdout); perr != nil {
			return nil, perr
		}
		sayWrote(prep, stderr)
	}
	return res, err
}

// writtenRun is what sayWrote needs of a prepared run.
type writtenRun interface {
	Wrote() bool
	ReportFailed() bool
	OutDir() string
}

// sayWrote says where the run's files went, only when they were written.
func sayWrote(prep writtenRun, stderr io.Writer) {
	switch {
	case prep.Wrote() && prep.ReportFailed():
		fmt.Fprintf(stderr, "wrote result.json, summary.md and bench.txt in %s; its report could not be written (see above)\n", prep.OutDir())
	case prep.Wrote():
		fmt.Fprintf(stderr, "wrote %s\n", prep.OutDir())
	}
}

// printResult prints a run's result: as JSON, or as the text summary.
func printResult(res *result.Result, asJSON bool, stdout io.Writer) error {
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprint(stdout, report.Text(res))
	return nil
}

// envDSN names the environment variable --dsn falls back to for --target dsn: a DSN with a
// password given there (a Kubernetes Secret, a CI variable) stays out of the process list.
const envDSN = "PGSCALE_DSN"

// dsnOrEnv is --dsn, or $PGSCALE_DSN when --dsn is empty and the target is dsn.
func dsnOrEnv(dsn, target string) string {
	if dsn == "" && target == harness.KindDSN {
		return os.Getenv(envDSN)
	}
	return dsn
}
