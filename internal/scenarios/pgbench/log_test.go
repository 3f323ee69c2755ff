package pgbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeLog writes one thread's pgbench log: lines of client, end time and latency in µs.
func writeLog(t *testing.T, dir, name string, lines [][3]int64) {
	t.Helper()
	var b strings.Builder
	for i, l := range lines {
		end := time.UnixMicro(l[1])
		fmt.Fprintf(&b, "%d %d %d 0 %d %d\n", l[0], i, l[2], end.Unix(), end.Nanosecond()/1000)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOutcomeCountsTheMeasuredWindowFromTwoThreadLogs: logs of two threads are merged in end
// order; the first transaction to begin starts the clock; warm-up transactions stay out of the
// summary but in the timeline; one that began after the window is left out while a slow one
// that began inside it and ended later still counts.
func TestOutcomeCountsTheMeasuredWindowFromTwoThreadLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const s = int64(time.Second / time.Microsecond)
	t0 := int64(1_700_000_000) * s
	// client, end (µs since the epoch), latency (µs). The clock starts at t0 (client 0's first
	// began then); warm-up 1 s, duration 2 s: the window is [t0+1s, t0+3s).
	writeLog(t, dir, "tx.100", [][3]int64{
		{0, t0 + 1000, 1000},             // warm-up
		{0, t0 + 1*s + 500, 400},         // measured
		{0, t0 + 3*s + 100_000, 200_000}, // began at t0+2.9s: measured, ends after the window
		{0, t0 + 3*s + 300_000, 100_000}, // began at t0+3.2s: left out
	})
	writeLog(t, dir, "tx.100.1", [][3]int64{
		{1, t0 + 500_000, 2000},         // warm-up
		{1, t0 + 2*s, 3000},             // measured
		{1, t0 + 3*s + 200_000, 50_000}, // began at t0+3.15s: left out, and ends before the slow one above
	})
	out, err := outcome(dir, time.Second, 2*time.Second, 2)
	if err != nil {
		t.Fatal(err)
	}
	if out.Ops != 3 {
		t.Errorf("ops %d, want the 3 that began in the measured window", out.Ops)
	}
	if got := out.Latency.Max(); got < 199_000 || got > 201_000 {
		t.Errorf("max latency %d µs, want the slow 200 ms one that ended after the window", got)
	}
	if !out.StartedAt.Equal(time.UnixMicro(t0)) {
		t.Errorf("started at %s, want the first transaction's start %s", out.StartedAt, time.UnixMicro(t0))
	}
	var warm, all int64
	for i, sec := range out.Timeline {
		// Seconds count from 1, as loadgen's do and result.json's schema requires.
		if sec.T != i+1 {
			t.Errorf("timeline entry %d has t=%d, want %d", i, sec.T, i+1)
		}
		all += sec.Ops
		if sec.Warmup {
			warm += sec.Ops
		}
	}
	if warm != 2 || all != 5 {
		t.Errorf("timeline: %d warm-up ops of %d, want 2 of 5 (%+v)", warm, all, out.Timeline)
	}
}

func TestOutcomeOfNoLogIsNil(t *testing.T) {
	t.Parallel()
	out, err := outcome(t.TempDir(), time.Second, time.Second, 1)
	if err != nil || out != nil {
		t.Errorf("outcome of no log: %v, %v; want nil, nil", out, err)
	}
}
