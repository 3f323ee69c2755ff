package zombie

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
)

// summarize adds the scenario's metrics and its per-second figures to the series.
func (r *run) summarize(s *report.Series) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.Metrics == nil {
		s.Metrics = map[string]float64{}
	}
	m := s.Metrics
	ms := func(d time.Duration) float64 { return round3(float64(d.Microseconds()) / 1000) }

	m[MetricMaxConnections] = float64(r.cfg.maxConnections)
	m[MetricClientTimeoutMs] = ms(r.cfg.clientTimeout)
	m[MetricSlowQueryMs] = ms(r.cfg.slowQuery)
	m[MetricStatementTimeoutMs] = ms(r.cfg.statementTimeout)
	m[MetricCheckIntervalMs] = ms(r.cfg.checkInterval)
	m[MetricErrors53300] = float64(s.Errors[codeTooManyConnections] + s.Errors[loadgen.ClassTooManyReserved])
	m[MetricErrors57014] = float64(s.Errors[codeQueryCanceled])
	m[MetricClientTimeouts] = float64(r.clientTimeouts.Load()) // over the whole load, warm-up included, as the zombies
	m[MetricSlowRequests] = float64(r.slowStarted.Load())
	m[MetricClientsGoneMidQuery] = float64(r.clientGone.Load())

	peak := reading{}
	for _, rd := range r.readings {
		peak.zombies = max(peak.zombies, rd.zombies)
		peak.appConns = max(peak.appConns, rd.appConns)
		peak.connections = max(peak.connections, rd.connections)
	}
	m[MetricZombiesPeak] = float64(peak.zombies)
	m[MetricAppConnectionsPeak] = float64(peak.appConns)
	m[MetricConnectionsPeak] = float64(peak.connections)

	if first := r.first53300.Load(); first != 0 {
		at := time.Unix(0, first)
		if start := r.loadStart.Load(); start != 0 {
			m[MetricTimeToFirst53300S] = round3(at.Sub(time.Unix(0, start)).Seconds())
		}
		// The last reading before the refusal: what held the connections when it came.
		for _, rd := range r.readings {
			if rd.at.After(at) {
				break
			}
			m[MetricZombiesAtFirst53300] = float64(rd.zombies)
			m[MetricConnectionsAtFirst53300] = float64(rd.connections)
		}
	}

	lifetimes := slices.Clone(r.lifetimes)
	slices.Sort(lifetimes)
	m[MetricZombiesExited] = float64(len(lifetimes))
	if n := len(lifetimes); n > 0 {
		m[MetricZombieAfterCloseP50Ms] = ms(lifetimes[n/2])
		m[MetricZombieAfterCloseMaxMs] = ms(lifetimes[n-1])
	}
	left := 0
	for _, g := range r.abandoned {
		if g.probe == "" {
			left++
		}
	}
	m[MetricZombiesLeftAtEnd] = float64(left)

	for _, p := range r.probes {
		m[ProbeMetric(p.kind, MetricProbeQueryMs)] = ms(p.queryRan)
		m[ProbeMetric(p.kind, MetricProbeEndedBeforeClose)] = b2f(p.endedBeforeClose)
		m[ProbeMetric(p.kind, MetricProbeStillRunning)] = b2f(p.stillRunning)
		if !p.endedBeforeClose {
			m[ProbeMetric(p.kind, MetricProbeAfterCloseMs)] = ms(p.afterClose)
		} else if p.err != nil {
			if s.ErrorSamples == nil {
				s.ErrorSamples = map[string]string{}
			}
			s.ErrorSamples["probe_"+p.kind] = p.err.Error()
		}
	}
	if r.watchErr != nil && len(r.readings) == 0 {
		if s.ErrorSamples == nil {
			s.ErrorSamples = map[string]string{}
		}
		s.ErrorSamples["watcher"] = r.watchErr.Error()
	}

	// Per second: second t of the timeline covers (start+(t-1)s, start+t s].
	start := s.StartedAt
	for i := range s.Timeline {
		sec := &s.Timeline[i]
		lo, hi := start.Add(time.Duration(sec.T-1)*time.Second), start.Add(time.Duration(sec.T)*time.Second)
		extra := map[string]float64{}
		for _, rd := range r.readings {
			if !rd.at.After(lo) || rd.at.After(hi) {
				continue
			}
			extra[ColumnZombies] = max(extra[ColumnZombies], float64(rd.zombies))
			extra[ColumnAppConnections] = max(extra[ColumnAppConnections], float64(rd.appConns))
			extra[ColumnAppActive] = max(extra[ColumnAppActive], float64(rd.appActive))
			extra[ColumnConnections] = max(extra[ColumnConnections], float64(rd.connections))
		}
		if len(extra) == 0 {
			continue
		}
		if sec.Extra == nil {
			sec.Extra = extra
			continue
		}
		for k, v := range extra {
			sec.Extra[k] = v
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// sentence says in one line what the point showed, from its figures.
func (r *run) sentence(s report.Series) string {
	m := s.Metrics
	var b strings.Builder
	fmt.Fprintf(&b, "zombie-queries %s %s: ", r.pt.Variant, report.PointString(r.pt.Values))
	fmt.Fprintf(&b, "%.0f slow requests, %.0f given up by the web tier after %s; ",
		m[MetricSlowRequests], m[MetricClientTimeouts], r.cfg.clientTimeout)
	fmt.Fprintf(&b, "zombie backends peaked at %.0f, connections at %.0f of %d; ",
		m[MetricZombiesPeak], m[MetricConnectionsPeak], r.cfg.maxConnections)
	if t, ok := m[MetricTimeToFirst53300S]; ok {
		fmt.Fprintf(&b, "the first 53300 came %.1f s into the load with %.0f zombies holding connections (53300 ×%.0f); ",
			t, m[MetricZombiesAtFirst53300], m[MetricErrors53300])
	} else {
		b.WriteString("no 53300; ")
	}
	if _, ok := m[MetricZombieAfterCloseP50Ms]; ok {
		fmt.Fprintf(&b, "a backend lived on %.1f s after its client left (p50; max %.1f s); ",
			m[MetricZombieAfterCloseP50Ms]/1000, m[MetricZombieAfterCloseMaxMs]/1000)
	}
	if n := m[MetricErrors57014]; n > 0 {
		fmt.Fprintf(&b, "statement_timeout %s canceled %.0f queries; ", r.cfg.statementTimeout, n)
	}
	var probes []string
	for _, kind := range []string{kindSleep, kindCPU} {
		prefix := "probe_" + kind + "_"
		if _, ran := m[prefix+"query_ms"]; !ran {
			continue
		}
		switch {
		case m[prefix+"ended_before_close"] == 1:
			probes = append(probes, fmt.Sprintf("the %s query ended after %.2f s, before its client left", kind, m[prefix+"query_ms"]/1000))
		case m[prefix+"still_running"] == 1:
			probes = append(probes, fmt.Sprintf("the %s query still ran %.1f s after its client left", kind, m[prefix+"after_close_ms"]/1000))
		default:
			probes = append(probes, fmt.Sprintf("the %s query's backend exited %.2f s after its client left (%.2f s after the query began)",
				kind, m[prefix+"after_close_ms"]/1000, m[prefix+"query_ms"]/1000))
		}
	}
	if len(probes) > 0 {
		fmt.Fprintf(&b, "probes: %s", strings.Join(probes, ", "))
	}
	return strings.TrimSuffix(b.String(), "; ")
}
