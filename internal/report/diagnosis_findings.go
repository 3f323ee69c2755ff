package report

import (
	"fmt"
	"sort"
	"strings"
)

// Diagnosis is the group's diagnosis: its first repeat's with the most common bound.
func (g *Group) Diagnosis() *Diagnosis {
	count := map[string]int{}
	var best *Diagnosis
	for _, s := range g.Repeats {
		if s.Diagnosis == nil {
			continue
		}
		count[s.Diagnosis.Bound]++
		if best == nil || count[s.Diagnosis.Bound] > count[best.Bound] {
			best = s.Diagnosis
		}
	}
	return best
}

// Floor tells whether the load generator bound any repeat of the group: its figures are then
// floors of what the server carries, never the server's limit.
func (g *Group) Floor() bool {
	for _, s := range g.Repeats {
		if s.Diagnosis != nil && s.Diagnosis.Floor {
			return true
		}
	}
	return false
}

// diagnosisFindings say what bound each series: one sentence per series when there are few,
// else the series by bound; and, when the load generator bound any, that those figures are floors.
func diagnosisFindings(run *Run) []string {
	byBound := map[string][]string{}
	var out, floors []string
	var bounds []string
	for _, g := range run.Groups {
		d := g.Diagnosis()
		if d == nil {
			continue
		}
		if len(run.Groups) <= maxListed {
			out = append(out, fmt.Sprintf("%s was bound by %s: %s.", run.ShortLabel(g), BoundLabel(d.Bound), d.Evidence))
		} else {
			if _, ok := byBound[d.Bound]; !ok {
				bounds = append(bounds, d.Bound)
			}
			byBound[d.Bound] = append(byBound[d.Bound], run.ShortLabel(g))
		}
		if g.Floor() {
			floors = append(floors, run.ShortLabel(g))
		}
	}
	sort.Strings(bounds)
	for _, b := range bounds {
		out = append(out, fmt.Sprintf("Bound by %s: %s.", BoundLabel(b), joinAndAtMost(byBound[b], maxListed)))
	}
	if len(floors) > 0 {
		out = append(out, fmt.Sprintf("The figures of %s are floors: the client side gave out first (the load generator's CPU, or a host "+
			"other processes kept busy), so the server carries at least as much, and they say nothing of where it peaks "+
			"(run pgscale on more CPUs, or shard it).", joinAndAtMost(floors, maxListed)))
	}
	return out
}

// fixedRate tells whether every series of the run ran open loop at one and the same rate.
func fixedRate(run *Run) bool {
	rate := -1.0
	for _, g := range run.Groups {
		for _, s := range g.Repeats {
			if s.RatePerS <= 0 || (rate >= 0 && s.RatePerS != rate) {
				return false
			}
			rate = s.RatePerS
		}
	}
	return rate > 0
}

// sentenceFindings are the scenarios' own headline sentences, one per series that has one.
func sentenceFindings(run *Run) []string {
	var out []string
	for _, g := range run.Groups {
		for _, s := range g.Repeats {
			if s.Sentence == "" {
				continue
			}
			sentence := strings.TrimSuffix(s.Sentence, ".")
			if (len(run.Groups) > 1 || len(g.Repeats) > 1) && !strings.HasPrefix(sentence, run.Scenario+" ") {
				sentence = run.ShortLabel(g) + ": " + sentence
			}
			out = append(out, sentence+".")
			break // the first repeat speaks for the group, as its timeline does
		}
	}
	return out
}

// capacityFindings are the capacity searches' sentences.
func capacityFindings(run *Run) []string {
	var out []string
	for _, r := range run.Results {
		if r.Capacity != nil && r.Capacity.Sentence != "" {
			out = append(out, upperFirst(r.Capacity.Sentence)+".")
		}
	}
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
