package report

// Findings about errors: where along a sweep they began, and what each family of SQLSTATEs says.

import (
	"fmt"
	"sort"
	"strings"
)

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
