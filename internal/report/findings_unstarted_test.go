package report

import (
	"strings"
	"testing"

	"github.com/pgscale/pgscale/result"
)

// TestFindingsSayWhatNeverStarted: a paced series whose workers fell behind, leaving operations
// due in its window unstarted, is named with their count over its repeats; the others are not.
func TestFindingsSayWhatNeverStarted(t *testing.T) {
	t.Parallel()
	res := loadFixture(t, fixtureRepeatsA)
	for i := range res.Series {
		if s := &res.Series[i]; s.Variant == "prepared" {
			if s.Metrics == nil {
				s.Metrics = map[string]float64{}
			}
			s.Metrics[result.MetricUnstartedOps] = 600
		}
	}
	got := findingsOf(t, res)
	if !strings.Contains(got, "Operations due in the measured window never started in prepared (3000): the load fell behind its rate") {
		t.Errorf("findings lack the unstarted operations of prepared's five repeats:\n%s", got)
	}
	if strings.Contains(got, "never started in simple") || strings.Count(got, "never started") != 1 {
		t.Errorf("one finding, for prepared only:\n%s", got)
	}
	if got := findingsOf(t, loadFixture(t, fixtureRepeatsA)); strings.Contains(got, "never started") {
		t.Errorf("a run that kept up has the finding:\n%s", got)
	}
}
