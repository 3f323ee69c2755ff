package mux

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// What a thread does for a connection per request (Config.PerOp): each request the session asks
// for opens a connection (dial.go), is sent once the server is ready for queries, and its
// connection is closed (Terminate) when its reply has ended. The request's latency runs from
// before the connect, as loadgen's per-op mode counts it; the connect's time, to ReadyForQuery,
// goes to the connect histogram. A connect that fails is the request's error, and the next one
// waits loadgen.DefaultBackoff unless the server was full (53300: how a workload meets a full
// server is what is measured).

// dialFor opens a connection for c's request out (the session's Next).
func (t *thread) dialFor(c *conn, out []byte, now time.Time) {
	c.pending = append(c.pending[:0], out...)
	c.dial.started = now
	fd, phase, err := t.dial.start()
	if err != nil {
		c.dial.phase = dialConnecting // failed while connecting: broken backs off
		t.broken(c, now, err)
		return
	}
	c.fd, c.dial.phase = fd, phase
	events := uint32(unix.EPOLLIN)
	if phase == dialConnecting {
		events = unix.EPOLLOUT
	}
	if err := rawEpollCtl(t.epfd, unix.EPOLL_CTL_ADD, fd, events, c.key); err != nil {
		t.broken(c, now, fmt.Errorf("mux: epoll_ctl: %w", err))
	}
}

// connected carries on with c's connect once its socket is writable.
func (t *thread) connected(c *conn, now time.Time) {
	if err := t.dial.connected(c.fd); err != nil {
		t.broken(c, now, err)
		return
	}
	c.dial.phase = dialStartup
	if err := rawEpollCtl(t.epfd, unix.EPOLL_CTL_MOD, c.fd, unix.EPOLLIN, c.key); err != nil {
		t.broken(c, now, fmt.Errorf("mux: epoll_ctl: %w", err))
	}
}

// startupMessage hands one message of c's startup to the dialer; once the server is ready it
// records the connect and sends the request. It reports whether c is still open.
func (t *thread) startupMessage(c *conn, typ byte, body []byte, now time.Time) bool {
	ready, err := t.dial.message(c.fd, &c.dial, typ, body)
	if err != nil {
		t.broken(c, now, err)
		return false
	}
	if !ready {
		return true
	}
	t.rec.RecordConnect(c.id, c.dial.started, now.Sub(c.dial.started))
	c.dial = dialState{}
	c.failures = 0
	if err := writeAll(c.fd, c.pending); err != nil {
		t.broken(c, now, fmt.Errorf("mux: send a request: %w", err))
		return false
	}
	return true
}

// dialCheckEvery is how often a thread looks for connects that have taken longer than the
// connect timeout: the timeout is kept to within this.
const dialCheckEvery = 100 * time.Millisecond

// expireDials fails the connects under way for longer than the connect timeout, as loadgen's
// connection modes time theirs out (connect_timeout, then the backoff).
func (t *thread) expireDials(now time.Time) {
	t.nextDialCheck = now.Add(dialCheckEvery)
	for _, c := range t.conns {
		if c.dial.phase != dialIdle && now.Sub(c.dial.started) >= t.connectTimeout {
			t.broken(c, now, t.dial.timeoutError(t.connectTimeout))
		}
	}
}

// hangUp sends Terminate on c's connection, whose request has ended, and closes it.
func (t *thread) hangUp(c *conn) {
	_, _ = rawWrite(c.fd, terminateMessage)
	rawClose(c.fd)
	c.fd, c.head, c.tail, c.serverErr = -1, 0, 0, nil
}

// retry makes c, whose connection broke (or never opened), ask its session for the next request
// at once, or after a backoff when it was connecting and the server was not merely full.
func (t *thread) retry(c *conn, now time.Time, connecting bool, err error) {
	c.head, c.tail, c.serverErr, c.dial = 0, 0, nil, dialState{}
	if c.done {
		return
	}
	var delay time.Duration
	if class := loadgen.Classify(err); connecting && class != "53300" && class != loadgen.ClassTooManyReserved {
		delay = loadgen.DefaultBackoff.Delay(c.failures)
		c.failures++
	}
	c.wake = now.Add(delay)
	t.sleepers++
}
