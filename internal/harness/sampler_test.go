package harness

import (
	"context"
	"testing"
	"time"

	"github.com/pgscale/pgscale/result"
)

// TestSamplerReconnects terminates the sampler's backend while it samples: it takes its readings
// again on a new connection, and counts the loss (57P01) and the reconnect.
func TestSamplerReconnects(t *testing.T) {
	tg := startLocalTest(t, localTestProvider(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := NewSampler(ctx, tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	s.interval = 100 * time.Millisecond
	s.Start(ctx)
	defer s.Stop()
	waitSamples := func(after time.Time, n int) int {
		got := 0
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			s.mu.Lock()
			got = 0
			for _, smp := range s.samples {
				if smp.At.After(after) {
					got++
				}
			}
			s.mu.Unlock()
			if got >= n {
				break
			}
		}
		return got
	}
	if n := waitSamples(time.Time{}, 3); n < 3 {
		t.Fatalf("%d readings before the termination, want 3", n)
	}
	killed := localTestQuery(t, tg, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::text FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND application_name = '`+SamplerApplicationName+`'`)
	at := time.Now()
	after := waitSamples(at, 5)
	s.Stop()
	m := map[string]float64{}
	s.AddMetrics(m)
	t.Logf("terminated %s sampler backend(s); %d readings after it; metrics %v; lost %v", killed, after, m, s.Lost())
	if killed != "1" {
		t.Fatalf("terminated %s backends, want the sampler's 1", killed)
	}
	if after < 5 {
		t.Errorf("%d readings after the sampler's backend was terminated, want it to go on reading", after)
	}
	reconnects, terminated := result.MetricReconnects(result.MetricPrefixSampler), result.MetricErrors(result.MetricPrefixSampler, "57P01")
	if m[reconnects] != 1 || m[terminated] != 1 {
		t.Errorf("metrics %v: want %s 1 and %s 1", m, reconnects, terminated)
	}
	if err := s.Lost(); err != nil {
		t.Errorf("Lost() = %v, want nil", err)
	}
}

// TestSamplerTakesAClosingReading: Stop takes a last reading when the last one is old, so a
// point that ends between two readings still has one in its last second; a second Stop, or a
// Stop after the run's context ended, takes none.
func TestSamplerTakesAClosingReading(t *testing.T) {
	tg := startLocalTest(t, localTestProvider(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := NewSampler(ctx, tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	s.Start(ctx)
	// The load starts 200 ms after the sampler, as a point's does once its workers are connected,
	// and lasts 1.5 s: readings at -0.2 s (the counters' base) and 0.8 s, none in 1 s to 1.5 s.
	start := time.Now().Add(200 * time.Millisecond)
	time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
	s.Stop()
	timeline := []result.Second{{T: 1}, {T: 2}}
	s.JoinTimeline(start, timeline)
	if timeline[1].Server == nil {
		t.Fatalf("no reading in the last second (1 s to 1.5 s); readings at %v", readingOffsets(s, start))
	}
	n := len(s.samples)
	s.Stop()
	if len(s.samples) != n {
		t.Fatalf("a second Stop took a reading: %d readings, then %d", n, len(s.samples))
	}

	canceled, cancelRun := context.WithCancel(context.Background())
	s2, err := NewSampler(canceled, tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	s2.Start(canceled)
	time.Sleep(400 * time.Millisecond)
	cancelRun()
	stoppedAt := time.Now()
	s2.Stop()
	for _, smp := range s2.samples {
		if smp.At.After(stoppedAt) {
			t.Fatalf("a reading at %s, after the run was canceled", smp.At.Sub(stoppedAt))
		}
	}
}

// readingOffsets lists when s's readings were taken, from start.
func readingOffsets(s *Sampler, start time.Time) []time.Duration {
	var at []time.Duration
	for _, smp := range s.samples {
		at = append(at, smp.At.Sub(start).Round(time.Millisecond))
	}
	return at
}
