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
