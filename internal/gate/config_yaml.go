package gate

// Reading YAML values with the line of each problem, and the labels messages use.

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

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

func whereString(where map[string]string) string {
	if len(where) == 0 {
		return "anything"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(where)) {
		parts = append(parts, k+"="+where[k])
	}
	return strings.Join(parts, " ")
}

// pointLabel names a series: its variant and point values.
func pointLabel(variant string, values map[string]any) string {
	parts := []string{variant}
	for _, k := range slices.Sorted(maps.Keys(values)) {
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
