package queue

// The metrics of a point: the workers, the claims and completions, and the server tables.

import (
	_ "embed"
	"fmt"
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// addMetrics puts the point's figures into the series' metrics.
func (st *runState) addMetrics(m map[string]float64, measuredS float64, before, after map[string]tableStats, c checkResult) {
	st.addWorkerMetrics(m, measuredS)
	st.addServerMetrics(m, before, after, c)
}

// addWorkerMetrics puts the figures this process's workers counted into the metrics.
func (st *runState) addWorkerMetrics(m map[string]float64, measuredS float64) {
	if measuredS > 0 {
		m[MetricJobsPerS] = float64(st.jobs.Load()) / measuredS
	}
	if st.producer != nil {
		st.producer.AddMetrics(m, MetricPrefixProducer)
	}
	if st.listener != nil {
		st.listener.AddMetrics(m, MetricPrefixListener)
	}
	claims := st.claims.Load()
	m[MetricClaims] = float64(claims)
	m[MetricClaimsEmpty] = float64(st.emptyClaims.Load())
	m[MetricClaimsCutOff] = float64(st.cutOffClaims.Load())
	if claims > 0 {
		m[MetricIdleWorkerFraction] = float64(st.emptyClaims.Load()) / float64(claims)
	}
}

// addServerMetrics puts the figures read from the server, the exactly-once check's among them,
// into the metrics.
func (st *runState) addServerMetrics(m map[string]float64, before, after map[string]tableStats, c checkResult) {
	m[MetricJobsEnqueued] = float64(c.enqueued)
	m[MetricJobsDone] = float64(c.done)
	m[MetricJobsPendingAtEnd] = float64(c.pending)
	m[MetricJobsInterrupted] = float64(c.interrupted)
	m[MetricJobsLost] = float64(c.lost)
	m[MetricJobsDuplicated] = float64(c.duplicated)
	if st.cfg.producer == producerBacklog {
		drained := 0.0
		if c.pending == 0 {
			drained = 1
		}
		m[MetricBacklogDrained] = drained
	}
	if st.cfg.queued() {
		m[MetricQueueDepth] = float64(st.cfg.queueDepth)
		m[MetricFeederErrors] = float64(st.feedErrs.Load())
		if st.feeder != nil {
			st.feeder.AddMetrics(m, MetricPrefixFeeder)
		}
	}
	var dead, tableGrowth, indexGrowth, autovacuums float64
	for _, key := range []string{MetricPrefixTask, MetricPrefixQueue} {
		a, b := after[key], before[key]
		m[tableMetric(key, MetricDeadTuples)] = float64(a.deadTuples)
		m[tableMetric(key, MetricTableGrowthBytes)] = float64(a.tableBytes - b.tableBytes)
		m[tableMetric(key, MetricIndexGrowthBytes)] = float64(a.indexBytes - b.indexBytes)
		m[tableMetric(key, MetricAutovacuumRuns)] = float64(a.autovacuumCount - b.autovacuumCount)
		m[tableMetric(key, MetricAutoanalyzeRuns)] = float64(a.autoanalyzeCount - b.autoanalyzeCount)
		dead += float64(a.deadTuples)
		tableGrowth += float64(a.tableBytes - b.tableBytes)
		indexGrowth += float64(a.indexBytes - b.indexBytes)
		autovacuums += float64(a.autovacuumCount - b.autovacuumCount)
	}
	m[MetricDeadTuples] = dead
	m[MetricTableGrowthBytes] = tableGrowth
	m[MetricIndexGrowthBytes] = indexGrowth
	m[MetricAutovacuumRuns] = autovacuums
}

// noteSweep records the point's jobs/s and sets saturation_workers on every series of the same
// variant (and batch size) measured so far. The metrics maps are the ones in the series already
// handed to the runner, which keeps them in its result; the last series of a variant has the value
// over the whole sweep in any case.
func (s *scenario) noteSweep(c config, m map[string]float64) {
	s.saturation.Note(fmt.Sprintf("%s/%d", c.variant, c.batch), c.workers, m[MetricJobsPerS], m)
}
