package ingest

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/result"
)

// TestBufferedFlushersReconnect terminates buffered's flusher backends in the middle of a point:
// the flushers reconnect and keep writing, the lost flushes are counted as 57P01 (never "other"),
// and the series' ops/s are rows written, not events handed to the buffer.
func TestBufferedFlushersReconnect(t *testing.T) {
	tg := harnesstest.Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	killer := harnesstest.KillLater(ctx, tg.AdminDSN(), loadAppName, 2, 1500*time.Millisecond)
	p, err := runner.Prepare(runner.Options{
		Scenario: Name, Target: harness.KindDSN, DSN: tg.AdminDSN(), Repeat: 1, Out: t.TempDir(), NoReport: true,
		Sets:     map[string]string{"variants": "buffered", "batch": "100", "workers": "2", "flush_interval": "20ms", "synchronous_commit": "on"},
		Duration: 4 * time.Second, Warmup: 500 * time.Millisecond,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, runErr := p.Run(ctx)
	killed, kerr := killer.Wait()
	if kerr != nil {
		t.Fatalf("terminate the flushers: %v", kerr)
	}
	if runErr != nil || res.Status != result.StatusOK {
		t.Fatalf("run: %v (status %s, %s); want ok: the flushers reconnect", runErr, res.Status, res.Reason)
	}
	if len(res.Series) != 1 {
		t.Fatalf("%d series, want 1", len(res.Series))
	}
	s := res.Series[0]
	m := s.Metrics
	t.Logf("terminated %d flushers; ops %d, %.0f ops/s, rows_per_s %.0f, p50 %.3f ms, errors %v, reconnects %v, rows in table %v, acknowledged %v, failed %v, in doubt %v",
		killed, s.Ops, s.ThroughputPerS, m[MetricRowsPerS], s.LatencyMs.P50, s.Errors, m[MetricFlusherReconnects],
		m[MetricRowsInTable], m[MetricRowsAcknowledged], m[MetricRowsFailed], m[MetricRowsUncertain])
	if n := s.Errors["other"]; n > 0 {
		t.Errorf("%d errors filed as other (%v): want every lost flush classified", n, s.ErrorSamples)
	}
	if s.Errors["57P01"] == 0 && s.Errors["conn_closed"] == 0 && s.Errors["connection_reset"] == 0 {
		t.Errorf("errors %v: want the terminated flushes counted (57P01 admin_shutdown)", s.Errors)
	}
	if m[MetricFlusherReconnects] < float64(killed) {
		t.Errorf("flusher_reconnects %v, want at least the %d flushers terminated", m[MetricFlusherReconnects], killed)
	}
	// ops/s counts rows written in the measured window, as rows_per_s does.
	if math.Abs(s.ThroughputPerS-m[MetricRowsPerS]) > 0.01*m[MetricRowsPerS]+1 {
		t.Errorf("ops/s %.0f, rows_per_s %.0f: want ops/s to be the rows written", s.ThroughputPerS, m[MetricRowsPerS])
	}
	if m[MetricRowsLost] != 0 || m[MetricRowsUnaccounted] != 0 || m[MetricEventsUnaccounted] != 0 {
		t.Errorf("rows lost %v, unaccounted %v, events unaccounted %v: want 0", m[MetricRowsLost], m[MetricRowsUnaccounted], m[MetricEventsUnaccounted])
	}
	// The flushers wrote after they were terminated: the timeline's last measured seconds have rows.
	var late int64
	for _, sec := range s.Timeline {
		if sec.T >= 4 {
			late += sec.Ops
		}
	}
	if late == 0 {
		t.Errorf("no rows in the timeline after the flushers were terminated: %+v", s.Timeline)
	}
}

// TestBufferedFailsLoudlyWhenTheServerIsGone stops the server in the middle of a point: the
// flushers cannot reconnect, and the run fails with that reason instead of ending ok. It stops a
// server of its own.
func TestBufferedFailsLoudlyWhenTheServerIsGone(t *testing.T) {
	defer func(d time.Duration) { flusherGiveUp = d }(flusherGiveUp)
	flusherGiveUp = 2 * time.Second
	tg := harnesstest.Local(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := &watchLog{on: "setup done", do: func() {
		time.AfterFunc(1500*time.Millisecond, func() { _ = tg.Close(context.Background()) })
	}}
	p, err := runner.Prepare(runner.Options{
		Scenario: Name, Target: harness.KindDSN, DSN: tg.AdminDSN(), Repeat: 1, Out: t.TempDir(), NoReport: true, Log: log,
		Sets:     map[string]string{"variants": "buffered", "batch": "100", "workers": "2", "flush_interval": "20ms", "synchronous_commit": "on"},
		Duration: 20 * time.Second, Warmup: 0,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res, runErr := p.Run(ctx)
	t.Logf("after %s: status %s, error %v", time.Since(began).Round(time.Millisecond), res.Status, runErr)
	// Whichever notices first says so: the runner's watch of the server, or the flusher that
	// could not reconnect. Either way the run fails at once instead of running out its 20 s.
	if res.Status != result.StatusFailed || !(strings.Contains(res.Reason, "ingest buffered flusher: lost its connection and could not reconnect") ||
		strings.HasPrefix(res.Reason, "the server went away")) {
		t.Fatalf("status %s, reason %q; want failed, naming the flusher's lost connection or the server's going", res.Status, res.Reason)
	}
	if d := time.Since(began); d > 15*time.Second {
		t.Fatalf("failed after %s; want it to notice the server is gone, not run out its 20 s", d.Round(time.Second))
	}
}
