package gate

// The checks: each parsed, matched to the points of its entry, and judged for how many repeats a
// relative check needs.

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/suggest"
)

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
				p.add(n.Line, "check %q: no suite entry %q%s; the suite has %s", c.Text, c.Entry, suggest.DidYouMean(c.Entry, names), quoteList(names))
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
	for _, k := range slices.Sorted(maps.Keys(c.Where)) {
		if !contains(keys, k) {
			return fmt.Errorf("%s has no key %q%s; select by %s", e.Name, k, suggest.DidYouMean(k, keys), strings.Join(keys, ", "))
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
