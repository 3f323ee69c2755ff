package gate

// The suite: each entry of the gate file checked as pgscale run would check its flags, and expanded
// into points.

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"
)

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
	var scenarioLine, sources int
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "scenario":
			e.Scenario, _ = scalar(p, k, v)
			scenarioLine = v.Line
			sources++
		case "workload":
			ok = parseWorkloadKey(p, e, k, v) && ok
			scenarioLine = v.Line
			sources++
		case "script":
			ok = parseScriptKey(p, e, k, v) && ok
			scenarioLine = v.Line
			sources++
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
					p.add(v.Line, "%s", usage.Render(err, yamlKey))
					good = false
				}
			}
			ok = good && ok
			e.Latency = d
		case "allow_intrusive":
			e.AllowIntrusive, _ = boolValue(p, k, v)
		default:
			p.add(k.Line, "suite entry: unknown key %q%s; valid: %s", k.Value, suggest.DidYouMean(k.Value, entryKeys), strings.Join(entryKeys, ", "))
			ok = false
		}
	}
	if sources > 1 {
		p.add(n.Line, "suite entry: give one of scenario:, workload: (a workload file) or script: (pgbench scripts)")
		return e
	}
	if e.Scenario == "" {
		if ok {
			p.add(n.Line, "suite entry: no scenario; valid: %s (or workload: a workload file, or script: pgbench scripts)", strings.Join(scenarios.Names(), ", "))
		}
		return e
	}
	if e.Name == "" {
		e.Name = e.Scenario
	}
	if ok && !entryName.MatchString(e.Name) {
		p.add(n.Line, "suite entry %q: want a name of lowercase letters, digits, - and _; give it name: <name>", e.Name)
		return e
	}
	if !ok {
		return e
	}
	var sc scenarios.Scenario
	if e.own != nil || e.workloadFile != nil {
		if sc, ok = resolveOwn(p, e, scenarioLine); !ok {
			return e
		}
	} else {
		var err error
		if sc, err = scenarios.Lookup(e.Scenario); err != nil {
			p.add(scenarioLine, "%v", err)
			return e
		}
	}
	doc := sc.Doc()
	params, err := scenarios.ResolveParams(doc, e.Sets, e.Quick)
	if err != nil {
		for _, line := range strings.Split(usage.Render(err, yamlKey), "\n") {
			p.add(keyLine(n, "set"), "%s: %s", e.Name, line)
		}
		return e
	}
	plan, err := sc.Plan(params)
	if err != nil {
		for _, line := range strings.Split(usage.Render(err, yamlKey), "\n") {
			p.add(keyLine(n, "set"), "%s: %s", e.Name, line)
		}
		return e
	}
	if len(plan.Points) == 0 {
		p.add(n.Line, "%s: the parameters select no series", e.Name)
		return e
	}
	e.points = plan.Points
	e.params = params.Map()
	if e.own != nil {
		describeOwn(e, sc)
	}
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
