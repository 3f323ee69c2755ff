package report

import (
	"fmt"
	"strings"
)

// errorNames names the SQLSTATEs and client classes the scenarios meet, for sentences.
var errorNames = map[string]string{
	"53300":          "too_many_connections",
	"53300_reserved": "too_many_connections",
	"55P03":          "lock_not_available",
	"57014":          "query_canceled",
	"40001":          "serialization_failure",
	"40P01":          "deadlock_detected",
	"25P03":          "idle_in_transaction_session_timeout",
	"57P01":          "admin_shutdown",
	"08006":          "connection_failure",
	"53200":          "out_of_memory",
}

// errorFamily folds a class into the SQLSTATE a reader knows: 53300_reserved is a 53300.
func errorFamily(class string) string {
	if code, _, ok := strings.Cut(class, "_reserved"); ok && code == "53300" {
		return "53300"
	}
	return class
}

func errorFamilyLabel(class string) string {
	f := errorFamily(class)
	if n, ok := errorNames[f]; ok {
		return f + " " + n
	}
	return f
}

// Findings says in sentences what a run found, computed from its figures: error onset, the
// knee against the SLO (ms of p99; 0 for none), how the variants compare, where throughput
// stopped growing, and how much repeats varied.
func Findings(run *Run, slo float64) []string {
	slo = run.LatencySLO(slo)
	var out []string
	for _, r := range run.Results {
		switch r.Status {
		case StatusInterrupted, StatusFailed:
			verb := "was interrupted"
			if r.Status == StatusFailed {
				verb = "failed"
			}
			msg := fmt.Sprintf("The run %s %s", r.RunID, verb)
			if r.Reason != "" {
				msg += ": " + r.Reason
			}
			out = append(out, msg+"; its figures cover only what was measured before.")
		case StatusRunning:
			out = append(out, fmt.Sprintf("The run %s is still running, or was killed before it could say so (status running): "+
				"its figures cover only what was measured so far.", r.RunID))
		case StatusIncomplete:
			out = append(out, fmt.Sprintf("The sharded run %s is incomplete: %s; its figures cover only what the shards that finished measured.", r.RunID, r.Reason))
		}
	}
	if len(run.Groups) == 0 {
		return append(out, "No series were measured.")
	}
	var idle []string
	for _, g := range run.Groups {
		if g.Ops == 0 {
			idle = append(idle, run.ShortLabel(g))
		}
	}
	if len(idle) > 0 {
		out = append(out, fmt.Sprintf("No operation succeeded in %s: its figures are empty.", joinAndAtMost(idle, maxListed)))
	}
	out = append(out, unstartedFindings(run)...)
	h := run.Headline
	x, swept := run.Swept()
	if swept {
		lines := run.SweepLines(x, slo)
		out = append(out, errorOnsetFindings(run, x, lines, run.Unswept(x))...)
		out = append(out, sloFindings(x, lines, slo)...)
		out = append(out, saturationFindings(x, lines, h)...)
		// The variants that do not take the swept parameter are described as in a run without
		// a sweep (their errors by errorOnsetFindings).
		out = append(out, groupSLOFindings(run, run.Unswept(x), slo)...)
	} else {
		out = append(out, groupErrorFindings(run, run.Groups)...)
		out = append(out, groupSLOFindings(run, run.Groups, slo)...)
	}
	out = append(out, errorShareFindings(run)...)
	out = append(out, variantFindings(run)...)
	out = append(out, capacityFindings(run)...)
	out = append(out, sentenceFindings(run)...)
	out = append(out, diagnosisFindings(run)...)
	if len(run.Variants()) == 1 && len(run.Groups) == 1 {
		g := run.Groups[0]
		// "ran at 52000 rows/s (52 ops/s)"; a figure where lower is better is not a rate:
		// "measured 180 B/row and ran at 52000 ops/s".
		rate := "ran at " + formatNum(g.Throughput) + " " + h.OpsUnit()
		switch {
		case h.OwnMetric() && g.HasHeadline && h.HigherIsBetter():
			rate = fmt.Sprintf("ran at %s %s (%s ops/s)", formatNum(g.Headline), h.Unit, formatNum(g.Throughput))
		case h.OwnMetric() && g.HasHeadline:
			rate = fmt.Sprintf("measured %s %s and %s", formatNum(g.Headline), h.Unit, rate)
		}
		out = append(out, fmt.Sprintf("%s %s with p50 %s ms, p99 %s ms and p99.9 %s ms.",
			g.Label(), rate, formatNum(g.Latency.P50), formatNum(g.Latency.P99), formatNum(g.Latency.P999)))
	}
	out = append(out, noiseFindings(run)...)
	total := int64(0)
	for _, g := range run.Groups {
		total += g.TotalErrors()
	}
	if total == 0 {
		out = append(out, "No errors in any series.")
	}
	return out
}

// xPhrase says a swept value the way a person would: "60 concurrent workers", "batch=100".
func xPhrase(name string, v any) string {
	switch name {
	case "workers":
		return fmt.Sprintf("%v concurrent workers", v)
	case "concurrency":
		return fmt.Sprintf("a concurrency of %v", v)
	}
	return fmt.Sprintf("%s=%v", name, v)
}

// context of a line: its fixed dimensions plus max_connections when it is a point value that
// does not vary (the server limit the errors meet).
func lineContext(run *Run, l *Line) string {
	ctx := map[string]any{}
	for k, v := range l.Fixed {
		ctx[k] = v
	}
	if len(l.Groups) > 0 {
		if v, ok := l.Groups[0].Point["max_connections"]; ok {
			ctx["max_connections"] = v
		}
	}
	if _, ok := ctx["max_connections"]; !ok && len(run.Results) == 1 {
		if v, ok := run.Results[0].Environment.Settings["max_connections"]; ok {
			ctx["max_connections"] = v
		}
	}
	if len(ctx) == 0 {
		return ""
	}
	return " (" + strings.ReplaceAll(PointString(ctx), " ", ", ") + ")"
}
