package harnesstest

import (
	"io"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/result"
)

// Log is a writer for a run's notes (runner.Options.Log) that puts each line into the test's
// log, so that a failing test shows what the run said.
func Log(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Metric is the series' metric name; a series without it fails the test, naming what it has.
func Metric(t testing.TB, s result.Series, name string) float64 {
	t.Helper()
	v, ok := s.Metrics[name]
	if !ok {
		t.Fatalf("%s %v: metric %s missing; have %v", s.Variant, s.Point, name, s.Metrics)
	}
	return v
}
