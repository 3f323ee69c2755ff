package runner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/result"
)

func TestSettle(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	empty := result.Series{Variant: "prepared"}
	done := result.Series{Variant: "prepared", Ops: 3}
	refused := result.Series{Variant: "cold", Errors: map[string]int64{"53300": 5}}
	behind := result.Series{Variant: "prepared", Metrics: map[string]float64{result.MetricUnstartedOps: 950}}
	cases := []struct {
		name       string
		ctx        context.Context
		err        error
		series     []result.Series
		status     string
		reason     string // in the reason
		returnsErr bool
	}{
		{"ok", context.Background(), nil, []result.Series{empty, done}, result.StatusOK, "", false},
		{"only errors", context.Background(), nil, []result.Series{refused}, result.StatusOK, "", false},
		{"nothing measured", context.Background(), nil, []result.Series{empty, empty}, result.StatusFailed,
			"no operation finished, and none failed, in any of the 2 series", true},
		{"fell behind", context.Background(), nil, []result.Series{behind, empty}, result.StatusFailed,
			"the workers fell behind the rate and 950 operations due in it never started; lower the offered rate", true},
		{"no series", context.Background(), nil, nil, result.StatusOK, "", false},
		{"interrupted", canceled, errors.New("stopped"), []result.Series{empty}, result.StatusInterrupted, "interrupted: context canceled", true},
		{"failed", context.Background(), errors.New("connect to postgres://u:hunter2@h/db failed"), nil, result.StatusFailed, "connect to", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := &result.Result{Status: result.StatusRunning, Series: c.series}
			err := settle(c.ctx, c.err, res)
			if res.Status != c.status || !strings.Contains(res.Reason, c.reason) || (err != nil) != c.returnsErr {
				t.Fatalf("status %q, reason %q, error %v; want %q, a reason with %q, an error %v",
					res.Status, res.Reason, err, c.status, c.reason, c.returnsErr)
			}
			if strings.Contains(res.Reason, "hunter2") {
				t.Fatalf("the password reached the reason: %q", res.Reason)
			}
		})
	}
}
