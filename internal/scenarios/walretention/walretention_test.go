package walretention

import (
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/runner/runnertest"
)

// Every point asks for 20 MB/s of rewritten rows (about 40 MB/s of WAL) for testDuration: a
// loaded machine gives less (18–23 MB/s of WAL at a load average of 30 on 2 cores), still several
// max_wal_size in 8 s; an idle one does not fill the disk with the unattended slot's WAL (a
// closed loop wrote 740 MB in 8 s).
const (
	testDuration  = 12 * time.Second // 8 s wrote 95 MB, short of the 96 the test needs, on a loaded CI machine
	testMaxWALMB  = 32
	testKeepMB    = 32
	testMarginMB  = 32
	testMinWritMB = 3 * testMaxWALMB
)

var testSets = map[string]string{
	"max_wal_size": "32MB", "keep_size": "32MB", "quota": "96MB", "write_mb_s": "20", "workers": "4",
}

// TestUnattendedSlotHoldsWALAndKeepSizeBoundsIt runs the three variants through the runner on a
// local target, as `pgscale run` does. Without a slot, checkpoints recycle WAL: pg_wal stays
// near max_wal_size while several times that is written. The unattended slot holds all of it.
// With max_slot_wal_keep_size the slot is invalidated and pg_wal stays within the bound.
func TestUnattendedSlotHoldsWALAndKeepSizeBoundsIt(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel() // on a server of its own
	res := runnertest.Run(t, runner.Options{
		Scenario: Name, Target: harness.KindLocal, Out: t.TempDir(), Repeat: 1, Seed: 1, NoReport: true,
		Sets: testSets, Duration: testDuration, Warmup: 0, Log: harnesstest.Log(t),
	})
	got := runnertest.ByVariant(res)
	none, unattended, bounded := got[VariantNoSlot], got[VariantUnattended], got[VariantKeepSize]
	for _, s := range []report.Series{none, unattended, bounded} {
		if w := harnesstest.Metric(t, s, MetricWALWrittenMB); w < testMinWritMB {
			t.Fatalf("%s wrote %.0f MB of WAL in %s; the test needs at least %d MB (3 × max_wal_size) to tell recycling from retention",
				s.Variant, w, testDuration, testMinWritMB)
		}
	}

	// No slot: pg_wal stays near max_wal_size although several times that was written.
	if peak := harnesstest.Metric(t, none, MetricPgWALPeakMB); peak > 2*testMaxWALMB+testMarginMB {
		t.Errorf("no-slot: pg_wal peaked at %.0f MB; want it recycled, within %d MB", peak, 2*testMaxWALMB+testMarginMB)
	}

	// The unattended slot holds every byte written since it was made, and pg_wal grows by as much.
	written := harnesstest.Metric(t, unattended, MetricWALWrittenMB)
	if held := harnesstest.Metric(t, unattended, MetricSlotRetainedEndMB); held < 0.9*written || held < 3*testMaxWALMB {
		t.Errorf("unattended-slot: the slot holds %.0f MB of %.0f MB written; want nearly all, and at least 3 × max_wal_size", held, written)
	}
	start, end := harnesstest.Metric(t, unattended, MetricPgWALStartMB), harnesstest.Metric(t, unattended, MetricPgWALEndMB)
	if end-start < 0.8*written {
		t.Errorf("unattended-slot: pg_wal went from %.0f to %.0f MB while %.0f MB was written; want it to grow by nearly as much", start, end, written)
	}
	if r := end / harnesstest.Metric(t, none, MetricPgWALEndMB); r < 2 {
		t.Errorf("unattended-slot: pg_wal at the end is %.1f× no-slot's; want at least 2×", r)
	}
	if harnesstest.Metric(t, unattended, MetricSlotInvalidated) != 0 {
		t.Error("unattended-slot: the slot was invalidated; nothing should bound it")
	}
	if harnesstest.Metric(t, unattended, MetricQuotaReached) != 1 {
		t.Error("unattended-slot: the 96 MB quota was never reached")
	}

	// max_slot_wal_keep_size: the slot is invalidated and pg_wal stays within keep size + checkpoints.
	if harnesstest.Metric(t, bounded, MetricSlotInvalidated) != 1 {
		t.Errorf("max-slot-wal-keep-size: the slot was never invalidated (retained peak %.0f MB)", harnesstest.Metric(t, bounded, MetricSlotRetainedPeakMB))
	}
	if peak := harnesstest.Metric(t, bounded, MetricPgWALPeakMB); peak > testKeepMB+2*testMaxWALMB+testMarginMB {
		t.Errorf("max-slot-wal-keep-size: pg_wal peaked at %.0f MB; want at most keep_size + 2 × max_wal_size + %d MB = %d MB",
			peak, testMarginMB, testKeepMB+2*testMaxWALMB+testMarginMB)
	}
	if got := harnesstest.Metric(t, bounded, MetricMaxSlotWALKeepSizeMB); got != testKeepMB {
		t.Errorf("max-slot-wal-keep-size: the server has max_slot_wal_keep_size %v MB, want %d", got, testKeepMB)
	}
	lost := false
	for _, sec := range bounded.Timeline {
		lost = lost || sec.Extra["slot_lost"] == 1
	}
	if !lost {
		t.Error("max-slot-wal-keep-size: no timeline second shows the slot lost")
	}
}
