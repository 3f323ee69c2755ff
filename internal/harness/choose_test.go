package harness

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/usage"
)

// daemonWords finds what an engine's error names: host names and addresses.
var daemonWords = regexp.MustCompile(`(?:lookup |https?://|on )([A-Za-z0-9.-]+\.[A-Za-z0-9-]+(?::\d+)?)`)

// TestFallbackNoteIsOneShortLine: the line auto says when the image is missing is pgscale's, in
// one line, without the engine's words (the registry host it tried, the resolver it asked).
func TestFallbackNoteIsOneShortLine(t *testing.T) {
	t.Parallel()
	cause := errors.New(`Error response from daemon: Get "https://registry.example.test/v2/": dial tcp: ` +
		`lookup registry.example.test on 10.0.0.53:53: no such host`)
	e := &ImageUnavailableError{Image: DefaultImage, From: "the default image", Reason: pullFailure(context.Background(), cause), Cause: cause}
	note := fallbackNote([]error{e}, KindLocal)
	want := "docker: image " + DefaultImage + " not available (no registry reachable, and not built locally); using the local target. " +
		"Build one with `make image` and set --image/PGSCALE_IMAGE to " + BuiltImage
	if note != want {
		t.Errorf("note\n%q, want\n%q", note, want)
	}
	for _, bad := range []string{"example.test", "10.0.0.53", "daemon", "\n"} {
		if strings.Contains(note, bad) || strings.Contains(e.Error(), bad) {
			t.Errorf("note %q or error %q contains %q", note, e.Error(), bad)
		}
	}
	// Still a usage error that says how to build the image, with the engine's words kept.
	if !usage.Is(e) || !strings.Contains(e.Error(), "`make image`") || !errors.Is(e, cause) {
		t.Errorf("error %q: usage %v, wraps the cause %v", e, usage.Is(e), errors.Is(e, cause))
	}
	// No engine: where it looked, without the client library's words.
	noEngine := &EngineUnavailableError{Host: "unix:///nonexistent.sock", Cause: errors.New("dial unix /nonexistent.sock: connect: refused")}
	if got := fallbackNote([]error{noEngine}, KindLocal); got != "docker: no Docker engine answers at unix:///nonexistent.sock; using the local target" {
		t.Errorf("note %q", got)
	}
	// Any other reason keeps its own words, once.
	other := errors.New("local target: PGSCALE_PG_BINDIR=/x: no initdb there")
	if got := fallbackNote([]error{other}, KindDocker); got != other.Error()+"; using the docker target" {
		t.Errorf("note %q", got)
	}
}

// TestAutoFallbackLineNamesNoRegistryHost: on a host whose engine cannot pull, auto passes over
// docker for a missing image and says so without the engine's words.
func TestAutoFallbackLineNamesNoRegistryHost(t *testing.T) {
	requireDocker(t, false)
	_, noLocal := FindPGBinaries(context.Background())
	require(t, "PostgreSQL (the local target to fall back to)", noLocal)
	ctx := context.Background()
	spec := Spec{Kind: KindAuto, Image: "pgscale/postgres:no-such-tag"}
	err := (&DockerProvider{}).AvailableFor(ctx, spec)
	var image *ImageUnavailableError
	if !errors.As(err, &image) {
		t.Fatalf("a missing image: %v, want an ImageUnavailableError", err)
	}
	p, note, err := ChooseFor(ctx, spec)
	if err != nil || p.Kind() != KindLocal {
		t.Fatalf("auto chose %v (%v)", p, err)
	}
	if !strings.HasPrefix(note, "docker: image pgscale/postgres:no-such-tag not available (") ||
		!strings.Contains(note, "using the local target") || strings.Contains(note, "\n") {
		t.Errorf("note %q", note)
	}
	words := daemonWords.FindAllStringSubmatch(image.Cause.Error(), -1)
	t.Logf("pgscale says %q", note)
	for _, w := range words {
		if strings.Contains(note, w[1]) {
			t.Errorf("note %q names %q from the engine's error", note, w[1])
		}
	}
}
