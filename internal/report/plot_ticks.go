package report

// Axis tickers: percentiles, plain numbers, powers of ten and seconds.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
)

// percentileTicks labels x = 1/(1-p) at 0%, 50%, 90%, 99%, 99.9%, … up to xMax.
func percentileTicks(xMax float64) plot.Ticker {
	ticks := plot.ConstantTicks{{Value: 1, Label: "0%"}, {Value: 2, Label: "50%"}}
	for e := 1; math.Pow(10, float64(e)) <= xMax*1.0001; e++ {
		x := math.Pow(10, float64(e))
		label := fmt.Sprintf("%.*f%%", max(e-2, 0), 100*(1-1/x)) // 90%, 99%, 99.9%, 99.99%
		ticks = append(ticks, plot.Tick{Value: x, Label: label})
		for m := 2; m < 10; m++ {
			if v := float64(m) * x / 10; v > 2 {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}

// plainTicks label a linear axis at 4 to 8 round values (steps of 1, 2 or 5 times a power of
// ten) with a minor tick between, labels free of trailing zeros ("500", not "500.00"). gonum's
// default often labels only two values on the short panels of a timeline.
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		v = math.Round(v/step) * step // no 0.30000000000000004
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		if m := v + step/2; m < hi {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	return ticks
}

// logTicks labels a log axis at 1-2-5 steps (or every step within a decade), never empty.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	build := func(labelled map[int]bool) ([]plot.Tick, int) {
		var ticks []plot.Tick
		n := 0
		for e := int(math.Floor(math.Log10(lo))); e <= int(math.Ceil(math.Log10(hi))); e++ {
			for m := 1; m < 10; m++ {
				v := float64(m) * math.Pow(10, float64(e))
				if v < lo || v > hi {
					continue
				}
				t := plot.Tick{Value: v}
				if labelled == nil || labelled[m] {
					t.Label = strings.TrimSuffix(formatNum(v), ".0")
					n++
				}
				ticks = append(ticks, t)
			}
		}
		return ticks, n
	}
	decades := math.Log10(hi / lo)
	set := map[int]bool{1: true, 2: true, 5: true}
	if decades > 3 {
		set = map[int]bool{1: true}
	}
	ticks, n := build(set)
	if n < 2 {
		ticks, _ = build(nil)
	}
	return ticks
}

// ---- sweep

// secondTicks labels a time axis in whole seconds, at most about 12 labels: every second of a
// quick run, every 5 or 10 of a longer one.
type secondTicks struct{}

func (secondTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600} {
		step = s
		if span/s <= 12 {
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: formatNum(v)})
	}
	return ticks
}
