package shard

import (
	"context"
	"slices"
)

// A scenario whose shards share state on the server (a queue every shard's workers claim from)
// needs more than the barrier the runner holds before each point: shard 0 resets the state, all
// start once it has, and one shard checks the outcome once all have finished. Start and Sync
// are those barriers inside a point, for the scenario's code; in a whole run they return at once.

type coordinatorKey struct{}

// WithCoordinator returns ctx carrying c, the coordinator of the shard the scenario runs as.
func WithCoordinator(ctx context.Context, c *Coordinator) context.Context {
	return context.WithValue(ctx, coordinatorKey{}, c)
}

func coordinatorOf(ctx context.Context) *Coordinator {
	c, _ := ctx.Value(coordinatorKey{}).(*Coordinator)
	return c
}

// Start meets the other shards at step of the point under way (e.g. "reset", after shard 0 has
// reset the scenario's tables) and returns at a common start time, as the barrier before each
// point does. Every shard must call it with the same steps in the same order.
func Start(ctx context.Context, step string) error {
	c := coordinatorOf(ctx)
	if c == nil {
		return nil
	}
	return c.meet(ctx, c.label+" / "+step, true)
}

// Sync meets the other shards at step of the point under way (e.g. "done", once each has
// finished its work and reported it) and returns as soon as every shard still running has
// arrived. Shards that stopped are not waited for (LostShards names them).
func Sync(ctx context.Context, step string) error {
	c := coordinatorOf(ctx)
	if c == nil {
		return nil
	}
	return c.meet(ctx, c.label+" / "+step, false)
}

// LostShards lists the shards seen to stop before the end so far, in order; none in a whole run.
func LostShards(ctx context.Context) []int {
	c := coordinatorOf(ctx)
	if c == nil {
		return nil
	}
	lost, _ := c.Lost()
	return slices.Clone(lost)
}
