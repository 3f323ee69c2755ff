package harness

import (
	"context"
	"fmt"
	"strings"
)

// providers are the target kinds this build can start, in the order auto tries them.
var providers []Provider

// RegisterProvider makes a target kind available; docker registers before local so that auto
// prefers it.
func RegisterProvider(p Provider) { providers = append(providers, p) }

// Choose picks the provider for kind. For auto it takes the first available one and says in note
// why it passed over the others; where none is available the error says how to get one.
func Choose(ctx context.Context, kind string) (p Provider, note string, err error) {
	return ChooseFor(ctx, Spec{Kind: kind})
}

// specChecker is a Provider that can tell whether it can start one spec in particular: the
// docker provider, whether the spec's image is here or can be pulled.
type specChecker interface {
	AvailableFor(ctx context.Context, spec Spec) error
}

// availableFor asks p whether it can start spec.
func availableFor(ctx context.Context, p Provider, spec Spec) error {
	if c, ok := p.(specChecker); ok {
		return c.AvailableFor(ctx, spec)
	}
	return p.Available(ctx)
}

// ChooseFor is Choose for spec.Kind, asking providers about spec itself (its image, its pooler).
func ChooseFor(ctx context.Context, spec Spec) (p Provider, note string, err error) {
	kind := spec.Kind
	switch kind {
	case "", KindAuto:
		var skipped []string
		for _, p := range providers {
			if p.Kind() == KindDSN {
				continue
			}
			if err := availableFor(ctx, p, spec); err != nil {
				skipped = append(skipped, fmt.Sprintf("%s: %v", p.Kind(), err))
				continue
			}
			if len(skipped) > 0 {
				note = fmt.Sprintf("target %s (%s)", p.Kind(), strings.Join(skipped, "; "))
			}
			return p, note, nil
		}
		return nil, "", fmt.Errorf("%w: %s. Install Docker (https://docs.docker.com/engine/install/) "+
			"or PostgreSQL (apt-get install postgresql, brew install postgresql), or give --target dsn --dsn URL",
			ErrNoTarget, strings.Join(skipped, "; "))
	}
	for _, p := range providers {
		if p.Kind() == kind {
			if err := availableFor(ctx, p, spec); err != nil {
				return nil, "", fmt.Errorf("target %s: %w", kind, err)
			}
			return p, "", nil
		}
	}
	var kinds []string
	for _, p := range providers {
		kinds = append(kinds, p.Kind())
	}
	return nil, "", Usagef("--target %q: valid targets are auto, %s", kind, strings.Join(kinds, ", "))
}

// CheckKind rejects a target kind this build does not know, before anything starts.
func CheckKind(kind string) error {
	if kind == "" || kind == KindAuto {
		return nil
	}
	var kinds []string
	for _, p := range providers {
		if p.Kind() == kind {
			return nil
		}
		kinds = append(kinds, p.Kind())
	}
	return Usagef("--target %q: valid targets are auto, %s", kind, strings.Join(kinds, ", "))
}
