package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
)

// `pgscale prepare` sets a scenario up on a dsn target ahead of its run: it creates the run's
// schema, creates the scenario's tables and loads its data there, records what it prepared in
// the table pgscale_prepared, and leaves it all for the run. The run (every shard of a sharded
// run) is then given --skip-setup: it attaches to the prepared schema instead of creating it,
// checks that it was prepared for the same scenario and parameters, and does no setup. As for
// any run on a dsn target, the run drops the schema when it ends (its last shard, when sharded).
// On Kubernetes, a Job that runs prepare goes before the Indexed Job of the shards, so that no
// shard's pod waits at the barrier through a long load.

// preparedTable records, in the run's schema, the scenario and parameters it was prepared for.
const preparedTable = "pgscale_prepared"

// PreloadOptions are `pgscale prepare`'s: the scenario and the parameters the run will be given
// (--set, --workers, --quick), the dsn target and the run's id.
type PreloadOptions struct {
	Scenario string
	Sets     map[string]string
	Workers  int
	Quick    bool
	DSN      string
	RunID    string
	// Log receives the setup's notes.
	Log io.Writer
	// Tracker, when set, is told of the target while the setup runs, so that a second Ctrl-C
	// drops the half-made schema before pgscale exits.
	Tracker *harness.Tracker
}

// ValidatePreload checks opts, reporting every usage error at once. It starts nothing.
func ValidatePreload(opts PreloadOptions) (*prepared, error) {
	sc, err := scenarios.Lookup(opts.Scenario)
	if err != nil {
		return nil, err
	}
	doc := sc.Doc()
	p := &prepared{scenario: sc, doc: doc, opts: Options{Scenario: opts.Scenario, Target: harness.KindDSN, DSN: opts.DSN,
		RunID: opts.RunID, Workers: opts.Workers, Quick: opts.Quick, Repeat: 1, Log: opts.Log, Tracker: opts.Tracker}}
	var errs []error
	if opts.RunID == "" {
		errs = append(errs, usage.Errorf("pgscale prepare needs --run-id: the id the run's shards will be given, e.g. --run-id orders-1"))
	} else if !runIDPattern.MatchString(opts.RunID) {
		errs = append(errs, usage.Fieldf("run-id", "%q: want 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit "+
			"(it names the run's schema on the server)", opts.RunID))
	}
	if opts.Workers < 0 {
		errs = append(errs, usage.Fieldf("workers", "%d: must be at least 1", opts.Workers))
	}
	if _, err := harness.ParseDSN(opts.DSN); err != nil {
		errs = append(errs, err)
	}
	sets := maps.Clone(opts.Sets)
	if sets == nil {
		sets = map[string]string{}
	}
	if _, ok := sets["workers"]; !ok && opts.Workers > 0 {
		sets["workers"] = fmt.Sprint(opts.Workers)
	}
	if p.params, err = scenarios.ResolveParams(doc, sets, opts.Quick); err != nil {
		errs = append(errs, err)
	} else if p.plan, err = sc.Plan(p.params); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, usage.Join(errs)
	}
	p.runID = opts.RunID
	p.duration, p.warmup = doc.Duration, doc.Warmup
	return p, nil
}

// Preload creates the run's schema on the dsn target, sets the scenario up in it and records
// what it prepared; it returns the schema's name. It writes nothing else, and on failure leaves
// nothing behind.
func (p *prepared) Preload(ctx context.Context) (schema string, err error) {
	spec := harness.Spec{Kind: harness.KindDSN, RunID: p.runID, DSN: p.opts.DSN}
	target, err := harness.DSNProvider{}.Start(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("prepare: %w", existsHint(err, p.runID))
	}
	if p.opts.Tracker != nil {
		p.opts.Tracker.Add(target)
		defer p.opts.Tracker.Remove(target) // a prepared schema stays; a failed one is dropped below
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			err = errors.Join(err, target.Close(cctx))
		}
	}()
	env, err := p.env(target)
	if err != nil {
		return "", err
	}
	started := time.Now()
	if err := p.scenario.Setup(ctx, env); err != nil {
		return "", fmt.Errorf("%s setup: %w", p.doc.Name, err)
	}
	p.logf("%s: setup done in %s", p.doc.Name, time.Since(started).Round(time.Millisecond))
	conn, err := pgx.ConnectConfig(ctx, env.Admin)
	if err != nil {
		return "", fmt.Errorf("prepare: %s", harness.RedactDSN(err.Error()))
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE TABLE "+preparedTable+" (scenario text NOT NULL, params text NOT NULL, "+
		"pgscale_version text NOT NULL, prepared_at timestamptz NOT NULL DEFAULT clock_timestamp())")
	if err == nil {
		_, err = conn.Exec(ctx, "INSERT INTO "+preparedTable+" (scenario, params, pgscale_version) VALUES ($1, $2, $3)",
			p.doc.Name, p.setupFingerprint(), Version)
	}
	if err != nil {
		return "", fmt.Errorf("prepare: record the setup: %w", err)
	}
	// Its maker exits now: pgscale clean --dsn keeps a prepared schema until a run takes it over.
	if err := harness.MarkPrepared(ctx, target, p.runID); err != nil {
		return "", err
	}
	return target.Schema(), nil
}

// existsHint explains a schema that exists already.
func existsHint(err error, runID string) error {
	if harness.SQLState(err) == "42P06" {
		return fmt.Errorf("schema %s exists already: run %s was prepared or run before; give a new --run-id, or drop the schema: %w",
			harness.RunSchema(runID), runID, err)
	}
	return err
}

// setupFingerprint is what a prepared schema must have been prepared with: the scenario's
// parameters (JSON marshals a map with its keys sorted).
func (p *prepared) setupFingerprint() string {
	b, err := json.Marshal(p.params.Map())
	if err != nil {
		return fmt.Sprint(p.params.Map())
	}
	return string(b)
}

// checkSkipSetup checks --skip-setup against the other options.
func (p *prepared) checkSkipSetup() []error {
	if !p.opts.SkipSetup {
		return nil
	}
	var errs []error
	if p.opts.Target != harness.KindDSN {
		errs = append(errs, usage.Fieldf("skip-setup", "is for --target dsn, on a server pgscale prepare set up (the %s target starts a server of its own)",
			p.opts.Target))
	}
	if p.opts.RunID == "" {
		errs = append(errs, usage.Fieldf("skip-setup", "needs --run-id: the id given to pgscale prepare"))
	}
	if p.latencySwept() {
		errs = append(errs, usage.Fieldf("skip-setup", ": a --latency sweep runs each latency on a target of its own, and a prepared "+
			"schema serves one run: give one --latency"))
	}
	return errs
}

// preparedProvider attaches a run given --skip-setup to the schema pgscale prepare made.
func (p *prepared) preparedProvider(provider harness.Provider) harness.Provider {
	if !p.opts.SkipSetup {
		return provider
	}
	return &attachProvider{Provider: provider, p: p}
}

type attachProvider struct {
	harness.Provider
	p *prepared
}

func (a *attachProvider) Start(ctx context.Context, spec harness.Spec) (harness.Target, error) {
	target, err := harness.AttachDSN(ctx, spec)
	if err != nil {
		return nil, err
	}
	// On a mismatch the schema is left as it is (the target is not closed): the right run can
	// still use it.
	if err := a.p.checkPrepared(ctx, target); err != nil {
		return nil, err
	}
	return target, nil
}

// checkPrepared checks that the schema was prepared for this run's scenario and parameters.
func (p *prepared) checkPrepared(ctx context.Context, target harness.Target) error {
	cfg, err := connConfig(target.AdminDSN(), target.Schema())
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("dsn target: %s", harness.RedactDSN(err.Error()))
	}
	defer conn.Close(context.Background())
	var scenario, params string
	err = conn.QueryRow(ctx, "SELECT scenario, params FROM "+pgx.Identifier{target.Schema(), preparedTable}.Sanitize()).Scan(&scenario, &params)
	switch {
	case harness.SQLState(err) == "42P01":
		return fmt.Errorf("--skip-setup: schema %s was not made by pgscale prepare (it has no %s table): "+
			"prepare the run with pgscale prepare, or leave out --skip-setup", target.Schema(), preparedTable)
	case err != nil:
		return fmt.Errorf("--skip-setup: read %s: %w", preparedTable, err)
	case scenario != p.doc.Name:
		return fmt.Errorf("--skip-setup: run %s was prepared for scenario %s, not %s: prepare it again for %s, or give another --run-id",
			p.runID, scenario, p.doc.Name, p.doc.Name)
	case params != p.setupFingerprint():
		return fmt.Errorf("--skip-setup: run %s was prepared with parameters %s, this run has %s: give pgscale prepare and the run "+
			"the same --set, --workers and --quick", p.runID, params, p.setupFingerprint())
	}
	p.logf("%s: using the setup pgscale prepare made in schema %s", p.doc.Name, target.Schema())
	return nil
}
