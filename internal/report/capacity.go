package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// SLO is a service-level objective a capacity probe must meet: each term a latency percentile
// (of latency from the intended start) or the error rate below a bound.
type SLO struct {
	Text  string
	Terms []SLOTerm
}

// SLOTerm is one bound: Metric p50|p90|p99|p999|max below Bound milliseconds, or errors below
// Bound percent of operations; OrEqual for <=.
type SLOTerm struct {
	Metric  string
	Bound   float64
	OrEqual bool
}

var sloLatencyMetrics = []string{"p50", "p90", "p99", "p999", "max"}

// ParseSLO reads "p99<50ms,errors<0.1%". Errors name the bad term and what is valid.
func ParseSLO(text string) (SLO, error) {
	slo := SLO{Text: strings.TrimSpace(text)}
	if slo.Text == "" {
		return slo, errors.New("--slo is empty: want terms like 'p99<50ms,errors<0.1%'")
	}
	for _, raw := range strings.Split(slo.Text, ",") {
		term := strings.TrimSpace(raw)
		m, b, orEqual := strings.Cut(term, "<=")
		if !orEqual {
			var found bool
			if m, b, found = strings.Cut(term, "<"); !found {
				return SLO{}, fmt.Errorf("--slo term %q: want metric<bound, e.g. p99<50ms or errors<0.1%%", term)
			}
		}
		t, err := parseSLOTerm(strings.ToLower(strings.TrimSpace(m)), strings.TrimSpace(b), orEqual)
		if err != nil {
			return SLO{}, fmt.Errorf("--slo term %q: %w", term, err)
		}
		slo.Terms = append(slo.Terms, t)
	}
	return slo, nil
}

func parseSLOTerm(metric, bound string, orEqual bool) (SLOTerm, error) {
	t := SLOTerm{Metric: metric, OrEqual: orEqual}
	switch {
	case metric == "errors":
		num, ok := strings.CutSuffix(bound, "%")
		if !ok {
			return t, errors.New("the error bound needs its unit, %: e.g. errors<0.1%")
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(v) {
			return t, fmt.Errorf("%q is not a number", num)
		}
		if v < 0 || (v == 0 && !orEqual) || v > 100 {
			return t, fmt.Errorf("errors<%s%% can never hold: the bound is a share of operations, above 0%% and at most 100%%", num)
		}
		t.Bound = v
	case isLatencyMetric(metric):
		i := strings.IndexFunc(bound, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.' || r == '-' || r == '+') })
		if i < 0 {
			return t, fmt.Errorf("the bound %q needs a unit: ms, s or us (e.g. %s<50ms)", bound, metric)
		}
		d, err := time.ParseDuration(strings.ReplaceAll(bound, "µ", "u"))
		if err != nil {
			return t, fmt.Errorf("the bound %q: want a number and a unit, ms, s or us (e.g. %s<50ms)", bound, metric)
		}
		if d <= 0 {
			return t, fmt.Errorf("%s<%s can never hold: a latency is more than 0", metric, bound)
		}
		t.Bound = float64(d) / float64(time.Millisecond)
	default:
		return t, fmt.Errorf("unknown metric %q; valid: %s, errors", metric, strings.Join(sloLatencyMetrics, ", "))
	}
	return t, nil
}

func isLatencyMetric(m string) bool {
	for _, v := range sloLatencyMetrics {
		if m == v {
			return true
		}
	}
	return false
}

// String is the SLO as it was given.
func (s SLO) String() string { return s.Text }

// LatencyTerm is the SLO's latency bound for the sentence ("p99 < 50 ms"), "" when it has none.
func (s SLO) LatencyTerm() string {
	for _, t := range s.Terms {
		if t.Metric != "errors" {
			op := "<"
			if t.OrEqual {
				op = "≤"
			}
			return fmt.Sprintf("%s %s %s ms", t.Metric, op, formatNum(t.Bound))
		}
	}
	return s.Text
}

// Check says which terms a series broke (none: it met the SLO). A series that completed less
// than keptUp of its offered rate broke it too: its queue grew through the probe.
func (s SLO) Check(sr Series, keptUp float64) []string {
	var broke []string
	for _, t := range s.Terms {
		var v float64
		unit := " ms"
		switch t.Metric {
		case "errors":
			total := sr.Ops + TotalErrors(sr)
			if total > 0 {
				v = 100 * float64(TotalErrors(sr)) / float64(total)
			}
			unit = "%"
		case "p50":
			v = sr.LatencyMs.P50
		case "p90":
			v = sr.LatencyMs.P90
		case "p99":
			v = sr.LatencyMs.P99
		case "p999":
			v = sr.LatencyMs.P999
		case "max":
			v = sr.LatencyMs.Max
		}
		if v > t.Bound || (v == t.Bound && !t.OrEqual) {
			broke = append(broke, fmt.Sprintf("%s %s%s over %s%s", t.Metric, formatNum(v), unit, formatNum(t.Bound), unit))
		}
	}
	if sr.RatePerS > 0 && sr.ThroughputPerS < keptUp*sr.RatePerS {
		broke = append(broke, fmt.Sprintf("fell behind: %s/s of %s/s done", formatNum(sr.ThroughputPerS), formatNum(sr.RatePerS)))
	}
	return broke
}

// CapacitySentence is "capacity 2,340 tx/s at p99 < 50 ms; past it, server CPU bound (97% of 2
// CPUs), top wait LWLock:WALWrite".
func CapacitySentence(c *Capacity, slo SLO, cpus float64) string {
	var b strings.Builder
	if c.RatePerS > 0 {
		fmt.Fprintf(&b, "capacity %s %s at %s", groupThousands(c.RatePerS), c.Unit, slo.LatencyTerm())
	} else {
		fmt.Fprintf(&b, "no rate probed met %s", slo.Text)
	}
	if len(slo.Terms) > 1 {
		fmt.Fprintf(&b, " (SLO %s)", slo.Text)
	}
	d := c.Diagnosis
	switch {
	case c.BrokenAtPerS == nil:
		b.WriteString("; the search's highest rate still met it")
	case d != nil && d.Bound == BoundOfferedRate:
		b.WriteString("; past it, nothing saturated: it kept up, but latency spikes broke the SLO")
		if d.HostCPUPct != nil && *d.HostCPUPct >= 100*diagCPUBusy {
			fmt.Fprintf(&b, " while the host was %s%% busy", formatNum(math.Round(*d.HostCPUPct)))
		}
		if d.ServerCPUPct != nil {
			fmt.Fprintf(&b, " (server CPU %s%% of %s CPU%s)", formatNum(*d.ServerCPUPct), fmtCPUs(cpus), plural(int(cpus)))
		}
	case d != nil:
		fmt.Fprintf(&b, "; past it, %s bound", BoundLabel(d.Bound))
		if d.Bound == BoundServerCPU && d.ServerCPUPct != nil {
			fmt.Fprintf(&b, " (%s%% of %s CPU%s)", formatNum(*d.ServerCPUPct), fmtCPUs(cpus), plural(int(cpus)))
		}
		if d.Bound == BoundClientCPU {
			b.WriteString(" (a floor: the client side, not the server, gave out)")
		}
		if len(d.TopWaits) > 0 {
			fmt.Fprintf(&b, ", top wait %s", d.TopWaits[0].Event)
		}
	}
	return b.String()
}

// groupThousands is 2340 as "2,340".
func groupThousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
