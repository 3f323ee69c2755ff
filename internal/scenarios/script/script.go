// Package script is the scenario that runs the user's own scripts in pgbench's language (or
// pgbench's built-in ones), weighted as pgbench -f FILE@WEIGHT does, on pgscale's load generator:
// each worker is a pgbench client with a connection and variables of its own. It records each
// script's transactions and latency and each SQL command's latency and errors.
package script

import (
	"context"
	"strconv"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen/mux"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/script"
	"github.com/pgscale/pgscale/result"
)

// Name of the scenario.
const Name = "script"

func init() { scenarios.Register(Name, func() scenarios.Scenario { return New(Options{}) }) }

// Scenario runs scripts. Make one with New; the registry's has no options, and runs pgbench's
// tpcb-like script on freshly loaded tables (what `pgscale run script --quick` shows).
type Scenario struct {
	opts    Options
	l       *loaded
	engine  string                 // the engine asked for: engineAuto, engineGoroutines or engineMux
	threads int                    // mux_threads
	plain   mux.PlaintextOnce      // whether the load's connections are plaintext, once engine=auto has looked
	said    scenarios.EngineChoice // the engine the console was last told of
}

// New returns the scenario for opts; Plan checks them.
func New(opts Options) *Scenario { return &Scenario{opts: opts} }

// Doc implements scenarios.Scenario.
func (s *Scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "your own scripts in pgbench's language (-f FILE@WEIGHT, -b tpcb-like), with per-statement percentiles",
		Shows: "Transactions per second and latency of each script of a weighted mix, and the latency and " +
			"errors of each SQL command, with pgbench's scripts running unchanged. Without -f or -b it runs " +
			"pgbench's tpcb-like script on freshly loaded pgbench tables. Its own flags (pgscale run --help): -f, -b, " +
			"-D, --protocol (the variant), --max-tries, --continue-on-error, --scale, --setup, --init.",
		Variants: []string{string(script.ProtocolSimple), string(script.ProtocolExtended), string(script.ProtocolPrepared)},
		Params: append([]scenarios.ParamSpec{
			{Name: "workers", Kind: scenarios.KindInt, List: true, Default: "8", Min: 1,
				Help: "concurrent clients, each with its own connection and variables (pgbench -c)"},
		}, engineParams...),
		Headline: &result.Headline{Metric: result.HeadlineThroughput, Label: "transaction throughput", Unit: "tx/s",
			Better: result.BetterHigher},
		Duration: 30 * time.Second, Warmup: 5 * time.Second,
		QuickDuration: 5 * time.Second, QuickWarmup: time.Second,
	}
}

// Options returns the options the scenario was made with.
func (s *Scenario) Options() Options { return s.opts }

// Plan implements scenarios.Scenario: it reads and parses every script and setup file, so that
// bad input stops the run before anything starts.
func (s *Scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	opts := s.opts
	if len(opts.Files) == 0 && len(opts.Builtins) == 0 && len(opts.Scripts) == 0 {
		opts.Builtins = []string{QuickBuiltin}
	}
	l, err := load(opts)
	if err != nil {
		return scenarios.Plan{}, err
	}
	if err := l.checkEngine(p); err != nil {
		return scenarios.Plan{}, err
	}
	s.l, s.engine, s.threads = l, p.String("engine"), p.Int("mux_threads")
	var plan scenarios.Plan
	for _, workers := range p.Ints("workers") {
		plan.Points = append(plan.Points, scenarios.Point{
			Variant:  string(l.protocol()),
			Values:   map[string]any{"workers": workers},
			Workers:  workers,
			Settings: map[string]string{"max_connections": strconv.Itoa(max(100, workers+20))},
		})
	}
	return plan, nil
}

// DescribeParams implements scenarios.ParamsDescriber: the scripts, protocol and other options
// go into the result's params.
func (s *Scenario) DescribeParams() map[string]any {
	if s.l == nil {
		return nil
	}
	d := s.l.describe()
	d["engine"] = s.engine
	if s.engine != engineGoroutines {
		d["mux_threads"] = s.threads
	}
	return d
}

// Run implements scenarios.Scenario.
func (s *Scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	return s.run(ctx, env, pt)
}

// initTables tells whether Setup loads the pgbench tables: --init, or built-in scripts on a
// server pgscale started.
func (s *Scenario) initTables(env *scenarios.Env) bool {
	return s.l.opts.Init || (s.l.hasBuiltins() && env.Target.Kind() != harness.KindDSN)
}

// asIs tells whether the scripts run against the database as it is: a dsn target with nothing to
// set up, where the run's schema stays out of the search path.
func (s *Scenario) asIs(env *scenarios.Env) bool {
	return env.Target.Kind() == harness.KindDSN && !s.initTables(env) && len(s.l.setup) == 0
}

// InPlace implements scenarios.InPlacer: a dsn target creates no schema for a run against the
// database as it is (asIs), so that pgscale creates and drops nothing there.
func (s *Scenario) InPlace(targetKind string) bool {
	return s.l != nil && targetKind == harness.KindDSN && !s.l.opts.Init && len(s.l.setup) == 0
}
