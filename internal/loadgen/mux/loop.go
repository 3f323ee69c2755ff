package mux

import (
	"errors"
	"fmt"
	"io"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/pgwire"
)

// drainGrace bounds how long a thread waits, after the run, for the replies of the requests in
// flight, so that each connection is idle when it gets its Terminate.
const drainGrace = time.Second

// wakeKey marks the eventfd in a thread's epoll set (connections are keyed by their index).
const wakeKey = -1

// thread is one OS thread's share of the connections.
type thread struct {
	conns    []*conn
	rec      *loadgen.Recorder
	epfd     int
	live     int    // connections neither closed nor done
	sleepers int    // connections whose session sleeps
	out      []byte // the request being written

	box    *mailbox  // where the connections reopened for broken ones arrive
	redial *redialer // reopens them

	dial           *dialer       // opens a connection per request (Config.PerOp), or nil
	connectTimeout time.Duration // bounds each of dial's connects
	nextDialCheck  time.Time     // when to look for connects over connectTimeout next
}

func newThread(rec *loadgen.Recorder, box *mailbox, redial *redialer) *thread {
	return &thread{rec: rec, epfd: -1, box: box, redial: redial}
}

// run is the thread's loop; the caller has locked it to its OS thread. At end, with drain, the
// sessions finish what they are doing (they are told the run is ending) within
// loadgen.DrainGrace; without, the requests in flight are abandoned.
func (t *thread) run(wake int, end time.Time, drain bool) error {
	var err error
	if t.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("mux: epoll_create1: %w", err)
	}
	defer unix.Close(t.epfd)
	if err := t.watch(wake, wakeKey); err != nil {
		return err
	}
	if err := t.watch(t.box.ready, readyKey); err != nil {
		return err
	}
	for i, c := range t.conns {
		c.key = i
		if c.fd < 0 {
			continue // a connection per request: opened by advance
		}
		if err := t.watch(c.fd, i); err != nil {
			return err
		}
	}
	now := time.Now()
	for _, c := range t.conns {
		t.live++
		t.advance(c, now, false)
	}
	events := make([]unix.EpollEvent, len(t.conns)+1)
	stopAt := end
	for t.live > 0 {
		ending := !now.Before(end)
		if ending {
			if !drain {
				break
			}
			stopAt = end.Add(loadgen.DrainGrace)
			t.endRedials()
		}
		if !now.Before(stopAt) {
			break
		}
		until := stopAt
		if t.sleepers > 0 {
			if w := t.nextWake(); w.Before(until) {
				until = w
			}
		}
		ms := max(int((until.Sub(now)+time.Millisecond-1)/time.Millisecond), 0)
		n, err := epollWait(t.epfd, events, ms)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("mux: epoll_wait: %w", err)
		}
		// One clock read per wake-up: it ends the requests answered and starts the next ones.
		now = time.Now()
		ending = !now.Before(end)
		if ending && !drain {
			break
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd == wakeKey {
				t.finish(wake)
				return nil
			}
			if ev.Fd == readyKey {
				t.adopt(t.box, now, ending)
				continue
			}
			c := t.conns[ev.Fd]
			if c.dial.phase == dialConnecting {
				t.connected(c, now)
				continue
			}
			if t.receive(c, now) && (c.fd >= 0 || t.dial != nil) {
				t.advance(c, now, ending)
			}
		}
		if t.sleepers > 0 {
			for _, c := range t.conns {
				if !c.wake.IsZero() && !now.Before(c.wake) {
					c.wake = time.Time{}
					t.sleepers--
					t.advance(c, now, ending)
				}
			}
		}
		if t.dial != nil && !now.Before(t.nextDialCheck) {
			t.expireDials(now)
		}
	}
	t.finish(wake)
	return nil
}

// watch adds fd to the thread's epoll set (level-triggered readable) under key.
func (t *thread) watch(fd, key int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(key)}
	if err := unix.EpollCtl(t.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("mux: epoll_ctl: %w", err)
	}
	return nil
}

// advance asks c's session for its next request at now and writes it, or notes when to ask again.
func (t *thread) advance(c *conn, now time.Time, ending bool) {
	for {
		out, wake := c.s.Next(t.out[:0], now, ending)
		t.out = out
		switch {
		case len(out) > 0:
			c.busy = true
			if t.dial != nil && c.fd < 0 {
				t.dialFor(c, out, now)
				return
			}
			if err := writeAll(c.fd, out); err != nil {
				t.broken(c, now, fmt.Errorf("mux: send a request: %w", err))
			}
			return
		case wake.IsZero():
			c.done = true
			t.live--
			return
		case wake.After(now):
			c.wake = wake
			t.sleepers++
			return
		}
	}
}

// nextWake is the earliest time a sleeping session is due.
func (t *thread) nextWake() time.Time {
	var first time.Time
	for _, c := range t.conns {
		if !c.wake.IsZero() && (first.IsZero() || c.wake.Before(first)) {
			first = c.wake
		}
	}
	return first
}

// receive reads what c's socket holds and hands every complete message to its session; it
// reports whether the request in flight ended (ReadyForQuery).
func (t *thread) receive(c *conn, now time.Time) (ended bool) {
	if c.tail == len(c.in) {
		c.in = append(c.in, make([]byte, len(c.in))...)
	}
	n, err := rawRead(c.fd, c.in[c.tail:])
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
		return false
	case err != nil:
		t.broken(c, now, fmt.Errorf("mux: read a reply: %w", err))
		return false
	case n == 0:
		t.broken(c, now, fmt.Errorf("mux: read a reply: %w", io.ErrUnexpectedEOF))
		return false
	}
	c.tail += n
	for {
		typ, body, size, need, err := nextMessage(c.in[c.head:c.tail])
		if err != nil {
			t.broken(c, now, err)
			return false
		}
		if size == 0 {
			if need > len(c.in)-c.head {
				c.in = append(c.in[:c.tail:c.tail], make([]byte, need)...)
			}
			break
		}
		c.head += size
		switch {
		case c.dial.phase == dialStartup:
			if !t.startupMessage(c, typ, body, now) {
				return false
			}
		case c.busy:
			if c.s.Receive(typ, body, now) {
				c.busy = false
				if t.dial != nil {
					t.hangUp(c)
					return true
				}
				ended = true
			}
		case c.owed && typ == msgReadyForQuery:
			c.owed = false // the reply of a request abandoned at the end
		case typ == msgError && !c.owed:
			// An error outside any request: a FATAL the server sends before it closes the
			// connection (57P01 shutdown, 25P03 idle in transaction), kept for broken to report.
			c.serverErr = pgwire.ParseError(body)
		}
	}
	if c.head == c.tail {
		c.head, c.tail = 0, 0
	} else if c.head > len(c.in)/2 {
		c.tail = copy(c.in, c.in[c.head:c.tail])
		c.head = 0
	}
	return ended
}

// broken ends c's session with err (the request in flight fails, with the server's error when it
// sent one, such as 57P01 before closing) and closes c; a Resumable session then waits for a new
// connection (redial.go), any other is stopped.
func (t *thread) broken(c *conn, now time.Time, err error) {
	if c.serverErr != nil {
		err = c.serverErr
	}
	connecting := c.dial.phase != dialIdle
	if connecting {
		err = &connectFailure{err}
	}
	if c.busy || !c.wake.IsZero() {
		c.s.Abandon(err, now)
	}
	if !c.wake.IsZero() {
		c.wake = time.Time{}
		t.sleepers--
	}
	c.busy = false
	rawClose(c.fd)
	c.fd = -1
	if t.dial != nil {
		t.retry(c, now, connecting, err)
		return
	}
	if r, ok := c.s.(Resumable); ok && !c.done && r.Resumes() {
		c.redialing = true
		t.redial.reopen(c, c.id, t.box)
		return
	}
	if !c.done {
		// A session that was done already either stopped itself (and said so) or had nothing
		// more to do at the run's end: only a live one is stopped here.
		c.done = true
		t.live--
		t.rec.RecordStopped()
	}
}

// finish abandons what the sessions are still doing and waits up to drainGrace for the replies of
// the requests in flight, so that Terminate finds every connection idle; they stay uncounted.
func (t *thread) finish(wake int) {
	_ = unix.EpollCtl(t.epfd, unix.EPOLL_CTL_DEL, wake, nil)
	_ = unix.EpollCtl(t.epfd, unix.EPOLL_CTL_DEL, t.box.ready, nil)
	now := time.Now()
	for _, c := range t.conns {
		if c.fd < 0 {
			continue
		}
		if c.busy || !c.wake.IsZero() {
			c.s.Abandon(nil, now)
		}
		if c.dial.phase != dialIdle {
			// Still opening: nothing is owed; the server sees the client leave.
			rawClose(c.fd)
			c.fd, c.busy, c.dial = -1, false, dialState{}
			continue
		}
		c.owed, c.busy, c.wake = c.busy, false, time.Time{}
	}
	t.sleepers = 0
	deadline := time.Now().Add(drainGrace)
	events := make([]unix.EpollEvent, len(t.conns))
	for t.pending() && time.Now().Before(deadline) {
		n, err := unix.EpollWait(t.epfd, events, int(time.Until(deadline)/time.Millisecond)+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd < 0 {
				continue
			}
			if c := t.conns[ev.Fd]; c.fd >= 0 {
				t.receive(c, time.Now())
			}
		}
	}
}

// pending says whether a connection still owes the reply of an abandoned request.
func (t *thread) pending() bool {
	for _, c := range t.conns {
		if c.fd >= 0 && c.owed {
			return true
		}
	}
	return false
}

// endRedials gives up on the connections still being reopened: the run is ending, and a new
// connection would start nothing. The redialer's connections that arrive now are terminated.
func (t *thread) endRedials() {
	for _, c := range t.conns {
		if c.redialing {
			c.redialing, c.done = false, true
			t.live--
		}
	}
}

// writeAll writes b to the non-blocking fd, waiting for room when the socket is full.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := rawWrite(fd, b)
		switch {
		case errors.Is(err, unix.EAGAIN):
			if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, 1000); err != nil &&
				!errors.Is(err, unix.EINTR) {
				return err
			}
			continue
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

// rawRead and rawWrite are read(2) and write(2) without telling Go's scheduler: on a
// non-blocking socket they never block, and the thread keeps its P.
func rawRead(fd int, b []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
