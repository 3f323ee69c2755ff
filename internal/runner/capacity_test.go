package runner

import (
	"strconv"
	"testing"
)

func TestRoundRate(t *testing.T) {
	for in, want := range map[float64]string{6.8123: "6.81", 2339.87: "2340", 9050.9: "9050", 141.42: "141", 0.123456: "0.123"} {
		if got := strconv.FormatFloat(roundRate(in), 'f', -1, 64); got != want {
			t.Errorf("roundRate(%g) = %s, want %s", in, got, want)
		}
	}
}
