package script

import (
	"context"
	"strings"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/loadgen/mux"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
)

// choice is the engine that runs a point, and why, when engine=auto chose it.
type choice struct {
	engine string
	why    string
}

// muxWhy is why engine=auto runs mux: everything it needs holds.
const muxWhy = "closed loop, a connection per client, no pipelines, plaintext connections"

// chooseEngine is the engine that runs the point: the one asked for, or, for engine=auto, mux
// when it can run the point (closed loop, a connection per client, no pipelines, a plaintext
// connection: checked with one connection the first time it may be TLS), goroutines otherwise.
func (s *Scenario) chooseEngine(ctx context.Context, env *scenarios.Env, cfg loadgen.Config) (choice, error) {
	if s.engine != engineAuto {
		return choice{engine: s.engine}, nil
	}
	var why []string
	for _, c := range s.l.muxCannot() {
		why = append(why, "the mux engine "+c)
	}
	if env.Rate > 0 || env.Pacer != nil {
		why = append(why, "the load is paced (--rate, --capacity or a workload's stages): the mux engine runs a closed loop only")
	}
	if len(why) > 0 {
		return choice{engineGoroutines, strings.Join(why, "; ")}, nil
	}
	plain, err := s.plain.Plaintext(ctx, cfg.ConnConfig, cfg.ConnectTimeout)
	if err != nil {
		return choice{}, err
	}
	if !plain {
		return choice{engineGoroutines, mux.NeedsPlaintext}, nil
	}
	return choice{engineMux, muxWhy}, nil
}

// noteEngine tells the console which engine runs the point, once per run unless it changes.
func (s *Scenario) noteEngine(env *scenarios.Env, c choice) {
	if c == s.said {
		return
	}
	s.said = c
	env.Logf("script %s", report.EngineText(c.engine, c.why))
}
