package main

import (
	"strings"

	"github.com/spf13/pflag"

	scriptscn "github.com/pgscale/pgscale/internal/scenarios/script"
	"github.com/pgscale/pgscale/internal/script"
	"github.com/pgscale/pgscale/internal/usage"
)

// scriptFlags are `pgscale run script`'s own flags, pgbench's where pgbench has them.
type scriptFlags struct {
	files, builtins, vars, setup []string
	protocol                     string
	maxTries, scale              int
	continueOnError, init        bool
}

// scriptFlagNames are the flags only the script scenario takes.
var scriptFlagNames = []string{"file", "builtin", "define", "protocol", "max-tries", "continue-on-error", "scale", "setup", "init"}

func (f *scriptFlags) register(fl *pflag.FlagSet) {
	fl.StringArrayVarP(&f.files, "file", "f", nil, "script: a pgbench script `FILE[@WEIGHT]`, repeatable (as pgbench -f)")
	fl.StringArrayVarP(&f.builtins, "builtin", "b", nil, "script: a built-in script `NAME[@WEIGHT]` ("+strings.Join(script.BuiltinNames(), "|")+"), repeatable (as pgbench -b)")
	fl.StringArrayVarP(&f.vars, "define", "D", nil, "script: a variable `NAME=VALUE` for the scripts and setup files, repeatable (as pgbench -D)")
	fl.StringVar(&f.protocol, "protocol", string(scriptscn.DefaultProtocol), "script: how SQL is sent: simple, extended or prepared (as pgbench -M; simple is pgbench's default)")
	fl.IntVar(&f.maxTries, "max-tries", 1, "script: tries of a transaction that meets a serialization failure or deadlock (40001, 40P01)")
	fl.BoolVar(&f.continueOnError, "continue-on-error", false, "script: keep a worker going after a script error (by default it stops, as a pgbench client)")
	fl.IntVar(&f.scale, "scale", 1, "script: :scale, and the size of the pgbench tables --init loads (100,000 accounts per unit); "+
		"-b on a dsn target without --init reads it from pgbench_branches")
	fl.StringArrayVar(&f.setup, "setup", nil, "script: an SQL `FILE` to run before the load (in the run's schema on a dsn target), repeatable")
	fl.BoolVar(&f.init, "init", false, "script: load the pgbench tables at --scale first, as pgbench -i (automatic for -b on a docker or local target)")
}

// options turns the flags into the script scenario's options; changed tells which were given.
func (f *scriptFlags) options(scenario string, changed func(string) bool) (scriptscn.Options, error) {
	if scenario != scriptscn.Name {
		for _, name := range scriptFlagNames {
			if changed(name) {
				return scriptscn.Options{}, usage.Errorf("--%s is for pgscale run script (not %s)", name, scenario)
			}
		}
		return scriptscn.Options{}, nil
	}
	var errs []error
	vars := map[string]string{}
	for _, kv := range f.vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			errs = append(errs, usage.Errorf("-D %q: want NAME=VALUE", kv))
			continue
		}
		vars[k] = v
	}
	if f.maxTries < 1 {
		errs = append(errs, usage.Fieldf("max-tries", "%d: must be at least 1 (1: no retry)", f.maxTries))
	}
	if f.scale < 1 {
		errs = append(errs, usage.Fieldf("scale", "%d: must be at least 1", f.scale))
	}
	if len(errs) > 0 {
		return scriptscn.Options{}, usage.Join(errs)
	}
	scale := 0 // the scenario's default, or pgbench_branches' rows
	if changed("scale") {
		scale = f.scale
	}
	return scriptscn.Options{
		Files: f.files, Builtins: f.builtins, Vars: vars, Setup: f.setup,
		Protocol: script.Protocol(f.protocol), MaxTries: f.maxTries, ContinueOnError: f.continueOnError,
		Scale: scale, Init: f.init,
	}, nil
}
