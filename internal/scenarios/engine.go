package scenarios

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen/mux"
)

// The engines a scenario with an engine parameter runs its load on (select-only, script).
const (
	EngineAuto       = "auto"
	EngineGoroutines = "goroutines"
	EngineMux        = "mux"
)

// EngineChoice is the engine that runs a point, and why, when engine=auto chose it.
type EngineChoice struct {
	Engine string
	Why    string
}

// PacedWhy is why engine=auto runs paced load on goroutines.
const PacedWhy = "the load is paced (--rate, --capacity or a workload's stages): the mux engine runs a closed loop only"

// AutoEngine is engine=auto's choice for a point whose load goes to cc: goroutines, saying why,
// when the mux engine cannot run it (the reasons in cannot, and paced load) or its connections
// use TLS (asked once through plain, within timeout; 0 is mux.Plaintext's default); mux, with
// muxWhy, otherwise.
func AutoEngine(ctx context.Context, env *Env, plain *mux.PlaintextOnce, cc *pgx.ConnConfig, timeout time.Duration,
	cannot []string, muxWhy string) (EngineChoice, error) {
	why := cannot
	if env.Rate > 0 || env.Pacer != nil {
		why = append(why[:len(why):len(why)], PacedWhy)
	}
	if len(why) > 0 {
		return EngineChoice{EngineGoroutines, strings.Join(why, "; ")}, nil
	}
	isPlain, err := plain.Plaintext(ctx, cc, timeout)
	if err != nil {
		return EngineChoice{}, err
	}
	if !isPlain {
		return EngineChoice{EngineGoroutines, mux.NeedsPlaintext}, nil
	}
	return EngineChoice{EngineMux, muxWhy}, nil
}
