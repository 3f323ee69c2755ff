package gate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/internal/workload"
)

// Defaults of a gate file.
const (
	// DefaultRepeats is the issue's: with 5 repeats a side the smallest p-value Mann-Whitney U
	// can give is 2/252 ≈ 0.008, well under alpha 0.05, while 3 a side can never get below 0.1.
	DefaultRepeats = 5
	// DefaultAlpha is benchstat's significance level.
	DefaultAlpha = 0.05
	// DefaultBaselineDir is where baselines live unless the gate file or --baseline says otherwise.
	DefaultBaselineDir = "results/baselines/gate"
	// CalibrationName is the calibration's result file in a baseline and an out directory; no
	// suite entry may take the name.
	CalibrationName = "calibration"
)

// calibrationScenarios are what calibrate: may name; true is the first.
var calibrationScenarios = []string{"select-only", "pgbench"}

// Config is a gate file: the suite to run and the checks to hold.
type Config struct {
	// Path is the file the config was read from (for messages).
	Path string
	// Target is where PostgreSQL runs (auto, docker, local, dsn); DSN is for the dsn target,
	// with $VARIABLES expanded from the environment.
	Target string
	DSN    string
	// Repeats is how many times the suite runs; Alpha the significance level of relative checks.
	Repeats int
	Alpha   float64
	// Calibrate runs a short calibration with every repeat and normalises relative checks by
	// its throughput: a rate is divided by it, a time multiplied by it (see
	// Field.normalisation). CalibrateWith is the scenario it runs: select-only (calibrate: true)
	// or pgbench (calibrate: pgbench), which keeps pgscale's own client out of the yardstick.
	Calibrate     bool
	CalibrateWith string
	// Baseline is the baseline directory (relative to the working directory).
	Baseline string
	Suite    []*Entry
	Checks   []*Check
	// Warnings are problems that do not stop the gate (too few repeats to ever fail a
	// relative check).
	Warnings []string

	// broken names suite entries with problems, whose checks are not reported again.
	broken []string
}

// Entry is one scenario of the suite, with its parameters.
type Entry struct {
	Line int
	// Name is how checks and baseline files refer to the entry: the scenario's name unless the
	// gate file gives another (needed when one scenario appears twice).
	Name     string
	Scenario string
	Sets     map[string]string
	// PGSettings are server settings (pg_settings), as --pg-setting.
	PGSettings map[string]string
	Quick      bool
	// Duration and Warmup override the scenario's (0 and -1: the scenario's, or its --quick
	// preset's with Quick).
	Duration time.Duration
	Warmup   time.Duration
	Rate     float64
	// Latency is the round trip added between the load and the server (as run's --latency).
	Latency        time.Duration
	AllowIntrusive bool

	// Resolved from the scenario: its parameters (as a result records them), its points, and
	// the run lengths a result will record.
	params   map[string]any
	points   []scenarios.Point
	duration time.Duration
	warmup   time.Duration
	// The user's own workload (workload: or script:, gate/entry_script.go), nil for a scenario.
	workloadFile *workload.File
	own          *ownWorkload
}

// Points are the series the entry runs.
func (e *Entry) Points() []scenarios.Point { return e.points }

var entryName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

var (
	topKeys   = []string{"target", "dsn", "repeats", "alpha", "calibrate", "baseline", "suite", "checks"}
	entryKeys = []string{"scenario", "workload", "script", "name", "set", "quick", "duration", "warmup", "rate", "latency", "pg_settings", "allow_intrusive"}
)

// yamlKey spells a field of a usage error (internal/usage) as the gate file's key: the libraries
// name the command line's inputs, and a few keys of the gate file differ from them.
func yamlKey(field string) string {
	switch field {
	case "repeat":
		return "repeats"
	case "pg-setting":
		return "pg_settings"
	case "allow-intrusive":
		return "allow_intrusive"
	}
	return usage.Key(field)
}

// problems collects configuration errors, each with its line; they are reported in line order.
type problems struct {
	path  string
	list  []string
	lines []int
}

func (p *problems) add(line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		msg = fmt.Sprintf("%s:%d: %s", p.path, line, msg)
	} else {
		msg = fmt.Sprintf("%s: %s", p.path, msg)
	}
	p.list = append(p.list, msg)
	p.lines = append(p.lines, line)
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	idx := make([]int, len(p.list))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p.lines[idx[a]] < p.lines[idx[b]] })
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = p.list[j]
	}
	return &usage.Error{Msg: strings.Join(out, "\n")}
}

// Load reads and validates a gate file. Every problem is reported at once, each with its line,
// as a usage error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usage.Fieldf("config", "%s: no such file; write one (see pgscale.gate.yaml at the repository's root) or name it with --config", path)
		}
		return nil, usage.Fieldf("config", "%s: %v", path, err)
	}
	return Parse(data, path)
}

// Parse reads and validates a gate file's text; path names it in messages.
func Parse(data []byte, path string) (*Config, error) {
	p := &problems{path: path}
	cfg := &Config{Path: path, Target: harness.KindAuto, Repeats: DefaultRepeats, Alpha: DefaultAlpha, Baseline: DefaultBaselineDir}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.add(0, "%s", yamlMessage(err))
		return nil, p.err()
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.add(0, "empty file: a gate file needs a suite and checks")
		return nil, p.err()
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.add(root.Line, "want a mapping of %s", strings.Join(topKeys, ", "))
		return nil, p.err()
	}
	var suiteNode, checksNode *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			p.add(k.Line, "%s given twice", k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "target":
			if s, ok := scalar(p, k, v); ok {
				cfg.Target = s
			}
		case "dsn":
			if s, ok := scalar(p, k, v); ok {
				cfg.DSN = os.ExpandEnv(s)
			}
		case "repeats":
			if n, ok := intValue(p, k, v); ok {
				if n < 1 {
					p.add(v.Line, "repeats %d: must be at least 1 (5 or more for relative checks)", n)
				}
				cfg.Repeats = n
			}
		case "alpha":
			if f, ok := floatValue(p, k, v); ok {
				if f <= 0 || f >= 1 {
					p.add(v.Line, "alpha %s: must be between 0 and 1 (e.g. 0.05)", v.Value)
				}
				cfg.Alpha = f
			}
		case "calibrate":
			if s, ok := scalar(p, k, v); ok && slices.Contains(calibrationScenarios, s) {
				cfg.Calibrate, cfg.CalibrateWith = true, s
			} else if ok {
				if b, ok := boolValue(p, k, v); ok {
					cfg.Calibrate = b
				}
			}
		case "baseline":
			if s, ok := scalar(p, k, v); ok {
				if s == "" {
					p.add(v.Line, "baseline is empty: name a directory (%s)", DefaultBaselineDir)
				}
				cfg.Baseline = s
			}
		case "suite":
			suiteNode = v
		case "checks":
			checksNode = v
		default:
			p.add(k.Line, "unknown key %q%s; valid: %s", k.Value, suggest.DidYouMean(k.Value, topKeys), strings.Join(topKeys, ", "))
		}
	}
	cfg.validateTarget(p, root)
	cfg.parseSuite(p, suiteNode, root)
	cfg.parseChecks(p, checksNode, root)
	if err := p.err(); err != nil {
		return nil, err
	}
	cfg.warn()
	return cfg, nil
}

func (cfg *Config) validateTarget(p *problems, root *yaml.Node) {
	line := keyLine(root, "target")
	if err := harness.CheckKind(cfg.Target); err != nil {
		p.add(line, "%s", usage.Render(err, yamlKey))
	}
	if cfg.Target == harness.KindDSN {
		if _, err := harness.ParseDSN(cfg.DSN); err != nil {
			p.add(keyLine(root, "dsn"), "target dsn: %s (dsn: $VAR reads it from the environment)", usage.Render(err, yamlKey))
		}
	} else if cfg.DSN != "" {
		p.add(keyLine(root, "dsn"), "dsn is only for target: dsn (target is %s)", cfg.Target)
	}
}
