package shard

import (
	"fmt"
	"math"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgscale/pgscale/result"
)

// mergeEncoded merges the parts' histograms; ok is false when a part with values has none.
func mergeEncoded(parts []part, get func(*result.Series) (string, int64)) (*hdrhistogram.Histogram, bool, error) {
	merged := result.NewHistogram()
	for _, p := range parts {
		enc, count := get(p.s)
		if enc == "" {
			if count > 0 {
				return nil, false, nil
			}
			continue
		}
		h, err := result.DecodeHistogram(enc)
		if err != nil {
			return nil, false, err
		}
		merged.Merge(h)
	}
	return merged, true, nil
}

// mergeOptional merges the service or connect figures, present in some series only.
func mergeOptional(parts []part, name, what string, notes *[]string,
	pct func(*result.Series) *result.Percentiles, enc func(*result.Series) string) (*result.Percentiles, string) {
	found := false
	for _, p := range parts {
		if pct(p.s) != nil || enc(p.s) != "" {
			found = true
		}
	}
	if !found {
		return nil, ""
	}
	h, ok, err := mergeEncoded(parts, func(s *result.Series) (string, int64) {
		if p := pct(s); p != nil {
			return enc(s), p.Count
		}
		return enc(s), 0
	})
	if err != nil || !ok {
		*notes = append(*notes, fmt.Sprintf("%s: a shard's %s histogram is missing or unreadable: the merged %s percentiles are the largest of the shards'", name, what, what))
		p := maxPercentiles(parts, pct)
		return &p, ""
	}
	p := result.PercentilesOf(h)
	s, err := result.EncodeHistogram(h)
	if err != nil {
		*notes = append(*notes, fmt.Sprintf("%s: %v", name, err))
	}
	return &p, s
}

// maxPercentiles is the fallback when histograms are missing: every figure the largest of the
// parts' (an upper bound), the count summed.
func maxPercentiles(parts []part, get func(*result.Series) *result.Percentiles) result.Percentiles {
	var out result.Percentiles
	for _, p := range parts {
		x := get(p.s)
		if x == nil {
			continue
		}
		out.Count += x.Count
		out.P50, out.P90, out.P99 = math.Max(out.P50, x.P50), math.Max(out.P90, x.P90), math.Max(out.P99, x.P99)
		out.P999, out.Max, out.Mean = math.Max(out.P999, x.P999), math.Max(out.Max, x.Max), math.Max(out.Mean, x.Mean)
	}
	return out
}

// mergeExtraHistograms merges the scenario-specific histograms by name.
func mergeExtraHistograms(parts []part, name string, notes *[]string) map[string]*hdrhistogram.Histogram {
	out := map[string]*hdrhistogram.Histogram{}
	for _, p := range parts {
		for h, enc := range p.s.Histograms.Extra {
			hist, err := result.DecodeHistogram(enc)
			if err != nil {
				*notes = append(*notes, fmt.Sprintf("%s: histogram %s of shard %d: %v", name, h, p.shard, err))
				continue
			}
			if out[h] == nil {
				out[h] = result.NewHistogram()
			}
			out[h].Merge(hist)
		}
	}
	return out
}

// histogramSuffixes are the metrics loadgen derives from a scenario histogram (Outcome.Series).
var histogramSuffixes = map[string]func(result.Percentiles) float64{
	result.MetricSuffixP50Ms:  func(p result.Percentiles) float64 { return p.P50 },
	result.MetricSuffixP90Ms:  func(p result.Percentiles) float64 { return p.P90 },
	result.MetricSuffixP99Ms:  func(p result.Percentiles) float64 { return p.P99 },
	result.MetricSuffixP999Ms: func(p result.Percentiles) float64 { return p.P999 },
	result.MetricSuffixMaxMs:  func(p result.Percentiles) float64 { return p.Max },
	result.MetricSuffixMeanMs: func(p result.Percentiles) float64 { return p.Mean },
}
