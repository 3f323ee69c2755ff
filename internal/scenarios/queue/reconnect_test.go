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
	harnesstest.RequirePostgres(t)
	t.Parallel()
	dsn := harnesstest.Database(t) // of its own: the kill below reaches every pgscale session in it
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// 10 workers, the feeder, the producer and the control connection.
	killer := harnesstest.KillLater(ctx, dsn, "pgscale%", 13, 1500*time.Millisecond)
	p, err := runner.Prepare(runner.Options{
		Scenario: Name, Target: harness.KindDSN, DSN: dsn, Repeat: 1, Out: t.TempDir(), NoReport: true, Log: tlog{t},
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
	feederReconnects, feeder57P01 := result.MetricReconnects(MetricPrefixFeeder), result.MetricErrors(MetricPrefixFeeder, "57P01")
	controlReconnects, control57P01 := result.MetricReconnects(result.MetricPrefixControl), result.MetricErrors(result.MetricPrefixControl, "57P01")
	producerReconnects := result.MetricReconnects(MetricPrefixProducer)
	t.Logf("terminated %d backends; jobs done %v, lost %v, duplicated %v, interrupted %v; errors %v; feeder errors %v, reconnects %v, 57P01 %v; control reconnects %v, 57P01 %v; producer reconnects %v",
		killed, m[MetricJobsDone], m[MetricJobsLost], m[MetricJobsDuplicated], m[MetricJobsInterrupted], s.Errors,
		m[MetricFeederErrors], m[feederReconnects], m[feeder57P01], m[controlReconnects], m[control57P01], m[producerReconnects])
	if m[MetricJobsLost] != 0 || m[MetricJobsDuplicated] != 0 {
		t.Errorf("jobs_lost %v, jobs_duplicated %v, want 0 and 0", m[MetricJobsLost], m[MetricJobsDuplicated])
	}
	if sum := m[MetricJobsDone] + m[MetricJobsPendingAtEnd] + m[MetricJobsInterrupted]; sum != m[MetricJobsEnqueued] {
		t.Errorf("done %v + pending %v + interrupted %v = %v, want the %v enqueued",
			m[MetricJobsDone], m[MetricJobsPendingAtEnd], m[MetricJobsInterrupted], sum, m[MetricJobsEnqueued])
	}
	if m[feederReconnects] < 1 || m[controlReconnects] < 1 || m[feeder57P01]+m[control57P01] < 1 {
		t.Errorf("feeder_reconnects %v, control_reconnects %v: want both connections reconnected and their 57P01 counted", m[feederReconnects], m[controlReconnects])
	}
	if m[producerReconnects] < 1 {
		t.Errorf("producer_reconnects %v, want the producer reconnected", m[producerReconnects])
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
