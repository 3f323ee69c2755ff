package gate

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pgscale/pgscale/harness"
	"github.com/pgscale/pgscale/scenarios"
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
}

// Points are the series the entry runs.
func (e *Entry) Points() []scenarios.Point { return e.points }

var entryName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

var (
	topKeys   = []string{"target", "dsn", "repeats", "alpha", "calibrate", "baseline", "suite", "checks"}
	entryKeys = []string{"scenario", "name", "set", "quick", "duration", "warmup", "rate", "latency", "pg_settings", "allow_intrusive"}
)

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
	return &harness.UsageError{Msg: strings.Join(out, "\n")}
}

// Load reads and validates a gate file. Every problem is reported at once, each with its line,
// as a usage error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, harness.Usagef("--config %s: no such file; write one (see pgscale.gate.yaml at the repository's root) or name it with --config", path)
		}
		return nil, harness.Usagef("--config %s: %v", path, err)
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
			p.add(k.Line, "unknown key %q%s; valid: %s", k.Value, suggestion(k.Value, topKeys, ""), strings.Join(topKeys, ", "))
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
		p.add(line, "%s", strings.TrimPrefix(err.Error(), "--"))
	}
	if cfg.Target == harness.KindDSN {
		if _, err := harness.ParseDSN(cfg.DSN); err != nil {
			p.add(keyLine(root, "dsn"), "target dsn: %s (dsn: $VAR reads it from the environment)", strings.TrimPrefix(err.Error(), "--"))
		}
	} else if cfg.DSN != "" {
		p.add(keyLine(root, "dsn"), "dsn is only for target: dsn (target is %s)", cfg.Target)
	}
}

func (cfg *Config) parseSuite(p *problems, node, root *yaml.Node) {
	if node == nil {
		p.add(0, "no suite: list the scenarios to run under suite:, e.g.\n  suite:\n    - scenario: select-only\n      quick: true")
		return
	}
	if node.Kind != yaml.SequenceNode || len(node.Content) == 0 {
		p.add(node.Line, "suite: want a list of entries (- scenario: select-only)")
		return
	}
	names := map[string]int{}
	for _, n := range node.Content {
		e := parseEntry(p, n)
		if e.points == nil {
			// Its problems are reported; checks that name it are not reported again.
			cfg.broken = append(cfg.broken, e.Name, e.Scenario)
			continue
		}
		if first, dup := names[e.Name]; dup {
			p.add(e.Line, "suite entry %q: the name is taken by the entry on line %d; give one of them name: <other>", e.Name, first)
			continue
		}
		names[e.Name] = e.Line
		cfg.Suite = append(cfg.Suite, e)
	}
}

// parseEntry reads a suite entry and resolves its scenario's plan; an entry with problems comes
// back without points.
func parseEntry(p *problems, n *yaml.Node) *Entry {
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, "suite entry: want a mapping with scenario: and its parameters")
		return &Entry{}
	}
	e := &Entry{Line: n.Line, Sets: map[string]string{}, PGSettings: map[string]string{}, Warmup: -1}
	var scenarioLine int
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "scenario":
			e.Scenario, _ = scalar(p, k, v)
			scenarioLine = v.Line
		case "name":
			e.Name, _ = scalar(p, k, v)
			if !entryName.MatchString(e.Name) || e.Name == CalibrationName {
				p.add(v.Line, "name %q: want lowercase letters, digits, - and _ (it names a baseline file), and not %q", e.Name, CalibrationName)
				ok = false
			}
		case "set":
			ok = pairs(p, k, v, e.Sets, true) && ok
		case "pg_settings":
			ok = pairs(p, k, v, e.PGSettings, false) && ok
			for name := range e.PGSettings {
				if err := harness.ValidateSettingName(name); err != nil {
					p.add(v.Line, "pg_settings %q: a setting name has only letters, digits, '_' and '.'", name)
					ok = false
				}
			}
		case "quick":
			e.Quick, _ = boolValue(p, k, v)
		case "duration":
			d, good := durationValue(p, k, v)
			if good && d <= 0 {
				p.add(v.Line, "duration %s: must be more than 0 (e.g. 2s)", v.Value)
				good = false
			}
			ok = good && ok
			e.Duration = d
		case "warmup":
			d, good := durationValue(p, k, v)
			if good && d < 0 {
				p.add(v.Line, "warmup %s: must be 0 or more", v.Value)
				good = false
			}
			ok = good && ok
			e.Warmup = d
		case "rate":
			f, good := floatValue(p, k, v)
			if good && f < 0 {
				p.add(v.Line, "rate %s: must be 0 (closed loop) or a positive rate per second", v.Value)
				good = false
			}
			ok = good && ok
			e.Rate = f
		case "latency":
			d, good := durationValue(p, k, v)
			if good {
				if err := harness.ValidateLatency(d); err != nil {
					p.add(v.Line, "%s", strings.TrimPrefix(err.Error(), "--"))
					good = false
				}
			}
			ok = good && ok
			e.Latency = d
		case "allow_intrusive":
			e.AllowIntrusive, _ = boolValue(p, k, v)
		default:
			p.add(k.Line, "suite entry: unknown key %q%s; valid: %s", k.Value, suggestion(k.Value, entryKeys, ""), strings.Join(entryKeys, ", "))
			ok = false
		}
	}
	if e.Scenario == "" {
		p.add(n.Line, "suite entry: no scenario; valid: %s", strings.Join(scenarios.Names(), ", "))
		return e
	}
	if e.Name == "" {
		e.Name = e.Scenario
	}
	sc, err := scenarios.Lookup(e.Scenario)
	if err != nil {
		p.add(scenarioLine, "%v", err)
		return e
	}
	if !ok {
		return e
	}
	doc := sc.Doc()
	params, err := scenarios.ResolveParams(doc, e.Sets, e.Quick)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			p.add(keyLine(n, "set"), "%s: %s", e.Name, strings.ReplaceAll(line, "--set ", "set "))
		}
		return e
	}
	plan, err := sc.Plan(params)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			p.add(keyLine(n, "set"), "%s: %s", e.Name, strings.ReplaceAll(line, "--set ", "set "))
		}
		return e
	}
	if len(plan.Points) == 0 {
		p.add(n.Line, "%s: the parameters select no series", e.Name)
		return e
	}
	e.points = plan.Points
	e.params = params.Map()
	if e.Rate > 0 {
		e.params["rate"] = e.Rate
	}
	e.duration, e.warmup = doc.Duration, doc.Warmup
	if e.Quick {
		e.duration, e.warmup = doc.QuickDuration, doc.QuickWarmup
	}
	if e.Duration > 0 {
		e.duration = e.Duration
	}
	if e.Warmup >= 0 {
		e.warmup = e.Warmup
	}
	return e
}

func (cfg *Config) parseChecks(p *problems, node, root *yaml.Node) {
	if node == nil {
		p.add(0, "no checks: list them under checks:, e.g.\n  checks:\n    - \"select-only variant=prepared: throughput_per_s > 1000\"\n    - \"select-only variant=prepared: latency_ms.p99 may rise 10%%\"")
		return
	}
	if node.Kind != yaml.SequenceNode || len(node.Content) == 0 {
		p.add(node.Line, "checks: want a list of checks (- \"select-only: throughput_per_s > 1000\")")
		return
	}
	byName := map[string]*Entry{}
	var names []string
	for _, e := range cfg.Suite {
		byName[e.Name] = e
		names = append(names, e.Name)
	}
	seen := map[string]int{}
	for _, n := range node.Content {
		if n.Kind != yaml.ScalarNode {
			p.add(n.Line, "check: want one line of text, e.g. \"select-only: throughput_per_s > 1000\" (quote it)")
			continue
		}
		c, err := parseCheck(n.Value, n.Line)
		if err != nil {
			p.add(n.Line, "check %q: %v", strings.TrimSpace(n.Value), err)
			continue
		}
		if first, dup := seen[c.Text]; dup {
			p.add(n.Line, "check %q: the same check is on line %d", c.Text, first)
			continue
		}
		seen[c.Text] = n.Line
		e, ok := byName[c.Entry]
		if !ok && len(byName) == 0 {
			continue // no suite to check against; its problem is reported
		}
		if !ok {
			if !contains(cfg.broken, c.Entry) {
				p.add(n.Line, "check %q: no suite entry %q%s; the suite has %s", c.Text, c.Entry, suggestion(c.Entry, names, ""), quoteList(names))
			}
			continue
		}
		if err := matchPoints(c, e); err != nil {
			p.add(n.Line, "check %q: %v", c.Text, err)
			continue
		}
		cfg.Checks = append(cfg.Checks, c)
	}
}

// matchPoints checks the selector's keys and values against the entry's points.
func matchPoints(c *Check, e *Entry) error {
	keys := []string{"variant"}
	for _, pt := range e.points {
		for k := range pt.Values {
			if !contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys[1:])
	for _, k := range sortedKeys(c.Where) {
		if !contains(keys, k) {
			return fmt.Errorf("%s has no key %q%s; select by %s", e.Name, k, suggestion(k, keys, ""), strings.Join(keys, ", "))
		}
	}
	if len(matching(c, e)) == 0 {
		var labels []string
		for _, pt := range e.points {
			labels = append(labels, pointLabel(pt.Variant, pt.Values))
		}
		return fmt.Errorf("no series of %s matches %s; the suite runs %s", e.Name, whereString(c.Where), strings.Join(labels, "; "))
	}
	return nil
}

// matching lists the entry's points the check selects.
func matching(c *Check, e *Entry) []scenarios.Point {
	var out []scenarios.Point
	for _, pt := range e.points {
		if selects(c.Where, pt.Variant, pt.Values) {
			out = append(out, pt)
		}
	}
	return out
}

// selects tells whether a series (variant and point values) matches where.
func selects(where map[string]string, variant string, values map[string]any) bool {
	for k, want := range where {
		if k == "variant" {
			if variant != want {
				return false
			}
			continue
		}
		v, ok := values[k]
		if !ok || fmt.Sprint(v) != want {
			return false
		}
	}
	return true
}

// warn notes what does not stop the gate but makes it weaker than it looks.
func (cfg *Config) warn() {
	relative := false
	for _, c := range cfg.Checks {
		relative = relative || c.Relative
	}
	if relative {
		if p := minP(cfg.Repeats); p > cfg.Alpha {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("with %d repeats a side the U test's smallest p-value is %.3f, above alpha %g: "+
				"no relative check can fail; use repeats: %d or more", cfg.Repeats, p, cfg.Alpha, minRepeats(cfg.Alpha)))
		}
	}
	if cfg.Calibrate && !relative {
		cfg.Warnings = append(cfg.Warnings, "calibrate: true only changes relative checks, and there are none")
	}
}

// minP is the smallest two-sided p-value of a Mann-Whitney U test with n values a side: the
// two most extreme of the C(2n, n) equally likely orderings.
func minP(n int) float64 {
	if n < 1 {
		return 1
	}
	// C(2n, n) by the multiplicative formula, in floating point (n is small).
	c := 1.0
	for i := 1; i <= n; i++ {
		c = c * float64(n+i) / float64(i)
	}
	return math.Min(1, 2/c)
}

// minRepeats is the fewest repeats a side at which the U test can reach alpha.
func minRepeats(alpha float64) int {
	for n := 1; n < 100; n++ {
		if minP(n) <= alpha {
			return n
		}
	}
	return 100
}

// HasRelative tells whether any check compares with the baseline.
func (cfg *Config) HasRelative() bool {
	for _, c := range cfg.Checks {
		if c.Relative {
			return true
		}
	}
	return false
}

// entry returns the suite entry named name.
func (cfg *Config) entry(name string) *Entry {
	for _, e := range cfg.Suite {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// scalar reads a scalar value.
func scalar(p *problems, k, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		p.add(v.Line, "%s: want a single value", k.Value)
		return "", false
	}
	return v.Value, true
}

func intValue(p *problems, k, v *yaml.Node) (int, bool) {
	s, ok := scalar(p, k, v)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		p.add(v.Line, "%s %q: not a whole number", k.Value, s)
		return 0, false
	}
	return n, true
}

func floatValue(p *problems, k, v *yaml.Node) (float64, bool) {
	s, ok := scalar(p, k, v)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.add(v.Line, "%s %q: not a number", k.Value, s)
		return 0, false
	}
	return f, true
}

func boolValue(p *problems, k, v *yaml.Node) (bool, bool) {
	s, ok := scalar(p, k, v)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	if k.Value == "calibrate" {
		p.add(v.Line, "calibrate %q: want true (select-only), pgbench, select-only or false", s)
		return false, false
	}
	p.add(v.Line, "%s %q: want true or false", k.Value, s)
	return false, false
}

func durationValue(p *problems, k, v *yaml.Node) (time.Duration, bool) {
	s, ok := scalar(p, k, v)
	if !ok {
		return 0, false
	}
	if s == "0" {
		return 0, true
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.add(v.Line, "%s %q: not a duration (e.g. 500ms, 2s, 1m)", k.Value, s)
		return 0, false
	}
	return d, true
}

// pairs reads a mapping of names to values; with lists, a sequence value becomes a,b,c.
func pairs(p *problems, k, v *yaml.Node, into map[string]string, lists bool) bool {
	if v.Kind != yaml.MappingNode {
		p.add(v.Line, "%s: want a mapping of name: value", k.Value)
		return false
	}
	ok := true
	for i := 0; i+1 < len(v.Content); i += 2 {
		name, val := v.Content[i], v.Content[i+1]
		switch {
		case val.Kind == yaml.ScalarNode:
			into[name.Value] = val.Value
		case lists && val.Kind == yaml.SequenceNode:
			var items []string
			for _, it := range val.Content {
				if it.Kind != yaml.ScalarNode {
					p.add(it.Line, "%s.%s: a list of single values, please", k.Value, name.Value)
					ok = false
					continue
				}
				items = append(items, it.Value)
			}
			into[name.Value] = strings.Join(items, ",")
		default:
			p.add(val.Line, "%s.%s: want a single value", k.Value, name.Value)
			ok = false
		}
	}
	return ok
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

// yamlMessage strips the library's prefix from a YAML syntax error.
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return strings.ReplaceAll(msg, "\n", "; ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func whereString(where map[string]string) string {
	if len(where) == 0 {
		return "anything"
	}
	var parts []string
	for _, k := range sortedKeys(where) {
		parts = append(parts, k+"="+where[k])
	}
	return strings.Join(parts, " ")
}

// pointLabel names a series: its variant and point values.
func pointLabel(variant string, values map[string]any) string {
	parts := []string{variant}
	for _, k := range sortedKeys(values) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, values[k]))
	}
	return strings.Join(parts, " ")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
