package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// settle sets the status and reason of a run that has ended, from how it ended (err, and ctx
// for an interrupt), and returns the run's error. A run that ended without an error but whose
// series all finished no operation and met no error measured nothing: it is failed, not ok (on
// a machine too busy for the run's length, a 1 s series once ran no lookup at all).
func settle(ctx context.Context, err error, res *result.Result) error {
	switch {
	case err == nil && nothingMeasured(res.Series):
		res.Status = result.StatusFailed
		res.Reason = fmt.Sprintf("no operation finished, and none failed, in any of the %d series: the load never ran; "+
			"run it again, with a longer --duration on a busy machine", len(res.Series))
		if n := unstarted(res.Series); n > 0 {
			// The workers were still on the warm-up's backlog when the run ended.
			res.Reason = fmt.Sprintf("no operation due in the measured window finished, and none failed, in any of the %d series: "+
				"the workers fell behind the rate and %.0f operations due in it never started; lower the offered rate, or give more workers",
				len(res.Series), n)
		}
		return errors.New(res.Reason)
	case err == nil:
		res.Status = result.StatusOK
	case ctx.Err() != nil:
		res.Status, res.Reason = result.StatusInterrupted, "interrupted: "+context.Cause(ctx).Error()
	default:
		res.Status, res.Reason = result.StatusFailed, harness.RedactDSN(err.Error())
	}
	return err
}

// nothingMeasured tells whether there are series and none of them holds an operation, finished
// or failed.
func nothingMeasured(series []result.Series) bool {
	for _, s := range series {
		if s.Ops > 0 || report.TotalErrors(s) > 0 {
			return false
		}
	}
	return len(series) > 0
}

// unstarted sums the operations due in the series' measured windows that never started.
func unstarted(series []result.Series) float64 {
	var n float64
	for _, s := range series {
		n += s.Metrics[result.MetricUnstartedOps]
	}
	return n
}
