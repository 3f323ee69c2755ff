// Package wait is pgscale's one context-aware sleep: every actor, pacer and retry loop that waits
// a while stops waiting the moment its run is canceled.
package wait

import (
	"context"
	"time"
)

// For waits d, or until ctx ends, and then returns context.Cause(ctx). A d of 0 or less returns
// at once, with ctx's cause if it has already ended.
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Until waits until t, or until ctx ends, as For does.
func Until(ctx context.Context, t time.Time) error { return For(ctx, time.Until(t)) }
