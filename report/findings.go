package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// errorNames names the SQLSTATEs and client classes the scenarios meet, for sentences.
var errorNames = map[string]string{
	"53300":          "too_many_connections",
	"53300_reserved": "too_many_connections",
	"55P03":          "lock_not_available",
	"57014":          "query_canceled",
	"40001":          "serialization_failure",
	"40P01":          "deadlock_detected",
	"25P03":          "idle_in_transaction_session_timeout",
	"57P01":          "admin_shutdown",
	"08006":          "connection_failure",
	"53200":          "out_of_memory",
}

// errorFamily folds a class into the SQLSTATE a reader knows: 53300_reserved is a 53300.
func errorFamily(class string) string {
	if code, _, ok := strings.Cut(class, "_reserved"); ok && code == "53300" {
		return "53300"
	}
	return class
}

func errorFamilyLabel(class string) string {
	f := errorFamily(class)
	if n, ok := errorNames[f]; ok {
		return f + " " + n
	}
	return f
}

// Findings says in sentences what a run found, computed from its figures: error onset, the
// knee against the SLO (ms of p99; 0 for none), how the variants compare, where throughput
// stopped growing, and how much repeats varied.
func Findings(run *Run, slo float64) []string {
	slo = run.LatencySLO(slo)
	var out []string
	for _, r := range run.Results {
		switch r.Status {
		case StatusInterrupted, StatusFailed:
			verb := "was interrupted"
			if r.Status == StatusFailed {
				verb = "failed"
			}
			msg := fmt.Sprintf("The run %s %s", r.RunID, verb)
			if r.Reason != "" {
				msg += ": " + r.Reason
			}
			out = append(out, msg+"; its figures cover only what was measured before.")
		case StatusIncomplete:
			out = append(out, fmt.Sprintf("The sharded run %s is incomplete: %s; its figures cover only what the shards that finished measured.", r.RunID, r.Reason))
		}
	}
	if len(run.Groups) == 0 {
		return append(out, "No series were measured.")
	}
	var idle []string
	for _, g := range run.Groups {
		if g.Ops == 0 {
			idle = append(idle, run.ShortLabel(g))
		}
	}
	if len(idle) > 0 {
		out = append(out, fmt.Sprintf("No operation succeeded in %s: its figures are empty.", joinAndAtMost(idle, maxListed)))
	}
	h := run.Headline
	x, swept := run.Swept()
	if swept {
		lines := run.SweepLines(x, slo)
		out = append(out, errorOnsetFindings(run, x, lines, run.Unswept(x))...)
		out = append(out, sloFindings(x, lines, slo)...)
		out = append(out, saturationFindings(x, lines, h)...)
		// The variants that do not take the swept parameter are described as in a run without
		// a sweep (their errors by errorOnsetFindings).
		out = append(out, groupSLOFindings(run, run.Unswept(x), slo)...)
	} else {
		out = append(out, groupErrorFindings(run, run.Groups)...)
		out = append(out, groupSLOFindings(run, run.Groups, slo)...)
	}
	out = append(out, variantFindings(run)...)
	if len(run.Variants()) == 1 && len(run.Groups) == 1 {
		g := run.Groups[0]
		// "ran at 52000 rows/s (52 ops/s)"; a figure where lower is better is not a rate:
		// "measured 180 B/row and ran at 52000 ops/s".
		rate := "ran at " + formatNum(g.Throughput) + " " + h.opsUnit()
		switch {
		case h.OwnMetric() && g.HasHeadline && h.HigherIsBetter():
			rate = fmt.Sprintf("ran at %s %s (%s ops/s)", formatNum(g.Headline), h.Unit, formatNum(g.Throughput))
		case h.OwnMetric() && g.HasHeadline:
			rate = fmt.Sprintf("measured %s %s and %s", formatNum(g.Headline), h.Unit, rate)
		}
		out = append(out, fmt.Sprintf("%s %s with p50 %s ms, p99 %s ms and p99.9 %s ms.",
			g.Label(), rate, formatNum(g.Latency.P50), formatNum(g.Latency.P99), formatNum(g.Latency.P999)))
	}
	out = append(out, noiseFindings(run)...)
	total := int64(0)
	for _, g := range run.Groups {
		total += g.TotalErrors()
	}
	if total == 0 {
		out = append(out, "No errors in any series.")
	}
	return out
}

// xPhrase says a swept value the way a person would: "60 concurrent workers", "batch=100".
func xPhrase(name string, v any) string {
	switch name {
	case "workers":
		return fmt.Sprintf("%v concurrent workers", v)
	case "concurrency":
		return fmt.Sprintf("a concurrency of %v", v)
	}
	return fmt.Sprintf("%s=%v", name, v)
}

// context of a line: its fixed dimensions plus max_connections when it is a point value that
// does not vary (the server limit the errors meet).
func lineContext(run *Run, l *Line) string {
	ctx := map[string]any{}
	for k, v := range l.Fixed {
		ctx[k] = v
	}
	if len(l.Groups) > 0 {
		if v, ok := l.Groups[0].Point["max_connections"]; ok {
			ctx["max_connections"] = v
		}
	}
	if _, ok := ctx["max_connections"]; !ok && len(run.Results) == 1 {
		if v, ok := run.Results[0].Environment.Settings["max_connections"]; ok {
			ctx["max_connections"] = v
		}
	}
	if len(ctx) == 0 {
		return ""
	}
	return " (" + strings.ReplaceAll(PointString(ctx), " ", ", ") + ")"
}

// errorOnsetFindings says where errors began along each line, what errors the unswept groups had
// (see Run.Unswept), and which lines and groups had none.
func errorOnsetFindings(run *Run, x Dim, lines []*Line, unswept []*Group) []string {
	type onset struct {
		at      string
		context string
		classes []string
		first   bool
		lines   []string
		count   int64
	}
	var onsets []*onset
	var clean []string
	for _, l := range lines {
		idx := -1
		for i, g := range l.Groups {
			if g.TotalErrors() > 0 {
				idx = i
				break
			}
		}
		if idx < 0 {
			last := l.Groups[len(l.Groups)-1].Point[x.Name]
			clean = append(clean, fmt.Sprintf("%s (up to %s)", l.Label(), xPhrase(x.Name, last)))
			continue
		}
		g := l.Groups[idx]
		at := xPhrase(x.Name, g.Point[x.Name])
		ctx := lineContext(run, l)
		classes := familiesByCount(g.Errors)
		var o *onset
		for _, c := range onsets {
			if c.at == at && c.context == ctx && strings.Join(c.classes, ",") == strings.Join(classes, ",") {
				o = c
			}
		}
		if o == nil {
			o = &onset{at: at, context: ctx, classes: classes, first: idx == 0}
			onsets = append(onsets, o)
		}
		o.lines = append(o.lines, l.Variant)
		o.count += g.TotalErrors()
	}
	erred := len(onsets) > 0
	for _, g := range unswept {
		if g.TotalErrors() > 0 {
			erred = true
		} else {
			clean = append(clean, run.ShortLabel(g))
		}
	}
	var out []string
	for _, o := range onsets {
		labels := make([]string, len(o.classes))
		for i, c := range o.classes {
			labels[i] = errorFamilyLabel(c)
		}
		verb := "began at"
		if o.first {
			verb = "appeared already at"
		}
		msg := fmt.Sprintf("%s errors %s %s%s for %s", joinAnd(labels), verb, o.at, o.context, joinAnd(dedupe(o.lines)))
		if len(o.lines) > 1 {
			msg += fmt.Sprintf(", %d errors in all at that point", o.count)
		} else {
			msg += fmt.Sprintf(", %d errors at that point", o.count)
		}
		if o.first && x.Numeric {
			msg += ", the smallest value measured"
		} else if o.first {
			msg += ", the first value measured"
		}
		out = append(out, msg+".")
	}
	out = append(out, groupErrorFindings(run, unswept)...)
	if erred && len(clean) > 0 {
		out = append(out, fmt.Sprintf("No errors for %s.", joinAndAtMost(clean, maxListed)))
	}
	return out
}

// familiesByCount lists the error families of errs, most frequent first.
func familiesByCount(errs map[string]int64) []string {
	counts := map[string]int64{}
	for c, n := range errs {
		if n > 0 {
			counts[errorFamily(c)] += n
		}
	}
	fams := make([]string, 0, len(counts))
	for f := range counts {
		fams = append(fams, f)
	}
	sort.Slice(fams, func(i, j int) bool {
		if counts[fams[i]] != counts[fams[j]] {
			return counts[fams[i]] > counts[fams[j]]
		}
		return fams[i] < fams[j]
	})
	return fams
}

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
		return []string{fmt.Sprintf("p99 stayed under the %s ms SLO at every %s measured.", formatNum(slo), x.Name)}
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
	if !x.Numeric || !h.HigherIsBetter() {
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

func groupErrorFindings(run *Run, groups []*Group) []string {
	var out []string
	for _, g := range groups {
		n := g.TotalErrors()
		if n == 0 {
			continue
		}
		fams := familiesByCount(g.Errors)
		labels := make([]string, len(fams))
		for i, f := range fams {
			labels[i] = errorFamilyLabel(f)
		}
		total := n + g.Ops
		out = append(out, fmt.Sprintf("%s had %d errors (%s), %.1f%% of its requests.", run.ShortLabel(g), n,
			joinAnd(labels), 100*float64(n)/float64(max(total, 1))))
	}
	return out
}

// variantFindings compares the variants by the run's headline at the points they share. Points
// match on the parameters every series carries, so that a variant with a parameter of its own
// (queue's batch) is still compared with the others; a variant with several series at such a
// point (several batch sizes) is left out there.
func variantFindings(run *Run) []string {
	variants := run.Variants()
	if len(variants) < 2 {
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
