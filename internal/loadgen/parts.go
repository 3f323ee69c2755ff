package loadgen

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgscale/pgscale/result"
)

// Parts break an operation down: the scripts of a weighted mix, or the statements of a script.
// They are named up front (Config.Parts) so that recording one is an index into a slice, with no
// lookup by name and no allocation once a part's error classes have been seen. Each part has a
// lock of its own: parts are recorded by every worker, but different parts do not contend.
type part struct {
	mu      sync.Mutex
	latency *hdrhistogram.Histogram
	ops     int64
	errors  map[string]int64
	retries map[string]int64
}

// PartSnapshot is what was recorded for one part, after warm-up.
type PartSnapshot struct {
	Name    string
	Ops     int64 // successes
	Latency *hdrhistogram.Histogram
	Errors  map[string]int64 // failures by class
	Retries map[string]int64 // retries by class (a retried try that was not the last)
}

// SetParts names the parts this recorder breaks operations into (Config.Parts). Call it before
// anything is recorded.
func (r *Recorder) SetParts(names []string) {
	r.partNames = names
	r.parts = newParts(names)
}

func newParts(names []string) []part {
	parts := make([]part, len(names))
	for i := range parts {
		parts[i].latency = result.NewHistogram()
		parts[i].errors = map[string]int64{}
		parts[i].retries = map[string]int64{}
	}
	return parts
}

// RecordPart notes one run of part i that started at started and took d; a nil err is a success
// (its latency is recorded), otherwise it counts under the error's class. Runs that start during
// the warm-up are dropped. An index out of range is ignored.
func (r *Recorder) RecordPart(i int, started time.Time, d time.Duration, err error) {
	if i < 0 || i >= len(r.parts) || started.Before(r.measureFrom) {
		return
	}
	var class string
	if err != nil {
		class = Classify(err)
	}
	p := &r.parts[i]
	p.mu.Lock()
	if err != nil {
		p.errors[class]++
	} else {
		p.ops++
		_ = p.latency.RecordValue(micros(d))
	}
	p.mu.Unlock()
}

// RecordRetries notes n retries of part i under class (an SQLSTATE such as 40001), for an
// operation that started at started.
func (r *Recorder) RecordRetries(i int, started time.Time, class string, n int) {
	if i < 0 || i >= len(r.parts) || started.Before(r.measureFrom) || n <= 0 {
		return
	}
	p := &r.parts[i]
	p.mu.Lock()
	p.retries[class] += int64(n)
	p.mu.Unlock()
}

func (r *Recorder) snapshotParts() []PartSnapshot {
	if len(r.parts) == 0 {
		return nil
	}
	out := make([]PartSnapshot, len(r.parts))
	for i := range r.parts {
		p := &r.parts[i]
		p.mu.Lock()
		out[i] = PartSnapshot{Name: r.partNames[i], Ops: p.ops, Latency: p.latency.Clone(),
			Errors: cloneCounts(p.errors), Retries: cloneCounts(p.retries)}
		p.mu.Unlock()
	}
	return out
}

func cloneCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}
