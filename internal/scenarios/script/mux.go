package script

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/loadgen/mux"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/script"
	"github.com/pgscale/pgscale/internal/usage"
)

// Engines that run the scripts; auto picks one per run (engine.go).
const (
	engineAuto       = scenarios.EngineAuto
	engineGoroutines = scenarios.EngineGoroutines
	engineMux        = scenarios.EngineMux
)

// engineParams pick what drives the clients: loadgen's goroutine per worker over pgx, or the
// loadgen/mux engine, a few OS threads each serving its connections from one epoll_wait.
var engineParams = []scenarios.ParamSpec{
	{Name: "engine", Kind: scenarios.KindString, Default: engineAuto,
		Choices: []string{engineAuto, engineGoroutines, engineMux},
		Help: "auto: mux where it can run, goroutines otherwise (the result's series and the console say which ran, and why); " +
			"goroutines: a goroutine per client over pgx; mux: OS threads each waiting for all their connections " +
			"in one epoll_wait, as pgbench -j does (a connection per client, closed loop, no pipelines, no TLS)"},
	{Name: "mux_threads", Kind: scenarios.KindInt, Default: "1", Min: 1,
		Help: "with the mux engine: the OS threads serving the connections (pgbench -j)"},
}

// checkEngine refuses engine=mux with what it cannot run, and mux_threads with
// engine=goroutines. Paced load (--rate, stages, --capacity) is refused by ClosedLoopOnlyWith;
// TLS when the connections open.
func (l *loaded) checkEngine(p scenarios.Params) error {
	switch p.String("engine") {
	case engineGoroutines:
		if p.Given("mux_threads") {
			return usage.Fieldf("set", "mux_threads=%d is for the mux engine, not engine=goroutines", p.Int("mux_threads"))
		}
		return nil
	case engineMux:
		var errs []error
		for _, why := range l.muxCannot() {
			errs = append(errs, usage.Fieldf("set", "engine=mux %s (leave engine=mux out)", why))
		}
		return errors.Join(errs...)
	}
	return nil
}

// muxCannot says what in the scripts or options the mux engine cannot run, each as what
// follows "the mux engine"; none when it can run them all.
func (l *loaded) muxCannot() []string {
	var why []string
	for _, s := range l.scripts {
		if s.UsesPipeline() {
			why = append(why, fmt.Sprintf("does not run pipelines: %s uses \\startpipeline", s.Name))
		}
	}
	if c := l.connectName(); c != "" {
		why = append(why, "opens one connection per client, once: not connect="+c)
	}
	return why
}

// ClosedLoopOnlyWith implements scenarios.ClosedLoopChecker: engine=mux runs a closed loop only.
func (*Scenario) ClosedLoopOnlyWith(p scenarios.Params) string {
	if p.String("engine") == engineMux {
		return "--set engine=mux"
	}
	return ""
}

// runMux runs the point on the mux engine: one connection per worker, each a pgbench client
// driven by script.Wire, served by mux_threads OS threads.
func (s *Scenario) runMux(ctx context.Context, cfg loadgen.Config, ps parts, opts script.Options) (*loadgen.Outcome, error) {
	l := s.l
	engine, err := mux.New(mux.Config{
		ConnConfig: cfg.ConnConfig,
		Conns:      cfg.Workers,
		Threads:    s.threads,
		Seed:       cfg.Seed,
		Drain:      true,
		Sessions: func(id int, rec *loadgen.Recorder) mux.Session {
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(id)))
			ms := &muxSession{id: id, rec: rec, mix: l.mix, rng: rng, continueOnError: l.opts.ContinueOnError}
			obs := func(_ int, cmd *script.Command, started time.Time, d time.Duration, err error) {
				rec.RecordPart(ps.of[cmd], started, d, err)
			}
			ms.w = script.NewWire(script.NewClient(id, opts, rng), obs)
			return ms
		},
	})
	if err != nil {
		return nil, err
	}
	return loadgen.RunEngine(ctx, cfg, engine)
}

// muxSession is one pgbench client on the mux engine: transactions back to back, each recorded
// as the goroutine engine's operation is.
type muxSession struct {
	id              int
	rec             *loadgen.Recorder
	mix             *script.Mix
	rng             *rand.Rand
	w               *script.Wire
	continueOnError bool

	i       int // the script of the transaction in flight
	started time.Time
	inTx    bool
	sent    bool // the transaction sent a request (one that sends none yields to the loop)
	stopped bool
}

func (m *muxSession) Next(buf []byte, now time.Time, ending bool) ([]byte, time.Time) {
	for {
		if !m.inTx {
			if ending || m.stopped {
				return buf, time.Time{}
			}
			m.i = m.mix.Pick(m.rng)
			m.w.Client().Begin(m.mix, m.i)
			m.started, m.inTx, m.sent = now, true, false
		}
		out, st := m.w.Next(buf, now)
		switch st.Kind {
		case script.StepSleep:
			return buf, now.Add(st.Sleep)
		case script.StepDone:
			m.inTx = false
			m.record(now)
			if !m.sent && !m.stopped {
				return buf, now.Add(time.Nanosecond) // back to the loop: it checks the run's end
			}
		default:
			m.sent = true
			return out, time.Time{}
		}
	}
}

func (m *muxSession) Receive(typ byte, body []byte, now time.Time) bool {
	return m.w.Receive(typ, body, now)
}

func (m *muxSession) Abandon(err error, now time.Time) {
	if !m.inTx {
		// Between transactions (the pause after one that sent nothing): none to count.
		m.stopped = m.stopped || err != nil
		return
	}
	m.inTx = false
	if err == nil {
		m.rec.RecordAbandoned(m.id)
		return
	}
	if pending := m.w.PendingError(); pending != nil {
		err = pending // the server's reason, such as 57P01 before it closed the connection
	}
	m.stopped = true
	d := now.Sub(m.started)
	m.rec.RecordPart(m.i, m.started, d, err)
	m.rec.Record(m.id, m.started, d, d, err)
}

// record records the transaction that just ended, and stops the client on a fatal error.
func (m *muxSession) record(now time.Time) {
	d := now.Sub(m.started)
	err, stop := recordOutcome(m.rec, m.i, m.started, d, m.w.Client().Outcome(), m.continueOnError)
	m.rec.Record(m.id, m.started, d, d, err)
	if stop {
		m.stopped = true
		m.rec.RecordStopped()
	}
}
