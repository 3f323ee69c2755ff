package script

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/script"
	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"
)

// Options are what a script run is given beyond the run's own flags: the CLI fills them from
// `pgscale run script`'s flags, a workload file from its YAML.
type Options struct {
	// Files are pgbench scripts as pgbench -f takes them: "path[@weight]".
	Files []string
	// Builtins are pgbench's built-in scripts as pgbench -b takes them: "tpcb-like[@weight]".
	Builtins []string
	// Scripts are scripts parsed already (a workload file's), run beside Files and Builtins.
	Scripts []*script.Script
	// Vars are -D NAME=VALUE variables.
	Vars map[string]string
	// Protocol sends the SQL commands: simple (the default, as pgbench's), extended or prepared.
	Protocol script.Protocol
	// MaxTries is how often a transaction is tried when it meets a serialization failure or a
	// deadlock (40001, 40P01); 0 means 1, no retry, as pgbench.
	MaxTries int
	// ContinueOnError keeps a worker going after a script error; by default it stops, as a
	// pgbench client does.
	ContinueOnError bool
	// Scale is :scale, and the size of the pgbench tables that Init loads; 0 means 1, or, for
	// built-in scripts on a dsn target without Init, the rows of pgbench_branches (as pgbench).
	Scale int
	// Setup are SQL files run before the load, in the run's schema on a dsn target. :scale and
	// the Vars are substituted in them (psql's :name), outside quotes.
	Setup []string
	// Init loads the pgbench tables at Scale before the load (as pgbench -i). On a fresh docker
	// or local server the built-in scripts get them without it.
	Init bool
	// Connect is how clients get connections: loadgen.ConnPerWorker (the default, a pgbench
	// client's), ConnPool, or ConnPerOp, a new connection per transaction (pgbench -C).
	Connect loadgen.ConnMode
}

// DefaultProtocol is the protocol a script run uses unless told: simple, pgbench's own default,
// so that a script gives the figures `pgbench -f` gives with the same flags, and it runs through
// a pooler in transaction mode. --protocol prepared is the fastest.
const DefaultProtocol = script.ProtocolSimple

// QuickBuiltin is what `pgscale run script --quick` runs when given no script.
const QuickBuiltin = "tpcb-like"

// loaded is Options checked and read: the scripts of the mix and the setup files' text.
type loaded struct {
	opts    Options
	scripts []*script.Script
	mix     *script.Mix
	setup   []setupFile
	// detectedScale is the scale read from pgbench_branches when none was given (Setup).
	detectedScale int
}

type setupFile struct {
	name string
	sql  string
}

// load checks opts and reads every file, reporting every problem at once as usage errors.
func load(opts Options) (*loaded, error) {
	var errs []error
	l := &loaded{opts: opts}
	for _, spec := range opts.Files {
		s, err := script.ParseSpec(spec)
		if err != nil {
			errs = append(errs, specError("-f", err))
			continue
		}
		l.scripts = append(l.scripts, s)
	}
	for _, spec := range opts.Builtins {
		s, err := script.Builtin(spec)
		if err != nil {
			name, _, _ := strings.Cut(spec, "@")
			if hint := suggest.DidYouMean(name, script.BuiltinNames()); hint != "" {
				err = fmt.Errorf("%w%s", err, hint)
			}
			errs = append(errs, specError("-b", err))
			continue
		}
		l.scripts = append(l.scripts, s)
	}
	l.scripts = append(l.scripts, opts.Scripts...)
	switch opts.Protocol {
	case "", script.ProtocolSimple, script.ProtocolExtended, script.ProtocolPrepared:
	default:
		errs = append(errs, usage.Fieldf("protocol", "%s: valid protocols are simple, extended, prepared", opts.Protocol))
	}
	if opts.MaxTries < 0 {
		errs = append(errs, usage.Fieldf("max-tries", "%d: must be at least 1", opts.MaxTries))
	}
	if opts.Scale < 0 {
		errs = append(errs, usage.Fieldf("scale", "%d: must be at least 1", opts.Scale))
	}
	for name := range opts.Vars {
		if !validVarName(name) {
			errs = append(errs, usage.Errorf("-D %s: a variable name is letters, digits and _", name))
		}
	}
	for _, path := range opts.Setup {
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, usage.Fieldf("setup", "%s: %v", path, unwrapPath(err)))
			continue
		}
		l.setup = append(l.setup, setupFile{name: path, sql: string(data)})
	}
	if len(errs) == 0 && len(l.scripts) > 0 {
		mix, err := script.NewMix(l.scripts)
		if err != nil {
			errs = append(errs, usage.Errorf("%v", err))
		}
		l.mix = mix
	}
	if len(l.scripts) == 0 && len(errs) == 0 {
		errs = append(errs, usage.Errorf("no script to run: give -f FILE[@WEIGHT] or -b %s[@WEIGHT]",
			strings.Join(script.BuiltinNames(), "|")))
	}
	if len(errs) > 0 {
		return nil, usage.Join(errs)
	}
	return l, nil
}

// specError makes err, from parsing a -f or -b spec, a usage error (its text names the file, line
// and column, or the bad name and the valid ones).
func specError(flag string, err error) error {
	if usage.Is(err) {
		return err
	}
	return usage.Errorf("%s %v", flag, err)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (l *loaded) protocol() script.Protocol {
	if l.opts.Protocol == "" {
		return DefaultProtocol
	}
	return l.opts.Protocol
}

func (l *loaded) scale() int {
	if l.opts.Scale == 0 && l.detectedScale > 0 {
		return l.detectedScale
	}
	return max(1, l.opts.Scale)
}

func (l *loaded) maxTries() int { return max(1, l.opts.MaxTries) }

// hasBuiltins tells whether the mix runs a built-in script (which needs the pgbench tables).
func (l *loaded) hasBuiltins() bool { return len(l.opts.Builtins) > 0 }

// describe is what the result records of the options, under params.
func (l *loaded) describe() map[string]any {
	out := map[string]any{
		"protocol":  string(l.protocol()),
		"max_tries": l.maxTries(),
		"scale":     l.scale(),
	}
	var scripts []any
	for _, s := range l.scripts {
		scripts = append(scripts, fmt.Sprintf("%s@%d", s.Name, s.Weight))
	}
	out["scripts"] = scripts
	if len(l.opts.Vars) > 0 {
		names := make([]string, 0, len(l.opts.Vars))
		for k := range l.opts.Vars {
			names = append(names, k)
		}
		sort.Strings(names)
		var vars []any
		for _, k := range names {
			vars = append(vars, k+"="+l.opts.Vars[k])
		}
		out["vars"] = vars
	}
	if len(l.opts.Setup) > 0 {
		var setup []any
		for _, s := range l.opts.Setup {
			setup = append(setup, s)
		}
		out["setup"] = setup
	}
	if l.opts.Init {
		out["init"] = true
	}
	if c := l.connectName(); c != "" {
		out["connect"] = c
	}
	if l.opts.ContinueOnError {
		out["continue_on_error"] = true
	}
	return out
}

// connectName is the connection mode as a workload file says it: "" for one connection per
// client, "pool" or "per-transaction".
func (l *loaded) connectName() string {
	switch l.opts.Connect {
	case "", loadgen.ConnPerWorker:
		return ""
	case loadgen.ConnPerOp:
		return "per-transaction"
	}
	return string(l.opts.Connect)
}
