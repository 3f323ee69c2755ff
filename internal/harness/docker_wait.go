package harness

// A wait strategy that counts a log line, so that a restart inside the container is not taken for
// readiness.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"
)

// dockerLogWait waits until a container's log holds text at least times times. Unlike
// testcontainers' wait.ForLog it fails at once when the container stops, with its exit code, so
// that a server rejecting a setting does not wait out the start timeout.
type dockerLogWait struct {
	text  string
	times int
}

// WaitUntilReady implements wait.Strategy.
func (w *dockerLogWait) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	backoff := 20 * time.Millisecond
	for {
		state, err := target.State(ctx)
		if err != nil {
			return fmt.Errorf("container state: %w", err)
		}
		if !state.Running {
			if state.OOMKilled {
				return errors.New("the container ran out of memory (OOMKilled) while starting")
			}
			return fmt.Errorf("the container stopped while starting (%s, exit code %d)", state.Status, state.ExitCode)
		}
		if n, err := w.count(ctx, target); err == nil && n >= w.times {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q in the log: %w", w.text, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func (w *dockerLogWait) count(ctx context.Context, target wait.StrategyTarget) (int, error) {
	rc, err := target.Logs(ctx)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n := 0
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), w.text) {
			n++
		}
	}
	return n, nil
}

// Engine connection and process-wide testcontainers settings.
