package shard

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Input is one shard's result and the name it was given by (a path), for messages.
type Input struct {
	Name   string
	Result *result.Result
}

// Merge combines the results of one sharded run into one result:
//   - latency, service, connect and scenario histograms are merged and every percentile is
//     recomputed from the merged histogram, so the merged p99 is the p99 of all operations;
//   - ops, errors, workers, rates and throughput are summed over the shards;
//   - timelines are aligned by wall-clock second (each shard's series start plus t) and summed;
//     the server columns come from the lowest shard, since every shard watched the same server;
//   - the environment keeps the lowest shard's server and host and lists every shard's host.
//
// Inputs of different runs, scenarios, parameters or shard counts, a shard given twice, and
// results that are not a shard's, are usage errors. A run that lacks a shard, or one of whose
// shards did not finish, gives a result with status incomplete that says why.
func Merge(inputs []Input) (*result.Result, error) {
	if len(inputs) == 0 {
		return nil, usage.Errorf("pgscale merge: no results given: name the result directories of a run's shards")
	}
	if err := checkInputs(inputs); err != nil {
		return nil, err
	}
	ins := append([]Input(nil), inputs...)
	sort.SliceStable(ins, func(i, j int) bool { return *ins[i].Result.Shard.Index < *ins[j].Result.Shard.Index })
	first := ins[0].Result
	n := first.Shard.Count

	out := &result.Result{
		Schema: result.SchemaVersion, Scenario: first.Scenario, RunID: first.RunID, Status: result.StatusOK,
		StartedAt: first.StartedAt, FinishedAt: first.FinishedAt, Params: maps.Clone(first.Params), Headline: first.Headline,
		Duration: first.Duration, Warmup: first.Warmup, Environment: first.Environment, Series: []result.Series{},
	}
	out.Environment.Hosts = nil
	shardInfo := &result.Shard{Count: n}
	present := map[int]bool{}
	lost := map[int]bool{}
	var incomplete []string
	warnings := newWarningSet()
	for _, in := range ins {
		r := in.Result
		idx := *r.Shard.Index
		present[idx] = true
		shardInfo.Merged = append(shardInfo.Merged, idx)
		if r.StartedAt.Before(out.StartedAt) {
			out.StartedAt = r.StartedAt
		}
		if r.FinishedAt.After(out.FinishedAt) {
			out.FinishedAt = r.FinishedAt
		}
		out.Environment.Hosts = append(out.Environment.Hosts, r.Environment.Host)
		if r.Status != result.StatusOK {
			why := fmt.Sprintf("shard %d/%d ended with status %s", idx, n, r.Status)
			switch r.Status {
			case result.StatusFailed:
				why = fmt.Sprintf("shard %d/%d failed", idx, n)
			case result.StatusInterrupted:
				why = fmt.Sprintf("shard %d/%d was interrupted", idx, n)
			}
			if r.Reason != "" {
				why += ": " + r.Reason
			}
			incomplete = append(incomplete, why)
		}
		for _, l := range r.Shard.Lost {
			lost[l] = true
		}
		for _, w := range r.Warnings {
			warnings.add(w, idx)
		}
		if r.Environment.ServerVersion != first.Environment.ServerVersion {
			warnings.add(fmt.Sprintf("shard %d/%d measured server %s, shard %d/%d server %s: were they given the same --dsn?",
				idx, n, r.Environment.ServerVersion, *first.Shard.Index, n, first.Environment.ServerVersion), -1)
		}
	}
	for i := 0; i < n; i++ {
		if !present[i] {
			shardInfo.Missing = append(shardInfo.Missing, i)
		}
	}
	for i := 0; i < n; i++ {
		if lost[i] {
			shardInfo.Lost = append(shardInfo.Lost, i)
		}
	}
	if len(shardInfo.Missing) > 0 {
		incomplete = append([]string{fmt.Sprintf("%s of %d missing (no result given)", shardList(shardInfo.Missing), n)}, incomplete...)
	}
	if len(shardInfo.Lost) > 0 {
		incomplete = append(incomplete, fmt.Sprintf("%s of %d seen to stop before the end", shardList(shardInfo.Lost), n))
	}
	out.Shard = shardInfo

	series, serr := mergeAllSeries(ins, n, warnings)
	if series != nil {
		out.Series = series
	}
	for _, w := range serr {
		warnings.add(w, -1)
	}
	if len(incomplete) > 0 {
		out.Status = result.StatusIncomplete
		out.Reason = strings.Join(incomplete, "; ")
		warnings.addFirst(fmt.Sprintf("incomplete: %s; the merged figures cover only the shards that finished, "+
			"so totals fall short of the run's", out.Reason))
	}
	out.Warnings = warnings.list(n)
	return out, nil
}

// checkInputs rejects what cannot be merged, naming the inputs.
func checkInputs(inputs []Input) error {
	first := inputs[0]
	for _, in := range inputs {
		r := in.Result
		switch {
		case r.Shard == nil:
			return usage.Errorf("%s is not a shard's result (run %s was not started with --shard i/N): pgscale merge combines the shards of one run", in.Name, r.RunID)
		case r.Shard.Index == nil:
			return usage.Errorf("%s is already a merged result (of shards %s): give the shards' own results", in.Name, intList(r.Shard.Merged))
		case r.Shard.Count < 1 || *r.Shard.Index < 0 || *r.Shard.Index >= r.Shard.Count:
			return usage.Errorf("%s: shard index %d out of range for %d shards", in.Name, *r.Shard.Index, r.Shard.Count)
		}
	}
	f := first.Result
	seen := map[int]string{}
	for _, in := range inputs {
		r := in.Result
		switch {
		case r.RunID != f.RunID:
			return usage.Errorf("%s is of run %s but %s is of run %s: merge the shards of one run (one --run-id)", in.Name, r.RunID, first.Name, f.RunID)
		case r.Scenario != f.Scenario:
			return usage.Errorf("%s is a %s result but %s is a %s result: the shards of one run measure one scenario", in.Name, r.Scenario, first.Name, f.Scenario)
		case r.Shard.Count != f.Shard.Count:
			return usage.Errorf("%s is shard %d of %d but %s is shard %d of %d: the shards of one run agree on N", in.Name, *r.Shard.Index, r.Shard.Count,
				first.Name, *f.Shard.Index, f.Shard.Count)
		case !sameJSON(r.Params, f.Params) || r.Duration != f.Duration || r.Warmup != f.Warmup:
			return usage.Errorf("%s and %s measured with different parameters (%s, duration %s, warm-up %s vs %s, duration %s, warm-up %s): "+
				"the shards of one run share them", in.Name, first.Name, jsonText(r.Params), r.Duration, r.Warmup, jsonText(f.Params), f.Duration, f.Warmup)
		}
		if other, dup := seen[*r.Shard.Index]; dup {
			return usage.Errorf("%s and %s are both shard %d/%d: give each shard once", other, in.Name, *r.Shard.Index, r.Shard.Count)
		}
		seen[*r.Shard.Index] = in.Name
	}
	return nil
}

func sameJSON(a, b any) bool { return jsonText(a) == jsonText(b) }

func jsonText(v any) string {
	b, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// part is one shard's series of a group.
type part struct {
	shard int
	s     *result.Series
}

// mergeAllSeries merges the series of every shard by variant, point and repeat, in the order
// they were first seen (shard by shard).
func mergeAllSeries(ins []Input, n int, warnings *warningSet) ([]result.Series, []string) {
	var order []string
	groups := map[string][]part{}
	for _, in := range ins {
		for i := range in.Result.Series {
			s := &in.Result.Series[i]
			k := fmt.Sprintf("%s\x00%s\x00%d", s.Variant, report.PointString(s.Point), s.Repeat)
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], part{shard: *in.Result.Shard.Index, s: s})
		}
	}
	var out []result.Series
	var notes []string
	for _, k := range order {
		parts := groups[k]
		merged, w := mergeSeries(parts)
		notes = append(notes, w...)
		if len(parts) < len(ins) {
			var have []int
			for _, p := range parts {
				have = append(have, p.shard)
			}
			notes = append(notes, fmt.Sprintf("%s: measured by %s of %d only", seriesName(parts[0].s), shardList(have), n))
		}
		out = append(out, merged)
	}
	return out, notes
}

func seriesName(s *result.Series) string {
	name := s.Variant
	if p := report.PointString(s.Point); p != "" {
		name += " " + p
	}
	if s.Repeat > 1 {
		name += fmt.Sprintf(" #%d", s.Repeat)
	}
	return name
}

// mergeSeries merges the shards' parts of one series.
func mergeSeries(parts []part) (result.Series, []string) {
	var notes []string
	f := parts[0].s
	out := result.Series{
		Variant: f.Variant, Point: maps.Clone(f.Point), Repeat: f.Repeat, StartedAt: f.StartedAt,
		Errors: map[string]int64{},
	}
	for _, p := range parts {
		s := p.s
		if s.StartedAt.Before(out.StartedAt) {
			out.StartedAt = s.StartedAt
		}
		out.DurationS = math.Max(out.DurationS, s.DurationS)
		out.WarmupS = math.Max(out.WarmupS, s.WarmupS)
		out.Workers += s.Workers
		out.RatePerS += s.RatePerS
		out.Ops += s.Ops
		out.ThroughputPerS += s.ThroughputPerS
		for c, v := range s.Errors {
			out.Errors[c] += v
		}
		for c, msg := range s.ErrorSamples {
			if out.ErrorSamples == nil {
				out.ErrorSamples = map[string]string{}
			}
			if _, ok := out.ErrorSamples[c]; !ok {
				out.ErrorSamples[c] = msg
			}
		}
	}
	name := seriesName(f)

	// Latency: from the merged histogram, exactly.
	lat, ok, err := mergeEncoded(parts, func(s *result.Series) (string, int64) { return s.Histograms.Latency, s.LatencyMs.Count })
	switch {
	case err != nil || !ok:
		notes = append(notes, fmt.Sprintf("%s: a shard's latency histogram is missing or unreadable: the merged percentiles are the largest of the shards'", name))
		out.LatencyMs = maxPercentiles(parts, func(s *result.Series) *result.Percentiles { return &s.LatencyMs })
	default:
		out.LatencyMs = result.PercentilesOf(lat)
		out.Histograms.Latency, err = result.EncodeHistogram(lat)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: %v", name, err))
		}
	}
	out.ServiceMs, out.Histograms.Service = mergeOptional(parts, name, "service", &notes,
		func(s *result.Series) *result.Percentiles { return s.ServiceMs },
		func(s *result.Series) string { return s.Histograms.Service })
	out.ConnectMs, out.Histograms.Connect = mergeOptional(parts, name, "connect", &notes,
		func(s *result.Series) *result.Percentiles { return s.ConnectMs },
		func(s *result.Series) string { return s.Histograms.Connect })

	extra := mergeExtraHistograms(parts, name, &notes)
	if len(extra) > 0 {
		out.Histograms.Extra = map[string]string{}
		for h, hist := range extra {
			enc, err := result.EncodeHistogram(hist)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			out.Histograms.Extra[h] = enc
		}
	}
	out.Metrics = mergeMetrics(parts, extra)
	shardSeries := make([]*result.Series, len(parts))
	for i, p := range parts {
		shardSeries[i] = p.s
	}
	bd := report.BreakdownOf(shardSeries)
	out.Scripts, out.Statements = bd.Scripts, bd.Statements
	out.Engine, out.EngineWhy = mergeEngine(parts, name, &notes)
	out.Timeline = mergeTimelines(parts, out.StartedAt)
	return out, notes
}

// mergeEngine is the engine the shards ran the series on (script's engine=auto decides per
// shard): theirs when they agree, else each named, with a note.
func mergeEngine(parts []part, name string, notes *[]string) (engine, why string) {
	var engines []string
	for _, p := range parts {
		if p.s.Engine != "" && !slices.Contains(engines, p.s.Engine) {
			engines = append(engines, p.s.Engine)
		}
	}
	switch len(engines) {
	case 0:
		return "", ""
	case 1:
		return engines[0], parts[0].s.EngineWhy
	}
	*notes = append(*notes, fmt.Sprintf("%s: the shards ran on different engines (%s)", name, strings.Join(engines, ", ")))
	return strings.Join(engines, "+"), "shards differed"
}

// mergeMetrics merges the scenario figures by what their names say:
//   - <h>_p50_ms, _p99_ms … of a scenario histogram h: recomputed from the merged histogram;
//   - peak, max, memory (_mb, _kb) and onset figures: the largest of the shards';
//   - means, fractions, ratios and per-unit figures (other than per second), and other _ms
//     figures: the mean of the shards' weighted by their ops;
//   - everything else (counters, and rates per second): summed.
//
// A figure a scenario reads from the server's tables (dead tuples, WAL bytes) is the same server
// seen by every shard; summed, it counts N times. Such scenarios are not shard-safe (README).
func mergeMetrics(parts []part, extra map[string]*hdrhistogram.Histogram) map[string]float64 {
	names := map[string]bool{}
	for _, p := range parts {
		for k := range p.s.Metrics {
			names[k] = true
		}
	}
	if len(names) == 0 {
		return nil
	}
	out := map[string]float64{}
	for name := range names {
		if v, ok := fromHistogram(name, extra); ok {
			out[name] = v
			continue
		}
		var sum, maxV, wsum, weight float64
		count := 0
		first := true
		for _, p := range parts {
			v, ok := p.s.Metrics[name]
			if !ok {
				continue
			}
			count++
			sum += v
			if first || v > maxV {
				maxV = v
			}
			first = false
			w := float64(p.s.Ops)
			wsum += v * w
			weight += w
		}
		switch metricRule(name) {
		case ruleMax:
			out[name] = maxV
		case ruleMean:
			if weight > 0 {
				out[name] = wsum / weight
			} else {
				out[name] = sum / float64(count)
			}
		default:
			out[name] = sum
		}
	}
	return out
}

func fromHistogram(name string, extra map[string]*hdrhistogram.Histogram) (float64, bool) {
	for suffix, pick := range histogramSuffixes {
		if h, ok := strings.CutSuffix(name, suffix); ok && extra[h] != nil {
			return pick(result.PercentilesOf(extra[h])), true
		}
	}
	return 0, false
}

type rule int

const (
	ruleSum rule = iota
	ruleMax
	ruleMean
)

func metricRule(name string) rule {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(name, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("peak", "max", "onset") || strings.HasSuffix(name, "_mb") || strings.HasSuffix(name, "_kb"):
		return ruleMax
	case strings.HasSuffix(name, "_per_s"):
		return ruleSum
	case has("mean", "fraction", "ratio", "_vs_", "_per_") || strings.HasSuffix(name, "_ms"):
		return ruleMean
	}
	return ruleSum
}

// mergeTimelines aligns the parts' timelines by wall-clock second: second t of a part that
// started at s is the merged second t + round((s - start)/1s), start being the earliest part's.
// Ops and errors are summed; p50 and p99 are the largest of the shards' that second (an upper
// bound: per-second histograms are not kept); the server columns and the sampler's extra figures
// come from the lowest shard that has them, as every shard watched the same server.
func mergeTimelines(parts []part, start time.Time) []result.Second {
	byT := map[int]*result.Second{}
	for _, p := range parts {
		off := int(math.Round(p.s.StartedAt.Sub(start).Seconds()))
		for _, sec := range p.s.Timeline {
			t := sec.T + off
			m, ok := byT[t]
			if !ok {
				m = &result.Second{T: t, Warmup: sec.Warmup}
				byT[t] = m
			}
			m.Warmup = m.Warmup || sec.Warmup
			m.Ops += sec.Ops
			m.Errors += sec.Errors
			for c, v := range sec.ErrorsBy {
				if m.ErrorsBy == nil {
					m.ErrorsBy = map[string]int64{}
				}
				m.ErrorsBy[c] += v
			}
			m.P50Ms = math.Max(m.P50Ms, sec.P50Ms)
			m.P99Ms = math.Max(m.P99Ms, sec.P99Ms)
			if m.Server == nil && sec.Server != nil {
				v := *sec.Server
				m.Server = &v
			}
			for k, v := range sec.Extra {
				if m.Extra == nil {
					m.Extra = map[string]float64{}
				}
				if _, taken := m.Extra[k]; !taken {
					m.Extra[k] = v
				}
			}
		}
	}
	ts := make([]int, 0, len(byT))
	for t := range byT {
		ts = append(ts, t)
	}
	sort.Ints(ts)
	out := make([]result.Second, 0, len(ts))
	for _, t := range ts {
		out = append(out, *byT[t])
	}
	return out
}

// warningSet gathers warnings, naming the shards a warning came from once.
type warningSet struct {
	order  []string
	shards map[string][]int
	first  []string
}

func newWarningSet() *warningSet { return &warningSet{shards: map[string][]int{}} }

// add records w, from shard (or from the merge itself when shard < 0).
func (ws *warningSet) add(w string, shard int) {
	if _, ok := ws.shards[w]; !ok {
		ws.order = append(ws.order, w)
		ws.shards[w] = nil
	}
	if shard >= 0 {
		ws.shards[w] = append(ws.shards[w], shard)
	}
}

func (ws *warningSet) addFirst(w string) { ws.first = append(ws.first, w) }

func (ws *warningSet) list(n int) []string {
	out := append([]string(nil), ws.first...)
	for _, w := range ws.order {
		shards := ws.shards[w]
		switch {
		case len(shards) == 0, len(shards) == n:
			out = append(out, w)
		default:
			out = append(out, fmt.Sprintf("%s of %d: %s", shardList(shards), n, w))
		}
	}
	return out
}

func intList(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}
