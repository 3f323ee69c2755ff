package harness

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// procReader reads the small files of /proc into one buffer it keeps from read to read, and
// parses them in place. A local server's usage is read every second from /proc/<pid>/stat and
// statm of each backend: at 2,000 backends, os.ReadFile and strings.Fields made about 70% of what
// pgscale allocated during a run (heap profile), and so most of its garbage collections.
// Not safe for concurrent use: the sampler reads from one goroutine.
type procReader struct {
	buf      []byte
	path     []byte
	children []int
}

// read returns the content of /proc/<pid>/<name>, valid until the next read.
func (r *procReader) read(pid int, name string) ([]byte, error) {
	r.path = strconv.AppendInt(append(r.path[:0], "/proc/"...), int64(pid), 10)
	r.path = append(append(r.path, '/'), name...)
	fd, err := unix.Open(string(r.path), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: string(r.path), Err: err}
	}
	defer unix.Close(fd)
	if r.buf == nil {
		r.buf = make([]byte, 4096)
	}
	n := 0
	for {
		if n == len(r.buf) {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		m, err := unix.Read(fd, r.buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: string(r.path), Err: err}
		}
		if m == 0 {
			return r.buf[:n], nil
		}
		n += m
	}
}

// stat parses /proc/<pid>/stat; the command name may hold spaces, so fields count from the last
// ')'.
func (r *procReader) stat(pid int) (procStat, error) {
	data, err := r.read(pid, "stat")
	if err != nil {
		return procStat{}, fmt.Errorf("server usage: %w", err)
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("server usage: /proc/%d/stat: no command name", pid)
	}
	// After the ')': state is field 3, ppid field 4, utime..cstime fields 14..17.
	var f [15]int64
	got := 0
	for k, field := range fieldsOf(data[i+1:]) {
		if k >= len(f) {
			break
		}
		f[k], got = parseInt(field), k+1
	}
	if got < len(f) {
		return procStat{}, fmt.Errorf("server usage: /proc/%d/stat: %d fields", pid, got)
	}
	n := func(k int) int64 { return f[k-3] }
	return procStat{ppid: int(n(4)), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17)}, nil
}

// statm is a process's resident memory less its shared part, and its shared part, in bytes
// (zeros when unreadable).
func (r *procReader) statm(pid int) (private, shared int64) {
	data, err := r.read(pid, "statm")
	if err != nil {
		return 0, 0
	}
	var f [3]int64
	got := 0
	for k, field := range fieldsOf(data) {
		if k >= len(f) {
			break
		}
		f[k], got = parseInt(field), k+1
	}
	if got < len(f) {
		return 0, 0
	}
	page := int64(os.Getpagesize())
	return (f[1] - f[2]) * page, f[2] * page
}

// childrenOf lists pid's children from /proc/<pid>/task/<pid>/children (a slice reused by the
// next call), else by scanning /proc.
func (r *procReader) childrenOf(pid int) ([]int, error) {
	data, err := r.read(pid, "task/"+strconv.Itoa(pid)+"/children")
	if err != nil {
		return procChildren(pid)
	}
	r.children = r.children[:0]
	for _, field := range fieldsOf(data) {
		r.children = append(r.children, int(parseInt(field)))
	}
	return r.children, nil
}

// fieldsOf yields the space-separated fields of data with their index, as strings.Fields would
// split them, without allocating.
func fieldsOf(data []byte) func(yield func(int, []byte) bool) {
	return func(yield func(int, []byte) bool) {
		k := 0
		for len(data) > 0 {
			start := 0
			for start < len(data) && isSpace(data[start]) {
				start++
			}
			end := start
			for end < len(data) && !isSpace(data[end]) {
				end++
			}
			if start == end {
				return
			}
			if !yield(k, data[start:end]) {
				return
			}
			k++
			data = data[end:]
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' }

// parseInt reads a decimal integer, as strconv.ParseInt does for /proc's fields (0 when it is not
// one).
func parseInt(b []byte) int64 {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		return -v
	}
	return v
}
