package harness

// Removing the containers, networks and volumes a run labelled, when it closes and in pgscale
// clean.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// dockerRemoveLabelled force-removes the containers (and their anonymous volumes), then the
// networks, that carry label, and checks that none is left.
func dockerRemoveLabelled(ctx context.Context, cli *client.Client, label string) error {
	filter := make(client.Filters).Add("label", label)
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return fmt.Errorf("docker target: list containers %s: %w", label, err)
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range list.Items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
				mu.Lock()
				errs = append(errs, fmt.Errorf("docker target: remove container %s: %w", shortID(c.ID), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		errs = append(errs, fmt.Errorf("docker target: list networks %s: %w", label, err))
	} else {
		for _, n := range nets.Items {
			if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("docker target: remove network %s: %w", n.Name, err))
			}
		}
	}
	if len(errs) == 0 {
		// A removal "already in progress" (the reaper, a concurrent Close) finishes shortly.
		for deadline := time.Now().Add(5 * time.Second); ; {
			left, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
			if err != nil || len(left.Items) == 0 {
				break
			}
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("docker target: %d containers labelled %s are still there", len(left.Items), label))
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}
