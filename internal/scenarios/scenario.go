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

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/shard"
	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
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
	Headline *result.Headline
	// Intrusive scenarios exhaust connections or take ACCESS EXCLUSIVE locks; a dsn target runs
	// them only with --allow-intrusive. IntrusiveWhy, when set, says what this one does instead.
	Intrusive    bool
	IntrusiveWhy string
	// Shardable scenarios can run as the shards of one run (pgscale run --shard i/N): their
	// shards share the server's state without resetting each other's work, and the figures
	// they read from the server are reported once (by shard 0), not once per shard.
	Shardable bool
	// ClosedLoopOnly scenarios cannot pace their load: --rate is a usage error.
	ClosedLoopOnly bool
	// Default and --quick run lengths.
	Duration, Warmup           time.Duration
	QuickDuration, QuickWarmup time.Duration
	// FullDuration and FullWarmup are --preset full's run lengths; 0 keeps Duration and Warmup.
	FullDuration, FullWarmup time.Duration
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
	Run(ctx context.Context, env *Env, pt Point) (result.Series, error)
}

// ParamsDescriber is a scenario given options beyond --set (the script scenario's files and
// flags): DescribeParams, called after Plan, returns them for the result's params.
type ParamsDescriber interface {
	DescribeParams() map[string]any
}

// InPlacer is a scenario that may run against the database as it is (scripts on a dsn target
// with nothing to set up): InPlace tells, for a target kind, whether the target must create no
// schema of its own.
type InPlacer interface {
	InPlace(targetKind string) bool
}

// IntrusiveChecker is a scenario that becomes intrusive with some parameters (queue with
// long_txn holds back vacuum in the whole database): IntrusiveWith returns why it is, or "".
type IntrusiveChecker interface {
	IntrusiveWith(p Params) string
}

// RunLengthChecker is a scenario whose parameters depend on the run's length (ddl-lock's ddl_at
// must fall inside the measured window): CheckRunLength, called after Plan with the measured
// duration, returns a usage error so that bad input starts nothing.
type RunLengthChecker interface {
	CheckRunLength(p Params, duration time.Duration) error
}

// ClosedLoopChecker is a scenario that runs a closed loop only with some of its parameters
// (select-only's engine=mux): ClosedLoopOnlyWith, called after Plan, names the setting that
// forbids paced load (--rate, stages, --capacity), or returns "" when the load may be paced.
type ClosedLoopChecker interface {
	ClosedLoopOnlyWith(p Params) string
}

// PoolerChecker is a scenario that cannot run some of its parameters through a pooler in some
// mode (select-only's engine=mux prepares its statement once per connection, and transaction
// pooling hands the next Bind to another server connection): CheckPooler, called after Plan
// when the run has a pooler, returns a usage error naming both, or nil.
type PoolerChecker interface {
	CheckPooler(p Params, pooler *harness.PoolerSpec) error
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
	// Pacer, when set, is the load shape (a workload file's stages) instead of Rate.
	Pacer loadgen.Pacer
	// Pooler is the pooler the run put in front of the server (--pooler or the plan's), nil
	// without one: Load then goes through it.
	Pooler *harness.PoolerSpec
	// Workers from --workers, when given (0 otherwise): it overrides the scenario's default.
	Workers  int
	OnSecond func(loadgen.Tick)
	Log      io.Writer
	Seed     uint64
	// Shard is this process's part of a sharded run (pgscale run --shard i/N) during a point:
	// its segment (Shard.Segment) and the barriers inside the point (Shard.Start, Shard.Sync).
	// It is nil in a whole run, and every method of a nil one answers for the whole run.
	Shard *shard.Coordinator
}

// LoadConfig is a loadgen configuration filled from the environment: the load target, run
// lengths, rate and progress.
func (e *Env) LoadConfig(workers int, mode loadgen.ConnMode) loadgen.Config {
	return loadgen.Config{
		Workers:    workers,
		Rate:       e.Rate,
		Pacer:      e.Pacer,
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

// AdminExec runs stmts in order on a direct connection of its own, as a scenario's setup does;
// the first that fails ends it, its error wrapped with what (what the statements do).
func (e *Env) AdminExec(ctx context.Context, what string, stmts ...string) error {
	conn, err := e.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// Logf writes a note about the run's progress (setup steps, variant changes).
func (e *Env) Logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

var registry = map[string]func() Scenario{}

// Register adds a scenario constructor under its name. Each run gets a new instance. A second
// scenario under the same name, or a name that is not the scenario's Doc().Name, is a programming
// error and panics when the package loads, so no test or run can miss it.
func Register(name string, make func() Scenario) {
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("scenarios: %q registered twice", name))
	}
	if got := make().Doc().Name; got != name {
		panic(fmt.Sprintf("scenarios: registered as %q, but its Doc names it %q", name, got))
	}
	registry[name] = make
}

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
	return nil, usage.Errorf("unknown scenario %q%s; valid: %s", name, suggest.DidYouMean(name, Names()), joinNames(Names()))
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
