package harness

import (
	"context"
	"sync"
)

// Tracker knows every target a process has running, so that a second Ctrl-C can close them all
// before the process exits.
type Tracker struct {
	mu      sync.Mutex
	targets map[Target]struct{}
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{targets: map[Target]struct{}{}} }

// Add tracks t.
func (tr *Tracker) Add(t Target) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.targets[t] = struct{}{}
}

// Remove stops tracking t.
func (tr *Tracker) Remove(t Target) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	delete(tr.targets, t)
}

// CloseAll closes every tracked target concurrently (Close is idempotent).
func (tr *Tracker) CloseAll(ctx context.Context) {
	tr.mu.Lock()
	targets := make([]Target, 0, len(tr.targets))
	for t := range tr.targets {
		targets = append(targets, t)
	}
	tr.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = t.Close(ctx)
		}()
	}
	wg.Wait()
}
