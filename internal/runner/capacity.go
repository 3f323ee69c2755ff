package runner

import (
	"context"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// The capacity search (--capacity --slo): open-loop probes that ramp up by doubling from
// capacityStart until one breaks the SLO, then bisect (geometrically) between the last rate that
// met it and the first that broke it until they are within capacityResolution.
//
// A probe is the scenario's point run open loop at one rate for capacityProbe (5 s measured after
// 1 s of warm-up; --quick 2 s + 500 ms; --duration and --warmup override): at the first ramp rate,
// 100/s, 5 s is 500 latencies, so a p99 rests on its 5 slowest and not on one; the warm-up takes
// the connections' opening and the first plans out of it. Longer probes steady the figure but
// multiply: a search of a 20,000/s server takes about 14 probes, 84 s at the default.
const (
	capacityStart      = 100.0     // per second: the first ramp rate
	capacityCeiling    = 1_000_000 // per second: the ramp stops there, met or not
	capacityResolution = 0.05      // bisect until the bounds are within 5%
	capacityMaxProbes  = 24
	capacityKeptUp     = 0.95 // a probe that completed less of its rate fell behind
	capacityProbe      = 5 * time.Second
	capacityProbeWarm  = time.Second
	capacityQuickProbe = 2 * time.Second
	capacityQuickWarm  = 500 * time.Millisecond
	// RateKey is the point value each probe records: the rate it offered, per second.
	RateKey = "rate_per_s"
)

// DefaultSLO is what --capacity holds the rate to when --slo is not given.
const DefaultSLO = "p99<50ms,errors<0.1%"

// checkCapacity refuses what a capacity search cannot do.
func (p *prepared) checkCapacity() []error {
	opts := p.opts
	if opts.Capacity && opts.SLO == nil {
		slo, err := report.ParseSLO(DefaultSLO)
		if err != nil {
			return []error{err}
		}
		p.opts.SLO, opts.SLO = &slo, &slo
	}
	if opts.SLO == nil {
		return nil
	}
	if !opts.Capacity {
		// Without a search the SLO is what the findings judge: its p99 term (Result.SLO).
		if _, err := report.FindingsP99(*opts.SLO); err != nil {
			return []error{usage.Fieldf("slo", "%q: without --capacity it sets the p99 the findings judge by; give a p99 term, e.g. 'p99<50ms'", opts.SLO.Text)}
		}
		for _, t := range opts.SLO.Terms {
			if t.Metric != "p99" {
				return []error{usage.Fieldf("slo", "%q: without --capacity only its p99 term is judged (the findings judge p99); "+
					"leave out %s, or add --capacity", opts.SLO.Text, t.Metric)}
			}
		}
		return nil
	}
	var errs []error
	name := p.doc.Name
	if opts.Pacer != nil {
		errs = append(errs, usage.Fieldf("capacity", ": the search picks its own rates, and the workload file's stages give the load shape: "+
			"leave out --capacity, or run the workload's scripts with pgscale run script --capacity"))
	}
	if opts.Rate > 0 {
		errs = append(errs, usage.Fieldf("capacity", "with --rate %g: the search picks the rates itself; leave --rate out", opts.Rate))
	}
	if p.doc.ClosedLoopOnly {
		// The one reason that matters: nothing else would make it work.
		return []error{usage.Fieldf("capacity", ": scenario %s runs a closed loop only, so it cannot be paced to a rate", name)}
	}
	if n := len(p.plan.Points); n > 1 {
		errs = append(errs, usage.Fieldf("capacity", "searches one series, and scenario %s has %d here; pick one variant and one value "+
			"of each swept parameter with --set (variants=..., workers=...)", name, n))
	}
	if opts.Repeat > 1 {
		errs = append(errs, usage.Fieldf("capacity", "with --repeat %d: run the search again instead, each is a result of its own", opts.Repeat))
	}
	if len(opts.Latencies) > 1 {
		errs = append(errs, usage.Fieldf("capacity", "with a --latency list: give one latency"))
	}
	if !opts.Shard.IsWhole() {
		errs = append(errs, usage.Fieldf("capacity", "cannot run sharded (--shard)"))
	}
	return errs
}

// capacityProbeLength is each probe's measured length and warm-up.
func (p *prepared) capacityProbeLength() (time.Duration, time.Duration) {
	d, w := capacityProbe, capacityProbeWarm
	if p.opts.Quick {
		d, w = capacityQuickProbe, capacityQuickWarm
	}
	if p.opts.Duration > 0 {
		d = p.opts.Duration
	}
	if p.opts.Warmup >= 0 {
		w = p.opts.Warmup
	}
	return d, w
}

// runCapacity searches the highest rate at which pt meets the SLO, each probe a series of res.
func (p *prepared) runCapacity(ctx context.Context, target harness.Target, env *scenarios.Env, pt scenarios.Point, res *result.Result) error {
	slo := *p.opts.SLO
	env.Duration, env.Warmup = p.capacityProbeLength()
	unit := "ops/s"
	if h := result.HeadlineOf(res); h.Unit != "" && strings.HasSuffix(h.Unit, "/s") {
		unit = h.Unit
	}
	c := &result.Capacity{SLO: slo.Text, Unit: unit, ProbeDurationS: env.Duration.Seconds(), ProbeWarmupS: env.Warmup.Seconds(),
		Probes: []result.CapacityProbe{}}
	res.Capacity = c
	// once runs one probe and records it; it returns whether it met the SLO and its series.
	once := func(phase string, rate float64, repeat int) (bool, *result.Series, error) {
		env.Rate = rate
		q := pt
		q.Values = maps.Clone(pt.Values)
		if q.Values == nil {
			q.Values = map[string]any{}
		}
		q.Values[RateKey] = rate
		n := len(res.Series)
		err := p.runPoint(ctx, target, env, q, repeat, res)
		if len(res.Series) == n {
			return false, nil, err // nothing measured
		}
		s := &res.Series[n]
		broke := slo.Check(*s, capacityKeptUp)
		met := len(broke) == 0 && err == nil
		c.Probes = append(c.Probes, result.CapacityProbe{Phase: phase, RatePerS: rate, ThroughputPerS: s.ThroughputPerS,
			Met: met, Broke: broke, Series: n})
		verdict := "met the SLO"
		if !met {
			verdict = "broke the SLO: " + strings.Join(broke, ", ")
		}
		p.logf("capacity probe %s/s (%s): %s", strconv.FormatFloat(rate, 'f', -1, 64), phase, verdict)
		return met, s, err
	}
	// probe runs a rate, and once more when it broke the SLO: on a shared host one stall
	// breaks a p99 at any rate, and must not end the search; two in a row do.
	probe := func(phase string, rate float64) (bool, error) {
		met, s, err := once(phase, rate, 1)
		if err == nil && s != nil && !met {
			met, s, err = once(phase+"-again", rate, 2) // a second repeat of the same point
		}
		if err != nil || s == nil {
			return false, err
		}
		if met {
			c.RatePerS = max(c.RatePerS, rate)
		} else if c.BrokenAtPerS == nil || rate < *c.BrokenAtPerS {
			c.BrokenAtPerS, c.Diagnosis = &rate, s.Diagnosis
		}
		return met, nil
	}
	lo, hi := 0.0, 0.0
	for rate := capacityStart; len(c.Probes) < capacityMaxProbes; rate *= 2 {
		ok, err := probe("ramp", rate)
		if err != nil {
			return err
		}
		if !ok {
			hi = rate
			break
		}
		lo = rate
		if rate >= capacityCeiling {
			break
		}
	}
	for rate := hi / 2; lo == 0 && hi > 0 && rate >= 1 && len(c.Probes) < capacityMaxProbes; rate /= 2 {
		ok, err := probe("ramp-down", roundRate(rate))
		if err != nil {
			return err
		}
		if ok {
			lo = roundRate(rate)
		} else {
			hi = roundRate(rate)
		}
	}
	for lo > 0 && hi > 0 && hi/lo > 1+capacityResolution && len(c.Probes) < capacityMaxProbes {
		mid := roundRate(math.Sqrt(lo * hi))
		if mid <= lo || mid >= hi {
			break
		}
		ok, err := probe("bisect", mid)
		if err != nil {
			return err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	cpus := 0.0
	if r := res.Environment.Resources; r != nil {
		cpus = r.ServerCPUs
	}
	c.Sentence = report.CapacitySentence(c, slo, cpus)
	return nil
}

// roundRate keeps three significant digits: probes at 2340/s, not 2339.87/s.
func roundRate(r float64) float64 {
	if r <= 0 {
		return r
	}
	exp := math.Floor(math.Log10(r)) - 2
	if exp < 0 { // divide by an exact power of ten: 6.81, not 6.8100000000000005
		p := math.Pow(10, -exp)
		return math.Round(r*p) / p
	}
	p := math.Pow(10, exp)
	return math.Round(r/p) * p
}
