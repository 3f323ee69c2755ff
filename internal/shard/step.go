package shard

import (
	"context"
	"slices"
)

// A scenario whose shards share state on the server (a queue every shard's workers claim from)
// needs more than the barrier the runner holds before each point: shard 0 resets the state, all
// start once it has, and one shard checks the outcome once all have finished. Start and Sync
// are those barriers inside a point, for the scenario's code. The coordinator reaches the
// scenario in its environment (scenarios.Env.Shard), nil in a whole run: every method here
// takes a nil coordinator for the whole run and then returns at once.

// Segment is the segment a scenario runs as: the coordinator's, or the whole run for nil.
func (c *Coordinator) Segment() Segment {
	if c == nil || c.Seg.IsWhole() {
		return Whole
	}
	return c.Seg
}

// Start meets the other shards at step of the point under way (e.g. "reset", after shard 0 has
// reset the scenario's tables) and returns at a common start time, as the barrier before each
// point does. Every shard must call it with the same steps in the same order.
func (c *Coordinator) Start(ctx context.Context, step string) error {
	if c == nil {
		return nil
	}
	return c.meet(ctx, c.label+" / "+step, true)
}

// Sync meets the other shards at step of the point under way (e.g. "done", once each has
// finished its work and reported it) and returns as soon as every shard still running has
// arrived. Shards that stopped are not waited for (LostShards names them).
func (c *Coordinator) Sync(ctx context.Context, step string) error {
	if c == nil {
		return nil
	}
	return c.meet(ctx, c.label+" / "+step, false)
}

// LostShards lists the shards seen to stop before the end so far, in order; none in a whole run.
func (c *Coordinator) LostShards() []int {
	if c == nil {
		return nil
	}
	lost, _ := c.Lost()
	return slices.Clone(lost)
}
