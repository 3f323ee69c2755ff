package scenarios

import (
	"context"
	"sync"
	"time"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// StartActor runs act in a goroutine beside a point's load (a watcher of pg_stat_activity, a
// choreography of locks) with a context of its own under ctx. stop cancels that context and
// waits for act to return; it may be called more than once.
func StartActor(ctx context.Context, act func(context.Context)) (stop func()) {
	actCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		act(actCtx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// FirstSecond is an OnSecond for the point's load that passes every tick on to e.OnSecond and,
// at the first, calls first with the moment the load started: the actors that time themselves
// from it start then.
func (e *Env) FirstSecond(first func(start time.Time)) func(loadgen.Tick) {
	var once sync.Once
	return func(t loadgen.Tick) {
		once.Do(func() { first(time.Now().Add(-t.Elapsed)) })
		if e.OnSecond != nil {
			e.OnSecond(t)
		}
	}
}
