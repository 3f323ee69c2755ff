package report

// Findings along a sweep: where the latency SLO was passed, and where throughput peaked or stopped
// growing.

import (
	"fmt"
	"strings"
)

// groupSLOFindings names the groups whose p99 was above the SLO, in one sentence.
func groupSLOFindings(run *Run, groups []*Group, slo float64) []string {
	if slo <= 0 {
		return nil
	}
	var over []string
	for _, g := range groups {
		if g.Latency.P99 > slo {
			over = append(over, fmt.Sprintf("%s (%s ms)", run.ShortLabel(g), formatNum(g.Latency.P99)))
		}
	}
	if len(over) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("p99 was above the %s ms SLO for %s.", formatNum(slo), joinAnd(over))}
}

func sloFindings(x Dim, lines []*Line, slo float64) []string {
	if slo <= 0 {
		return nil
	}
	type crossing struct {
		at    string
		lines []string
	}
	var crossings []*crossing
	var under []string
	for _, l := range lines {
		idx := -1
		for i, g := range l.Groups {
			if g.Latency.P99 > slo {
				idx = i
				break
			}
		}
		if idx < 0 {
			under = append(under, l.Label())
			continue
		}
		g := l.Groups[idx]
		at := xPhrase(x.Name, g.Point[x.Name])
		var c *crossing
		for _, cc := range crossings {
			if cc.at == at {
				c = cc
			}
		}
		if c == nil {
			c = &crossing{at: at}
			crossings = append(crossings, c)
		}
		c.lines = append(c.lines, fmt.Sprintf("%s (%s ms)", l.Label(), formatNum(g.Latency.P99)))
	}
	if len(crossings) == 0 {
		return []string{fmt.Sprintf("p99 stayed under the %s ms SLO at every value of %s measured.", formatNum(slo), x.Name)}
	}
	var parts []string
	for _, c := range crossings {
		parts = append(parts, fmt.Sprintf("at %s for %s", c.at, joinAndAtMost(c.lines, maxListed)))
	}
	msg := fmt.Sprintf("p99 passed the %s ms SLO %s", formatNum(slo), strings.Join(parts, "; "))
	if len(under) > 0 {
		msg += fmt.Sprintf("; it stayed under for %s", joinAndAtMost(under, maxListed))
	}
	return []string{msg + "."}
}

// saturationFindings notes lines whose headline (throughput unless the scenario names another)
// peaked before the largest swept value, one sentence for the lines that peaked and ended at the
// same values, and lines that were still growing at the largest value, one sentence for those
// that started and ended at the same values. A headline where lower is better has no peak to
// find.
func saturationFindings(x Dim, lines []*Line, h Headline) []string {
	if !x.Numeric || !h.HigherIsBetter() || x.Name == "rate_per_s" { // throughput follows an offered rate
		return nil
	}
	type drop struct {
		peakAt, lastAt any
		items          []string
	}
	var drops, rises []*drop
	note := func(list *[]*drop, a, b any, item string) {
		for _, d := range *list {
			if sameValue(d.peakAt, a) && sameValue(d.lastAt, b) {
				d.items = append(d.items, item)
				return
			}
		}
		*list = append(*list, &drop{peakAt: a, lastAt: b, items: []string{item}})
	}
	for _, l := range lines {
		var gs []*Group
		for _, g := range l.Groups {
			if g.HasHeadline {
				gs = append(gs, g)
			}
		}
		if len(gs) < 2 {
			continue
		}
		peak := 0
		for i, g := range gs {
			if g.Headline > gs[peak].Headline {
				peak = i
			}
		}
		first, last := gs[0], gs[len(gs)-1]
		// A change of less than 5% is within what repeats on this kind of machine vary by.
		if peak == len(gs)-1 {
			if last.Headline > 1.05*first.Headline {
				note(&rises, first.Point[x.Name], last.Point[x.Name],
					fmt.Sprintf("%s (%s to %s %s)", l.Label(), formatNum(first.Headline), formatNum(last.Headline), h.Unit))
			}
			continue
		}
		if last.Headline >= 0.95*gs[peak].Headline {
			continue
		}
		pg := gs[peak]
		if pg.Floor() || last.Floor() {
			continue // the load generator bound it: not the server peaking (floorFindings says so)
		}
		note(&drops, pg.Point[x.Name], last.Point[x.Name],
			fmt.Sprintf("%s (%s vs %s %s)", l.Label(), formatNum(pg.Headline), formatNum(last.Headline), h.Unit))
	}
	var out []string
	for _, d := range drops {
		out = append(out, fmt.Sprintf("%s peaked at %s and was lower at %s for %s.", h.Sentence(), xPhrase(x.Name, d.peakAt),
			xPhrase(x.Name, d.lastAt), joinAndAtMost(d.items, maxListed)))
	}
	for _, d := range rises {
		out = append(out, fmt.Sprintf("%s grew from %s to %s, the largest value measured, and was highest there for %s.",
			h.Sentence(), xPhrase(x.Name, d.peakAt), xPhrase(x.Name, d.lastAt), joinAndAtMost(d.items, maxListed)))
	}
	return out
}

// maxListed bounds the items a finding lists, so a 48-series sweep still reads as a sentence.
const maxListed = 4

// joinAndAtMost joins up to n items and says how many more there were.
func joinAndAtMost(items []string, n int) string {
	if len(items) <= n {
		return joinAnd(items)
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}
