package report

// Findings across variants: which served the most and had the lowest tail, point by point, and how
// noisy the repeats were.

import (
	"fmt"
	"math"
	"strings"
)

// variantFindings compares the variants by the run's headline at the points they share. Points
// match on the parameters every series carries, so that a variant with a parameter of its own
// (queue's batch) is still compared with the others; a variant with several series at such a
// point (several batch sizes) is left out there.
func variantFindings(run *Run) []string {
	variants := run.Variants()
	if len(variants) < 2 || (!run.Headline.OwnMetric() && fixedRate(run)) {
		// At one offered rate, what a variant completed is not what it could carry (in ddl-lock,
		// requests that failed fast are not extra capacity): no throughput comparison.
		return nil
	}
	h := run.Headline
	common := commonKeys(run.Groups)
	byPoint := map[string]map[string]*Group{}
	ambiguous := map[string]bool{}
	var points []string
	for _, g := range run.Groups {
		p := PointString(restrict(g.Point, common))
		if byPoint[p] == nil {
			byPoint[p] = map[string]*Group{}
			points = append(points, p)
		}
		if _, dup := byPoint[p][g.Variant]; dup {
			ambiguous[p] = true
		}
		byPoint[p][g.Variant] = g
	}
	var shared []string
	for _, p := range points {
		if len(byPoint[p]) != len(variants) || ambiguous[p] {
			continue
		}
		ok := true
		for _, g := range byPoint[p] {
			ok = ok && g.HasHeadline
		}
		if ok {
			shared = append(shared, p)
		}
	}
	if len(shared) == 0 {
		return nil
	}
	// better tells whether a beats b on the headline.
	better := func(a, b *Group) bool {
		if h.HigherIsBetter() {
			return a.Headline > b.Headline
		}
		return a.Headline < b.Headline
	}
	wins, losses := map[string]int{}, map[string]int{}
	latWins := map[string]int{}
	for _, p := range shared {
		best, worst, fastest := "", "", ""
		for _, v := range variants {
			g := byPoint[p][v]
			if best == "" || better(g, byPoint[p][best]) {
				best = v
			}
			if worst == "" || better(byPoint[p][worst], g) {
				worst = v
			}
			if g.Latency.P99 > 0 && (fastest == "" || g.Latency.P99 < byPoint[p][fastest].Latency.P99) {
				fastest = v
			}
		}
		wins[best]++
		losses[worst]++
		if fastest != "" {
			latWins[fastest]++
		}
	}
	top := func(m map[string]int) string {
		best := ""
		for _, v := range variants {
			if m[v] > m[best] || best == "" && m[v] > 0 {
				best = v
			}
		}
		return best
	}
	bestV, worstV, fastV := top(wins), top(losses), top(latWins)
	var out []string
	if bestV == worstV || bestV == "" || worstV == "" {
		return nil
	}
	// The verbs and superlatives of the headline's direction: a variant serves more throughput,
	// or has fewer bytes per row.
	verb, most, least := "served", "most", "least"
	if !h.HigherIsBetter() {
		verb, most, least = "had", "least", "most"
	}
	if len(shared) == 1 {
		p := shared[0]
		b, w := byPoint[p][bestV], byPoint[p][worstV]
		msg := fmt.Sprintf("%s %s %s the %s of %s (%s vs %s %s)", bestV, verb, ratio(b.Headline, w.Headline), h.Label,
			worstV, formatNum(b.Headline), formatNum(w.Headline), h.Unit)
		if b.Latency.P99 > 0 && w.Latency.P99 > 0 {
			if b.Latency.P99 <= w.Latency.P99 {
				msg += fmt.Sprintf(", with a p99 of %s vs %s ms", formatNum(b.Latency.P99), formatNum(w.Latency.P99))
			} else {
				msg += fmt.Sprintf(", though its p99 was higher: %s vs %s ms", formatNum(b.Latency.P99), formatNum(w.Latency.P99))
			}
		}
		out = append(out, msg+".")
		if len(variants) > 2 {
			out = append(out, fmt.Sprintf("Best %s: %s; worst: %s.", h.Label, bestV, worstV))
		}
		return out
	}
	lo, hi := math.Inf(1), 0.0
	for _, p := range shared {
		b, w := byPoint[p][bestV], byPoint[p][worstV]
		if w.Headline > 0 {
			r := b.Headline / w.Headline
			lo, hi = math.Min(lo, r), math.Max(hi, r)
		}
	}
	span := ""
	if hi > 0 {
		span = ratio(hi, 1)
		if hi-lo >= 0.1 {
			span = fmt.Sprintf("%s to %s", strings.TrimSuffix(ratio(lo, 1), "x"), ratio(hi, 1))
		}
		span = fmt.Sprintf(": %s the %s of %s", span, h.Label, worstV)
	}
	out = append(out, fmt.Sprintf("%s %s the %s %s at %d of %d points%s; %s the %s at %d.",
		bestV, verb, most, h.Label, wins[bestV], len(shared), span, worstV, least, losses[worstV]))
	if fastV != "" {
		out = append(out, fmt.Sprintf("%s had the lowest p99 at %d of %d points.", fastV, latWins[fastV], len(shared)))
	}
	return out
}

// commonKeys lists the point parameters every group carries.
func commonKeys(groups []*Group) map[string]bool {
	keys := map[string]bool{}
	for i, g := range groups {
		for k := range g.Point {
			if i == 0 {
				keys[k] = true
			}
		}
		for k := range keys {
			if _, ok := g.Point[k]; !ok {
				delete(keys, k)
			}
		}
	}
	return keys
}

// restrict is point with only the keys in keys.
func restrict(point map[string]any, keys map[string]bool) map[string]any {
	out := make(map[string]any, len(keys))
	for k, v := range point {
		if keys[k] {
			out[k] = v
		}
	}
	return out
}

// ratio renders a/b as "2.6x" ("1.04x" near parity).
func ratio(a, b float64) string {
	if b <= 0 {
		return "∞x"
	}
	r := a / b
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0fx", r)
	case r < 1.1:
		return fmt.Sprintf("%.2fx", r)
	}
	return fmt.Sprintf("%.1fx", r)
}

// noiseFindings reports how much the headline (throughput unless the scenario names another)
// varied across repeats.
func noiseFindings(run *Run) []string {
	h := run.Headline
	worst, spread, n := "", 0.0, 0
	for _, g := range run.Groups {
		if len(g.Repeats) < 2 || !g.HasHeadline || g.Headline <= 0 {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range g.Repeats {
			if v, ok := h.Of(s); ok {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if sp := (hi - lo) / g.Headline; sp >= spread {
			worst, spread, n = run.ShortLabel(g), sp, len(g.Repeats)
		}
	}
	if worst == "" {
		return nil
	}
	return []string{fmt.Sprintf("Across repeats %s varied by up to %.1f%% of its median (%s, %d repeats).", h.Label, 100*spread, worst, n)}
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func dedupe(items []string) []string {
	var out []string
	for _, s := range items {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
