package loadgen

import (
	"errors"

	"github.com/pgscale/pgscale/result"
)

// Series turns what a run measured into a result series (without variant and point, which the
// scenario knows). Scenario-specific histograms become <name>_p50_ms, _p99_ms … metrics.
func (o *Outcome) Series() (result.Series, error) {
	s := result.Series{
		StartedAt: o.StartedAt,
		DurationS: o.Measured.Seconds(),
		WarmupS:   o.Warmup.Seconds(),
		Workers:   o.Workers,
		RatePerS:  o.Rate,
		Ops:       o.Ops,
		LatencyMs: result.PercentilesOf(o.Latency),
		Errors:    o.Errors,
		Timeline:  o.Timeline,
		Metrics:   map[string]float64{},
	}
	if len(o.ErrorSamples) > 0 {
		s.ErrorSamples = o.ErrorSamples
	}
	if o.Measured > 0 {
		s.ThroughputPerS = float64(o.Ops) / o.Measured.Seconds()
	}
	if o.Paced || o.Rate > 0 {
		svc := result.PercentilesOf(o.Service)
		s.ServiceMs = &svc
	}
	if o.Connect.TotalCount() > 0 {
		c := result.PercentilesOf(o.Connect)
		s.ConnectMs = &c
	}
	if o.TLSRefused {
		// sslmode=prefer against a server without TLS: the first connect asked, the rest did not.
		s.Metrics[result.MetricConnectTLSRefused] = 1
	}
	if o.ClientRSSPeakKB > 0 {
		s.Metrics[result.MetricClientRSSPeakMB] = float64(o.ClientRSSPeakKB) / 1024
	}
	// CPU time covers the warm-up too, so it is divided by every operation the timeline saw.
	var allOps int64
	for _, sec := range o.Timeline {
		allOps += sec.Ops
	}
	if allOps > 0 && o.ClientCPUSeconds > 0 {
		s.Metrics[result.MetricClientCPUMsPer1kOps] = o.ClientCPUSeconds * 1000 / float64(allOps) * 1000
	}
	if o.Stopped > 0 {
		s.Metrics[result.MetricStoppedWorkers] = float64(o.Stopped)
	}
	if o.Abandoned > 0 {
		s.Metrics[result.MetricAbandonedOps] = float64(o.Abandoned)
	}
	if o.Unstarted > 0 {
		s.Metrics[result.MetricUnstartedOps] = float64(o.Unstarted)
	}
	var err error
	if s.Histograms.Latency, err = result.EncodeHistogram(o.Latency); err != nil {
		return s, err
	}
	if o.Paced || o.Rate > 0 {
		if s.Histograms.Service, err = result.EncodeHistogram(o.Service); err != nil {
			return s, err
		}
	}
	if s.Histograms.Connect, err = result.EncodeHistogram(o.Connect); err != nil {
		return s, err
	}
	for name, h := range o.Extra {
		p := result.PercentilesOf(h)
		s.Metrics[name+result.MetricSuffixP50Ms] = p.P50
		s.Metrics[name+result.MetricSuffixP90Ms] = p.P90
		s.Metrics[name+result.MetricSuffixP99Ms] = p.P99
		s.Metrics[name+result.MetricSuffixP999Ms] = p.P999
		s.Metrics[name+result.MetricSuffixMaxMs] = p.Max
		enc, err := result.EncodeHistogram(h)
		if err != nil {
			return s, err
		}
		if s.Histograms.Extra == nil {
			s.Histograms.Extra = map[string]string{}
		}
		s.Histograms.Extra[name] = enc
	}
	return s, nil
}

// stopWorker marks an operation's error that ends its worker (StopWorker).
type stopWorker struct{ err error }

func (s *stopWorker) Error() string { return s.err.Error() }
func (s *stopWorker) Unwrap() error { return s.err }

// StopWorker wraps err so that, once the operation is recorded as failed under err's class, its
// worker stops (as a pgbench client stops on a script error); the others go on. The series counts
// the workers stopped in its stopped_workers metric.
func StopWorker(err error) error { return &stopWorker{err: err} }

func isStopWorker(err error) bool {
	var s *stopWorker
	return errors.As(err, &s)
}
