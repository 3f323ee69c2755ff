package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pgscale/pgscale/internal/usage"
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
		var skipped []error
		for _, p := range providers {
			if p.Kind() == KindDSN {
				continue
			}
			if err := availableFor(ctx, p, spec); err != nil {
				skipped = append(skipped, err)
				continue
			}
			if len(skipped) > 0 {
				note = fallbackNote(skipped, p.Kind())
			}
			return p, note, nil
		}
		reasons := make([]string, len(skipped))
		for i, err := range skipped {
			reasons[i] = firstLine(err.Error())
		}
		return nil, "", fmt.Errorf("%w: %s. Install Docker (https://docs.docker.com/engine/install/) "+
			"or PostgreSQL (apt-get install postgresql, brew install postgresql), or give --target dsn --dsn URL",
			ErrNoTarget, strings.Join(reasons, "; "))
	}
	for _, p := range providers {
		if p.Kind() == kind {
			// The provider's errors name it ("docker target: …", or the flag that is wrong).
			if err := availableFor(ctx, p, spec); err != nil {
				return nil, "", err
			}
			return p, "", nil
		}
	}
	var kinds []string
	for _, p := range providers {
		kinds = append(kinds, p.Kind())
	}
	return nil, "", usage.Fieldf("target", "%q: valid targets are auto, %s", kind, strings.Join(kinds, ", "))
}

// fallbackNote is the one line auto says when it passes over providers: why, in a few words, and
// which target it uses instead.
func fallbackNote(skipped []error, next string) string {
	var reasons []string
	for _, err := range skipped {
		var image *ImageUnavailableError
		var engine *EngineUnavailableError
		switch {
		case errors.As(err, &image) && len(skipped) == 1:
			return image.Fallback(next)
		case errors.As(err, &image):
			reasons = append(reasons, fmt.Sprintf("docker: image %s not available (%s, and not built locally)", image.Image, image.Reason))
		case errors.As(err, &engine):
			reasons = append(reasons, fmt.Sprintf("docker: no Docker engine answers at %s", engine.Host))
		default:
			reasons = append(reasons, firstLine(err.Error()))
		}
	}
	return fmt.Sprintf("%s; using the %s target", strings.Join(reasons, "; "), next)
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
	return usage.Fieldf("target", "%q: valid targets are auto, %s", kind, strings.Join(kinds, ", "))
}
