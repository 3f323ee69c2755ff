package harness

import (
	"context"
	"time"

	"github.com/pgscale/pgscale/result"
)

// WaitInterval is how often the sampler reads what active sessions wait on: 10 times a second.
// One reading is a snapshot; a second's average of 10 resolves a quarter of a session's share
// with room to spare and still catches waits shorter than a second (a WAL flush, a lock held
// briefly). Performance Insights samples once a second and pg_wait_sampling every 10 ms; each
// reading here costs one small query (a scan of the max_connections backend slots). Measured under
// pgbench -S -M prepared at 8 clients on a shared 2-core host: the sampler's backend used about
// 2.2 ms of CPU a second, 0.4-0.65% of the server's CPU (README, "Reading a result").
const WaitInterval = 100 * time.Millisecond

// waitQuery counts the active client sessions by what they wait on; NULL is on CPU.
const waitQuery = `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*)::int
FROM pg_stat_activity
WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
GROUP BY 1`

// waitAccumulator sums wait readings until the next full sample takes their average.
type waitAccumulator struct {
	readings int
	sums     map[string]float64
}

// sampleWaits adds one reading of what the active sessions wait on.
func (s *Sampler) sampleWaits(ctx context.Context) {
	// As long as the full sample's: a timeout breaks the connection (pgx closes it), so it is
	// for a server that stopped answering, not a slow one.
	ctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
	defer cancel()
	conn, err := s.conn.Conn(ctx)
	if err != nil {
		return // the full sample notes a lost connection
	}
	rows, err := conn.Query(ctx, waitQuery)
	if err != nil {
		s.conn.Count(err)
		return
	}
	defer rows.Close()
	counts := map[string]float64{}
	for rows.Next() {
		var key string
		var n int
		if rows.Scan(&key, &n) != nil {
			return
		}
		counts[key] += float64(n)
	}
	if rows.Err() != nil {
		return
	}
	if s.waits.sums == nil {
		s.waits.sums = map[string]float64{}
	}
	s.waits.readings++
	for k, v := range counts {
		s.waits.sums[k] += v
	}
}

// takeLoad is the average active sessions by wait event since the last call (an empty map when
// readings saw no active session, nil when there were no readings).
func (s *Sampler) takeLoad() map[string]float64 {
	if s.waits.readings == 0 {
		return nil
	}
	load := make(map[string]float64, len(s.waits.sums))
	for k, v := range s.waits.sums {
		load[k] = float64(int64(v/float64(s.waits.readings)*100+0.5)) / 100
	}
	s.waits = waitAccumulator{}
	return load
}

// usageState keeps the previous cumulative readings, to turn them into per-second figures.
type usageState struct {
	reader     UsageReader
	prevServer *ServerUsage
	prevClient *ClientUsage
	prevAt     time.Time
}

// Observe has the sampler read the server's CPU and memory with r (nil: the server's usage is
// unknown, and only the load generator's is read). Call before Start.
func (s *Sampler) Observe(r UsageReader) { s.usage.reader = r }

// takeUsage reads both sides and returns the usage since the previous call (nil on the first).
func (s *Sampler) takeUsage(ctx context.Context) *result.Usage {
	now := time.Now()
	client := ReadClientUsage()
	var server *ServerUsage
	if s.usage.reader != nil {
		if conn, err := s.conn.Conn(ctx); err == nil {
			if u, err := s.usage.reader.ReadUsage(ctx, conn); err == nil {
				server = &u
			}
		}
	}
	st := &s.usage
	defer func() { st.prevClient, st.prevServer, st.prevAt = &client, server, now }()
	if st.prevClient == nil {
		return nil
	}
	secs := now.Sub(st.prevAt).Seconds()
	if secs <= 0 {
		return nil
	}
	u := &result.Usage{ClientCPU: round3((client.CPUSeconds - st.prevClient.CPUSeconds) / secs), HostLoad1: client.HostLoad1}
	if client.HostReadOK && st.prevClient.HostReadOK {
		u.HostCPU = ptrTo(round3((client.HostBusy - st.prevClient.HostBusy) / secs))
		if client.OwnCPUs > 0 && client.OwnCPUs < client.HostCPUs && client.OwnCPUs == st.prevClient.OwnCPUs {
			u.ClientHostCPU = ptrTo(round3((client.OwnBusy - st.prevClient.OwnBusy) / secs))
		}
	}
	if server != nil {
		mb := float64(server.MemoryBytes) / (1 << 20)
		u.ServerMemoryMB = ptrTo(float64(int64(mb*10+0.5)) / 10)
		if st.prevServer != nil {
			u.ServerCPU = ptrTo(round3(max(0, server.CPUSeconds-st.prevServer.CPUSeconds) / secs))
		}
	}
	return u
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func ptrTo[T any](v T) *T { return &v }

// Resources describes what the sampler reads, for the result's environment.
func (s *Sampler) Resources(unavailable string) *result.Resources {
	c := ReadClientUsage()
	r := &result.Resources{ClientCPUs: c.GOMAXPROCS, HostCPUs: c.HostCPUs, WaitSamplesPerS: int(time.Second / WaitInterval)}
	if c.OwnCPUs > 0 && c.OwnCPUs < c.HostCPUs {
		r.ClientAllowedCPUs = c.OwnCPUs
	}
	if s.usage.reader != nil {
		r.ServerCPUs, r.ServerSource = s.usage.reader.CPUs(), s.usage.reader.Source()
	} else {
		r.ServerUnavailable = unavailable
	}
	return r
}
