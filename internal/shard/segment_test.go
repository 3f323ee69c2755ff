package shard

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/usage"
)

func TestScaleSplitsExactlyLikeK6(t *testing.T) {
	t.Parallel()
	// k6's own example: 10 VUs over thirds are 3, 4, 3 (round(v·to) − round(v·from), halves up).
	var got []int64
	for i := 0; i < 3; i++ {
		got = append(got, Segment{I: i, N: 3}.Scale(10))
	}
	if got[0] != 3 || got[1] != 4 || got[2] != 3 {
		t.Fatalf("10 over 3 shards: %v, want [3 4 3]", got)
	}
	for n := 1; n <= 40; n++ {
		for v := int64(0); v <= 600; v++ {
			var sum int64
			lo, hi := v/int64(n), (v+int64(n)-1)/int64(n)
			for i := 0; i < n; i++ {
				part := Segment{I: i, N: n}.Scale(v)
				if part < lo || part > hi {
					t.Fatalf("%d over %d shards: shard %d gets %d, want %d to %d", v, n, i, part, lo, hi)
				}
				sum += part
			}
			if sum != v {
				t.Fatalf("%d over %d shards sums to %d", v, n, sum)
			}
		}
	}
	// Large values do not overflow.
	big := int64(1) << 61
	var sum int64
	for i := 0; i < 7; i++ {
		sum += Segment{I: i, N: 7}.Scale(big)
	}
	if sum != big {
		t.Fatalf("2^61 over 7 shards sums to %d", sum)
	}
}

func TestRangePartitionsKeysExactly(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ lo, hi int64 }{{1, 100001}, {-50, 50}, {0, 3}, {1_000_000_000, 2_200_000_001}, {5, 5}} {
		for n := 1; n <= 13; n++ {
			next := c.lo
			for i := 0; i < n; i++ {
				from, to := Segment{I: i, N: n}.Range(c.lo, c.hi)
				if from != next || to < from {
					t.Fatalf("[%d,%d) over %d: shard %d has [%d,%d), want it to start at %d", c.lo, c.hi, n, i, from, to, next)
				}
				next = to
			}
			if next != c.hi {
				t.Fatalf("[%d,%d) over %d: the ranges end at %d", c.lo, c.hi, n, next)
			}
		}
	}
}

func TestScaleRateSumsToTheRate(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{1000, 333.333, 7, 0.5, 12345.678} {
		for n := 1; n <= 9; n++ {
			var units int64
			for i := 0; i < n; i++ {
				units += int64(math.Round(Segment{I: i, N: n}.ScaleRate(rate) / RateUnit))
			}
			if want := int64(math.Round(rate / RateUnit)); units != want {
				t.Fatalf("rate %g over %d shards sums to %d thousandths, want %d", rate, n, units, want)
			}
		}
	}
	if r := (Segment{I: 1, N: 3}).ScaleRate(0); r != 0 {
		t.Fatalf("a closed loop (rate 0) split gives %g", r)
	}
}

func TestParseRejectsBadShards(t *testing.T) {
	t.Parallel()
	seg, err := Parse("3/4")
	if err != nil || seg != (Segment{I: 3, N: 4}) {
		t.Fatalf("Parse(3/4) = %v, %v", seg, err)
	}
	for in, want := range map[string]string{
		"4/4":  "--shard 4/4: shard index out of range: valid indexes are 0 to 3",
		"-1/4": "shard index out of range",
		"1/0":  "the number of shards must be at least 1",
		"two":  `--shard "two": want i/N`,
		"1/x":  "want i/N",
		"":     "want i/N",
	} {
		_, err := Parse(in)
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want a usage error with %q", in, err, want)
		}
	}
}

func TestSegmentOfTheCoordinator(t *testing.T) {
	t.Parallel()
	var none *Coordinator // a whole run's
	if got := none.Segment(); got != Whole {
		t.Fatalf("no coordinator: %v, want the whole run", got)
	}
	if none.Start(context.Background(), "x") != nil || none.Sync(context.Background(), "x") != nil || none.LostShards() != nil {
		t.Fatal("a whole run's barriers do not return at once")
	}
	c := NewCoordinator(Segment{I: 1, N: 2}, "run", "fp", "host", 0)
	if got := c.Segment(); got != (Segment{I: 1, N: 2}) {
		t.Fatalf("Segment = %v", got)
	}
}
