package calibrate

import (
	"fmt"
	"io"
	"runtime"

	"github.com/jackc/pgx/v5"
	"github.com/montanaflynn/stats"

	"github.com/pgscale/pgscale/internal/loadgen/mux"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
)

// What the throughput gap between pgscale and pgbench is made of: each side's client CPU per
// operation, and whether either side ran out of CPU of its own (client-bound), in which case its
// throughput describes the client rather than the server.

// CPURatio is pgscale's client CPU per transaction over pgbench's (0 when either is missing).
func (p Pair) CPURatio() float64 {
	ours, theirs := p.Pgscale.CPUPer1k(), p.Pgbench.CPUPer1k()
	if ours == 0 || theirs == 0 {
		return 0
	}
	return ours / theirs
}

// Busy is the cores the side kept busy on average: client CPU seconds over wall seconds.
func (s Sample) Busy() float64 {
	if s.WallSeconds <= 0 {
		return 0
	}
	return s.CPUSeconds / s.WallSeconds
}

// ClientBoundShare is the share of the cores a client can use at which it counts as client-bound:
// beyond it, more throughput would have needed more client CPU, not a faster server.
const ClientBoundShare = 0.9

// HostShare is the share of the host's cores beyond which a client on the server's host takes
// enough CPU from the server to shape its throughput.
const HostShare = 0.5

// clientBound says why s ran client-bound, or "" when it did not. usable is how many cores the
// client can keep busy at most (its threads, or its clients when fewer); cores is the host's.
func clientBound(s Sample, usable, cores int) string {
	busy := s.Busy()
	switch {
	case busy >= ClientBoundShare*float64(usable):
		return fmt.Sprintf("kept %.2f of the %d cores it can use busy", busy, usable)
	case busy >= HostShare*float64(cores):
		return fmt.Sprintf("kept %.2f of the host's %d cores busy", busy, cores)
	}
	return ""
}

// MedianCPURatio is the median of the pairs' client CPU ratios for mode on engine.
func (r Report) MedianCPURatio(mode, engine string) float64 {
	var ratios []float64
	for _, p := range r.Pairs {
		if p.Mode == mode && p.Engine == engine {
			ratios = append(ratios, p.CPURatio())
		}
	}
	return median(ratios)
}

// median is the median of xs, 0 when there are none.
func median(xs []float64) float64 {
	m, err := stats.Median(xs)
	if err != nil {
		return 0
	}
	return m
}

// cpuGoal is the bar for pgscale's client CPU per operation against pgbench's.
func cpuGoal(mode string) float64 {
	if mode == ModeConnect {
		return 1.2
	}
	return 1.1
}

// printGap prints, per mode and engine, the median client CPU per 1,000 transactions on both
// sides and their ratio, then a warning for every sample that ran client-bound.
func printGap(w io.Writer, r Report, ks []kind, clients int) {
	cores := runtime.NumCPU()
	pgbenchUsable := min(clients, cores) // its -j threads
	for _, k := range ks {
		var ours, theirs []float64
		for _, p := range r.Pairs {
			if p.Mode == k.mode && p.Engine == k.engine {
				ours = append(ours, p.Pgscale.CPUPer1k()*1000)
				theirs = append(theirs, p.Pgbench.CPUPer1k()*1000)
			}
		}
		fmt.Fprintf(w, "client cpu %-9s %-11s pgscale %.1f ms, pgbench %.1f ms per 1k (medians); ratio %.2f (goal <= %.1f)\n",
			k.mode, k.engine, median(ours), median(theirs), r.MedianCPURatio(k.mode, k.engine), cpuGoal(k.mode))
	}
	for i, p := range r.Pairs {
		pair := i/max(len(ks), 1) + 1
		if why := clientBound(p.Pgscale, pgscaleUsable(p.Engine, clients), cores); why != "" {
			fmt.Fprintf(w, "warning: pair %d %s on %s: pgscale ran client-bound (%s): its tps is the client's ceiling, not the server's\n",
				pair, p.Mode, p.Engine, why)
		}
		if why := clientBound(p.Pgbench, pgbenchUsable, cores); why != "" {
			fmt.Fprintf(w, "warning: pair %d %s (beside %s): pgbench ran client-bound (%s): its tps is the client's ceiling, not the server's\n",
				pair, p.Mode, p.Engine, why)
		}
	}
}

// pgscaleUsable is how many cores pgscale's side can keep busy on engine: the mux engine's
// threads, or one per worker up to GOMAXPROCS.
func pgscaleUsable(engine string, clients int) int {
	if engine == EngineMux {
		if selectonly.MuxThreads > 0 {
			return min(clients, selectonly.MuxThreads)
		}
		return mux.DefaultThreads(clients)
	}
	return min(clients, runtime.GOMAXPROCS(0))
}

// tlsFirst says whether cc tries TLS before a plain connection (sslmode=prefer, libpq's default):
// against a server without TLS every connect then costs one more round trip, on both sides.
func tlsFirst(cc *pgx.ConnConfig) bool {
	if cc.TLSConfig == nil {
		return false
	}
	for _, fb := range cc.Fallbacks {
		if fb.TLSConfig == nil {
			return true
		}
	}
	return false
}
