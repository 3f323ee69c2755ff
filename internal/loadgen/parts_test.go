package loadgen

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

type classed struct{}

func (classed) Error() string      { return "x never set" }
func (classed) ErrorClass() string { return "script_error" }

func TestPartsRecordAfterWarmupByClass(t *testing.T) {
	t.Parallel()
	start := time.Now()
	rec := NewRecorder(start.Add(time.Second))
	rec.SetParts([]string{"a.sql", "a.sql:3: SELECT 1"})
	later := start.Add(2 * time.Second)
	rec.RecordPart(1, start, time.Millisecond, nil) // warm-up
	for range 10 {
		rec.RecordPart(1, later, 2*time.Millisecond, nil)
	}
	rec.RecordPart(1, later, time.Millisecond, &pgconn.PgError{Code: "40001"})
	rec.RecordPart(0, later, time.Millisecond, classed{})
	rec.RecordPart(0, later, time.Millisecond, errors.Join(errors.New("wrapped"), classed{}))
	rec.RecordRetries(0, later, "40001", 3)
	rec.RecordPart(7, later, time.Millisecond, nil) // out of range: ignored
	parts := rec.Snapshot().Parts
	if len(parts) != 2 || parts[1].Name != "a.sql:3: SELECT 1" {
		t.Fatalf("parts %+v", parts)
	}
	if parts[1].Ops != 10 || parts[1].Latency.TotalCount() != 10 || parts[1].Errors["40001"] != 1 {
		t.Errorf("statement: ops %d, latencies %d, errors %v: want 10, 10, 40001:1", parts[1].Ops,
			parts[1].Latency.TotalCount(), parts[1].Errors)
	}
	if parts[0].Errors["script_error"] != 2 || parts[0].Retries["40001"] != 3 {
		t.Errorf("script: errors %v, retries %v: want script_error:2, 40001:3", parts[0].Errors, parts[0].Retries)
	}
}

func TestRecordPartDoesNotAllocate(t *testing.T) {
	rec := NewRecorder(time.Now().Add(-time.Second))
	rec.SetParts([]string{"s", "s:1: SELECT 1"})
	started := time.Now()
	rec.RecordRetries(0, started, "40001", 1) // the class's first sight allocates its key
	if n := testing.AllocsPerRun(1000, func() {
		rec.RecordPart(1, started, 300*time.Microsecond, nil)
		rec.RecordRetries(0, started, "40001", 1)
	}); n != 0 {
		t.Fatalf("RecordPart allocates %.1f times per call, want 0", n)
	}
}

func BenchmarkRecordPart(b *testing.B) {
	rec := NewRecorder(time.Now().Add(-time.Second))
	rec.SetParts([]string{"s", "s:1: SELECT 1"})
	started := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		rec.RecordPart(1, started, 300*time.Microsecond, nil)
	}
}
