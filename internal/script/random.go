package script

import (
	"math"
	"math/rand/v2"
)

const (
	minGaussianParam = 2.0
	minZipfianParam  = 1.001
	maxZipfianParam  = 1000.0
)

// uniformRand draws an integer uniformly in [lb, ub]; the caller checked ub-lb < MaxInt64.
func uniformRand(r *rand.Rand, lb, ub int64) int64 {
	return lb + int64(r.Uint64N(uint64(ub-lb)+1))
}

// openUnit draws a double in (0, 1].
func openUnit(r *rand.Rand) float64 { return 1.0 - r.Float64() }

// exponentialRand draws from the exponential distribution truncated at param and projected onto
// [lb, ub], as pgbench's documentation defines it: value i has probability f(i) - f(i+1) with
// f(x) = exp(-param*(x-lb)/(ub-lb+1)) / (1-exp(-param)). This inverts that distribution.
func exponentialRand(r *rand.Rand, lb, ub int64, param float64) int64 {
	cut := math.Exp(-param)
	u := openUnit(r)
	x := -math.Log(cut+(1.0-cut)*u) / param // in [0, 1)
	n := float64(ub-lb) + 1
	v := int64(n * x)
	if v > ub-lb {
		v = ub - lb
	}
	return lb + v
}

// gaussianRand draws a standard normal value restricted to [-param, param), by rejection, and maps
// it linearly onto [lb, ub], which is the distribution pgbench's documentation gives.
func gaussianRand(r *rand.Rand, lb, ub int64, param float64) int64 {
	var z float64
	for {
		z = r.NormFloat64()
		if z >= -param && z < param {
			break
		}
	}
	x := (z + param) / (2.0 * param) // in [0, 1)
	n := float64(ub-lb) + 1
	v := int64(n * x)
	if v > ub-lb {
		v = ub - lb
	}
	return lb + v
}

// zipfianRand draws from the bounded Zipfian distribution over [lb, ub] with exponent s > 1 by the
// rejection method of Devroye, "Non-Uniform Random Variate Generation" (1986), pp. 550-551,
// rejecting values beyond the range.
func zipfianRand(r *rand.Rand, lb, ub int64, s float64) int64 {
	n := float64(ub-lb) + 1
	b := math.Pow(2.0, s-1.0)
	for {
		u := openUnit(r)
		v := r.Float64()
		x := math.Floor(math.Pow(u, -1.0/(s-1.0)))
		if x > n || x < 1 {
			continue // beyond the bounded range (or overflowed): draw again
		}
		t := math.Pow(1.0+1.0/x, s-1.0)
		if v*x*(t-1.0)/(b-1.0) <= t/b {
			return lb + int64(x) - 1
		}
	}
}
