package harness

// Free ports, run directory names, and removing what a run left.

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// localFreePort asks the kernel for a free TCP port on 127.0.0.1. Another process may take it
// before postgres binds it; startServer then tries again.
func localFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("local target: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("local target: find a free port: %w", err)
	}
	return port, nil
}

// localRemoveAll removes a directory tree, retrying briefly: backends of a killed postmaster may
// still be exiting, and a file they create makes a removal fail with "directory not empty".
func localRemoveAll(dir string) error {
	if dir == "" {
		return nil
	}
	var err error
	for i := 0; i < 5; i++ {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// localExists tells whether path exists (without following a final symbolic link).
func localExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// localSafeName makes a run ID usable in a directory name: letters, digits, '-' and '_', at
// most 24 of them (the Unix socket path inside the directory is limited).
func localSafeName(runID string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, runID)
	if len(clean) > 24 {
		clean = clean[:24]
	}
	if clean == "" {
		return "run"
	}
	return clean
}
