package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"

	"github.com/pgscale/pgscale/result"
)

// GoBenchName is a series' benchmark name: Benchmark<Scenario>/variant=<v>/<key>=<value>… with
// the point's keys in order, e.g. BenchmarkSelectOnly/variant=prepared/connect=pool/workers=8.
// benchstat reads the key=value parts as sub-benchmark keys (-row /workers, -col /variant).
func GoBenchName(scenario, variant string, point map[string]any) string {
	var b strings.Builder
	b.WriteString("Benchmark")
	up := true
	for _, r := range scenario {
		if r == '-' || r == '_' || unicode.IsSpace(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	b.WriteString("/variant=" + benchValue(variant))
	keys := make([]string, 0, len(point))
	for k := range point {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("/" + benchValue(k) + "=" + benchValue(fmt.Sprint(point[k])))
	}
	return b.String()
}

// benchValue keeps a name part inside its field: no spaces (they end the name) and no slashes
// or equals signs (they separate sub-benchmark keys).
func benchValue(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '/' || r == '=' {
			return '_'
		}
		return r
	}, s)
}

// WriteGoBench writes results in the Go benchmark format, one line per series and repeat, so that
// `benchstat old.txt new.txt` compares pgscale runs unchanged. The iteration count is the
// series' successful operations. A result whose headline is a metric of its own (ingest's rows/s)
// adds it as one more unit.
func WriteGoBench(w io.Writer, results []*Result) error {
	var b strings.Builder
	if len(results) > 0 {
		h := results[0].Environment.Host
		// Only configuration that is the same between comparable runs: benchstat splits its
		// tables by configuration, so a run ID here would keep two runs from being compared.
		if h.OS != "" {
			fmt.Fprintf(&b, "goos: %s\n", h.OS)
		}
		if h.Arch != "" {
			fmt.Fprintf(&b, "goarch: %s\n", h.Arch)
		}
		if h.CPUModel != "" {
			fmt.Fprintf(&b, "cpu: %s\n", h.CPUModel)
		}
	}
	units := append([]result.BenchUnit(nil), result.BenchUnits...)
	for _, r := range results {
		if h := HeadlineOf(r); h.OwnMetric() && !hasUnit(units, h.Unit) {
			units = append(units, result.BenchUnit{Unit: h.Unit, Better: h.Better})
		}
	}
	for _, u := range units {
		fmt.Fprintf(&b, "Unit %s better=%s\n", u.Unit, u.Better)
	}
	for _, r := range results {
		env := r.Environment
		// A comment line (benchfmt skips it) saying where the figures come from.
		fmt.Fprintf(&b, "# pgscale %s run %s (%s), target %s, PostgreSQL %s, duration %s + warm-up %s\n",
			r.Scenario, r.RunID, r.Status, env.Target, env.ServerVersion, r.Duration, r.Warmup)
		h := HeadlineOf(r)
		for _, s := range r.Series {
			fmt.Fprintf(&b, "%s\t%d\t%.1f ops/s\t%.3f p50-ms\t%.3f p99-ms\t%.3f p99.9-ms\t%d errors",
				GoBenchName(r.Scenario, s.Variant, s.Point), s.Ops, s.ThroughputPerS,
				s.LatencyMs.P50, s.LatencyMs.P99, s.LatencyMs.P999, TotalErrors(s))
			if v, ok := h.Of(&s); ok && h.OwnMetric() {
				fmt.Fprintf(&b, "\t%.1f %s", v, h.Unit)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write go benchmark format: %w", err)
	}
	return nil
}

func hasUnit(units []result.BenchUnit, unit string) bool {
	for _, u := range units {
		if u.Unit == unit {
			return true
		}
	}
	return false
}

// GoBench is WriteGoBench into a string.
func GoBench(results ...*Result) string {
	var b strings.Builder
	_ = WriteGoBench(&b, results)
	return b.String()
}
