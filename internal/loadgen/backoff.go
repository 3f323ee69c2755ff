package loadgen

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/pgscale/pgscale/internal/wait"
)

// Backoff is a capped exponential backoff with jitter: the wait before retry n (from 0) is drawn
// uniformly from [d/2, d], where d is Base·2ⁿ capped at Max. The jitter keeps workers that lost
// the server together from retrying in lockstep.
type Backoff struct {
	Base, Max time.Duration
}

// DefaultBackoff starts at 50 ms and doubles to 2 s. A connection lost to pg_terminate_backend
// reconnects at the first retry (~40 ms later); a stopped server sees each worker about once a
// second after its sixth retry, instead of the ~170,000 connect attempts in 7 s that retrying
// without a wait made.
var DefaultBackoff = Backoff{Base: 50 * time.Millisecond, Max: 2 * time.Second}

// Delay is the wait before retry n.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Max
	if n < 30 && b.Base<<n < b.Max {
		d = b.Base << n
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, or until ctx ends (and then returns its error).
func sleep(ctx context.Context, d time.Duration) error {
	if wait.For(ctx, d) != nil {
		return ctx.Err()
	}
	return nil
}
