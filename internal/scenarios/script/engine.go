package script

import (
	"context"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
)

// muxWhy is why engine=auto runs mux: everything it needs holds.
const muxWhy = "closed loop, a connection per client, no pipelines, plaintext connections"

// chooseEngine is the engine that runs the point: the one asked for, or, for engine=auto, mux
// when it can run the point (closed loop, a connection per client, no pipelines, a plaintext
// connection: checked with one connection the first time it may be TLS), goroutines otherwise.
func (s *Scenario) chooseEngine(ctx context.Context, env *scenarios.Env, cfg loadgen.Config) (scenarios.EngineChoice, error) {
	if s.engine != engineAuto {
		return scenarios.EngineChoice{Engine: s.engine}, nil
	}
	var cannot []string
	for _, c := range s.l.muxCannot() {
		cannot = append(cannot, "the mux engine "+c)
	}
	return scenarios.AutoEngine(ctx, env, &s.plain, cfg.ConnConfig, cfg.ConnectTimeout, cannot, muxWhy)
}

// noteEngine tells the console which engine runs the point, once per run unless it changes.
func (s *Scenario) noteEngine(env *scenarios.Env, c scenarios.EngineChoice) {
	if c == s.said {
		return
	}
	s.said = c
	env.Logf("script %s", report.EngineText(c.Engine, c.Why))
}
