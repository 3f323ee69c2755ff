// Package workload reads workload files: a user's schema and data (setup SQL), the weighted
// scripts in pgbench's language that make up the traffic, the variables both see, the load shape
// (a rate, k6-style stages, or a closed loop) and the checks the run must hold. A file is read
// strictly: an unknown field, a stage with no duration, a weight of 0 or a missing file is a
// usage error before anything starts.
package workload

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"
)

// Connection modes a workload file may ask for.
const (
	// ConnectPerWorker gives each worker (pgbench's client) a connection for the whole run.
	ConnectPerWorker = "per-worker"
	// ConnectPool shares a pool of connections among the workers.
	ConnectPool = "pool"
	// ConnectPerTransaction opens a connection for every transaction and closes it after, as a
	// serverless function per request does (pgbench -C).
	ConnectPerTransaction = "per-transaction"
)

var connectModes = []string{ConnectPerWorker, ConnectPool, ConnectPerTransaction}

// Defaults of a workload file.
const (
	DefaultWorkers  = 8
	DefaultDuration = 30 * time.Second
	DefaultWarmup   = 5 * time.Second
	// QuickLength is how long a --quick run of a workload lasts, warm-up included: long enough
	// for a few thousand transactions on a laptop, short enough for make bench.
	QuickLength = 5 * time.Second
	QuickWarmup = time.Second
)

// File is a validated workload file. Paths are resolved against the file's folder.
type File struct {
	// Path is the file as given; Name names the run (the file's name without extension unless
	// name: says otherwise).
	Path string
	Name string
	// Setup are SQL files run once, in order, before the load, with :name replaced by Vars.
	Setup []string
	// Scripts are the mix, each a pgbench script file or a built-in, with its weight.
	Scripts []Script
	// Vars are pgbench's -D variables, seen by the scripts and the setup (scale among them).
	Vars map[string]string
	// Protocol is pgbench's --protocol (simple, extended, prepared; "" the default).
	Protocol string
	// MaxTries retries serialization failures and deadlocks (0: the default).
	MaxTries int
	// ContinueOnError keeps a worker going after a script error (pgbench stops the client).
	ContinueOnError bool
	// Connect is one of the Connect* modes.
	Connect string
	// Workers, Duration, Warmup and Rate are the run's defaults; Stages, when set, are the load
	// shape instead of Rate and Duration (their total length is the run, warm-up included).
	Workers   int
	Duration  time.Duration
	Warmup    time.Duration
	Rate      float64
	StartRate float64
	Stages    []loadgen.Stage
	// Checks are gate expressions every series must hold (latency_ms.p99 < 50).
	Checks []Check
}

// Script is one script of the mix: File (a path) or Builtin (tpcb-like, simple-update,
// select-only), with its weight.
type Script struct {
	Line    int
	File    string
	Builtin string
	Weight  int
}

// Spec is the script as pgbench's -f or -b takes it: path@weight or name@weight.
func (s Script) Spec() string {
	if s.Builtin != "" {
		return fmt.Sprintf("%s@%d", s.Builtin, s.Weight)
	}
	return fmt.Sprintf("%s@%d", s.File, s.Weight)
}

// Check is one line of checks:, with its line in the file.
type Check struct {
	Line int
	Expr string
}

// Builtins are the built-in scripts a workload may name (pgbench's).
var Builtins = []string{"tpcb-like", "simple-update", "select-only"}

// IsWorkloadPath tells whether a run's argument names a workload file (.yaml or .yml).
func IsWorkloadPath(arg string) bool {
	ext := strings.ToLower(filepath.Ext(arg))
	return ext == ".yaml" || ext == ".yml"
}

var (
	topKeys    = []string{"name", "setup", "scripts", "vars", "protocol", "max_tries", "continue_on_error", "connect", "workers", "duration", "warmup", "rate", "start_rate", "stages", "checks"}
	scriptKeys = []string{"file", "builtin", "weight"}
	stageKeys  = []string{"duration", "target", "workers"}
	protocols  = []string{"simple", "extended", "prepared"}
	varName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	runName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$`)
)

// Load reads and validates a workload file; every problem is reported at once, each with its
// line, as a usage error.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usage.Errorf("workload %s: no such file", path)
		}
		return nil, usage.Errorf("workload %s: %v", path, err)
	}
	return Parse(data, path)
}

// problems collects a file's problems, each with its line.
type problems struct {
	path string
	list []error
}

func (p *problems) add(line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		p.list = append(p.list, usage.Errorf("%s:%d: %s", p.path, line, msg))
	} else {
		p.list = append(p.list, usage.Errorf("%s: %s", p.path, msg))
	}
}

var yamlLine = regexp.MustCompile(`^line (\d+): `)

// addYAML adds the YAML library's error, one problem a line, with "line N: " made file:N:.
func (p *problems) addYAML(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if m := yamlLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			p.add(n, "%s", line[len(m[0]):])
		} else if line != "" {
			p.add(0, "%s", line)
		}
	}
}

// Parse reads and validates a workload file's text; path names it in messages and is what
// relative paths in it are resolved against.
func Parse(data []byte, path string) (*File, error) {
	p := &problems{path: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.addYAML(err)
		return nil, usage.Join(p.list)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		p.add(0, "want a mapping with scripts: (and setup:, vars:, stages:, checks: ...)")
		return nil, usage.Join(p.list)
	}
	root := doc.Content[0]
	checkKeys(p, root, topKeys, "")
	var raw rawFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && len(p.list) == 0 {
		p.addYAML(err)
	}
	if len(p.list) > 0 {
		return nil, usage.Join(p.list)
	}
	f := raw.validate(p, root, path)
	if len(p.list) > 0 {
		return nil, usage.Join(p.list)
	}
	return f, nil
}

// checkKeys reports keys of mapping m that are not in valid, with a did-you-mean, and recurses
// into scripts and stages.
func checkKeys(p *problems, m *yaml.Node, valid []string, where string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if !contains(valid, k.Value) {
			p.add(k.Line, "unknown field %q%s%s; valid: %s", k.Value, where, suggest.DidYouMean(k.Value, valid), strings.Join(valid, ", "))
			continue
		}
		if where != "" || v.Kind != yaml.SequenceNode {
			continue
		}
		switch k.Value {
		case "scripts":
			for _, item := range v.Content {
				if item.Kind == yaml.MappingNode {
					checkKeys(p, item, scriptKeys, " in a script")
				}
			}
		case "stages":
			for _, item := range v.Content {
				if item.Kind == yaml.MappingNode {
					checkKeys(p, item, stageKeys, " in a stage")
				}
			}
		}
	}
}

type rawFile struct {
	Name            string            `yaml:"name"`
	Setup           []string          `yaml:"setup"`
	Scripts         []rawScript       `yaml:"scripts"`
	Vars            map[string]string `yaml:"vars"`
	Protocol        string            `yaml:"protocol"`
	MaxTries        *int              `yaml:"max_tries"`
	ContinueOnError bool              `yaml:"continue_on_error"`
	Connect         string            `yaml:"connect"`
	Workers         *int              `yaml:"workers"`
	Duration        string            `yaml:"duration"`
	Warmup          string            `yaml:"warmup"`
	Rate            *float64          `yaml:"rate"`
	StartRate       *float64          `yaml:"start_rate"`
	Stages          []rawStage        `yaml:"stages"`
	Checks          []string          `yaml:"checks"`
}

type rawScript struct {
	File    string `yaml:"file"`
	Builtin string `yaml:"builtin"`
	Weight  *int   `yaml:"weight"`
}

type rawStage struct {
	Duration string   `yaml:"duration"`
	Target   *float64 `yaml:"target"`
	Workers  *int     `yaml:"workers"`
}

// validate turns the decoded file into a File, reporting every problem with its line.
func (r *rawFile) validate(p *problems, root *yaml.Node, path string) *File {
	dir := filepath.Dir(path)
	f := &File{Path: path, Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), Vars: map[string]string{},
		Protocol: r.Protocol, Connect: ConnectPerWorker, Workers: DefaultWorkers, Duration: DefaultDuration, Warmup: DefaultWarmup}
	if r.Name != "" {
		f.Name = r.Name
	}
	if !runName.MatchString(f.Name) {
		p.add(keyLine(root, "name"), "name %q: want 1 to 40 letters, digits, '.', '_' or '-' (it names the run)", f.Name)
	}
	f.validateFiles(p, root, r, dir)
	for name, v := range r.Vars {
		if !varName.MatchString(name) {
			p.add(keyLine(root, "vars"), "vars: %q is not a variable name (letters, digits and _, not starting with a digit)", name)
		}
		f.Vars[name] = v
	}
	if r.Protocol != "" && !contains(protocols, r.Protocol) {
		p.add(keyLine(root, "protocol"), "protocol %q: valid: %s%s", r.Protocol, strings.Join(protocols, ", "), suggest.DidYouMean(r.Protocol, protocols))
	}
	if r.MaxTries != nil {
		if *r.MaxTries < 1 {
			p.add(keyLine(root, "max_tries"), "max_tries %d: must be at least 1", *r.MaxTries)
		}
		f.MaxTries = *r.MaxTries
	}
	f.ContinueOnError = r.ContinueOnError
	if r.Connect != "" {
		if !contains(connectModes, r.Connect) {
			p.add(keyLine(root, "connect"), "connect %q: valid: %s%s", r.Connect, strings.Join(connectModes, ", "), suggest.DidYouMean(r.Connect, connectModes))
		}
		f.Connect = r.Connect
	}
	if r.Workers != nil {
		if *r.Workers < 1 {
			p.add(keyLine(root, "workers"), "workers %d: must be at least 1", *r.Workers)
		}
		f.Workers = *r.Workers
	}
	if r.Duration != "" {
		f.Duration = duration(p, keyLine(root, "duration"), "duration", r.Duration, false)
	}
	if r.Warmup != "" {
		f.Warmup = duration(p, keyLine(root, "warmup"), "warmup", r.Warmup, true)
	}
	if r.Rate != nil {
		if *r.Rate < 0 || math.IsNaN(*r.Rate) || math.IsInf(*r.Rate, 0) {
			p.add(keyLine(root, "rate"), "rate %g: must be 0 (closed loop) or a positive rate per second", *r.Rate)
		}
		f.Rate = *r.Rate
	}
	if r.StartRate != nil {
		f.StartRate = *r.StartRate
		if len(r.Stages) == 0 {
			p.add(keyLine(root, "start_rate"), "start_rate is where the first stage's ramp starts: it needs stages")
		}
	}
	f.validateStages(p, root, r)
	for i, c := range r.Checks {
		f.Checks = append(f.Checks, Check{Line: itemLine(root, "checks", i), Expr: strings.TrimSpace(c)})
	}
	return f
}

// validateFiles resolves setup and script paths against the file's folder and checks that
// they can be read.
func (f *File) validateFiles(p *problems, root *yaml.Node, r *rawFile, dir string) {
	for i, s := range r.Setup {
		line := itemLine(root, "setup", i)
		if path, ok := readable(p, line, "setup", s, dir); ok {
			f.Setup = append(f.Setup, path)
		}
	}
	if len(r.Scripts) == 0 {
		p.add(keyLine(root, "scripts"), "no scripts: list them, e.g. scripts: [{file: order.sql, weight: 3}, {builtin: select-only}]")
	}
	for i, s := range r.Scripts {
		line := itemLine(root, "scripts", i)
		sc := Script{Line: line, Weight: 1}
		if s.Weight != nil {
			sc.Weight = *s.Weight
			if sc.Weight <= 0 {
				p.add(line, "script weight %d: must be at least 1 (pgbench's weights are whole numbers from 1)", sc.Weight)
			}
		}
		switch {
		case s.File != "" && s.Builtin != "":
			p.add(line, "script: give file: or builtin:, not both")
		case s.File != "":
			if path, ok := readable(p, line, "script", s.File, dir); ok {
				sc.File = path
			}
		case s.Builtin != "":
			if !contains(Builtins, s.Builtin) {
				p.add(line, "builtin %q: valid: %s%s", s.Builtin, strings.Join(Builtins, ", "), suggest.DidYouMean(s.Builtin, Builtins))
			}
			sc.Builtin = s.Builtin
		default:
			p.add(line, "script: give file: (a pgbench script) or builtin: (%s)", strings.Join(Builtins, ", "))
		}
		f.Scripts = append(f.Scripts, sc)
	}
}

// readable resolves name against dir and checks that it is a readable file.
func readable(p *problems, line int, what, name, dir string) (string, bool) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, name)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.add(line, "%s file %s: no such file (paths are relative to the workload file)", what, name)
		return "", false
	case err != nil:
		p.add(line, "%s file %s: %v", what, name, err)
		return "", false
	case st.IsDir():
		p.add(line, "%s file %s: a directory, not a file", what, name)
		return "", false
	}
	return path, true
}

func (f *File) validateStages(p *problems, root *yaml.Node, r *rawFile) {
	if len(r.Stages) == 0 {
		return
	}
	if r.Rate != nil {
		p.add(keyLine(root, "rate"), "rate: the stages give the load shape; leave rate out (or give a stage with a target)")
	}
	if r.Duration != "" {
		p.add(keyLine(root, "duration"), "duration: the stages give the run's length; leave duration out")
	}
	if r.Warmup == "" {
		f.Warmup = 0 // with stages, warm-up is the part of the first stages left out of the summary
	}
	for i, s := range r.Stages {
		line := itemLine(root, "stages", i)
		st := loadgen.Stage{}
		if s.Duration == "" {
			p.add(line, "stage %d: no duration (e.g. duration: 30s)", i+1)
		} else {
			st.Duration = duration(p, line, fmt.Sprintf("stage %d: duration", i+1), s.Duration, false)
		}
		switch {
		case s.Target != nil && s.Workers != nil:
			p.add(line, "stage %d: give target: (an arrival rate, open loop) or workers: (closed loop), not both", i+1)
		case s.Target != nil:
			st.Target = *s.Target
			if st.Target < 0 || math.IsNaN(st.Target) || math.IsInf(st.Target, 0) {
				p.add(line, "stage %d: target %g: must be 0 or a positive rate per second", i+1, st.Target)
			}
		case s.Workers != nil:
			st.Workers = *s.Workers
			if st.Workers < 1 {
				p.add(line, "stage %d: workers %d: must be at least 1", i+1, st.Workers)
			}
		default:
			p.add(line, "stage %d: give target: (transactions per second at the stage's end) or workers: (a closed loop)", i+1)
		}
		f.Stages = append(f.Stages, st)
	}
	var total time.Duration
	for _, st := range f.Stages {
		total += st.Duration
	}
	if total > 0 && f.Warmup >= total {
		p.add(keyLine(root, "warmup"), "warmup %s: must be shorter than the stages (%s in all)", f.Warmup, total)
	}
}

// duration reads a duration; zero is valid only where zeroOK.
func duration(p *problems, line int, what, s string, zeroOK bool) time.Duration {
	if s == "0" && zeroOK {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.add(line, "%s %q: not a duration (e.g. 500ms, 30s, 2m)", what, s)
		return 0
	}
	if d < 0 || (d == 0 && !zeroOK) {
		p.add(line, "%s %s: must be more than 0", what, s)
	}
	return d
}

// keyLine is the line of key in mapping m, or m's own line.
func keyLine(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return m.Line
}

// itemLine is the line of item i of the sequence under key.
func itemLine(m *yaml.Node, key string, i int) int {
	for j := 0; j+1 < len(m.Content); j += 2 {
		if m.Content[j].Value == key {
			if v := m.Content[j+1]; v.Kind == yaml.SequenceNode && i < len(v.Content) {
				return v.Content[i].Line
			}
			return m.Content[j].Line
		}
	}
	return m.Line
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Scale is the :scale variable as a number (1 when unset or not a whole number).
func (f *File) Scale() int {
	if n, err := strconv.Atoi(f.Vars["scale"]); err == nil && n > 0 {
		return n
	}
	return 1
}
