package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/shard"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// A sharded run (--shard i/N) is one of N processes that load one shared dsn target together:
// each runs its segment of every point's workers and rate, shard 0 alone sets the scenario up,
// and all of them meet at a barrier on the server before each point (package shard).

// shardSeedStride separates the shards' random streams: shard i adds i times it to --seed, a
// prime larger than the repeat stride (1,000,003) times any sensible --repeat, so that no two
// shards or repeats share a stream.
const shardSeedStride = 1_000_000_007

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$`)

// checkShard checks --shard, --run-id and --barrier-timeout against the target and the plan,
// and separates this shard's random streams from the others'.
func (p *prepared) checkShard() []error {
	opts := p.opts
	var errs []error
	if opts.RunID != "" && !runIDPattern.MatchString(opts.RunID) {
		errs = append(errs, usage.Fieldf("run-id", "%q: want 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit "+
			"(it names the run's schema on the server)", opts.RunID))
	}
	if opts.BarrierTimeout < 0 {
		errs = append(errs, usage.Fieldf("barrier-timeout", "%s: must be more than 0 (default %s)", opts.BarrierTimeout, shard.DefaultTimeout))
	}
	seg := opts.Shard
	if seg.IsWhole() && seg.N == 0 {
		return errs
	}
	if err := seg.Validate(); err != nil {
		return append(errs, err)
	}
	if seg.IsWhole() {
		return errs
	}
	if opts.Target != harness.KindDSN {
		errs = append(errs, usage.Fieldf("shard", "%s needs --target dsn: the shards of a run share one server, "+
			"and the %s target starts a server of its own in every process", seg, opts.Target))
	}
	if !p.doc.Shardable {
		errs = append(errs, usage.Fieldf("shard", "%s: scenario %s cannot run sharded yet (its shards would reset each other's tables "+
			"and count the server's figures once per shard); scenarios that can: %s", seg, p.doc.Name, strings.Join(shardable(), ", ")))
	}
	if p.latencySwept() {
		errs = append(errs, usage.Fieldf("shard", "%s: a --latency sweep runs each latency on a target of its own, and the shards of a run "+
			"share one: give one --latency, and run each latency as a run of its own", seg))
	}
	if opts.RunID == "" {
		errs = append(errs, usage.Fieldf("shard", "%s needs --run-id: every shard of a run is given the same one, "+
			"e.g. --run-id 20260101-orders", seg))
	}
	// Each shard gets at least floor(v/N) of v (Segment.Scale): fewer than N leaves one with none,
	// which every shard reports, so that none waits at the barrier for a shard that cannot run.
	for _, pt := range p.plan.Points {
		if pt.Workers < seg.N {
			errs = append(errs, usage.Fieldf("shard", "%s: point %s has %d workers, fewer than the %d shards, which leaves a shard none: "+
				"use at most %d shards or more workers", seg, pointLabel(p.doc.Name, pt, 1, 1), pt.Workers, seg.N, pt.Workers))
			break
		}
	}
	if opts.Rate > 0 && math.Round(opts.Rate/shard.RateUnit) < float64(seg.N) {
		errs = append(errs, usage.Fieldf("rate", "%g split %d ways leaves a shard no rate: give at least %g per second",
			opts.Rate, seg.N, float64(seg.N)*shard.RateUnit))
	}
	p.opts.Seed += uint64(seg.I) * shardSeedStride
	return errs
}

// shardable lists the scenarios that can run sharded.
func shardable() []string {
	var names []string
	for _, name := range scenarios.Names() {
		if sc, err := scenarios.Lookup(name); err == nil && sc.Doc().Shardable {
			names = append(names, name)
		}
	}
	return names
}

// shardDir is the default out directory's last part for a shard: shard-<i>, inside the run's.
func (p *prepared) shardDir() string {
	if p.opts.Shard.IsWhole() {
		return ""
	}
	return fmt.Sprintf("shard-%d", p.opts.Shard.I)
}

// stampShard marks the result as shard i of N and makes the shard's coordinator; res must have
// its parameters and host.
func (p *prepared) stampShard(res *result.Result) {
	if p.opts.Shard.IsWhole() {
		return
	}
	idx := p.opts.Shard.I
	res.Shard = &result.Shard{Index: &idx, Count: p.opts.Shard.N}
	fp, err := json.Marshal(map[string]any{"scenario": res.Scenario, "params": res.Params, "duration": res.Duration, "warmup": res.Warmup})
	if err != nil {
		fp = []byte(fmt.Sprint(res.Scenario, res.Params, res.Duration, res.Warmup))
	}
	p.coord = shard.NewCoordinator(p.opts.Shard, p.runID, string(fp), res.Environment.Host.Hostname, p.opts.BarrierTimeout)
	p.coord.Logf = p.logf
}

// shardProvider gives a sharded run the shared target of its shards.
func (p *prepared) shardProvider(provider harness.Provider) harness.Provider {
	if p.coord == nil {
		return provider
	}
	return p.coord.Provider(provider)
}

// setup sets the scenario up; in a sharded run, shard 0 alone does, and none does after
// pgscale prepare (--skip-setup).
func (p *prepared) setup(ctx context.Context, env *scenarios.Env) error {
	if p.opts.SkipSetup {
		p.logf("%s: setup skipped (--skip-setup): pgscale prepare made it", p.doc.Name)
		return nil
	}
	if p.coord != nil && p.opts.Shard.I != 0 {
		p.logf("shard %s: setup is shard 0's", p.opts.Shard)
		return nil
	}
	return p.scenario.Setup(ctx, env)
}

// shardPoint gives this shard its segment of the point's workers and of the rate, waits for
// the other shards at the barrier, and hands the scenario the coordinator in env.Shard (its
// segment, and the barriers inside the point).
func (p *prepared) shardPoint(ctx context.Context, env *scenarios.Env, pt scenarios.Point, label string) (scenarios.Point, error) {
	if p.coord == nil {
		return pt, nil
	}
	seg := p.opts.Shard
	pt.Workers = int(seg.Scale(int64(pt.Workers)))
	env.Rate = seg.ScaleRate(p.opts.Rate)
	env.Workers = int(seg.Scale(int64(p.opts.Workers)))
	if err := p.coord.Wait(ctx, label); err != nil {
		return pt, err
	}
	env.Shard = p.coord
	return pt, nil
}

// noteShards records the shards this one saw stop before the end.
func (p *prepared) noteShards(res *result.Result) {
	if p.coord == nil || res.Shard == nil {
		return
	}
	lost, warnings := p.coord.Lost()
	res.Shard.Lost = lost
	res.Warnings = append(res.Warnings, warnings...)
}
