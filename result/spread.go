package result

import (
	"fmt"
	"math"
	"slices"

	"github.com/montanaflynn/stats"
)

// SpreadConfidence is the confidence level sought for the interval of a median over repeats.
const SpreadConfidence = 0.95

// MinRepeatsForInterval is the fewest repeats from which a Spread carries an interval: below 3
// the only distribution-free interval of a median, min to max, is right only half the time or
// less (50% with 2 repeats), which is no interval worth printing.
const MinRepeatsForInterval = 3

// SpreadMethod names how the interval of a Spread is found, for notes beside the figures.
const SpreadMethod = "order statistics (distribution-free, binomial)"

// RepeatSpread is how one variant at one point varied over its repeats (Result.Repeats): each
// figure's median over the repeats, its coefficient of variation and an interval of the median.
type RepeatSpread struct {
	Variant string         `json:"variant"`
	Point   map[string]any `json:"point"`
	Figures []Spread       `json:"figures"`
}

// Spread is one figure (ops/s, p99 ms, rows/s …) over the repeats of a series.
//
// The interval is the confidence interval of the median by order statistics: the sorted values'
// k-th smallest to k-th largest, with the largest k whose coverage, P(k ≤ B ≤ n−k) for B ~
// Binomial(n, ½), is at least 95%. It assumes nothing of the values' distribution. From 6 repeats
// on that reaches 95%; with 3 to 5 even min to max does not, and Level says what it reaches
// instead (75%, 87.5%, 93.75%). Below 3 repeats there is no interval (NoInterval says why).
type Spread struct {
	Figure string  `json:"figure"`
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Mean   float64 `json:"mean"`
	// StdDev is the sample standard deviation (n−1); CV is StdDev over Mean, 0 when Mean is 0.
	StdDev float64 `json:"stddev"`
	CV     float64 `json:"cv"`
	// Low and High bound the interval of the median, and Level is its coverage; all absent (and
	// NoInterval set) below MinRepeatsForInterval repeats.
	Low        *float64 `json:"low,omitempty"`
	High       *float64 `json:"high,omitempty"`
	Level      float64  `json:"level,omitempty"`
	NoInterval string   `json:"no_interval,omitempty"`
}

// SpreadOf describes xs, the per-repeat values of a figure. It is the zero Spread (N 0) for no
// values.
func SpreadOf(figure string, xs []float64) Spread {
	s := Spread{Figure: figure, N: len(xs)}
	if len(xs) == 0 {
		return s
	}
	s.Median, _ = stats.Median(xs)
	s.Mean, _ = stats.Mean(xs)
	if len(xs) > 1 {
		s.StdDev, _ = stats.StandardDeviationSample(xs)
	}
	if s.Mean != 0 {
		s.CV = s.StdDev / math.Abs(s.Mean)
	}
	if len(xs) < MinRepeatsForInterval {
		s.NoInterval = fmt.Sprintf("not computed: %d repeat%s; an interval of the median needs at least %d",
			len(xs), pluralS(len(xs)), MinRepeatsForInterval)
		return s
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	k, level := MedianInterval(len(xs), SpreadConfidence)
	lo, hi := sorted[k-1], sorted[len(xs)-k]
	s.Low, s.High, s.Level = &lo, &hi, level
	return s
}

// MedianInterval is the order-statistic confidence interval of a median of n values: the k-th
// smallest to the k-th largest (k from 1), with the largest k whose coverage is at least
// confidence, and that coverage. When even min to max (k = 1) falls short, it is k = 1 with the
// coverage it has.
func MedianInterval(n int, confidence float64) (k int, level float64) {
	k, level = 1, coverage(n, 1)
	for j := 2; 2*j <= n; j++ {
		c := coverage(n, j)
		if c < confidence {
			break
		}
		k, level = j, c
	}
	return k, level
}

// coverage is P(k ≤ B ≤ n−k) for B ~ Binomial(n, ½): the chance that the k-th smallest and the
// k-th largest of n values bracket their distribution's median.
func coverage(n, k int) float64 {
	below := 0.0 // P(B ≤ k−1)
	for i := 0; i < k; i++ {
		below += binomHalf(n, i)
	}
	return 1 - 2*below
}

// binomHalf is P(B = i) for B ~ Binomial(n, ½).
func binomHalf(n, i int) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x + 1)); return v }
	return math.Exp(lg(n) - lg(i) - lg(n-i) - float64(n)*math.Ln2)
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
