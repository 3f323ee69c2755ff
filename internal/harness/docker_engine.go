package harness

// Finding and connecting to the Docker engine, making sure an image is there, and the errors that
// say why a docker target cannot run.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/pgscale/pgscale/internal/usage"
)

// dockerSocketCandidates are where engines put their socket besides /var/run/docker.sock, when
// DOCKER_HOST is not set: rootless Docker, Docker Desktop, Colima, Rancher Desktop.
func dockerSocketCandidates() []string {
	home, _ := os.UserHomeDir()
	var out []string
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		out = append(out, filepath.Join(dir, "docker.sock"))
	}
	out = append(out, fmt.Sprintf("/run/user/%d/docker.sock", os.Getuid()))
	if home != "" {
		out = append(out,
			filepath.Join(home, ".docker", "run", "docker.sock"),
			filepath.Join(home, ".docker", "desktop", "docker.sock"),
			filepath.Join(home, ".colima", "default", "docker.sock"),
			filepath.Join(home, ".rd", "docker.sock"))
	}
	return out
}

// dockerSetup is done once per process, before testcontainers reads its configuration (which it
// reads only once).
var dockerSetup struct {
	once sync.Once
	ryuk bool // testcontainers' reaper is used
}

// dockerConnect returns a client of an engine that answers, and makes testcontainers agree with
// it: DOCKER_HOST when the socket is not the default one, the reaper off when its image is not
// here (a host with no registry could not pull it), and the host of published ports.
func dockerConnect(ctx context.Context) (*client.Client, error) {
	if os.Getenv("DOCKER_HOST") == "" {
		if _, err := os.Stat("/var/run/docker.sock"); err != nil {
			for _, sock := range dockerSocketCandidates() {
				if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
					_ = os.Setenv("DOCKER_HOST", "unix://"+sock)
					break
				}
			}
		}
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, dockerPingTimeout)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{}); err != nil {
		cli.Close()
		host := os.Getenv("DOCKER_HOST")
		if host == "" {
			host = "unix:///var/run/docker.sock"
		}
		return nil, &EngineUnavailableError{Host: host, Cause: err}
	}
	dockerSetup.once.Do(func() {
		tclog.SetDefault(tclog.NewNoopLogger()) // testcontainers' progress lines are not pgscale's
		if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
			if _, err := cli.ImageInspect(ctx, testcontainers.ReaperDefaultImage); err != nil {
				_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
			}
		}
		dockerSetup.ryuk = os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true"
		// On a local socket, published ports are on this machine; testcontainers' guess (the
		// default gateway, inside a container) was refused where this was measured.
		if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !set {
			if h := os.Getenv("DOCKER_HOST"); h == "" || strings.HasPrefix(h, "unix://") {
				_ = os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
			}
		}
	})
	return cli, nil
}

// dockerReaperNote says who removes a killed run's containers.
func dockerReaperNote() string {
	if dockerSetup.ryuk {
		return "ryuk"
	}
	return "pgscale clean (no reaper image: TESTCONTAINERS_RYUK_DISABLED)"
}

// dockerEnsureImage checks that image is here, or that its registry knows it (testcontainers then
// pulls it). A missing image that cannot be pulled is a usage error saying how to build one.
func dockerEnsureImage(ctx context.Context, cli *client.Client, image, from string) error {
	if _, err := cli.ImageInspect(ctx, image); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: inspect image %s: %w", image, err)
	}
	pctx, cancel := context.WithTimeout(ctx, dockerPullCheckTimeout)
	defer cancel()
	_, err := cli.DistributionInspect(pctx, image, client.DistributionInspectOptions{})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("docker target: %w", context.Cause(ctx))
	}
	return &ImageUnavailableError{Image: image, From: from, Reason: pullFailure(pctx, err), Cause: err}
}

// EngineUnavailableError says that no Docker engine answers at Host.
type EngineUnavailableError struct {
	Host  string
	Cause error
}

func (e *EngineUnavailableError) Error() string {
	return fmt.Sprintf("docker target: no Docker engine answers at %s (%s); start Docker or set DOCKER_HOST, or use --target local",
		e.Host, firstLine(e.Cause.Error()))
}

func (e *EngineUnavailableError) Unwrap() error { return e.Cause }

// Fallback is the line auto says when it passes over docker for this error.
func (e *EngineUnavailableError) Fallback(next string) string {
	return fmt.Sprintf("docker: no Docker engine answers at %s; using the %s target", e.Host, next)
}

// ImageUnavailableError says that an image is neither on the Docker engine nor can be pulled.
// It is a usage error (usage.Is). Its message is one line in pgscale's words: the engine's own
// (which name the registry host it tried and the resolver it asked) stay in Cause.
type ImageUnavailableError struct {
	Image string
	// From says where the name came from: --image, PGSCALE_IMAGE, the default image, or
	// PGSCALE_POOLER_IMAGE (PgBouncer's).
	From string
	// Reason is why the pull check failed: "no registry reachable", "the registry does not have
	// it"…
	Reason string
	Cause  error
}

func (e *ImageUnavailableError) Error() string {
	hint := fmt.Sprintf("then use --image %s (or set %s)", BuiltImage, EnvImage)
	if e.From == EnvPoolerImage {
		hint = fmt.Sprintf("which makes %s (or set %s to a PgBouncer image of that kind)", DefaultPoolerImage, EnvPoolerImage)
	}
	return fmt.Sprintf("%s %s: not on this Docker engine, and it cannot be pulled (%s); on a host with no registry "+
		"build pgscale's images with `make image`, %s", e.From, e.Image, e.Reason, hint)
}

// Fallback is the line auto says when it passes over docker for this error.
func (e *ImageUnavailableError) Fallback(next string) string {
	what, hint := "image", fmt.Sprintf("Build one with `make image` and set --image/%s to %s", EnvImage, BuiltImage)
	if e.From == EnvPoolerImage {
		what, hint = "PgBouncer image", fmt.Sprintf("Build one with `make image` (%s) or set %s", DefaultPoolerImage, EnvPoolerImage)
	}
	return fmt.Sprintf("docker: %s %s not available (%s, and not built locally); using the %s target. %s",
		what, e.Image, e.Reason, next, hint)
}

func (e *ImageUnavailableError) Unwrap() error { return e.Cause }

// As makes the error a usage error for usage.Is.
func (e *ImageUnavailableError) As(target any) bool {
	if u, ok := target.(**usage.Error); ok {
		*u = &usage.Error{Msg: e.Error()}
		return true
	}
	return false
}

// pullFailure says in a few words why the engine could not find image in a registry. The engine
// passes the registry's failure on as text, so a network failure is told by its words.
func pullFailure(ctx context.Context, err error) string {
	msg := err.Error()
	switch {
	case cerrdefs.IsNotFound(err):
		return "the registry does not have it"
	case cerrdefs.IsUnauthorized(err) || cerrdefs.IsPermissionDenied(err):
		return "the registry refused access to it"
	case ctx.Err() != nil:
		return fmt.Sprintf("no registry answered within %s", dockerPullCheckTimeout)
	}
	for _, net := range []string{"no such host", "dial tcp", "i/o timeout", "connection refused", "network is unreachable",
		"TLS handshake timeout", "server misbehaving"} {
		if strings.Contains(msg, net) {
			return "no registry reachable"
		}
	}
	return "the registry check failed"
}

// reapDockerRuns removes the containers (with their anonymous volumes) and networks that carry
// pgscale's labels when the pgscale process that started them is gone. Those of another
// machine's runs, and of live runs, stay. Without an engine there is nothing to do.
func reapDockerRuns(ctx context.Context, w io.Writer, dryRun bool, scope cleanScope) (CleanReport, error) {
	var report CleanReport
	if !scope.docker {
		return report, nil
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return report, nil
	}
	defer cli.Close()
	pctx, cancel := context.WithTimeout(ctx, dockerPingTimeout)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{}); err != nil {
		return report, nil // no engine answers: no containers to reap
	}
	filter := make(client.Filters).Add("label", LabelRun)
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return report, fmt.Errorf("clean: list docker containers: %w", err)
	}
	var errs []error
	for _, c := range list.Items {
		name := shortID(c.ID)
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		reason, orphan := dockerOrphaned(c.Labels)
		if !orphan {
			report.Kept = append(report.Kept, "docker container "+name)
			continue
		}
		if !dryRun {
			_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("clean: remove docker container %s: %w", name, err))
				continue
			}
		}
		report.Removed = append(report.Removed, CleanItem{Kind: "docker container", Name: name, Reason: reason})
		fmt.Fprintf(w, "%s docker container %s of run %s (%s)\n", cleanVerb(dryRun, "removed", "remove"), name, c.Labels[LabelRun], reason)
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return report, errors.Join(append(errs, fmt.Errorf("clean: list docker networks: %w", err))...)
	}
	for _, n := range nets.Items {
		reason, orphan := dockerOrphaned(n.Labels)
		if !orphan {
			report.Kept = append(report.Kept, "docker network "+n.Name)
			continue
		}
		if !dryRun {
			if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("clean: remove docker network %s: %w", n.Name, err))
				continue
			}
		}
		report.Removed = append(report.Removed, CleanItem{Kind: "docker network", Name: n.Name, Reason: reason})
		fmt.Fprintf(w, "%s docker network %s of run %s (%s)\n", cleanVerb(dryRun, "removed", "remove"), n.Name, n.Labels[LabelRun], reason)
	}
	return report, errors.Join(errs...)
}

// dockerOrphaned tells whether the pgscale process named by a container's or network's labels
// is gone, and why it thinks so. Another machine's are never orphans here: their owner's PID
// means nothing on this one.
func dockerOrphaned(labels map[string]string) (reason string, orphan bool) {
	if host := labels[LabelOwnerHost]; host != "" && host != dockerHostname() {
		return "", false
	}
	pid, err := strconv.Atoi(labels[LabelOwnerPID])
	if err != nil || pid <= 0 {
		return "no owner label", true
	}
	if cleanProcessAlive(pid, labels[LabelOwnerStart]) {
		return "", false
	}
	return fmt.Sprintf("pgscale pid %d is gone", pid), true
}
