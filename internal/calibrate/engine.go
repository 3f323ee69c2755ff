package calibrate

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/loadgen/mux"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
	"github.com/pgscale/pgscale/internal/usage"
)

// Which of pgscale's engines runs pgscale's side: loadgen's goroutine per worker, or loadgen/mux's
// OS thread per CPU serving every connection, opening a connection per lookup itself in the
// connect mode (what `pgscale run script` and select-only run by default where mux can run).
const (
	EngineMux        = "mux"
	EngineGoroutines = "goroutines"
)

// DefaultEngines are the engines the prepared mode measures unless told otherwise, the headline
// first.
var DefaultEngines = []string{EngineMux, EngineGoroutines}

// engines is o.Engines, or DefaultEngines when it is empty.
func (o Options) engines() []string {
	if len(o.Engines) == 0 {
		return DefaultEngines
	}
	return o.Engines
}

// kind is one line of the calibration: a mode on one engine.
type kind struct{ mode, engine string }

// kinds are the mode and engine pairs each round measures, in order: each mode once per engine.
func kinds(modes, engines []string) []kind {
	var ks []kind
	for _, m := range modes {
		for _, e := range engines {
			ks = append(ks, kind{m, e})
		}
	}
	return ks
}

// usableEngines drops the mux engine when the connections would use TLS, which it cannot serve,
// saying so on out; it is an error when no engine is left for the prepared mode.
func usableEngines(ctx context.Context, cc *pgx.ConnConfig, o Options, out io.Writer) ([]string, error) {
	engines := o.engines()
	if !slices.Contains(engines, EngineMux) {
		return engines, nil
	}
	plain, err := mux.Plaintext(ctx, cc, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	if plain {
		return engines, nil
	}
	kept := slices.DeleteFunc(slices.Clone(engines), func(e string) bool { return e == EngineMux })
	if len(kept) == 0 {
		return nil, fmt.Errorf("calibrate: the connections use TLS, which the mux engine cannot serve: " +
			"use sslmode=disable, or --engine goroutines")
	}
	fmt.Fprintln(out, "note: the connections use TLS, which the mux engine cannot serve: pgscale's side on goroutines only")
	return kept, nil
}

// engineNotes names the engines in order, each with where pgscale runs it.
func engineNotes(engines []string) string {
	notes := map[string]string{
		EngineMux:        "mux (what pgscale run script and select-only run by default)",
		EngineGoroutines: "goroutines (select-only with --set engine=goroutines, and where mux cannot run)",
	}
	var parts []string
	for _, e := range engines {
		parts = append(parts, notes[e])
	}
	return strings.Join(parts, ", ")
}

// runPgscaleMux runs mode's lookups on the mux engine as select-only's engine=mux does: a
// connection per client (prepared mode) or per lookup (connect mode, pgbench -C's simple
// protocol), an OS thread per CPU serving them all.
func runPgscaleMux(ctx context.Context, cc *pgx.ConnConfig, o Options, mode string) (Sample, error) {
	load := selectonly.MuxLookups{Conns: o.Clients, Accounts: int32(o.Scale * 100000)}
	connMode := loadgen.ConnPerWorker
	if mode == ModeConnect {
		// pgbench -C: a connection per lookup, in the simple protocol unless told otherwise.
		load.PerOp, load.Simple, connMode = true, true, loadgen.ConnPerOp
	}
	engine, err := selectonly.NewMuxEngine(cc, load)
	if err != nil {
		return Sample{}, fmt.Errorf("calibrate pgscale %s on mux: %w", mode, err)
	}
	cfg := loadgen.Config{Workers: o.Clients, Duration: o.Duration, ConnConfig: cc, ConnMode: connMode}
	before, started := selfCPU(), time.Now()
	out, err := loadgen.RunEngine(ctx, cfg, engine)
	cpu, wall := selfCPU()-before, time.Since(started).Seconds()
	if err != nil {
		return Sample{}, fmt.Errorf("calibrate pgscale %s on mux: %w", mode, err)
	}
	return sample(out, cpu, wall, mode+" on mux")
}

// sample is a run's outcome as one side of a pair; a run with errors is not one.
func sample(out *loadgen.Outcome, cpu, wall float64, what string) (Sample, error) {
	if errs := sum(out.Errors); errs > 0 {
		return Sample{}, fmt.Errorf("calibrate pgscale %s: %d errors: %v", what, errs, out.ErrorSamples)
	}
	return Sample{TPS: float64(out.Ops) / out.Measured.Seconds(), Transactions: out.Ops, CPUSeconds: cpu, WallSeconds: wall}, nil
}

// EnginesBehindPooler is engines for a pooler in poolerMode (empty for none): the mux engine
// prepares its lookup once per connection, which a pooler in transaction mode breaks (the next
// Bind may reach a server connection that never prepared it), as select-only refuses engine=mux
// there. given says the engines were named by the user: dropping one is then a usage error; by
// default the mux engine is left out and note says so.
func EnginesBehindPooler(engines []string, poolerMode string, given bool) (kept []string, note string, err error) {
	if len(engines) == 0 {
		engines = DefaultEngines
	}
	if poolerMode != harness.PoolerModeTransaction || !slices.Contains(engines, EngineMux) {
		return engines, "", nil
	}
	if given {
		return nil, "", usage.Fieldf("engine", "mux prepares its lookup once per connection, which --pooler-mode %s breaks: "+
			"use --pooler-mode %s, or --engine %s", poolerMode, harness.PoolerModeSession, EngineGoroutines)
	}
	kept = slices.DeleteFunc(slices.Clone(engines), func(e string) bool { return e == EngineMux })
	return kept, "note: --pooler-mode " + poolerMode + ": pgscale's side on goroutines only (the mux engine prepares once per connection)", nil
}
