package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"reflect"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// dialTCP opens a TCP connection to an IP address with the system calls libpq makes, and no more.
//
// Go's net.Dialer, pgx's default, makes 13 per connect: socket, connect, epoll_ctl, getsockopt,
// getsockname and getpeername (for LocalAddr and RemoteAddr), and five setsockopt (TCP_NODELAY and
// four for keep-alive timings); closing adds epoll_ctl and close. dialTCP makes socket, two
// setsockopt (TCP_NODELAY and SO_KEEPALIVE with the kernel's timings, as libpq does), connect,
// fcntl and epoll_ctl (os.NewFile registering the socket with Go's netpoller), and a second
// connect for the first one's outcome (see awaitConnect). The connection is an *os.File on the socket, so reads, writes and
// deadlines go through the same netpoller as a net.Conn's do.
//
// An address that is not IP:port (a Unix socket) goes to net.Dialer.
func dialTCP(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || (network != "tcp" && network != "tcp4" && network != "tcp6") {
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	raddr := net.TCPAddrFromAddrPort(ap)
	fail := func(op string, err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: os.NewSyscallError(op, err)}
	}
	family, sa := syscall.AF_INET, syscall.Sockaddr(nil)
	if ip := ap.Addr().Unmap(); ip.Is4() {
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	} else {
		family = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16(), ZoneId: zoneID(ip.Zone())}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fail("socket", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		syscall.Close(fd)
		return nil, fail("setsockopt", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1); err != nil {
		syscall.Close(fd)
		return nil, fail("setsockopt", err)
	}
	inProgress := false
	switch err := syscall.Connect(fd, sa); err {
	case nil:
	case syscall.EINPROGRESS, syscall.EINTR:
		inProgress = true
	default:
		syscall.Close(fd)
		return nil, fail("connect", err)
	}
	f := os.NewFile(uintptr(fd), address)
	if inProgress {
		if err := awaitConnect(ctx, f, sa); err != nil {
			f.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err}
		}
	}
	return &socketConn{File: f, remote: raddr}, nil
}

// awaitConnect waits until the connect to sa under way on f has finished, or ctx is done, and
// returns the connect's outcome. It asks by connecting again, as libc's callers did before
// SO_ERROR: EALREADY while the handshake is under way, EISCONN once done, or the error that ended
// it. The first ask comes before any wait: over loopback the handshake is often over by then.
func awaitConnect(ctx context.Context, f *os.File, sa syscall.Sockaddr) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = f.SetWriteDeadline(deadline)
	}
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(pastDeadline) })
	}
	var result error
	waitErr := rc.Write(func(fd uintptr) bool {
		switch err := syscall.Connect(int(fd), sa); err {
		case syscall.EALREADY, syscall.EINPROGRESS, syscall.EINTR:
			return false
		case nil, syscall.EISCONN:
		default:
			result = os.NewSyscallError("connect", err)
		}
		return true
	})
	stop()
	if waitErr != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
			return ctxErr
		}
		return unwrapPath(waitErr)
	}
	_ = f.SetWriteDeadline(time.Time{})
	return result
}

func zoneID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}

// socketConn is a connection dialTCP opened: a net.Conn over an *os.File whose errors read as a
// net.Conn's do (a *net.OpError around the system call's error, net.ErrClosed once closed).
type socketConn struct {
	*os.File
	remote *net.TCPAddr
}

func (c *socketConn) Read(b []byte) (int, error) {
	n, err := c.File.Read(b)
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

func (c *socketConn) Write(b []byte) (int, error) {
	n, err := c.File.Write(b)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

func (c *socketConn) Close() error {
	if err := c.File.Close(); err != nil {
		return c.opError("close", err)
	}
	return nil
}

func (c *socketConn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr asks the kernel (getsockname) each time: nothing on the load's path calls it.
func (c *socketConn) LocalAddr() net.Addr {
	rc, err := c.File.SyscallConn()
	if err != nil {
		return nil
	}
	var addr net.Addr
	_ = rc.Control(func(fd uintptr) {
		switch sa, _ := syscall.Getsockname(int(fd)); sa := sa.(type) {
		case *syscall.SockaddrInet4:
			addr = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		case *syscall.SockaddrInet6:
			addr = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		}
	})
	return addr
}

func (c *socketConn) opError(op string, err error) error {
	err = unwrapPath(err)
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	} else if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: c.remote, Err: err}
}

// unwrapPath takes the *os.PathError off an *os.File's error: its path is the address, which the
// *net.OpError around it names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// pgxDefaultDial is the code of pgx's default DialFunc (a net.Dialer's DialContext method value),
// to tell a config that left it alone from one whose caller dials in a way of its own.
var pgxDefaultDial = sync.OnceValue(func() uintptr {
	return reflect.ValueOf(new(net.Dialer).DialContext).Pointer()
})

// withRawDial sets conf to dial with dialTCP, unless its DialFunc is a caller's own.
func withRawDial(conf *pgx.ConnConfig) {
	if conf.DialFunc != nil && reflect.ValueOf(conf.DialFunc).Pointer() == pgxDefaultDial() {
		conf.DialFunc = dialTCP
	}
}
