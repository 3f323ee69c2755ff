package report

import (
	"strings"
	"testing"
)

// TestFindingsSayWhenErrorsDominate: a series in which most operations failed is called out, and
// the finding says its ops/s and latency count only the successes; one with few errors is not.
func TestFindingsSayWhenErrorsDominate(t *testing.T) {
	t.Parallel()
	res := loadFixture(t, fixtureRepeatsA)
	var ops, errs int64
	for i := range res.Series {
		s := &res.Series[i]
		switch s.Variant {
		case "prepared":
			s.Errors = map[string]int64{"57P01": 1, "conn_closed": 3 * s.Ops}
			ops += s.Ops
			errs += 1 + 3*s.Ops
		case "simple":
			s.Errors = map[string]int64{"57P01": 1}
		}
	}
	got := findingsOf(t, res)
	want := "Most operations failed in prepared: "
	if !strings.Contains(got, want) || !strings.Contains(got, "conn_closed, 57P01 admin_shutdown). Its ops/s and latency count only the") {
		t.Errorf("findings lack %q with its classes:\n%s", want, got)
	}
	if strings.Contains(got, "Most operations failed in simple") {
		t.Errorf("simple had one error, yet is called error-bound:\n%s", got)
	}
	t.Logf("%d ops, %d errors:\n%s", ops, errs, got)
}
