package measure

import (
	"regexp"
	"testing"
	"time"
)

// TestRunIDFitsTheRunnersPattern: every probe's run ID is one the runner accepts (at most 40
// characters), however small the shape and however many rounds.
func TestRunIDFitsTheRunnersPattern(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$`)
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		round    int
		cpus     float64
		scenario string
	}{{1, 0.5, "select-only"}, {12, 0.125, "connect-storm"}, {100, 0.0625, "column-padding"}} {
		if id := runID(now, c.round, c.cpus, c.scenario); !valid.MatchString(id) {
			t.Errorf("runID(round %d, %g cpu, %s) = %q (%d characters): not a valid run ID", c.round, c.cpus, c.scenario, id, len(id))
		}
	}
}
