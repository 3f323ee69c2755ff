package gate

import (
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/scenarios"
	scriptscn "github.com/pgscale/pgscale/internal/scenarios/script"
	"github.com/pgscale/pgscale/internal/script"
	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/workload"
)

// A suite entry may run the user's own workload instead of a scenario:
//
//	- workload: bench/orders.yaml        # a workload file (its scripts, setup, vars, load shape)
//	- name: checkout
//	  script:                            # scripts in pgbench's language, as pgscale run script
//	    files: [bench/checkout.sql@3, bench/browse.sql]
//	    builtins: [select-only@1]
//	    setup: [bench/schema.sql]
//	    vars: {scale: 2}
//
// Paths are relative to the gate file's folder. Both run the script scenario; the entry's name
// is the workload's name (or "script"), and quick, duration, warmup, rate and set: workers
// apply as to a scenario. A workload file's own checks are not held: the gate's checks are.

// scriptKeys are the keys of an entry's script: mapping.
var scriptKeys = []string{"files", "builtins", "setup", "vars", "protocol", "max_tries", "continue_on_error", "scale", "init", "connect"}

// ownWorkload is what an entry that runs a workload file or scripts keeps: the script
// scenario's options (a fresh instance is made for every run), and for a workload file its
// load shape and the params it records.
type ownWorkload struct {
	opts   scriptscn.Options
	pacer  loadgen.Pacer
	params map[string]any
	// workers and rate are the file's (0: the entry's or the scenario's).
	workers int
	rate    float64
}

// instance is a new script scenario for one run of the entry.
func (o *ownWorkload) instance() scenarios.Scenario { return scriptscn.New(o.opts) }

// parseWorkloadKey reads workload: path.yaml into e.
func parseWorkloadKey(p *problems, e *Entry, k, v *yaml.Node) bool {
	path, ok := scalar(p, k, v)
	if !ok {
		return false
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(p.path), path)
	}
	f, err := workload.Load(path)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			p.add(v.Line, "workload: %s", line)
		}
		return false
	}
	e.Scenario = scriptscn.Name
	e.workloadFile = f
	if e.Name == "" {
		e.Name = strings.ToLower(f.Name)
	}
	return true
}

// parseScriptKey reads script: {files, builtins, ...} into e.
func parseScriptKey(p *problems, e *Entry, k, v *yaml.Node) bool {
	if v.Kind != yaml.MappingNode {
		p.add(v.Line, "script: want a mapping with files: and/or builtins: (as pgscale run script's -f and -b)")
		return false
	}
	dir := filepath.Dir(p.path)
	rel := func(s string) string {
		if filepath.IsAbs(s) {
			return s
		}
		return filepath.Join(dir, s)
	}
	o := &ownWorkload{opts: scriptscn.Options{Vars: map[string]string{}}}
	ok := true
	for i := 0; i+1 < len(v.Content); i += 2 {
		kk, vv := v.Content[i], v.Content[i+1]
		switch kk.Value {
		case "files", "builtins", "setup":
			items, good := stringList(p, kk, vv)
			ok = ok && good
			for _, it := range items {
				switch kk.Value {
				case "files":
					o.opts.Files = append(o.opts.Files, rel(it))
				case "builtins":
					o.opts.Builtins = append(o.opts.Builtins, it)
				default:
					o.opts.Setup = append(o.opts.Setup, rel(it))
				}
			}
		case "vars":
			ok = pairs(p, kk, vv, o.opts.Vars, false) && ok
		case "protocol":
			s, good := scalar(p, kk, vv)
			ok = ok && good
			o.opts.Protocol = script.Protocol(s)
		case "max_tries", "scale":
			n, good := intValue(p, kk, vv)
			ok = ok && good
			if kk.Value == "scale" {
				o.opts.Scale = n
			} else {
				o.opts.MaxTries = n
			}
		case "init", "continue_on_error":
			b, good := boolValue(p, kk, vv)
			ok = ok && good
			if kk.Value == "init" {
				o.opts.Init = b
			} else {
				o.opts.ContinueOnError = b
			}
		case "connect":
			s, good := scalar(p, kk, vv)
			ok = ok && good
			modes := map[string]loadgen.ConnMode{workload.ConnectPerWorker: loadgen.ConnPerWorker, workload.ConnectPool: loadgen.ConnPool,
				workload.ConnectPerTransaction: loadgen.ConnPerOp}
			mode, known := modes[s]
			if good && !known {
				p.add(vv.Line, "script.connect %q: valid: per-worker, pool, per-transaction", s)
				ok = false
			}
			o.opts.Connect = mode
		default:
			p.add(kk.Line, "script: unknown key %q%s; valid: %s", kk.Value, suggest.DidYouMean(kk.Value, scriptKeys), strings.Join(scriptKeys, ", "))
			ok = false
		}
	}
	if len(o.opts.Files) == 0 && len(o.opts.Builtins) == 0 {
		p.add(v.Line, "script: give files: (pgbench scripts, path[@weight]) or builtins: (%s)", strings.Join(workload.Builtins, ", "))
		ok = false
	}
	if s, err := strconv.Atoi(o.opts.Vars["scale"]); err == nil && o.opts.Scale == 0 {
		o.opts.Scale = s
	}
	e.Scenario = scriptscn.Name
	e.own = o
	return ok
}

func stringList(p *problems, k, v *yaml.Node) ([]string, bool) {
	if v.Kind == yaml.ScalarNode {
		return []string{v.Value}, true
	}
	if v.Kind != yaml.SequenceNode {
		p.add(v.Line, "%s: want a list", k.Value)
		return nil, false
	}
	var out []string
	for _, it := range v.Content {
		if it.Kind != yaml.ScalarNode {
			p.add(it.Line, "%s: a list of single values, please", k.Value)
			return nil, false
		}
		out = append(out, it.Value)
	}
	return out, true
}

// resolveOwn makes the script scenario of an entry with workload: (from the file, with the
// entry's quick, duration, warmup and rate over it) and returns it with the entry's sets.
func resolveOwn(p *problems, e *Entry, line int) (scenarios.Scenario, bool) {
	if e.workloadFile != nil {
		base := runner.Options{Quick: e.Quick, Duration: e.Duration, Warmup: e.Warmup, Rate: e.Rate}
		if w, err := strconv.Atoi(e.Sets["workers"]); err == nil {
			base.Workers = w
		}
		ro, err := e.workloadFile.RunOptions(base, time.Time{})
		if err != nil {
			p.add(line, "%s: %v", e.Name, err)
			return nil, false
		}
		e.own = &ownWorkload{opts: e.workloadFile.ScriptOptions(), pacer: ro.Pacer, params: maps.Clone(ro.Params),
			workers: ro.Workers, rate: ro.Rate}
		e.Duration, e.Warmup, e.Rate = ro.Duration, ro.Warmup, ro.Rate
		if _, ok := e.Sets["workers"]; !ok {
			e.Sets["workers"] = fmt.Sprint(ro.Workers)
		}
	}
	return e.own.instance(), true
}

// describeOwn adds what the run will record of the entry's own workload to its params.
func describeOwn(e *Entry, sc scenarios.Scenario) {
	if d, ok := sc.(scenarios.ParamsDescriber); ok {
		maps.Copy(e.params, d.DescribeParams())
	}
	maps.Copy(e.params, e.own.params)
}
