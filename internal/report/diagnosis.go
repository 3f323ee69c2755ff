package report

import (
	"fmt"
	"strings"
	"time"
)

// BoundLabel is how sentences name a bound.
func BoundLabel(bound string) string {
	switch bound {
	case BoundServerCPU:
		return "server CPU"
	case BoundClientCPU:
		return "client CPU"
	case BoundIO:
		return "IO"
	case BoundWAL:
		return "WAL"
	case BoundNetwork:
		return "network latency"
	case BoundOfferedRate:
		return "the offered rate"
	}
	return strings.ReplaceAll(bound, "_", " ")
}

// The thresholds of the rules, chosen so each provoking run lands clearly on one side (see the
// integration tests in runner/diagnosis_test.go):
const (
	// A wait class holding this share of active time names the bound.
	diagWaitShare = 0.3
	// A CPU this busy is saturated: the scheduler's run queue grows past it.
	diagCPUBusy = 0.85
	// Sessions active this share of their connected time means requests spend their time in the
	// server (closed loop): the server side binds. Below it they wait on the client's side.
	diagServerSide = 0.5
	// An open-loop series that completed this share of its offered rate kept up.
	diagKeptUp = 0.97
	// When the server and the load generator use less than this share of a saturated host, other
	// processes starved both.
	diagOthers = 0.5
	// Added round-trip time this share of the mean latency makes the network the bound.
	diagNetworkShare = 0.5
)

// diagInput is a series' measured seconds boiled down.
type diagInput struct {
	seconds                     int
	active, conns               float64
	load                        map[string]float64 // average sessions by wait event
	serverCPU, clientCPU, host  *float64           // CPUs busy, averaged
	pinned                      *float64           // CPUs busy among those the load generator may use
	poolerWaiting               float64
	peakConns, maxConns         int
	refused                     int64 // 53300
	rate, throughput, meanLatMs float64
	addedLatency                time.Duration
	res                         Resources
}

// Diagnose names what bound a series from its timeline (the measured seconds only) and the
// run's environment. When measured seconds carry no reading of the server at all (the sampler
// reads once a second, so a window of a second or so can fall between two readings), the bound
// is unknown and the evidence says why; it returns nil for a timeline with no measured second,
// and for readings from before the server's load was read (results of schema v1).
func Diagnose(s Series, env Environment) *Diagnosis {
	in := diagGather(s, env)
	if in.seconds == 0 {
		if measured, read := sampledSeconds(s.Timeline); measured > 0 && read == 0 {
			return &Diagnosis{Bound: BoundUnknown, Evidence: fmt.Sprintf("no reading of the server fell in the %d measured "+
				"second(s): the sampler reads once a second; a --duration of 3s or more gets readings", measured)}
		}
		return nil
	}
	d := &Diagnosis{ActiveSessions: round2(in.active), Connections: round2(in.conns), TopWaits: in.topWaits(3)}
	if in.serverCPU != nil && in.res.ServerCPUs > 0 {
		d.ServerCPUPct = ptr(round1(100 * *in.serverCPU / in.res.ServerCPUs))
	}
	if in.clientCPU != nil && in.res.ClientCPUs > 0 {
		d.ClientCPUPct = ptr(round1(100 * *in.clientCPU / float64(in.res.ClientCPUs)))
	}
	if in.host != nil && in.res.HostCPUs > 0 {
		// /proc/stat and the clock are read a moment apart: a saturated host can read 101%.
		d.HostCPUPct = ptr(min(100, round1(100**in.host/float64(in.res.HostCPUs))))
	}
	d.Bound, d.Evidence = in.rule(d)
	d.Floor = d.Bound == BoundClientCPU
	return d
}

// sampledSeconds counts a timeline's measured seconds, and those of them with a reading of the
// server.
func sampledSeconds(timeline []Second) (measured, read int) {
	for _, sec := range timeline {
		if !sec.Warmup {
			measured++
			if sec.Server != nil {
				read++
			}
		}
	}
	return measured, read
}

func diagGather(s Series, env Environment) diagInput {
	in := diagInput{load: map[string]float64{}, rate: s.RatePerS, throughput: s.ThroughputPerS, meanLatMs: s.LatencyMs.Mean,
		refused: s.Errors["53300"]}
	if env.Resources != nil {
		in.res = *env.Resources
	}
	if l, err := time.ParseDuration(env.TargetDetail["latency"]); err == nil {
		in.addedLatency = l
	}
	var sCPU, cCPU, hCPU, pCPU float64
	var nS, nC, nH, nP int
	for _, sec := range s.Timeline {
		if sec.Warmup || sec.Server == nil {
			continue
		}
		sv := sec.Server
		in.peakConns, in.maxConns = max(in.peakConns, sv.Connections), max(in.maxConns, sv.MaxConnections)
		if sv.Load == nil && sv.Usage == nil {
			continue // a v1 reading: no load
		}
		in.seconds++
		in.conns += float64(sv.Connections)
		for k, v := range sv.Load {
			in.load[k] += v
			in.active += v
		}
		if sv.PoolerClientsWaiting != nil {
			in.poolerWaiting += float64(*sv.PoolerClientsWaiting)
		}
		if u := sv.Usage; u != nil {
			if u.ServerCPU != nil {
				sCPU += *u.ServerCPU
				nS++
			}
			cCPU += u.ClientCPU
			nC++
			if u.HostCPU != nil {
				hCPU += *u.HostCPU
				nH++
			}
			if u.ClientHostCPU != nil {
				pCPU += *u.ClientHostCPU
				nP++
			}
		}
	}
	if in.seconds == 0 {
		return in
	}
	n := float64(in.seconds)
	in.active /= n
	in.conns /= n
	in.poolerWaiting /= n
	for k := range in.load {
		in.load[k] /= n
	}
	if nS > 0 {
		in.serverCPU = ptr(sCPU / float64(nS))
	}
	if nC > 0 {
		in.clientCPU = ptr(cCPU / float64(nC))
	}
	if nH > 0 {
		in.host = ptr(hCPU / float64(nH))
	}
	if nP > 0 {
		in.pinned = ptr(pCPU / float64(nP))
	}
	return in
}

// share is the share of active time spent on load keys that match.
func (in diagInput) share(match func(key string) bool) float64 {
	if in.active <= 0 {
		return 0
	}
	var sum float64
	for k, v := range in.load {
		if match(k) {
			sum += v
		}
	}
	return sum / in.active
}

func (in diagInput) topWaits(n int) []WaitShare {
	var out []WaitShare
	for _, k := range SortedLoadKeys(in.load) {
		if len(out) == n || in.active <= 0 {
			break
		}
		out = append(out, WaitShare{Event: k, Sessions: round2(in.load[k]), Share: round2(in.load[k] / in.active)})
	}
	return out
}

func isLockWait(k string) bool { return WaitClass(k) == "Lock" }

// isIdleWait: an active session that waits on a timer (pg_sleep, a vacuum delay) or on the
// client, and so keeps no resource of the server busy.
func isIdleWait(k string) bool { return WaitClass(k) == "Timeout" || WaitClass(k) == "Client" }

// isWALWait: the WAL's own IO and the lightweight locks around writing and flushing it.
func isWALWait(k string) bool {
	return strings.HasPrefix(k, "IO:WAL") || strings.HasPrefix(k, "LWLock:WAL")
}

// isIOWait: data file IO and the buffer locks that wait on it.
func isIOWait(k string) bool {
	return !isWALWait(k) && (WaitClass(k) == "IO" || k == "LWLock:BufferIO" || k == "LWLock:BufferMapping")
}

// rule applies the rules in order; the first that holds names the bound.
func (in diagInput) rule(d *Diagnosis) (bound, evidence string) {
	lock, wal, io := in.share(isLockWait), in.share(isWALWait), in.share(isIOWait)
	serverBusy := in.serverCPU != nil && in.res.ServerCPUs > 0 && *in.serverCPU >= diagCPUBusy*in.res.ServerCPUs
	top := in.topSentence()
	switch {
	case lock >= diagWaitShare:
		ev := fmt.Sprintf("%.0f%% of active time waited on locks (%.1f of %.0f sessions active); %s", 100*lock, in.active, in.conns, top)
		if in.refused > 0 {
			ev += fmt.Sprintf("; %d connections refused (53300) as sessions piled up", in.refused)
		}
		return BoundLock, ev
	case in.refused > 0 || (in.maxConns > 0 && in.peakConns >= in.maxConns):
		return BoundConnections, fmt.Sprintf("%d connection attempts refused (53300); connections peaked at %d of max_connections %d", in.refused, in.peakConns, in.maxConns)
	}
	if in.rate > 0 && in.throughput >= diagKeptUp*in.rate && !serverBusy && wal < diagWaitShare && io < diagWaitShare {
		return BoundOfferedRate, fmt.Sprintf("it kept up with the offered %s/s (%s/s done); %s", fmtRate(in.rate), fmtRate(in.throughput), in.cpuSentence())
	}
	serverSide := serverBusy || (in.rate == 0 && in.conns > 0 && in.active >= diagServerSide*in.conns) ||
		(in.rate > 0 && in.active >= 1)
	if serverSide {
		switch {
		case wal >= diagWaitShare:
			return BoundWAL, fmt.Sprintf("%.0f%% of active time on WAL writes and flushes; %s; %s", 100*wal, top, in.cpuSentence())
		case io >= diagWaitShare:
			return BoundIO, fmt.Sprintf("%.0f%% of active time on data file IO; %s; %s", 100*io, top, in.cpuSentence())
		case in.hostStarved():
			return BoundClientCPU, in.starvedSentence(d)
		case serverBusy || in.share(isIdleWait) < diagServerSide:
			return BoundServerCPU, fmt.Sprintf("%s; %s; %.1f of %.0f sessions active", in.cpuSentence(), top, in.active, in.conns)
		}
		// Active, but most of the time asleep (pg_sleep in zombie-queries' requests) or reading
		// from the client, and the server's CPU not seen busy: that is no server CPU bound, and
		// the rules of the client's side decide.
	}
	idle := fmt.Sprintf("sessions were active %.0f%% of their connected time", 100*in.active/max(in.conns, 1))
	switch {
	case in.poolerWaiting >= 1:
		return BoundPooler, fmt.Sprintf("%.1f clients waited in the pooler for a server connection on average; %s", in.poolerWaiting, idle)
	case in.addedLatency > 0 && in.meanLatMs > 0 && float64(in.addedLatency)/float64(time.Millisecond) >= diagNetworkShare*in.meanLatMs:
		return BoundNetwork, fmt.Sprintf("the %s added round trip is %.0f%% of the mean latency (%.2f ms); %s", in.addedLatency,
			100*float64(in.addedLatency)/float64(time.Millisecond)/in.meanLatMs, in.meanLatMs, idle)
	case in.hostStarved():
		return BoundClientCPU, in.starvedSentence(d)
	case in.pinned != nil && in.res.ClientAllowedCPUs > 0 && *in.pinned >= diagCPUBusy*float64(in.res.ClientAllowedCPUs):
		n := in.res.ClientAllowedCPUs
		return BoundClientCPU, fmt.Sprintf("the %d CPU%s the load generator is pinned to %s %.0f%% busy (%s) while %s: the figure is a floor",
			n, plural(n), map[bool]string{true: "was", false: "were"}[n == 1], 100**in.pinned/float64(n), in.cpuSentence(), idle)
	case d.ClientCPUPct != nil && *d.ClientCPUPct >= 100*diagCPUBusy:
		return BoundClientCPU, fmt.Sprintf("load generator CPU %.0f%% of %d CPU%s while %s: the figure is a floor", *d.ClientCPUPct,
			in.res.ClientCPUs, plural(in.res.ClientCPUs), idle)
	case d.HostCPUPct != nil && *d.HostCPUPct >= 100*diagCPUBusy:
		if in.serverCPU != nil && in.clientCPU != nil && *in.serverCPU >= *in.clientCPU {
			// The server shares the host with the load generator, and takes the larger part.
			return BoundServerCPU, fmt.Sprintf("the host was %.0f%% busy and the server used the larger part (%s); %s",
				*d.HostCPUPct, in.cpuSentence(), top)
		}
		return BoundClientCPU, fmt.Sprintf("the load generator's host was %.0f%% busy (%s) while %s: the load generator was starved, the figure is a floor",
			*d.HostCPUPct, in.cpuSentence(), idle)
	}
	return BoundUnknown, fmt.Sprintf("%s, and neither side's CPU was saturated (%s); %s", idle, in.cpuSentence(), top)
}

// hostStarved: the load generator's host was saturated, and the server and the load generator
// together used less than half of it (diagOthers), so other processes held the CPUs both needed.
// Only where the server's CPU is known to be on this host (a local or docker target).
func (in diagInput) hostStarved() bool {
	if in.host == nil || in.serverCPU == nil || in.clientCPU == nil || in.res.HostCPUs == 0 {
		return false
	}
	busy := *in.host
	return busy >= diagCPUBusy*float64(in.res.HostCPUs) && *in.serverCPU+*in.clientCPU < diagOthers*busy
}

func (in diagInput) starvedSentence(d *Diagnosis) string {
	return fmt.Sprintf("the host was %.0f%% busy, mostly with other processes (%s): both sides were starved of CPU, the figure is a floor",
		*d.HostCPUPct, in.cpuSentence())
}

// cpuSentence is "server CPU 97% of 2 CPUs, client CPU 40% of 2", with what is known.
func (in diagInput) cpuSentence() string {
	var parts []string
	switch {
	case in.serverCPU != nil && in.res.ServerCPUs > 0:
		parts = append(parts, fmt.Sprintf("server CPU %.0f%% of %s CPU%s", 100**in.serverCPU/in.res.ServerCPUs,
			fmtCPUs(in.res.ServerCPUs), plural(int(in.res.ServerCPUs))))
	case in.res.ServerUnavailable != "":
		parts = append(parts, "server CPU unknown")
	}
	if in.clientCPU != nil && in.res.ClientCPUs > 0 {
		parts = append(parts, fmt.Sprintf("client CPU %.0f%% of %d", 100**in.clientCPU/float64(in.res.ClientCPUs), in.res.ClientCPUs))
	}
	if len(parts) == 0 {
		return "CPU not measured"
	}
	return strings.Join(parts, ", ")
}

// topSentence is "top wait LWLock:WALWrite, 41% of active time".
func (in diagInput) topSentence() string {
	tw := in.topWaits(1)
	if len(tw) == 0 {
		return "no active sessions seen"
	}
	return fmt.Sprintf("top wait %s, %.0f%% of active time", tw[0].Event, 100*tw[0].Share)
}

func fmtCPUs(c float64) string { return fmt.Sprintf("%g", round2(c)) }

func fmtRate(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}

func ptr[T any](v T) *T { return &v }

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// DiagnosisLine is "server CPU: <evidence>", the diagnosis in one line.
func DiagnosisLine(d *Diagnosis) string {
	return BoundLabel(d.Bound) + ": " + d.Evidence
}
