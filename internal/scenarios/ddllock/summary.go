package ddllock

// A point's summary metrics and its headline sentence.

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// summarize adds the scenario's metrics and its per-second figures to the series.
func (r *run) summarize(s *result.Series) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.Metrics == nil {
		s.Metrics = map[string]float64{}
	}
	m := s.Metrics
	start := s.StartedAt
	sinceStart := func(t time.Time) float64 { return round3(t.Sub(start).Seconds()) }

	m[MetricErrors53300] = float64(s.Errors[codeTooManyConnections] + s.Errors[loadgen.ClassTooManyReserved])
	m[MetricErrors55P03] = float64(s.Errors[codeLockNotAvailable])
	m[MetricErrors57014] = float64(s.Errors[codeQueryCanceled])

	if !r.blockerIv.from.IsZero() {
		m[MetricBlockerFromS] = sinceStart(r.blockerIv.from)
		if !r.blockerIv.to.IsZero() {
			m[MetricBlockerHeldMs] = round3(float64(r.blockerIv.to.Sub(r.blockerIv.from).Microseconds()) / 1000)
		}
	}
	issued, done := r.ddlIssued.Load(), r.ddlDone.Load()
	m[MetricDDLSucceeded] = 0
	m[MetricDDLRetries] = float64(r.retries)
	if issued != 0 {
		m[MetricDDLIssuedAtS] = sinceStart(time.Unix(0, issued))
	}
	if done != 0 {
		m[MetricDDLSucceeded] = 1
		m[MetricDDLDurationMs] = round3(float64(done-issued) / 1e6)
	}
	if issued != 0 {
		if first := r.first53300.Load(); first >= issued {
			m[MetricTimeToConnectionExhaustionS] = round3(float64(first-issued) / 1e9)
		} else if t, ok := first53300Second(s.Timeline, start, time.Unix(0, issued)); ok {
			// The pool met it (outside the operation): the timeline's second is the best we know.
			m[MetricTimeToConnectionExhaustionS] = round3(t)
		}
	}
	if b, d := m[MetricAppBeforeDDLP99Ms], m[MetricAppDuringDDLP99Ms]; b > 0 && d > 0 {
		m[MetricAppP99DuringOverBefore] = round3(d / b)
	}
	maxQueue, maxConns := 0, 0
	for _, rd := range r.readings {
		maxQueue, maxConns = max(maxQueue, rd.queue), max(maxConns, rd.appConns)
	}
	m[MetricMaxLockQueueDepth] = float64(maxQueue)
	m[MetricMaxAppConnections] = float64(maxConns)
	if r.cfg.variant == VariantLongQueries {
		m[MetricLongQueriesStarted] = float64(r.lrqStarted.Load())
		m[MetricLongQueriesCanceled] = float64(r.lrqCancel.Load())
		m[MetricStatementTimeoutMs] = float64(r.cfg.statementTimeout.Milliseconds())
	}
	if r.cfg.variant == VariantLockTimeout {
		m[MetricLockTimeoutMs] = float64(r.cfg.lockTimeout.Milliseconds())
	}
	if r.cfg.blocker == blockerVacuum {
		m[MetricVacuumCostDelayMs] = round3(r.vacuumDelayMs)
		m[MetricVacuumCostUnits] = float64(r.vacuumUnits)
	}
	if r.watchErr != nil && len(r.readings) == 0 {
		if s.ErrorSamples == nil {
			s.ErrorSamples = map[string]string{}
		}
		s.ErrorSamples["watcher"] = r.watchErr.Error()
	}

	// Per second: second t of the timeline covers (start+(t-1)s, start+t s].
	secondOf := func(at time.Time) int {
		off := at.Sub(start)
		if off <= 0 {
			return 0
		}
		return int((off + time.Second - 1) / time.Second)
	}
	overlaps := func(iv interval, t int) bool {
		if iv.from.IsZero() {
			return false
		}
		to := iv.to
		if to.IsZero() {
			to = start.Add(time.Duration(len(s.Timeline)+1) * time.Second)
		}
		lo, hi := start.Add(time.Duration(t-1)*time.Second), start.Add(time.Duration(t)*time.Second)
		return iv.from.Before(hi) && to.After(lo)
	}
	for i := range s.Timeline {
		sec := &s.Timeline[i]
		extra := map[string]float64{}
		seen := false
		for _, rd := range r.readings {
			if secondOf(rd.at) != sec.T {
				continue
			}
			if !seen {
				extra[ColumnLockQueueDepth], extra[ColumnAppConnections] = 0, 0
				if r.cfg.variant == VariantLongQueries {
					extra[ColumnLongQueriesRunning] = 0
				}
				seen = true
			}
			extra[ColumnLockQueueDepth] = max(extra[ColumnLockQueueDepth], float64(rd.queue))
			extra[ColumnAppConnections] = max(extra[ColumnAppConnections], float64(rd.appConns))
			if r.cfg.variant == VariantLongQueries {
				extra[ColumnLongQueriesRunning] = max(extra[ColumnLongQueriesRunning], float64(rd.longRunning))
			}
		}
		extra[result.ColumnBlockerHolding] = 0
		if overlaps(r.blockerIv, sec.T) {
			extra[result.ColumnBlockerHolding] = 1
		}
		extra[result.ColumnDDLWaiting], extra[ColumnDDLAttempts] = 0, 0
		for _, a := range r.attempts {
			if overlaps(a, sec.T) {
				extra[result.ColumnDDLWaiting] = 1
			}
			if secondOf(a.from) == sec.T {
				extra[ColumnDDLAttempts]++
			}
		}
		if sec.Extra == nil {
			sec.Extra = extra
		} else {
			for k, v := range extra {
				sec.Extra[k] = v
			}
		}
	}
}

// first53300Second finds the first timeline second at or after from with a 53300, and returns
// how long after from that second began (0 when from falls inside it).
func first53300Second(timeline []result.Second, start, from time.Time) (float64, bool) {
	for _, sec := range timeline {
		if sec.ErrorsBy[codeTooManyConnections]+sec.ErrorsBy[loadgen.ClassTooManyReserved] == 0 {
			continue
		}
		begins := start.Add(time.Duration(sec.T-1) * time.Second)
		if !start.Add(time.Duration(sec.T) * time.Second).After(from) {
			continue
		}
		return max(0, begins.Sub(from).Seconds()), true
	}
	return 0, false
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// sentence says in one line what the point showed, from its figures.
func (r *run) sentence(s result.Series) string {
	m := s.Metrics
	var b strings.Builder
	fmt.Fprintf(&b, "ddl-lock %s %s: ", r.pt.Variant, report.PointString(r.pt.Values))
	if m[MetricDDLIssuedAtS] == 0 {
		b.WriteString("the ALTER was never issued")
		return b.String()
	}
	switch {
	case m[MetricDDLSucceeded] == 1 && m[MetricDDLRetries] > 0:
		fmt.Fprintf(&b, "the ALTER succeeded after %.0f retries (lock_timeout %s), %.1f s after it was first issued; ",
			m[MetricDDLRetries], r.cfg.lockTimeout, m[MetricDDLDurationMs]/1000)
	case m[MetricDDLSucceeded] == 1:
		fmt.Fprintf(&b, "the ALTER waited %.1f s for its lock; ", m[MetricDDLDurationMs]/1000)
	default:
		b.WriteString("the ALTER never got its lock before the run ended; ")
	}
	fmt.Fprintf(&b, "the lock queue on users peaked at %.0f sessions; ", m[MetricMaxLockQueueDepth])
	if t, ok := m[MetricTimeToConnectionExhaustionS]; ok {
		fmt.Fprintf(&b, "max_connections (%d) was reached %.1f s after the ALTER started (53300 ×%.0f); ",
			r.cfg.maxConnections, t, m[MetricErrors53300])
	}
	if before, during := m[MetricAppBeforeDDLP99Ms], m[MetricAppDuringDDLP99Ms]; before > 0 && during > 0 {
		fmt.Fprintf(&b, "application p99 %.1f ms before the ALTER, %.1f ms while it was in progress (×%.1f); ",
			before, during, during/before)
	}
	if r.cfg.variant == VariantLongQueries {
		fmt.Fprintf(&b, "%.0f long queries, %.0f canceled by statement_timeout %s; ",
			m[MetricLongQueriesStarted], m[MetricLongQueriesCanceled], timeoutString(r.cfg.statementTimeout))
	}
	if n := m[result.MetricAbandonedOps]; n > 0 {
		fmt.Fprintf(&b, "requests still waiting when the run ended: %.0f; ", n)
	}
	fmt.Fprintf(&b, "the application saw %d errors (%s)", report.TotalErrors(s), report.ErrorString(s.Errors))
	return b.String()
}
