package script

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/script"
	"github.com/pgscale/pgscale/result"
)

// ClassScriptError is the error class of a script's runtime error (a variable never set, a
// division by zero), as a SQLSTATE is the class of a server's error.
const ClassScriptError = "script_error"

// scriptError gives a script's runtime error its class.
type scriptError struct{ err error }

func (e *scriptError) Error() string      { return e.err.Error() }
func (e *scriptError) Unwrap() error      { return e.err }
func (e *scriptError) ErrorClass() string { return ClassScriptError }

// parts maps the mix onto the recorder's parts: the scripts first (part i is script i), then
// every SQL command of every script.
type parts struct {
	names []string
	// of is the part of each SQL command.
	of map[*script.Command]int
	// stmts lists the SQL commands' parts in order, with their script.
	stmts []stmtPart
}

type stmtPart struct {
	script int
	cmd    *script.Command
}

func partsOf(scripts []*script.Script) parts {
	p := parts{of: map[*script.Command]int{}}
	for _, s := range scripts {
		p.names = append(p.names, s.Name)
	}
	for i, s := range scripts {
		for _, c := range s.Commands {
			if c.Meta != "" {
				continue
			}
			p.of[c] = len(p.names)
			p.names = append(p.names, c.Label)
			p.stmts = append(p.stmts, stmtPart{script: i, cmd: c})
		}
	}
	return p
}

// client is one worker's pgbench client and the observer that records its statements; both are
// made once per worker, so a transaction allocates nothing of the scenario's own.
type client struct {
	c   *script.Client
	obs script.Observer
	ctx context.Context // the operation's, so that statements cut off by the run's end are not errors
}

func (s *Scenario) run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	l := s.l
	load := env.Load
	if s.asIs(env) {
		cfg, err := asIsConfig(env.Target.DSN())
		if err != nil {
			return result.Series{}, err
		}
		load = cfg
	}
	ps := partsOf(l.scripts)
	mode := l.opts.Connect
	if mode == "" {
		mode = loadgen.ConnPerWorker
	}
	cfg := env.LoadConfig(pt.Workers, mode)
	cfg.ConnConfig = load
	cfg.Parts = ps.names
	cfg.Drain = true
	opts := script.Options{
		Protocol: l.protocol(), MaxTries: l.maxTries(), ContinueOnError: l.opts.ContinueOnError,
		Vars: l.opts.Vars, Scale: l.scale(), RandomSeed: env.Seed,
	}
	engine, err := s.chooseEngine(ctx, env, cfg)
	if err != nil {
		return result.Series{}, err
	}
	s.noteEngine(env, engine)
	var out *loadgen.Outcome
	var runErr error
	if engine.Engine == engineMux {
		out, runErr = s.runMux(ctx, cfg, ps, opts)
	} else {
		out, runErr = loadgen.Run(ctx, cfg, goroutineOp(l, ps, opts))
	}
	if out == nil {
		return result.Series{}, runErr
	}
	series, err := out.Series()
	series.Engine, series.EngineWhy = engine.Engine, engine.Why
	if err != nil {
		return series, err
	}
	series.Metrics[MetricTransactionsWithWarmup] = float64(out.AllOps)
	series.Metrics[MetricScale] = float64(l.scale())
	if err := fillBreakdown(&series, l.scripts, ps, out.Parts); err != nil {
		return series, err
	}
	// On the mux engine a run whose clients all stopped ends early, with the engine's error.
	if n := int(series.Metrics[result.MetricStoppedWorkers]); n > 0 && (runErr == nil || engine.Engine == engineMux && n == pt.Workers) {
		if n == pt.Workers {
			seen := map[string]int64{} // the warm-up's too: the workers may have stopped there
			for _, sec := range series.Timeline {
				for class, c := range sec.ErrorsBy {
					seen[class] += c
				}
			}
			runErr = fmt.Errorf("script: every worker stopped on an error (%s); --continue-on-error keeps them going",
				report.ErrorString(seen))
		} else {
			env.Logf("script: %d of %d workers stopped on an error, as pgbench's clients do; --continue-on-error keeps them going", n, pt.Workers)
		}
	}
	return series, runErr
}

// goroutineOp is the operation of a worker of loadgen's goroutine engine: one transaction of
// the worker's pgbench client on its connection.
func goroutineOp(l *loaded, ps parts, opts script.Options) loadgen.Op {
	return func(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
		cl, ok := w.State.(*client)
		if !ok {
			cl = &client{c: script.NewClient(w.ID, opts, w.Rand)}
			cl.obs = func(_ int, cmd *script.Command, started time.Time, d time.Duration, err error) {
				if err != nil && cl.ctx.Err() != nil {
					return
				}
				w.RecordPart(ps.of[cmd], started, d, err)
			}
			w.State = cl
		}
		cl.ctx = ctx
		i := l.mix.Pick(w.Rand)
		out := cl.c.Run(ctx, conn, l.mix, i, cl.obs)
		if out.Err != nil && ctx.Err() != nil {
			return out.Err // cut off by the end of the run: abandoned, not a failure
		}
		err, stop := recordOutcome(w, i, w.Intended, time.Since(w.Intended), out, l.opts.ContinueOnError)
		if stop {
			return loadgen.StopWorker(err)
		}
		return err
	}
}

// partRecorder is where a transaction's figures go: a loadgen.Worker, or the mux engine's
// loadgen.Recorder.
type partRecorder interface {
	RecordPart(i int, started time.Time, d time.Duration, err error)
	RecordRetries(i int, started time.Time, class string, n int)
}

// recordOutcome records the transaction of script i that started at started and took d: its
// retries and its latency or error, a runtime error under ClassScriptError. It returns the
// transaction's error and whether the client must stop (a fatal error without
// continueOnError).
func recordOutcome(rec partRecorder, i int, started time.Time, d time.Duration, out script.Outcome, continueOnError bool) (error, bool) {
	for class, n := range out.Retries {
		rec.RecordRetries(i, started, class, n)
	}
	err := out.Err
	var rt *script.RuntimeError
	if errors.As(err, &rt) {
		err = &scriptError{err: err}
	}
	rec.RecordPart(i, started, d, err)
	return err, err != nil && out.Fatal && !continueOnError
}

// fillBreakdown puts the per-script and per-statement figures into the series.
func fillBreakdown(series *result.Series, scripts []*script.Script, ps parts, snaps []loadgen.PartSnapshot) error {
	if len(snaps) != len(ps.names) {
		return fmt.Errorf("script: %d parts recorded, want %d", len(snaps), len(ps.names))
	}
	for i, sc := range scripts {
		snap := snaps[i]
		enc, err := result.EncodeHistogram(snap.Latency)
		if err != nil {
			return err
		}
		series.Scripts = append(series.Scripts, result.ScriptStats{
			Name: sc.Name, Weight: sc.Weight, Transactions: snap.Ops,
			Errors: nonEmpty(snap.Errors), Retries: nonEmpty(snap.Retries),
			LatencyMs: result.PercentilesOf(snap.Latency), Histogram: enc,
		})
	}
	for j, st := range ps.stmts {
		snap := snaps[len(scripts)+j]
		enc, err := result.EncodeHistogram(snap.Latency)
		if err != nil {
			return err
		}
		series.Statements = append(series.Statements, result.StatementStats{
			Script: st.script, Label: st.cmd.Label, Count: snap.Ops, Errors: nonEmpty(snap.Errors),
			LatencyMs: result.PercentilesOf(snap.Latency), Histogram: enc,
		})
	}
	var retries int64
	for _, sc := range series.Scripts {
		for _, n := range sc.Retries {
			retries += n
		}
	}
	if retries > 0 {
		series.Metrics[MetricRetries] = float64(retries)
	}
	return nil
}

func nonEmpty(m map[string]int64) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	return m
}

// asIsConfig is the load's connection config for a database run as it is: the DSN's own search
// path, not the run's schema.
func asIsConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("target dsn: %s", harness.RedactDSN(err.Error()))
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "pgscale"
	}
	return cfg, nil
}
