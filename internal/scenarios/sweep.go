package scenarios

import (
	"slices"
	"strings"
)

// Dim is one sweep dimension: a name and its values.
type Dim struct {
	Name   string
	Values []any
}

// Product expands dimensions into every combination, the first dimension varying slowest.
func Product(dims ...Dim) []map[string]any {
	out := []map[string]any{{}}
	for _, d := range dims {
		var next []map[string]any
		for _, partial := range out {
			for _, v := range d.Values {
				m := make(map[string]any, len(partial)+1)
				for k, pv := range partial {
					m[k] = pv
				}
				m[d.Name] = v
				next = append(next, m)
			}
		}
		out = next
	}
	return out
}

// IntDim makes a dimension of ints.
func IntDim(name string, vals []int) Dim {
	d := Dim{Name: name}
	for _, v := range vals {
		d.Values = append(d.Values, v)
	}
	return d
}

// StringDim makes a dimension of strings.
func StringDim(name string, vals []string) Dim {
	d := Dim{Name: name}
	for _, v := range vals {
		d.Values = append(d.Values, v)
	}
	return d
}

// VariantsParam is the conventional `variants` parameter: a list of kebab-case variant names,
// every variant by default.
func VariantsParam(variants ...string) ParamSpec {
	return ParamSpec{Name: "variants", Kind: KindString, List: true, Default: strings.Join(variants, ","),
		Choices: variants, Help: "variants to run"}
}

// Saturation returns the least x whose y reaches share of the best y: where throughput stops
// growing along a sweep (worker count, batch size). ys holds the best y measured at each x (the
// best of its repeats). It needs at least two x values.
func Saturation(ys map[int]float64, share float64) (int, bool) {
	if len(ys) < 2 {
		return 0, false
	}
	xs := make([]int, 0, len(ys))
	top := 0.0
	for x, y := range ys {
		xs = append(xs, x)
		top = max(top, y)
	}
	slices.Sort(xs)
	for _, x := range xs {
		if ys[x] >= share*top {
			return x, true
		}
	}
	return xs[len(xs)-1], true
}

// SaturationTracker follows sweeps across a run's points. After each point it writes, into the
// metrics of every series of that sweep seen so far, the least swept value at which throughput
// reached Share of the sweep's best (see Saturation). The maps are the ones in series already
// handed to the runner, which keeps them in its result; a sweep's last series has the value over
// the whole sweep in any case.
type SaturationTracker struct {
	Metric string  // e.g. saturation_batch
	Share  float64 // e.g. 0.9
	sweeps map[string][]sweepPoint
}

type sweepPoint struct {
	x       int
	y       float64
	metrics map[string]float64
}

// Note records throughput y at swept value x for the named sweep, with the series' metrics.
func (t *SaturationTracker) Note(sweep string, x int, y float64, metrics map[string]float64) {
	if t.sweeps == nil {
		t.sweeps = map[string][]sweepPoint{}
	}
	t.sweeps[sweep] = append(t.sweeps[sweep], sweepPoint{x: x, y: y, metrics: metrics})
	best := map[int]float64{}
	for _, p := range t.sweeps[sweep] {
		best[p.x] = max(best[p.x], p.y)
	}
	sx, ok := Saturation(best, t.Share)
	if !ok {
		return
	}
	for _, p := range t.sweeps[sweep] {
		p.metrics[t.Metric] = float64(sx)
	}
}
