package mux

import (
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls of a connect per request, made raw (without telling Go's scheduler), as the
// thread's reads and writes are: none of them blocks (the socket is non-blocking), and a thread
// that keeps its P has nothing to hand over or take back around each.

// rawSockaddr is a socket address as the kernel reads it.
type rawSockaddr struct {
	ptr unsafe.Pointer
	len uintptr
}

func inetSockaddr(ap netip.AddrPort) (family int, sa rawSockaddr) {
	port := ap.Port()
	if ip := ap.Addr(); ip.Is4() {
		raw := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
		p := (*[2]byte)(unsafe.Pointer(&raw.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.AF_INET, rawSockaddr{unsafe.Pointer(raw), unsafe.Sizeof(*raw)}
	}
	raw := &unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
	p := (*[2]byte)(unsafe.Pointer(&raw.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.AF_INET6, rawSockaddr{unsafe.Pointer(raw), unsafe.Sizeof(*raw)}
}

func unixSockaddr(path string) (rawSockaddr, error) {
	raw := &unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	if len(path) >= len(raw.Path) {
		return rawSockaddr{}, fmt.Errorf("mux: socket path %q: longer than %d bytes", path, len(raw.Path)-1)
	}
	for i := range len(path) {
		raw.Path[i] = int8(path[i])
	}
	// The family, the path and its terminating zero.
	return rawSockaddr{unsafe.Pointer(raw), uintptr(2 + len(path) + 1)}, nil
}

func errnoErr(errno unix.Errno) error {
	if errno != 0 {
		return errno
	}
	return nil
}

func rawSocket(family int) (int, error) {
	fd, _, errno := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family),
		unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

func rawNoDelay(fd int) error {
	one := int32(1)
	_, _, errno := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), 4, 0)
	return errnoErr(errno)
}

func rawConnect(fd int, sa rawSockaddr) error {
	_, _, errno := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(sa.ptr), sa.len)
	return errnoErr(errno)
}

// rawConnectError is the outcome of a non-blocking connect that has finished (SO_ERROR).
func rawConnectError(fd int) error {
	var soErr int32
	size := uint32(4)
	_, _, errno := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_ERROR,
		uintptr(unsafe.Pointer(&soErr)), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 {
		return errno
	}
	return errnoErr(unix.Errno(soErr))
}

func rawClose(fd int) {
	if fd >= 0 {
		_, _, _ = unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	}
}

// rawEpollCtl adds fd to (op EPOLL_CTL_ADD) or changes it in (EPOLL_CTL_MOD) the epoll set epfd,
// watched for events under key.
func rawEpollCtl(epfd, op, fd int, events uint32, key int) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(key)}
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0)
	return errnoErr(errno)
}
