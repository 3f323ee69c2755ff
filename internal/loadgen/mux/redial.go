package mux

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/wait"
)

// What the engine does when a connection breaks (the server terminated its backend, restarted,
// or the network dropped). The request in flight has failed and is recorded under the server's
// SQLSTATE when it sent one (57P01 before closing), else as a closed connection. A session that
// goes on over a new connection (Resumable: the lookups) gets one, as loadgen's per-worker mode
// gives its worker one: a goroutine of the engine opens it (pgx: authentication, TLS
// negotiation, the lookup prepared), records the time it took into the connect histogram, and
// hands it to the connection's thread, which carries on with the session there; while the
// connects fail, each failure is recorded as an operation's error and the next attempt waits
// loadgen.DefaultBackoff. The thread's loop is never blocked by a connect. Other sessions (a
// pgbench client aborts, as pgbench's does) are stopped and counted in stopped_workers.

// Resumable is a Session that goes on over a new connection after its connection broke.
type Resumable interface {
	Session
	// Resumes says whether the session, told by Abandon that its connection broke, goes on over
	// a new one.
	Resumes() bool
}

// readyKey marks a thread's eventfd for reopened connections in its epoll set.
const readyKey = -2

// reopened is a connection opened again for a broken one of a thread.
type reopened struct {
	old, fresh *conn
}

// redialer reopens a run's broken connections, a goroutine each, until the run's end.
type redialer struct {
	ctx context.Context // ends at the run's end
	cfg Config
	rec *loadgen.Recorder
	wg  sync.WaitGroup
}

// mailbox is where the redialer leaves a thread's reopened connections: the thread reads them
// when ready, an eventfd in its epoll set, is readable.
type mailbox struct {
	ready int // eventfd
	mu    sync.Mutex
	conns []reopened
}

func newMailbox() (*mailbox, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("mux: eventfd: %w", err)
	}
	return &mailbox{ready: fd}, nil
}

// put leaves r for the thread and wakes it.
func (m *mailbox) put(r reopened) {
	m.mu.Lock()
	m.conns = append(m.conns, r)
	m.mu.Unlock()
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, _ = unix.Write(m.ready, one)
}

// take returns the connections left since the last take and makes ready unreadable again.
func (m *mailbox) take() []reopened {
	var count [8]byte
	_, _ = unix.Read(m.ready, count[:])
	m.mu.Lock()
	defer m.mu.Unlock()
	got := m.conns
	m.conns = nil
	return got
}

// close terminates the connections no thread took (reopened as the run ended) and closes ready;
// it is called once the redialer has stopped.
func (m *mailbox) close() {
	for _, r := range m.take() {
		r.fresh.terminate()
	}
	_ = unix.Close(m.ready)
}

// reopen opens a connection for c (whose id it is given, not c: c belongs to its thread) and
// leaves it in box, trying again after each failure until the run ends.
func (r *redialer) reopen(c *conn, id int, box *mailbox) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for attempt := 0; r.ctx.Err() == nil; attempt++ {
			started := time.Now()
			fresh, err := open(r.ctx, r.cfg, id)
			if err == nil {
				r.rec.RecordConnect(id, started, time.Since(started))
				box.put(reopened{old: c, fresh: fresh})
				return
			}
			if r.ctx.Err() != nil {
				return // cut off by the run's end: neither a success nor an error
			}
			d := time.Since(started)
			r.rec.Record(id, started, d, d, fmt.Errorf("mux: reconnect: %w", err))
			if wait.For(r.ctx, loadgen.DefaultBackoff.Delay(attempt)) != nil {
				return
			}
		}
	}()
}

// adopt carries on with the sessions of the connections reopened for t, at now.
func (t *thread) adopt(box *mailbox, now time.Time, ending bool) {
	for _, r := range box.take() {
		c := r.old
		if ending || c.done {
			r.fresh.terminate()
			continue
		}
		c.fd, r.fresh.fd = r.fresh.fd, -1
		c.head, c.tail, c.owed, c.serverErr, c.redialing = 0, 0, false, nil, false
		if err := t.watch(c.fd, c.key); err != nil {
			t.broken(c, now, err)
			continue
		}
		t.advance(c, now, ending)
	}
}
