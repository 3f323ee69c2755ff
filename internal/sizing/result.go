package sizing

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// ConnectStorm is the scenario whose results a workload can be read from.
const ConnectStorm = "connect-storm"

// ResultInfo says which result and which of its series a workload was read from.
type ResultInfo struct {
	File     string         `json:"file"`
	RunID    string         `json:"run_id"`
	Scenario string         `json:"scenario"`
	Target   string         `json:"target"`
	Server   string         `json:"server_version"`
	Variant  string         `json:"variant"`
	Point    map[string]any `json:"point"`
	Label    string         `json:"label"`
}

// measured is what a connect-storm series gives the model.
type measured struct {
	info     ResultInfo
	rate     Quantity
	hold     Quantity
	db       Quantity
	cpu      Quantity
	connects Quantity
	perConn  *Quantity
	p99      *Quantity
	warnings []string
}

// readMeasured reads a connect-storm result and picks its series: the given variant and workers
// if set, else the error-free series with the highest throughput (the load the run carried
// without 53300), else the highest throughput with a warning.
func readMeasured(path, variant string, workers int) (*measured, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, usagef("from_result.file: %s: %v", displayPath(path), unwrapPath(err))
	}
	res, err := result.ReadFile(path)
	if err != nil {
		return nil, usagef("from_result.file: %v", err)
	}
	if res.Scenario != ConnectStorm {
		return nil, usagef("from_result.file: %s is a %q result; want a %s result (pgscale run %s), "+
			"which measures the rate, the time in the database and the memory per backend",
			displayPath(path), res.Scenario, ConnectStorm, ConnectStorm)
	}
	if res.Status == result.StatusFailed {
		return nil, usagef("from_result.file: %s is a failed run (%s); size from a run that finished", displayPath(path), res.Reason)
	}
	var cands []result.Series
	var variants []string
	var workerSet []int
	for _, s := range res.Series {
		if !slices.Contains(variants, s.Variant) {
			variants = append(variants, s.Variant)
		}
		if !slices.Contains(workerSet, s.Workers) {
			workerSet = append(workerSet, s.Workers)
		}
		if variant != "" && s.Variant != variant {
			continue
		}
		if workers > 0 && s.Workers != workers {
			continue
		}
		if s.ThroughputPerS <= 0 {
			continue
		}
		cands = append(cands, s)
	}
	sort.Ints(workerSet)
	if len(cands) == 0 {
		return nil, usagef("from_result: %s has no series with throughput for variant=%q workers=%d; it has variants %s and workers %s",
			displayPath(path), variant, workers, strings.Join(variants, ", "), joinInts(workerSet))
	}
	m := &measured{}
	if res.Status == result.StatusInterrupted {
		m.warnings = append(m.warnings, fmt.Sprintf("%s was interrupted; its figures cover part of the run", displayPath(path)))
	}
	best := -1
	for i, s := range cands {
		if report.TotalErrors(s) == 0 && (best < 0 || s.ThroughputPerS > cands[best].ThroughputPerS) {
			best = i
		}
	}
	if best < 0 {
		for i, s := range cands {
			if best < 0 || s.ThroughputPerS > cands[best].ThroughputPerS {
				best = i
			}
		}
		m.warnings = append(m.warnings, "every series read had errors; sizing from the fastest one, whose rate includes refused requests' slots")
	}
	s := cands[best]
	label := fmt.Sprintf("%s %s %s", res.RunID, s.Variant, report.PointString(s.Point))
	m.info = ResultInfo{
		File: displayPath(path), RunID: res.RunID, Scenario: res.Scenario, Target: res.Environment.Target,
		Server: res.Environment.ServerVersion, Variant: s.Variant, Point: s.Point, Label: label,
	}
	src := func(what string) string { return "measured: " + what }

	m.rate = Quantity{s.ThroughputPerS, src("throughput")}
	dbMs, ok := s.Metrics[result.MetricLittlesDBTimeMs]
	if !ok || dbMs <= 0 {
		return nil, usagef("from_result.file: %s series %s has no littles_db_time_ms; it was written by an older connect-storm: run it again",
			displayPath(path), label)
	}
	m.db = Quantity{dbMs / 1000, src("statement time, littles_db_time_ms")}
	// Each request holds its connection for the whole request; a warm instance holds it
	// between requests too, so this is the least it holds.
	hold := s.LatencyMs.Mean
	if hold < dbMs {
		hold = dbMs
	}
	m.hold = Quantity{hold / 1000, src("mean request latency")}

	// CPU per request, the smaller of two upper bounds: the statement's time less its pg_sleep
	// (wall time, at least the CPU it used), and the whole host's cores over the throughput
	// (the server cannot have used more than every core).
	work := paramDuration(res.Params["work"])
	stmt := dbMs/1000 - work.Seconds()
	hostBound := math.Inf(1)
	// The host bound holds where the server ran on the load generator's host (local, docker),
	// not for a dsn target.
	if cores := res.Environment.Host.Cores; cores > 0 && res.Environment.Target != "dsn" {
		hostBound = float64(cores) / s.ThroughputPerS
	}
	switch {
	case stmt > 0 && stmt <= hostBound:
		m.cpu = Quantity{stmt, src(fmt.Sprintf("statement time less its %s pg_sleep, an upper bound of CPU", work))}
	case !math.IsInf(hostBound, 1):
		m.cpu = Quantity{hostBound, src(fmt.Sprintf("%d host cores / throughput, an upper bound of CPU", res.Environment.Host.Cores))}
	default:
		m.cpu = Quantity{dbMs / 1000, src("statement time, all counted as CPU (an upper bound)")}
	}

	if c, ok := s.Metrics[result.MetricConnectsPerRequest]; ok {
		m.connects = Quantity{math.Min(c, 1), src("connects_per_request")}
	} else {
		m.connects = Quantity{0, "default: connections are reused"}
	}
	if kb, ok := s.Metrics[result.MetricBackendPrivateKBMean]; ok && kb > 0 {
		n := s.Metrics[result.MetricBackendMemorySamples]
		m.perConn = &Quantity{kb / 1024, src(fmt.Sprintf("private memory of %.0f backends, smaps_rollup", n))}
	} else if kb, ok := s.Metrics[result.MetricBackendContextKB]; ok && kb > 0 {
		m.perConn = &Quantity{kb / 1024, src("memory contexts of one backend after a request, a lower bound")}
	}
	if s.LatencyMs.P99 > 0 {
		m.p99 = &Quantity{s.LatencyMs.P99 / 1000, src("request latency p99")}
	}
	return m, nil
}

// paramDuration reads a duration parameter of a result ("50ms"); 0 when absent or unreadable.
func paramDuration(v any) time.Duration {
	s, ok := v.(string)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}
