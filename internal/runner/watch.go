package runner

import (
	"context"
	"errors"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
)

// watchInterval is how often a run checks that its server is still there.
const watchInterval = 500 * time.Millisecond

// watchServer watches target's server for the rest of a group: the returned context is canceled,
// with an error matching harness.ErrServerGone, when the server dies, which stops the point
// running (its series is kept). settle stops the watch and turns the error that ended the group
// into the server's death when that is what it was, so that the reason names the server (with
// the end of its log) rather than the first connection to notice. Call settle before the target
// is closed.
func (p *prepared) watchServer(ctx context.Context, target harness.Target) (context.Context, func(error) error) {
	watch := harness.NewServerWatch(target)
	wctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watch.Watch(wctx, watchInterval, func(err error) { cancel(err) })
	}()
	settle := func(err error) error {
		gone := context.Cause(wctx)
		cancel(nil)
		<-done
		defer watch.Close()
		if errors.Is(gone, harness.ErrServerGone) {
			return gone
		}
		if err == nil || ctx.Err() != nil {
			return err // finished, or interrupted: not the server's doing
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		if gone := watch.Check(cctx); gone != nil {
			return gone
		}
		return err
	}
	return wctx, settle
}
