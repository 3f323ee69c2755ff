// Package scenarios holds pgscale's named workloads and their registry. A scenario validates its
// parameters into a plan of points (variant × sweep values), sets up its schema on a target, and
// drives one point with the load generator; it never starts servers or draws plots.
package scenarios

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/harness"
	"github.com/pgscale/pgscale/loadgen"
	"github.com/pgscale/pgscale/report"
)

// Doc describes a scenario for `pgscale list` and `pgscale describe`.
type Doc struct {
	Name     string
	Summary  string // one line
	Shows    string // what the scenario exists to show
	Variants []string
	Params   []ParamSpec
	// Headline is the figure the scenario is judged by when ops/s is not it: a series metric
	// (ingest's rows_per_s, since its operation is a batch) or ops/s under the name of what an
	// operation is (requests/s). nil: ops/s. The runner stamps it into the result, and findings,
	// summaries, reports and comparisons lead with it.
	Headline *report.Headline
	// Intrusive scenarios exhaust connections or take ACCESS EXCLUSIVE locks; a dsn target runs
	// them only with --allow-intrusive.
	Intrusive bool
	// Shardable scenarios can run as the shards of one run (pgscale run --shard i/N): their
	// shards share the server's state without resetting each other's work, and the figures
	// they read from the server are reported once (by shard 0), not once per shard.
	Shardable bool
	// ClosedLoopOnly scenarios cannot pace their load: --rate is a usage error.
	ClosedLoopOnly bool
	// Default and --quick run lengths.
	Duration, Warmup           time.Duration
	QuickDuration, QuickWarmup time.Duration
}

// ParamNames lists the parameter names in declaration order.
func (d Doc) ParamNames() []string {
	names := make([]string, len(d.Params))
	for i, p := range d.Params {
		names[i] = p.Name
	}
	return names
}

// Point is one series to measure: a variant at one set of sweep values.
type Point struct {
	Variant string
	// Values are the sweep values, recorded as the series' point.
	Values map[string]any
	// Settings are server settings this point needs (max_connections for a sweep over it).
	Settings map[string]string
	Workers  int
}

// Plan is what a scenario will run.
type Plan struct {
	Points []Point
	// Settings apply to every point (merged under each point's own).
	Settings map[string]string
	// Pooler, when set, asks the target for a pooler in front of the server.
	Pooler *harness.PoolerSpec
}

// Scenario is one named workload.
type Scenario interface {
	Doc() Doc
	// Plan validates the parameters and expands them into points.
	Plan(p Params) (Plan, error)
	// Setup creates the scenario's schema on a freshly started target.
	Setup(ctx context.Context, env *Env) error
	// Run measures one point. It returns what it measured even when it fails midway.
	Run(ctx context.Context, env *Env, pt Point) (report.Series, error)
}

// Env is what a scenario gets to work with.
type Env struct {
	Target harness.Target
	// Load is where the load goes (it may be a pooler); Admin connects directly for setup.
	Load, Admin *pgx.ConnConfig
	Params      Params
	Duration    time.Duration
	Warmup      time.Duration
	Rate        float64
	// Workers from --workers, when given (0 otherwise): it overrides the scenario's default.
	Workers  int
	OnSecond func(loadgen.Tick)
	Log      io.Writer
	Seed     uint64
}

// LoadConfig is a loadgen configuration filled from the environment: the load target, run
// lengths, rate and progress.
func (e *Env) LoadConfig(workers int, mode loadgen.ConnMode) loadgen.Config {
	return loadgen.Config{
		Workers:    workers,
		Rate:       e.Rate,
		Duration:   e.Duration,
		Warmup:     e.Warmup,
		ConnMode:   mode,
		ConnConfig: e.Load,
		OnSecond:   e.OnSecond,
		Seed:       e.Seed,
	}
}

// AdminConn opens a direct connection for setup.
func (e *Env) AdminConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := loadgen.Connect(ctx, e.Admin, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("admin connection: %w", err)
	}
	return conn, nil
}

// Logf writes a note about the run's progress (setup steps, variant changes).
func (e *Env) Logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

var registry = map[string]func() Scenario{}

// Register adds a scenario constructor under its name. Each run gets a new instance.
func Register(name string, make func() Scenario) { registry[name] = make }

// Names lists the registered scenarios in order.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns a new instance of the named scenario, or a usage error that lists the valid
// names and suggests the closest.
func Lookup(name string) (Scenario, error) {
	if mk, ok := registry[name]; ok {
		return mk(), nil
	}
	return nil, harness.Usagef("unknown scenario %q%s; valid: %s", name, suggest(name, Names()), joinNames(Names()))
}

func joinNames(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}
