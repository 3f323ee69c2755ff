package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/result"
)

// TestFindingsSayWhatNeverStarted: a paced series whose workers fell behind, leaving operations
// due in its window unstarted, is named with their count over its repeats; the others are not.
func TestFindingsSayWhatNeverStarted(t *testing.T) {
	t.Parallel()
	res := loadFixture(t, fixtureRepeatsA)
	var prepared int64
	for i := range res.Series {
		s := &res.Series[i]
		if s.Metrics == nil {
			s.Metrics = map[string]float64{}
		}
		switch s.Variant {
		case "prepared":
			s.Metrics[result.MetricUnstartedOps] = float64(s.Ops) // as many as it did: half its operations
			prepared += s.Ops
		case "simple":
			s.Metrics[result.MetricUnstartedOps] = 3 // a stall of a moment at the end: not named
		}
	}
	got := findingsOf(t, res)
	want := fmt.Sprintf("Operations due in the measured window never started in prepared (%d of %d): the workers fell behind the rate",
		prepared, 2*prepared)
	if !strings.Contains(got, want) {
		t.Errorf("findings lack %q:\n%s", want, got)
	}
	if strings.Contains(got, "never started in simple") || strings.Count(got, "never started") != 1 {
		t.Errorf("one finding, for prepared only:\n%s", got)
	}
	res.Capacity = &result.Capacity{}
	if got := findingsOf(t, res); strings.Contains(got, "never started") {
		t.Errorf("a capacity search's probes have the finding:\n%s", got)
	}
	if got := findingsOf(t, loadFixture(t, fixtureRepeatsA)); strings.Contains(got, "never started") {
		t.Errorf("a run that kept up has the finding:\n%s", got)
	}
}
