package selectonly

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/loadgen/mux"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Engines of the lookups; auto picks one per point (chooseEngine).
const (
	engineAuto       = scenarios.EngineAuto
	engineGoroutines = scenarios.EngineGoroutines
	engineMux        = scenarios.EngineMux
)

// engineParam picks what drives the lookups: loadgen's goroutine per worker over pgx, or the
// loadgen/mux engine that serves every connection from a thread per CPU, as pgbench -j's threads do.
var engineParam = scenarios.ParamSpec{
	Name: "engine", Kind: scenarios.KindString, Default: engineAuto,
	Choices: []string{engineAuto, engineGoroutines, engineMux},
	Help: "auto: mux where it can run, goroutines otherwise (the result's series and the console say which ran, and why); " +
		"goroutines: a goroutine per worker over pgx; mux: an OS thread per CPU, each waiting for its connections in one " +
		"epoll_wait and opening them itself with connect=per-op, as pgbench -j does (closed loop, no TLS; " +
		"the prepared variant with connect=pool not behind a pooler in transaction mode)",
	Before: engineGoroutines, // the default until auto: a result without engine ran goroutines
}

// ClosedLoopOnlyWith says that engine=mux runs a closed loop only: --rate, a workload's stages
// and --capacity are usage errors with it.
func (*scenario) ClosedLoopOnlyWith(p scenarios.Params) string {
	if p.String("engine") == engineMux {
		return "--set engine=mux"
	}
	return ""
}

// CheckPooler refuses engine=mux with the prepared variant over connections opened once behind a
// pooler in transaction mode: the engine prepares its lookup once per connection, and the pooler
// would send the next Bind to a server connection that never prepared it. Session mode keeps one
// server connection per client and works; so do the simple variant, and connect=per-op (whose
// lookups are parsed in the same round trip, as the unnamed statement).
func (*scenario) CheckPooler(p scenarios.Params, pooler *harness.PoolerSpec) error {
	if p.String("engine") == engineMux && pooler.Mode == harness.PoolerModeTransaction &&
		slices.Contains(p.Strings("variants"), "prepared") && slices.Contains(p.Strings("connect"), "pool") {
		return usage.Fieldf("set", "engine=mux prepares its lookup once per connection, which --pooler-mode %s breaks for "+
			"variant prepared with connect=pool: use --pooler-mode %s, --set variants=simple, --set connect=per-op, or leave engine=mux out",
			pooler.Mode, harness.PoolerModeSession)
	}
	return nil
}

// MuxThreads is how many OS threads serve the mux engine's connections: 0, one per CPU
// (mux.DefaultThreads), as calibrate's pgbench -j. On 2 cores at 8 clients, two threads that keep
// their P while they wait ran 1.06× pgbench's lookups/s at 1.05× its client CPU per lookup, one
// thread 0.96× at 0.91× (loadgen/README.md).
const MuxThreads = 0

// MuxLookups is the load of the mux engine: conns connections, each running lookups of pgbench
// -S's query for random accounts in 1..accounts, prepared or in the simple protocol, over
// connections opened once or a connection per lookup (pgbench -C), served by MuxThreads OS
// threads. A zero seed picks one from the clock. pgscale calibrate measures this engine too.
type MuxLookups struct {
	Conns    int
	Accounts int32
	Simple   bool
	PerOp    bool
	Seed     uint64
}

// NewMuxEngine is the engine engine=mux runs for l against cc.
func NewMuxEngine(cc *pgx.ConnConfig, l MuxLookups) (*mux.Engine, error) {
	return mux.New(mux.Config{
		ConnConfig: cc,
		Conns:      l.Conns,
		Threads:    MuxThreads,
		SQL:        lookup,
		Keys:       l.Accounts,
		Simple:     l.Simple,
		PerOp:      l.PerOp,
		Seed:       l.Seed,
	})
}

// runMux measures one point with the mux engine: one connection per worker (or per lookup), all
// served by MuxThreads OS threads.
func runMux(ctx context.Context, env *scenarios.Env, pt scenarios.Point, accounts int32) (result.Series, error) {
	if env.Rate > 0 || env.Pacer != nil {
		return result.Series{}, errors.New("select-only: engine=mux runs a closed loop only (no --rate or stages)")
	}
	mode := ConnMode(fmt.Sprint(pt.Values["connect"]))
	engine, err := NewMuxEngine(env.Load, MuxLookups{Conns: pt.Workers, Accounts: accounts, Simple: pt.Variant == "simple",
		PerOp: mode == loadgen.ConnPerOp, Seed: env.Seed})
	if err != nil {
		return result.Series{}, err
	}
	out, runErr := loadgen.RunEngine(ctx, env.LoadConfig(pt.Workers, mode), engine)
	if out == nil {
		return result.Series{}, runErr
	}
	series, err := out.Series()
	if err != nil {
		return series, err
	}
	return series, runErr
}

// muxWhy is why engine=auto runs mux: everything it needs holds.
const muxWhy = "closed loop, plaintext connections"

// chooseEngine is the engine that runs the point: the one asked for, or, for engine=auto, mux
// when it can run the point (closed loop; not the prepared variant over connections opened once
// behind a pooler in transaction mode; a plaintext connection: checked with one connection the
// first time it may be TLS), goroutines otherwise.
func (s *scenario) chooseEngine(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (scenarios.EngineChoice, error) {
	if e := env.Params.String("engine"); e != engineAuto {
		return scenarios.EngineChoice{Engine: e}, nil
	}
	var cannot []string
	if env.Pooler != nil && env.Pooler.Mode == harness.PoolerModeTransaction && pt.Variant == "prepared" && pt.Values["connect"] == "pool" {
		cannot = append(cannot, "the pooler is in transaction mode: the mux engine prepares its lookup once per connection")
	}
	return scenarios.AutoEngine(ctx, env, &s.plain, env.Load, 0, cannot, muxWhy)
}

// noteEngine tells the console which engine runs the point's variant and connect mode, once per
// run unless it changes.
func (s *scenario) noteEngine(env *scenarios.Env, pt scenarios.Point, c scenarios.EngineChoice) {
	key := fmt.Sprintf("%s connect=%v", pt.Variant, pt.Values["connect"])
	if said, ok := s.said[key]; ok && said == c {
		return
	}
	if s.said == nil {
		s.said = map[string]scenarios.EngineChoice{}
	}
	s.said[key] = c
	env.Logf("select-only %s %s", key, report.EngineText(c.Engine, c.Why))
}
