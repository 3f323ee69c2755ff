// Package shard runs one pgscale run as several processes (the pods of a Kubernetes Indexed Job,
// or a few processes on one machine) against one shared server, and puts their results back
// together exactly.
//
//   - The split: shard i of N gets the segment [i/N, (i+1)/N) of the run, as k6's execution
//     segments do. Workers, rate and key ranges are scaled by the segment with the same rounding as
//     k6 (round(v·to) − round(v·from), halves up), so the shards' parts always add up to the whole.
//   - The barrier: the shards coordinate through the server itself. Shard 0 creates the run's
//     schema and loads the data; every shard holds a session advisory lock for as long as it lives
//     and meets the others at a barrier table before each point, so that all start each point at
//     a common start time read from the server's clock. A shard whose session ends before it
//     finished is lost: the others go on without it and say so.
//   - The merge: HDR histograms are merged and percentiles recomputed from them, counters and
//     throughput summed, timelines aligned by wall-clock second, and every shard's host listed.
//     A merged result is a result like any other (same schema), so report, compare and size read it.
//
// Only the dsn target can be shared by shards: the docker and local targets start a server of
// their own in each process.
package shard

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/pgscale/pgscale/internal/usage"
)

// Segment is shard I of N: the part [I/N, (I+1)/N) of a run. The zero value (and any N of 1 or
// less) is the whole run.
type Segment struct{ I, N int }

// Whole is the segment of an unsharded run.
var Whole = Segment{I: 0, N: 1}

// Parse reads "i/N" (--shard), e.g. "0/4"; N is at least 1 and i is from 0 to N-1.
func Parse(s string) (Segment, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, ierr := strconv.Atoi(strings.TrimSpace(is))
	n, nerr := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || ierr != nil || nerr != nil {
		return Segment{}, usage.Fieldf("shard", "%q: want i/N, the shard's index from 0 and the number of shards, e.g. 0/4", s)
	}
	seg := Segment{I: i, N: n}
	if err := seg.Validate(); err != nil {
		return Segment{}, err
	}
	return seg, nil
}

// Validate checks that I is a shard of N.
func (s Segment) Validate() error {
	if s.N < 1 {
		return usage.Fieldf("shard", "%d/%d: the number of shards must be at least 1", s.I, s.N)
	}
	if s.I < 0 || s.I >= s.N {
		return usage.Fieldf("shard", "%d/%d: shard index out of range: valid indexes are 0 to %d", s.I, s.N, s.N-1)
	}
	return nil
}

// IsWhole tells whether s is a whole run (no sharding).
func (s Segment) IsWhole() bool { return s.N <= 1 }

func (s Segment) String() string {
	if s.IsWhole() {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", s.I, s.N)
}

// Scale is this segment's part of v (v >= 0): round(v·(I+1)/N) − round(v·I/N), halves rounded
// up, exactly as k6's ExecutionSegment.Scale. The parts of all N segments sum to v exactly.
func (s Segment) Scale(v int64) int64 {
	if s.IsWhole() {
		return v
	}
	return s.edge(v, s.I+1) - s.edge(v, s.I)
}

// edge is round(v·k/N), halves up: floor((2·v·k + N) / 2N), in big integers so that no v
// overflows.
func (s Segment) edge(v int64, k int) int64 {
	num := new(big.Int).Mul(big.NewInt(v), big.NewInt(int64(2*k)))
	num.Add(num, big.NewInt(int64(s.N)))
	den := big.NewInt(int64(2 * s.N))
	return new(big.Int).Div(num, den).Int64() // Div is Euclidean: floor for a positive divisor
}

// Range is this segment's part of the key range [lo, hi): [from, to), where the N segments'
// ranges are adjacent, do not overlap and cover [lo, hi) exactly. A scenario that gives each
// shard keys of its own calls env.Shard.Segment().Range(lo, hi).
func (s Segment) Range(lo, hi int64) (from, to int64) {
	if hi <= lo || s.IsWhole() {
		return lo, hi
	}
	n := hi - lo
	return lo + s.edge(n, s.I), lo + s.edge(n, s.I+1)
}

// RateUnit is the resolution of a split rate, in operations per second: a rate is split in whole
// thousandths, so that the shards' rates add up to the total to within a thousandth of an
// operation per second (far below what a pacer can hold).
const RateUnit = 0.001

// ScaleRate is this segment's part of a rate in operations per second, split in whole RateUnits
// as Scale splits a count.
func (s Segment) ScaleRate(rate float64) float64 {
	if s.IsWhole() || rate <= 0 {
		return rate
	}
	units := int64(math.Round(rate / RateUnit))
	return float64(s.Scale(units)) * RateUnit
}
