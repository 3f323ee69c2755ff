package walretention

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/report"
)

// figures are what a variant's readings add up to. Sizes in MB, times in seconds from the start
// of the load.
type figures struct {
	loadSeconds  float64
	walWrittenMB float64
	walRateMBs   float64

	walDirKnown                              bool
	walDirStartMB, walDirPeakMB, walDirEndMB float64

	slot                                  bool
	slotRetainedPeakMB, slotRetainedEndMB float64
	slotInvalidated                       bool
	slotInvalidatedAtS                    float64
	safeWALMinMB                          float64
	safeWALKnown                          bool

	quotaReached    bool
	quotaReachedAtS float64
}

// summarize reads the monitor's readings of one variant.
func summarize(readings []reading, loadStart time.Time, cfg config, server serverWAL, slot bool) figures {
	f := figures{slot: slot}
	if len(readings) == 0 {
		return f
	}
	first, last := readings[0], readings[len(readings)-1]
	f.loadSeconds = last.at.Sub(first.at).Seconds()
	f.walWrittenMB = (last.lsnBytes - first.lsnBytes) / mib
	if f.loadSeconds > 0 {
		f.walRateMBs = f.walWrittenMB / f.loadSeconds
	}
	since := func(r reading) float64 { return max(0, r.at.Sub(loadStart).Seconds()) }
	for i, r := range readings {
		held := 0.0
		if r.walDirBytes != nil {
			mb := *r.walDirBytes / mib
			if !f.walDirKnown {
				f.walDirKnown, f.walDirStartMB = true, mb
			}
			f.walDirPeakMB = max(f.walDirPeakMB, mb)
			f.walDirEndMB = mb
			held = mb
		}
		if r.retainedBytes != nil {
			mb := *r.retainedBytes / mib
			f.slotRetainedPeakMB = max(f.slotRetainedPeakMB, mb)
			held = max(held, mb)
		}
		if i == len(readings)-1 {
			f.slotRetainedEndMB = 0
			if r.retainedBytes != nil {
				f.slotRetainedEndMB = *r.retainedBytes / mib
			}
		}
		if r.safeWALBytes != nil {
			mb := *r.safeWALBytes / mib
			if !f.safeWALKnown || mb < f.safeWALMinMB {
				f.safeWALMinMB = mb
			}
			f.safeWALKnown = true
		}
		if r.slotFound && r.walStatus == "lost" && !f.slotInvalidated {
			f.slotInvalidated, f.slotInvalidatedAtS = true, since(r)
		}
		if held >= cfg.quotaMB && !f.quotaReached {
			f.quotaReached, f.quotaReachedAtS = true, since(r)
		}
	}
	return f
}

// fillSeconds is how long size MB lasts at the measured WAL rate when every byte is kept.
func (f figures) fillSeconds(sizeMB float64) float64 {
	if f.walRateMBs <= 0 {
		return 0
	}
	return sizeMB / f.walRateMBs
}

// addMetrics writes the figures into a series' metrics.
func (f figures) addMetrics(m map[string]float64) {
	m[MetricWALRateMBS] = round2(f.walRateMBs)
	m[MetricWALWrittenMB] = round2(f.walWrittenMB)
	if f.walDirKnown {
		m[MetricPgWALStartMB] = round2(f.walDirStartMB)
		m[MetricPgWALPeakMB] = round2(f.walDirPeakMB)
		m[MetricPgWALEndMB] = round2(f.walDirEndMB)
	}
	if f.slot {
		m[MetricSlotRetainedPeakMB] = round2(f.slotRetainedPeakMB)
		m[MetricSlotRetainedEndMB] = round2(f.slotRetainedEndMB)
		m[MetricSlotInvalidated] = 0
		if f.slotInvalidated {
			m[MetricSlotInvalidated] = 1
			m[MetricSlotInvalidatedAtS] = round2(f.slotInvalidatedAtS)
		}
		if f.safeWALKnown {
			m[MetricSafeWALSizeMinMB] = round2(f.safeWALMinMB)
		}
	}
	m[MetricQuotaReached] = 0
	if f.quotaReached {
		m[MetricQuotaReached] = 1
		m[MetricQuotaReachedAtS] = round2(f.quotaReachedAtS)
	}
}

// addFillMetrics writes the arithmetic of how long the quota and the disk last.
func (f figures) addFillMetrics(m map[string]float64, cfg config, server serverWAL) {
	m[MetricQuotaMB] = cfg.quotaMB
	m[MetricDiskMB] = cfg.diskMB
	if s := f.fillSeconds(cfg.quotaMB); s > 0 {
		m[MetricQuotaFillS] = round2(s)
		m[MetricDiskFillHours] = round2(f.fillSeconds(cfg.diskMB) / 3600)
	}
	m[MetricMaxWALSizeMB] = server.maxWALMB
	m[MetricMaxSlotWALKeepSizeMB] = server.keepMB
}

// addTimeline puts, in each second of the timeline, the last reading taken in it: pg_wal_mb,
// slot_retained_mb, slot_lost, slot_safe_wal_mb (under max_slot_wal_keep_size: what may still
// be written before the slot is lost) and the quota_mb line.
func addTimeline(timeline []report.Second, readings []reading, start time.Time, quotaMB float64) {
	secondOf := func(at time.Time) int { // second t covers (start+(t-1)s, start+t s]
		off := at.Sub(start)
		if off <= 0 {
			return 0
		}
		return int((off + time.Second - 1) / time.Second)
	}
	last := map[int]reading{}
	for _, r := range readings {
		last[secondOf(r.at)] = r
	}
	for i := range timeline {
		sec := &timeline[i]
		r, ok := last[sec.T]
		if !ok {
			continue
		}
		if sec.Extra == nil {
			sec.Extra = map[string]float64{}
		}
		sec.Extra[ColumnQuotaMB] = quotaMB
		if r.walDirBytes != nil {
			sec.Extra[ColumnPgWALMB] = round2(*r.walDirBytes / mib)
		}
		if r.slotFound {
			sec.Extra[ColumnSlotRetainedMB] = 0
			if r.retainedBytes != nil {
				sec.Extra[ColumnSlotRetainedMB] = round2(*r.retainedBytes / mib)
			}
			sec.Extra[ColumnSlotLost] = 0
			if r.walStatus == "lost" {
				sec.Extra[ColumnSlotLost] = 1
			}
			if r.safeWALBytes != nil {
				sec.Extra[ColumnSlotSafeWALMB] = round2(*r.safeWALBytes / mib)
			}
		}
	}
}

// sentence says in one line what the variant showed, with the arithmetic of the quota and the disk.
func (f figures) sentence(variant string, cfg config, server serverWAL, noWalDir bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "wal-retention %s: WAL written at %.1f MB/s (%.0f MB in %.0f s); ", variant, f.walRateMBs, f.walWrittenMB, f.loadSeconds)
	if f.walDirKnown {
		fmt.Fprintf(&b, "pg_wal %.0f MB at the start, %.0f MB at the peak, %.0f MB at the end (max_wal_size %.0f MB); ",
			f.walDirStartMB, f.walDirPeakMB, f.walDirEndMB, server.maxWALMB)
	} else if noWalDir {
		b.WriteString("pg_wal's size unknown (pg_ls_waldir needs pg_monitor); ")
	}
	if f.slot {
		switch {
		case f.slotInvalidated:
			fmt.Fprintf(&b, "the slot held up to %.0f MB, then max_slot_wal_keep_size (%s) invalidated it %.1f s into the load (wal_status lost: "+
				"its consumer must be re-synced), and the WAL it held was freed; ", f.slotRetainedPeakMB, formatMB(server.keepMB), f.slotInvalidatedAtS)
		case server.keepMB >= 0:
			fmt.Fprintf(&b, "the slot holds %.0f MB, still within max_slot_wal_keep_size (%s); ", f.slotRetainedEndMB, formatMB(server.keepMB))
		default:
			fmt.Fprintf(&b, "the slot holds %.0f MB, every byte written since it was made, and nothing bounds it; ", f.slotRetainedEndMB)
		}
	}
	if f.quotaReached {
		fmt.Fprintf(&b, "the %s quota was reached %.1f s into the load; ", formatMB(cfg.quotaMB), f.quotaReachedAtS)
	} else {
		fmt.Fprintf(&b, "the %s quota was not reached; ", formatMB(cfg.quotaMB))
	}
	if s := f.fillSeconds(cfg.quotaMB); s > 0 {
		fmt.Fprintf(&b, "with an unattended slot, at %.1f MB/s of WAL a %s quota lasts %s and a %s disk lasts %s (size ÷ rate)",
			f.walRateMBs, formatMB(cfg.quotaMB), formatSpan(s), formatMB(cfg.diskMB), formatSpan(f.fillSeconds(cfg.diskMB)))
	}
	return strings.TrimSuffix(b.String(), "; ")
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// curvePoints is how many points the console's growth curve shows.
const curvePoints = 7

// curve renders the growth of what is held (pg_wal, or the slot's WAL where pg_wal cannot be
// read) at a few moments of the load, against the quota: "pg_wal 0s 32 MB, 10s 168 MB, …".
func curve(readings []reading, loadStart time.Time, quotaMB float64) string {
	if len(readings) < 2 {
		return ""
	}
	label, held := "pg_wal", func(r reading) (float64, bool) {
		if r.walDirBytes == nil {
			return 0, false
		}
		return *r.walDirBytes / mib, true
	}
	if readings[0].walDirBytes == nil {
		label, held = "WAL held by the slot", func(r reading) (float64, bool) {
			if r.retainedBytes == nil {
				return 0, false
			}
			return *r.retainedBytes / mib, true
		}
	}
	var parts []string
	last := -1
	for i := 0; i < curvePoints; i++ {
		j := i * (len(readings) - 1) / (curvePoints - 1)
		if j == last {
			continue
		}
		last = j
		if mb, ok := held(readings[j]); ok {
			parts = append(parts, fmt.Sprintf("%.0fs %.0f MB", max(0, readings[j].at.Sub(loadStart).Seconds()), mb))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("%s over the load: %s (quota %s; pg_wal is on the server's own disk, the quota a line to measure against)",
		label, strings.Join(parts, ", "), formatMB(quotaMB))
}
