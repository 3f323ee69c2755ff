package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/result"
)

func TestRecorderSeparatesWarmupAndErrors(t *testing.T) {
	t.Parallel()
	start := time.Now()
	rec := NewRecorder(start.Add(time.Second))
	for i := range 100 {
		rec.Record(i, start, time.Millisecond, time.Millisecond, nil) // warm-up
	}
	for i := range 1000 {
		rec.Record(i, start.Add(2*time.Second), time.Duration(i+1)*time.Microsecond*10, time.Microsecond, nil)
	}
	tooMany := &pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"}
	reserved := &pgconn.PgError{Code: "53300", Message: "remaining connection slots are reserved for non-replication superuser connections"}
	rec.Record(1, start.Add(2*time.Second), 0, 0, tooMany)
	rec.Record(2, start.Add(2*time.Second), 0, 0, reserved)
	rec.Record(3, start, 0, 0, tooMany) // warm-up: timeline only
	sec := rec.Tick(1, false)
	snap := rec.Snapshot()

	if snap.Ops != 1000 {
		t.Errorf("ops = %d, want 1000 (warm-up excluded)", snap.Ops)
	}
	if got := snap.Errors["53300"]; got != 1 {
		t.Errorf("errors[53300] = %d, want 1", got)
	}
	if got := snap.Errors[ClassTooManyReserved]; got != 1 {
		t.Errorf("errors[%s] = %d, want 1", ClassTooManyReserved, got)
	}
	if sec.Ops != 1100 || sec.Errors != 3 {
		t.Errorf("timeline second = %d ops, %d errors; want 1100, 3 (warm-up included)", sec.Ops, sec.Errors)
	}
	p := result.PercentilesOf(snap.Latency)
	if !(p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max) {
		t.Errorf("percentiles out of order: %+v", p)
	}
	if p.P50 < 4.9 || p.P50 > 5.1 {
		t.Errorf("p50 = %.3f ms, want about 5 ms", p.P50)
	}
}

func TestRecordClampsOutOfRange(t *testing.T) {
	t.Parallel()
	rec := NewRecorder(time.Time{})
	rec.Record(0, time.Now(), 2*time.Hour, 0, nil)
	rec.Record(0, time.Now(), -time.Second, 0, nil)
	if snap := rec.Snapshot(); snap.Ops != 2 {
		t.Fatalf("ops = %d, want 2: out-of-range latencies must be clamped, not dropped", snap.Ops)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Code: "57014"}, "57014"},
		{fmt.Errorf("claim: %w", &pgconn.PgError{Code: "55P03"}), "55P03"},
		{fmt.Errorf("acquire: %w", errPoolTimeout), ClassPoolTimeout},
		{context.Canceled, ClassCanceled},
		{context.DeadlineExceeded, ClassTimeout},
		{io.ErrUnexpectedEOF, ClassConnectionReset},
		{errors.New("something else"), ClassOther},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestHistogramRoundTrip(t *testing.T) {
	t.Parallel()
	h := result.NewHistogram()
	for i := int64(1); i <= 10000; i++ {
		_ = h.RecordValue(i)
	}
	enc, err := result.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	back, err := result.DecodeHistogram(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equals(h) {
		t.Fatal("decoded histogram differs from the encoded one")
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	rec := NewRecorder(time.Time{})
	now := time.Now()
	allocs := testing.AllocsPerRun(1000, func() {
		rec.Record(3, now, 750*time.Microsecond, 700*time.Microsecond, nil)
	})
	if allocs != 0 {
		t.Fatalf("Record allocates %.1f times per call, want 0", allocs)
	}
}

func BenchmarkRecord(b *testing.B) {
	rec := NewRecorder(time.Time{})
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec.Record(i, now, time.Duration(i%5000)*time.Microsecond, time.Millisecond, nil)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	rec := NewRecorder(time.Time{})
	now := time.Now()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			rec.Record(i, now, time.Duration(i%5000)*time.Microsecond, time.Millisecond, nil)
		}
	})
}

// TestSettleKeepsLateOperations: an operation recorded after the ticker closed the last second
// (it ended a moment before the run's end) still lands in the timeline, whose seconds then sum to
// the run's counts.
func TestSettleKeepsLateOperations(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(-2 * time.Second)
	rec := NewRecorder(start)
	rec.Record(0, start, time.Millisecond, time.Millisecond, nil)
	rec.Tick(1, false)
	rec.Record(1, start, time.Millisecond, time.Millisecond, nil)
	rec.Record(2, start, time.Millisecond, time.Millisecond, errors.New("late"))
	rec.settle()
	snap := rec.Snapshot()
	var ops, errs int64
	for _, s := range snap.Timeline {
		ops += s.Ops
		errs += s.Errors
	}
	if len(snap.Timeline) != 1 || ops != snap.AllOps || ops != 2 || errs != 1 {
		t.Errorf("timeline %+v (ops %d, errors %d), all ops %d: want one second holding 2 operations and 1 error",
			snap.Timeline, ops, errs, snap.AllOps)
	}
}
