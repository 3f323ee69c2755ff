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
		m["jobs_per_s"] = float64(st.jobs.Load()) / measuredS
	}
	if st.producer != nil {
		st.producer.AddMetrics(m, "producer")
	}
	if st.listener != nil {
		st.listener.AddMetrics(m, "listener")
	}
	claims := st.claims.Load()
	m["claims"] = float64(claims)
	m["claims_empty"] = float64(st.emptyClaims.Load())
	m["claims_cut_off"] = float64(st.cutOffClaims.Load())
	if claims > 0 {
		m["idle_worker_fraction"] = float64(st.emptyClaims.Load()) / float64(claims)
	}
}

// addServerMetrics puts the figures read from the server, the exactly-once check's among them,
// into the metrics.
func (st *runState) addServerMetrics(m map[string]float64, before, after map[string]tableStats, c checkResult) {
	m["jobs_enqueued"] = float64(c.enqueued)
	m["jobs_done"] = float64(c.done)
	m["jobs_pending_at_end"] = float64(c.pending)
	m["jobs_interrupted"] = float64(c.interrupted)
	m["jobs_lost"] = float64(c.lost)
	m["jobs_duplicated"] = float64(c.duplicated)
	if st.cfg.producer == producerBacklog {
		drained := 0.0
		if c.pending == 0 {
			drained = 1
		}
		m["backlog_drained"] = drained
	}
	if st.cfg.queued() {
		m["queue_depth"] = float64(st.cfg.queueDepth)
		m["feeder_errors"] = float64(st.feedErrs.Load())
		if st.feeder != nil {
			st.feeder.AddMetrics(m, "feeder")
		}
	}
	var dead, tableGrowth, indexGrowth, autovacuums float64
	for _, key := range []string{"task", "queue"} {
		a, b := after[key], before[key]
		m[key+"_dead_tuples"] = float64(a.deadTuples)
		m[key+"_table_growth_bytes"] = float64(a.tableBytes - b.tableBytes)
		m[key+"_index_growth_bytes"] = float64(a.indexBytes - b.indexBytes)
		m[key+"_autovacuum_runs"] = float64(a.autovacuumCount - b.autovacuumCount)
		m[key+"_autoanalyze_runs"] = float64(a.autoanalyzeCount - b.autoanalyzeCount)
		dead += float64(a.deadTuples)
		tableGrowth += float64(a.tableBytes - b.tableBytes)
		indexGrowth += float64(a.indexBytes - b.indexBytes)
		autovacuums += float64(a.autovacuumCount - b.autovacuumCount)
	}
	m["dead_tuples"] = dead
	m["table_growth_bytes"] = tableGrowth
	m["index_growth_bytes"] = indexGrowth
	m["autovacuum_runs"] = autovacuums
}

// noteSweep records the point's jobs/s and sets saturation_workers on every series of the same
// variant (and batch size) measured so far. The metrics maps are the ones in the series already
// handed to the runner, which keeps them in its result; the last series of a variant has the value
// over the whole sweep in any case.
func (s *scenario) noteSweep(c config, m map[string]float64) {
	s.saturation.Note(fmt.Sprintf("%s/%d", c.variant, c.batch), c.workers, m["jobs_per_s"], m)
}
