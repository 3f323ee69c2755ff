package zombie

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/pgscale/pgscale/internal/wait"
)

// probeGrace is how long past the end of the load a probe waits for its backend to exit, so
// that a slow query that ends just after the load is still timed; a backend still running then is
// reported as such (and terminated by the teardown).
const probeGrace = 5 * time.Second

// probe is one slow request beside the load, on a connection opened before it, whose backend's
// life after the client's close is timed.
type probe struct {
	kind string
	sess *session
}

// probeResult is what a probe measured.
type probeResult struct {
	kind string
	// endedBeforeClose: the query ended (statement_timeout) before the web tier gave up, so no
	// backend outlived its client; err is how it ended.
	endedBeforeClose bool
	err              error
	// queryRan is from the query's start to its end (or the backend's exit, when the client had
	// gone); afterClose from the client's close to the backend's exit.
	queryRan, afterClose time.Duration
	// stillRunning: the backend had not exited when the probe stopped waiting.
	stillRunning bool
}

// openProbes opens a connection per kind of slow query, with the web tier's settings and an
// application_name of their own, before the load fills max_connections.
func (r *run) openProbes(ctx context.Context) ([]*probe, error) {
	cc := r.app.Copy()
	cc.RuntimeParams = maps.Clone(r.app.RuntimeParams)
	cc.RuntimeParams["application_name"] = r.probeName
	var out []*probe
	for _, kind := range []string{kindSleep, kindCPU} {
		sess, err := openSession(ctx, cc)
		if err != nil {
			for _, p := range out {
				p.sess.close()
			}
			return nil, fmt.Errorf("zombie-queries: probe connection: %w", err)
		}
		out = append(out, &probe{kind: kind, sess: sess})
	}
	return out, nil
}

// runProbes runs every probe at once, as requests that arrive now, and records what each
// measured.
func (r *run) runProbes(ctx context.Context, probes []*probe, loadStart time.Time) {
	waitUntil := loadStart.Add(r.env.Warmup + r.env.Duration + probeGrace)
	now := time.Now()
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := r.runProbe(ctx, p, now, waitUntil)
			r.mu.Lock()
			r.probes = append(r.probes, res)
			r.mu.Unlock()
		}()
	}
	wg.Wait()
}

// runProbe runs a slow query of p's kind, drops the socket client_timeout after arrived (no
// cancel request), and waits for the watcher to see the backend gone.
func (r *run) runProbe(ctx context.Context, p *probe, arrived, waitUntil time.Time) probeResult {
	res := probeResult{kind: p.kind}
	var closedAt time.Time
	var mu sync.Mutex
	timer := time.AfterFunc(time.Until(arrived.Add(r.cfg.clientTimeout)), func() {
		mu.Lock()
		defer mu.Unlock()
		closedAt = time.Now()
		r.abandon(p.sess.pid, closedAt, p.kind)
		p.sess.drop()
	})
	started := time.Now()
	err := p.sess.query(ctx, r.slowSQL(p.kind, r.cfg.slowQuery))
	ended := time.Now()
	if timer.Stop() {
		res.endedBeforeClose, res.err, res.queryRan = true, err, ended.Sub(started)
		return res
	}
	mu.Lock()
	closed := closedAt
	mu.Unlock()
	for {
		r.mu.Lock()
		exit, ok := r.probeExits[p.sess.pid]
		r.mu.Unlock()
		if ok {
			res.afterClose, res.queryRan = exit.Sub(closed), exit.Sub(started)
			return res
		}
		if time.Now().After(waitUntil) || wait.For(ctx, 20*time.Millisecond) != nil {
			res.stillRunning = true
			res.afterClose, res.queryRan = time.Since(closed), time.Since(started)
			return res
		}
	}
}
