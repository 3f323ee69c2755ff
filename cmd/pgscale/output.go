package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// guardOutput returns stdout such that its breaking (the reader of a pipe gone: `pgscale run … |
// less` quit early) interrupts the command like Ctrl-C, once: a write that fails with EPIPE, or,
// while a pipe or socket is standard output, the reader closing its end even before anything is
// written. Nothing more is written to a broken stdout; the run still writes its files.
func guardOutput(ctx context.Context, stdout, stderr io.Writer, interrupt func(error)) io.Writer {
	g := &outputGuard{w: stdout}
	g.broken = func() {
		g.once.Do(func() {
			fmt.Fprintf(stderr, "\npgscale: %v: stopping\n", errOutputClosed)
			interrupt(errOutputClosed)
		})
	}
	if f, ok := stdout.(*os.File); ok && isPipeOrSocket(f) {
		go watchReaderGone(ctx, f, g.broken)
	}
	return g
}

// outputGuard is standard output that reports its breaking.
type outputGuard struct {
	w      io.Writer
	once   sync.Once
	broken func()
	mu     sync.Mutex
	closed bool
}

func (g *outputGuard) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(b), nil // dropped: the reader is gone
	}
	n, err := g.w.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		g.closed = true
		g.broken()
		return len(b), nil
	}
	return n, err
}

// isPipeOrSocket tells whether f is a pipe or a socket, whose reader can go away.
func isPipeOrSocket(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0
}

// watchReaderGone calls gone once the reading end of f (a pipe or socket) is closed, which poll
// reports as POLLERR or POLLHUP on the writing end, and returns when ctx ends.
func watchReaderGone(ctx context.Context, f *os.File, gone func()) {
	fds := []unix.PollFd{{Fd: int32(f.Fd())}}
	for ctx.Err() == nil {
		fds[0].Revents = 0
		n, err := unix.Poll(fds, 200)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			gone()
			return
		}
	}
}
