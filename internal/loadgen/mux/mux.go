// Package mux is a load engine that serves many connections from one OS thread, as each of
// pgbench's -j threads does: prepared key lookups (Config.SQL) or sessions of the caller's
// (Config.Sessions, such as pgbench scripts).
//
// Connections are opened as every pgscale connection is (pgx: authentication, TLS negotiation,
// runtime parameters), the lookup is prepared on each, and the connection is then hijacked: the
// engine keeps a duplicate of its socket and drives the wire protocol itself. Each engine thread
// is a goroutine locked to its OS thread that writes a pre-encoded Bind/Execute/Sync for a random
// key on each of its connections, waits for all of them in one epoll_wait, reads the replies and
// sends the next lookup as soon as a ReadyForQuery arrives: a closed loop with one lookup in
// flight per connection. Go's scheduler then has nothing to park or wake per lookup, which is
// where a goroutine per connection spends its system calls and context switches (see
// loadgen/README.md).
//
// Each connection runs a Session: the engine writes the request the session asks for, hands it
// every backend message of the reply, and asks for the next request after ReadyForQuery, or when
// a sleep the session asked for is over (a timer of the thread's loop). The built-in session runs
// one statement with one int4 parameter and counts the rows of each execution (one is a success).
// ErrorResponses are recorded by SQLSTATE, like loadgen's. A connection that breaks fails the
// request in flight; the lookups then go on over a new connection, opened off the thread's loop
// (redial.go), and other sessions are stopped unless they are Resumable. TLS connections cannot be
// multiplexed this way: Open refuses them.
package mux

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// StatementName names the prepared lookup on every connection.
const StatementName = "pgscale_mux_lookup"

// Config describes the engine's load.
type Config struct {
	// ConnConfig is where the load goes.
	ConnConfig *pgx.ConnConfig
	// ConnectTimeout bounds each connect; 0 means 10 s.
	ConnectTimeout time.Duration
	// Conns is the number of connections, each with one lookup in flight.
	Conns int
	// Threads is the number of OS threads serving them; 0 means DefaultThreads, one per CPU the
	// process may use.
	Threads int
	// SQL takes one int4 parameter ($1), drawn uniformly from 1..Keys, and should return one row:
	// each connection runs lookups of it, prepared when the connection opens. Leave it empty with
	// Sessions.
	SQL  string
	Keys int32
	// Simple sends the lookups in the simple protocol, the key written as text into SQL's $1
	// (which must appear once), as pgbench -M simple does; otherwise they are prepared (on each
	// connection as it opens) and sent as Bind, Execute, Sync with the key in binary.
	Simple bool
	// PerOp opens a connection for every lookup and closes it after, as pgbench -C does (a
	// function per request); a prepared lookup is then prepared on each connection, its Parse
	// sent with its Bind. Not with Sessions.
	PerOp bool
	// Sessions makes the session of connection id, recording into rec, instead of lookups.
	Sessions func(id int, rec *loadgen.Recorder) Session
	// Drain lets the sessions finish what they are doing at the end of the run (within
	// loadgen.DrainGrace), as loadgen.Config.Drain; otherwise the requests in flight are abandoned.
	Drain bool
	// Seed makes the keys repeatable; 0 picks one from the clock.
	Seed uint64
}

// Session is what runs on one connection, driven by its thread's loop. A session is used by
// that thread alone.
type Session interface {
	// Next appends the connection's next request to buf at now and returns it. Returning buf as
	// it was means nothing to send now: the engine asks again at wake, or never when wake is zero
	// (the session is done). ending says the run has ended: start nothing new.
	Next(buf []byte, now time.Time, ending bool) (out []byte, wake time.Time)
	// Receive handles one backend message of the request in flight at now; it returns true once
	// the request has ended (ReadyForQuery).
	Receive(typ byte, body []byte, now time.Time) bool
	// Abandon ends the session's unfinished work (a request in flight, a sleep): err says why
	// (the connection broke), or is nil when the run ended first (abandoned, uncounted).
	Abandon(err error, now time.Time)
}

// Engine is a loadgen.Engine; make one with New and give it to loadgen.RunEngine.
type Engine struct {
	cfg   Config
	mu    sync.Mutex
	conns []*conn
	dial  *dialer // Config.PerOp's
}

// New checks cfg and returns an engine that has opened nothing yet.
func New(cfg Config) (*Engine, error) {
	var errs []error
	if cfg.ConnConfig == nil {
		errs = append(errs, errors.New("mux: no connection config"))
	}
	if cfg.Conns < 1 {
		errs = append(errs, fmt.Errorf("mux: %d connections: must be at least 1", cfg.Conns))
	}
	if cfg.Threads < 0 {
		errs = append(errs, fmt.Errorf("mux: %d threads: must be 0 (one per CPU) or more", cfg.Threads))
	}
	switch {
	case cfg.Sessions != nil && cfg.SQL != "":
		errs = append(errs, errors.New("mux: a statement and sessions: give one"))
	case cfg.Sessions != nil:
	case cfg.SQL == "":
		errs = append(errs, errors.New("mux: no statement and no sessions"))
	case cfg.Keys < 1:
		errs = append(errs, fmt.Errorf("mux: %d keys: must be at least 1", cfg.Keys))
	}
	if (cfg.PerOp || cfg.Simple) && cfg.Sessions != nil {
		errs = append(errs, errors.New("mux: a connection per operation and the simple protocol are for lookups (Config.SQL), not sessions"))
	}
	if cfg.Simple && cfg.SQL != "" {
		if _, _, err := splitKey(cfg.SQL); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Threads == 0 {
		cfg.Threads = DefaultThreads(cfg.Conns)
	}
	cfg.Threads = min(cfg.Threads, cfg.Conns)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	return &Engine{cfg: cfg}, nil
}

// Open connects every connection, prepares the lookup on it and takes its socket over. With
// Config.PerOp it opens one connection the engine's way and closes it, to meet a wrong address,
// password or authentication method before the run; a configuration that may use TLS
// (sslmode=prefer) is first tried through pgx, and refused if the server takes TLS: the engine
// never goes plaintext where TLS was on offer. A connection string that names several servers,
// or target_session_attrs, is resolved through pgx to the one server the run's connects go to.
func (e *Engine) Open(ctx context.Context) error {
	if e.cfg.PerOp {
		plain, err := Plaintext(ctx, e.cfg.ConnConfig, e.cfg.ConnectTimeout)
		if err != nil {
			return err
		}
		if !plain {
			return errors.New("mux: " + NeedsPlaintext)
		}
		d, err := newDialer(ctx, e.cfg.ConnConfig, e.cfg.ConnectTimeout)
		if err != nil {
			return err
		}
		if err := d.probe(ctx, e.cfg.ConnectTimeout); err != nil {
			return err
		}
		conns := make([]*conn, e.cfg.Conns)
		for i := range conns {
			conns[i] = &conn{id: i, fd: -1, in: make([]byte, 4096)}
		}
		e.mu.Lock()
		e.conns, e.dial = conns, d
		e.mu.Unlock()
		return nil
	}
	conns, err := openAll(ctx, e.cfg)
	e.mu.Lock()
	e.conns = conns
	e.mu.Unlock()
	return err
}

// Run drives the closed loop until end or until ctx ends.
func (e *Engine) Run(ctx context.Context, rec *loadgen.Recorder, end time.Time) error {
	// One eventfd, in every thread's epoll set, wakes them all when ctx ends: it stays readable.
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("mux: eventfd: %w", err)
	}
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(woken)
		one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		_, _ = unix.Write(wake, one)
	})
	// The eventfd is closed only once no write to it can come: a write after the close could land
	// on whatever file took its number (a connection's socket).
	defer func() {
		if !stop() {
			<-woken
		}
		_ = unix.Close(wake)
	}()

	// The connections that break are reopened until the run's end, off the threads' loops; the
	// threads have stopped, and so has every reopening, before the mailboxes close.
	redialCtx, stopRedials := context.WithDeadline(ctx, end)
	redial := &redialer{ctx: redialCtx, cfg: e.cfg, rec: rec}
	threads := make([]*thread, e.cfg.Threads)
	for i := range threads {
		box, err := newMailbox()
		if err != nil {
			stopRedials()
			for _, t := range threads[:i] {
				t.box.close()
			}
			return err
		}
		threads[i] = newThread(rec, box, redial)
		threads[i].dial, threads[i].connectTimeout = e.dial, e.cfg.ConnectTimeout
	}
	defer func() {
		stopRedials()
		redial.wg.Wait()
		for _, t := range threads {
			t.box.close()
		}
	}()
	for i, c := range e.conns {
		if e.cfg.Sessions != nil {
			c.s = e.cfg.Sessions(c.id, rec)
		} else if c.s, err = newLookup(e.cfg, c.id, rec); err != nil {
			return err
		}
		t := threads[i%len(threads)]
		t.conns = append(t.conns, c)
	}
	release := reserveProcs(len(threads))
	defer release()
	errs := make([]error, len(threads))
	var wg sync.WaitGroup
	for i, t := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			errs[i] = t.run(wake, end, e.cfg.Drain)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close sends Terminate on every connection still open and closes its socket.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		c.terminate()
	}
}
