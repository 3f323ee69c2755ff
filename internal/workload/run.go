package workload

import (
	"fmt"
	"time"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/runner"
	scriptscn "github.com/pgscale/pgscale/internal/scenarios/script"
	"github.com/pgscale/pgscale/internal/script"
	"github.com/pgscale/pgscale/internal/usage"
)

// connModes maps a file's connect: to the load generator's modes.
var connModes = map[string]loadgen.ConnMode{
	ConnectPerWorker:      loadgen.ConnPerWorker,
	ConnectPool:           loadgen.ConnPool,
	ConnectPerTransaction: loadgen.ConnPerOp,
}

// ScriptOptions are the script scenario's options for the file: its scripts, setup files,
// variables, protocol, retries and connection mode.
func (f *File) ScriptOptions() scriptscn.Options {
	so := scriptscn.Options{
		Vars: f.Vars, Setup: f.Setup, Protocol: script.Protocol(f.Protocol), MaxTries: f.MaxTries,
		Scale: f.Scale(), Connect: connModes[f.Connect], ContinueOnError: f.ContinueOnError,
	}
	for _, s := range f.Scripts {
		if s.Builtin != "" {
			so.Builtins = append(so.Builtins, s.Spec())
		} else {
			so.Files = append(so.Files, s.Spec())
		}
	}
	return so
}

// RunOptions makes the runner's options for a run of f from base (the run's flags): the script
// scenario with the file's options, the file's load shape, and the workload's name and file
// among the result's params. Flags given override the file (--workers, --rate, --duration and
// --warmup without stages); the run's id is <utc-time>-<name> unless base names one.
func (f *File) RunOptions(base runner.Options, now time.Time) (runner.Options, error) {
	sh, err := f.Shape(base.Quick, base.Workers, base.Rate)
	if err != nil {
		return runner.Options{}, usage.Errorf("%s: %v", f.Path, err)
	}
	opts := base
	opts.Scenario = scriptscn.Name
	opts.Instance = scriptscn.New(f.ScriptOptions())
	opts.Workers, opts.Rate = sh.Workers, sh.Rate
	opts.Params = map[string]any{"workload": f.Name, "workload_file": f.Path}
	if sh.Stages != nil {
		if base.Duration > 0 {
			return runner.Options{}, usage.Fieldf("duration", "%s: the stages of %s give the run's length; leave --duration out", base.Duration, f.Path)
		}
		opts.Pacer = sh.Stages
		opts.Params["stages"] = describeStages(f.StartRate, sh.Stages.List())
	}
	if base.Duration <= 0 || sh.Stages != nil {
		opts.Duration = sh.Duration
	}
	if base.Warmup < 0 || sh.Stages != nil {
		opts.Warmup = sh.Warmup
	}
	if opts.RunID == "" {
		// The runner picks the id, <utc-time>-<random>-<name>, and claims its directory, so that
		// runs started in the same second stay apart.
		name := f.Name
		if len(name) > 18 { // a run id has at most 40 characters
			name = name[:18]
		}
		opts.RunName = name
	}
	return opts, nil
}

// describeStages is the load shape as the result records it: "30s 100->2000/s", "10s closed 16".
func describeStages(start float64, stages []loadgen.Stage) []any {
	var out []any
	prev := start
	for _, st := range stages {
		if st.Closed() {
			out = append(out, fmt.Sprintf("%s closed loop, %d workers", st.Duration, st.Workers))
			prev = -1
			continue
		}
		if prev < 0 {
			prev = st.Target
		}
		if prev == st.Target {
			out = append(out, fmt.Sprintf("%s at %g/s", st.Duration, st.Target))
		} else {
			out = append(out, fmt.Sprintf("%s %g->%g/s", st.Duration, prev, st.Target))
		}
		prev = st.Target
	}
	return out
}
