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

	"github.com/pgscale/pgscale/harness"
	"github.com/pgscale/pgscale/loadgen"
	"github.com/pgscale/pgscale/report"
	"github.com/pgscale/pgscale/runner"
	"github.com/pgscale/pgscale/shard"
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
	noReport                       bool
	repeat                         int
	seed                           uint64
	shard, runID                   string        // --shard i/N, --run-id
	barrierTimeout                 time.Duration // --barrier-timeout
	skipSetup                      bool          // --skip-setup
}

func newRunCmd(stdout, stderr io.Writer, tracker *harness.Tracker) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run SCENARIO [flags]",
		Short: "Run a scenario and write its result",
		Example: `  pgscale run select-only --target local --duration 10s --workers 8
  pgscale run select-only --quick
  pgscale run select-only --set variants=prepared --set workers=1,8,32 --repeat 3
  pgscale run select-only --target dsn --dsn 'postgres://app@db.example.com:5432/app'
  pgscale run select-only --target docker --image pgscale/postgres:15-bookworm --shape 1cpu-1gb
  pgscale run select-only --pooler pgbouncer --pooler-mode session --pooler-size 10 --latency 2ms
  pgscale run queue --set variants=dedicated --set workers=50 --latency 0ms,1ms,12ms`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(args[0], cmd.Flags().Changed)
			if err != nil {
				return err
			}
			opts.Log = stderr
			opts.Tracker = tracker
			if !f.json || isTerminal(stderr) {
				opts.Progress = loadgen.NewProgress(stderr, isTerminal(stderr))
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
	fl.DurationSliceVar(&f.latencies, "latency", nil, "round-trip time added between the load and the server, e.g. 2ms (an in-process proxy); a list (0ms,1ms,12ms) runs every point at each")
	fl.DurationVar(&f.duration, "duration", 0, "measured run length per point (default: the scenario's)")
	fl.DurationVar(&f.warmup, "warmup", 0, "warm-up before each point, measured but excluded (default: the scenario's)")
	fl.IntVar(&f.workers, "workers", 0, "concurrent workers, same as --set workers=N (default: the scenario's)")
	fl.Float64Var(&f.rate, "rate", 0, "open loop: operations per second over all workers (0: closed loop)")
	fl.StringArrayVar(&f.sets, "set", nil, "scenario parameter name=value, repeatable; a list is a,b,c")
	fl.StringArrayVar(&f.pgSettings, "pg-setting", nil, "server setting name=value, repeatable")
	fl.StringVar(&f.out, "out", "", "output directory (default results/runs/<utc-time>-<scenario>)")
	fl.BoolVar(&f.quick, "quick", false, "the scenario's short preset (what make bench runs)")
	fl.IntVar(&f.repeat, "repeat", 1, "run every point N times")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON on stdout")
	fl.BoolVar(&f.allowIntrusive, "allow-intrusive", false, "allow scenarios that exhaust connections or take ACCESS EXCLUSIVE locks on a dsn target")
	fl.BoolVar(&f.noReport, "no-report", false, "write no report.md, report.html or plots (result.json, summary.md and bench.txt only)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the workers' random streams")
	fl.StringVar(&f.shard, "shard", "", "run shard i of N of a run shared by N processes (--target dsn; see pgscale merge), e.g. 0/4")
	fl.StringVar(&f.runID, "run-id", "", "the run's id, the same for every shard (default <utc-time>-<scenario>)")
	fl.DurationVar(&f.barrierTimeout, "barrier-timeout", shard.DefaultTimeout, "how long a shard waits for the others at the barrier")
	fl.BoolVar(&f.skipSetup, "skip-setup", false, "use the schema and data pgscale prepare made for this --run-id (--target dsn)")
	return cmd
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
		return runner.Options{}, harness.Usagef("--duration %s: must be more than 0 (e.g. 10s, 1m)", f.duration)
	}
	if changed("workers") && f.workers <= 0 {
		return runner.Options{}, harness.Usagef("--workers %d: must be at least 1", f.workers)
	}
	if f.rate < 0 {
		return runner.Options{}, harness.Usagef("--rate %g: must be 0 (closed loop) or a positive rate per second", f.rate)
	}
	pooler, err := f.pooler.spec(changed)
	if err != nil {
		return runner.Options{}, err
	}
	if f.barrierTimeout <= 0 {
		return runner.Options{}, harness.Usagef("--barrier-timeout %s: must be more than 0 (default %s)", f.barrierTimeout, shard.DefaultTimeout)
	}
	seg := shard.Segment{}
	if changed("shard") {
		if seg, err = shard.Parse(f.shard); err != nil {
			return runner.Options{}, err
		}
	}
	warmup := time.Duration(-1)
	if changed("warmup") {
		if f.warmup < 0 {
			return runner.Options{}, harness.Usagef("--warmup %s: must be 0 or more", f.warmup)
		}
		warmup = f.warmup
	}
	return runner.Options{
		Scenario: scenario, Sets: sets, PGSettings: pgSettings,
		Target: f.target, DSN: dsnOrEnv(f.dsn, f.target), Image: f.image, Shape: f.shape, Pooler: pooler, Latencies: f.latencies,
		Duration: f.duration, Warmup: warmup, Workers: f.workers, Rate: f.rate,
		Quick: f.quick, Repeat: f.repeat, Out: f.out, AllowIntrusive: f.allowIntrusive, Seed: f.seed,
		NoReport: f.noReport, Shard: seg, RunID: f.runID, BarrierTimeout: f.barrierTimeout, SkipSetup: f.skipSetup,
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
				return nil, harness.Usagef("--%s needs --pooler pgbouncer", name)
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
			return nil, harness.Usagef("%s %q: want name=value", flag, kv)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

func runScenario(cmd *cobra.Command, opts runner.Options, asJSON bool, stdout, stderr io.Writer) error {
	prep, err := runner.Prepare(opts, time.Now())
	if err != nil {
		return err
	}
	res, err := prep.Run(cmd.Context())
	if res != nil {
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(res); jerr != nil {
				return jerr
			}
		} else {
			fmt.Fprint(stdout, report.Text(res))
		}
		fmt.Fprintf(stderr, "wrote %s\n", prep.OutDir())
	}
	return err
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
