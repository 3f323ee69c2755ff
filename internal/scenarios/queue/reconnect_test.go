package queue

import (
	"context"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/result"
)

// TestFeederAndControlReconnect terminates every backend of the run in the middle of a point
// (workers, the feeder, the producer and the control connection): the run ends ok, the feeder,
// the producer and the control connection reconnect, and the exactly-once check still runs and
// finds nothing lost or doubled.
func TestFeederAndControlReconnect(t *testing.T) {
	tg := harnesstest.Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// 10 workers, the feeder, the producer and the control connection.
	killer := harnesstest.KillLater(ctx, tg.AdminDSN(), "pgscale%", 13, 1500*time.Millisecond)
	p, err := runner.Prepare(runner.Options{
		Scenario: Name, Target: harness.KindDSN, DSN: tg.AdminDSN(), Repeat: 1, Out: t.TempDir(), NoReport: true, Log: tlog{t},
		Sets:     map[string]string{"variants": "dedicated", "workers": "10", "producer": "rate", "enqueue_rate": "500", "history": "10000"},
		Duration: 4 * time.Second, Warmup: 500 * time.Millisecond,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, runErr := p.Run(ctx)
	killed, kerr := killer.Wait()
	if kerr != nil {
		t.Fatalf("terminate the backends: %v", kerr)
	}
	if runErr != nil || res.Status != result.StatusOK {
		t.Fatalf("terminated %d backends; run: %v (status %s, %s); want ok", killed, runErr, res.Status, res.Reason)
	}
	if len(res.Series) != 1 {
		t.Fatalf("%d series, want 1", len(res.Series))
	}
	s := res.Series[0]
	m := s.Metrics
	t.Logf("terminated %d backends; jobs done %v, lost %v, duplicated %v, interrupted %v; errors %v; feeder errors %v, reconnects %v, 57P01 %v; control reconnects %v, 57P01 %v; producer reconnects %v",
		killed, m["jobs_done"], m["jobs_lost"], m["jobs_duplicated"], m["jobs_interrupted"], s.Errors,
		m["feeder_errors"], m["feeder_reconnects"], m["feeder_errors_57p01"], m["control_reconnects"], m["control_errors_57p01"], m["producer_reconnects"])
	if m["jobs_lost"] != 0 || m["jobs_duplicated"] != 0 {
		t.Errorf("jobs_lost %v, jobs_duplicated %v, want 0 and 0", m["jobs_lost"], m["jobs_duplicated"])
	}
	if sum := m["jobs_done"] + m["jobs_pending_at_end"] + m["jobs_interrupted"]; sum != m["jobs_enqueued"] {
		t.Errorf("done %v + pending %v + interrupted %v = %v, want the %v enqueued",
			m["jobs_done"], m["jobs_pending_at_end"], m["jobs_interrupted"], sum, m["jobs_enqueued"])
	}
	if m["feeder_reconnects"] < 1 || m["control_reconnects"] < 1 || m["feeder_errors_57p01"]+m["control_errors_57p01"] < 1 {
		t.Errorf("feeder_reconnects %v, control_reconnects %v: want both connections reconnected and their 57P01 counted", m["feeder_reconnects"], m["control_reconnects"])
	}
	if m["producer_reconnects"] < 1 {
		t.Errorf("producer_reconnects %v, want the producer reconnected", m["producer_reconnects"])
	}
	if n := s.Errors["other"]; n > 0 {
		t.Errorf("%d errors filed as other (%v)", n, s.ErrorSamples)
	}
}

// tlog writes the run's log lines into the test's, with their time.
type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Logf("%s %s", time.Now().Format("15:04:05.000"), p)
	return len(p), nil
}
