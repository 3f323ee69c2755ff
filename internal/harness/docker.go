package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/pgscale/pgscale/internal/usage"
)

// Images of the docker target.
const (
	// EnvImage overrides DefaultImage.
	EnvImage = "PGSCALE_IMAGE"
	// EnvPoolerImage overrides DefaultPoolerImage.
	EnvPoolerImage = "PGSCALE_POOLER_IMAGE"
	// DefaultImage is the official image of the newest PostgreSQL major when this was written
	// (18, September 2025).
	DefaultImage = "postgres:18"
	// DefaultPoolerImage is PgBouncer as `make image` builds it: there is no official PgBouncer
	// image, and this one takes its configuration from PGBOUNCER_* variables (docker/README.md).
	DefaultPoolerImage = "pgscale/pgbouncer:bookworm"
	// BuiltImage is the PostgreSQL image `make image` builds, named in hints.
	BuiltImage = "pgscale/postgres:15-bookworm"
)

// Labels pgscale puts on its containers and networks, so that `pgscale clean` can tell a dead
// run's leftovers from a live run's.
const (
	LabelRun        = "org.pgscale.run"         // the run ID
	LabelTarget     = "org.pgscale.target"      // one target (a server and its pooler)
	LabelRole       = "org.pgscale.role"        // postgres, pgbouncer
	LabelOwnerPID   = "org.pgscale.owner-pid"   // the pgscale process that started it
	LabelOwnerStart = "org.pgscale.owner-start" // that process's start time (/proc/<pid>/stat), against PID reuse
	LabelOwnerHost  = "org.pgscale.owner-host"  // the machine that process runs on
)

// Network paths from the load generator to a container.
const (
	// PathContainerAddress goes to the container's own address on its bridge network.
	PathContainerAddress = "container-address"
	// PathPublishedPort goes through a port published on the host (docker-proxy), where the
	// container's address cannot be reached (Docker Desktop).
	PathPublishedPort = "published-port"
)

// Limits of the docker target.
const (
	// dockerStartTimeout bounds a start: a first start runs initdb (1-2 s on a 2-core machine,
	// 1.7 s from create to first query measured); a minute leaves room for a loaded CI machine.
	dockerStartTimeout = 60 * time.Second
	// dockerPingTimeout bounds asking the engine whether it answers: a local engine answers in
	// milliseconds, so a few seconds only wait out a busy one.
	dockerPingTimeout = 3 * time.Second
	// dockerPullCheckTimeout bounds asking the registry about a missing image. With no registry
	// the name lookup fails at once; ten seconds wait out a slow one.
	dockerPullCheckTimeout = 10 * time.Second
	// dockerDialTimeout bounds one connection attempt to a container address: an address that
	// cannot be routed (Docker Desktop) hangs until it; a reachable one answers in milliseconds.
	dockerDialTimeout = 2 * time.Second
	// dockerRemoveTimeout bounds removing a target's containers and network (force removal of a
	// running container takes a few hundred milliseconds).
	dockerRemoveTimeout = 20 * time.Second
	// dockerShmSize is /dev/shm for PostgreSQL's dynamic shared memory (parallel query workers).
	// Docker's 64 MB default runs out with many parallel queries over thousands of connections;
	// 1 GiB is a ceiling, not an allocation (tmpfs), and counts against the memory limit only
	// when used. A shape with less memory gets its memory limit instead.
	dockerShmSize = 1 << 30
	// dockerPostgresPort and dockerPoolerPort are the ports inside the containers.
	dockerPostgresPort = 5432
	dockerPoolerPort   = 6432
	// dockerSuperuser is the database superuser of the container.
	dockerSuperuser = "postgres"
)

// dockerReadyLog is what PostgreSQL logs once it accepts connections; the official image (and
// ours) logs it twice on a first start, from the temporary init server and the real one.
const dockerReadyLog = "database system is ready to accept connections"

// dockerManagedSettings are set by the image and the docker target; a spec may not override them.
var dockerManagedSettings = []string{
	"port", "listen_addresses", "data_directory", "config_file", "hba_file", "ident_file",
	"unix_socket_directories",
}

// DockerProvider starts PostgreSQL in a container with testcontainers-go's postgres module: the
// image from Spec.Image (default $PGSCALE_IMAGE, else DefaultImage), a CPU and memory shape,
// and PgBouncer as a second container on a network of the run's own when a pooler is asked for.
// Its zero value is ready to use.
type DockerProvider struct {
	// StartTimeout bounds a start (default 60 s).
	StartTimeout time.Duration
}

// Kind returns "docker".
func (p *DockerProvider) Kind() string { return KindDocker }

// Available reports whether a Docker engine answers and the default image is present or can be
// pulled.
func (p *DockerProvider) Available(ctx context.Context) error {
	return p.AvailableFor(ctx, Spec{})
}

// AvailableFor reports whether a Docker engine answers and spec's images are present here or can
// be pulled. A missing image that cannot be pulled is a usage error that says how to build it.
func (p *DockerProvider) AvailableFor(ctx context.Context, spec Spec) error {
	cli, err := dockerConnect(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	image, err := dockerImageFor(spec)
	if err != nil {
		return err
	}
	if err := dockerEnsureImage(ctx, cli, image, dockerImageFlag(spec)); err != nil {
		return err
	}
	if spec.Pooler != nil {
		return dockerEnsureImage(ctx, cli, dockerPoolerImage(), EnvPoolerImage)
	}
	return nil
}

// dockerImageFor is the image spec asks for, checked for form.
func dockerImageFor(spec Spec) (string, error) {
	image := spec.Image
	if image == "" {
		image = os.Getenv(EnvImage)
	}
	if image == "" {
		image = DefaultImage
	}
	if err := ValidateImage(image); err != nil {
		return "", err
	}
	return image, nil
}

// dockerImageFlag names where the image came from, for messages.
func dockerImageFlag(spec Spec) string {
	switch {
	case spec.Image != "":
		return "--image"
	case os.Getenv(EnvImage) != "":
		return EnvImage
	default:
		return "the default image"
	}
}

// dockerPoolerImage is PgBouncer's image.
func dockerPoolerImage() string {
	if image := os.Getenv(EnvPoolerImage); image != "" {
		return image
	}
	return DefaultPoolerImage
}

// ValidateImage rejects an image reference Docker would not accept (a usage error naming it).
func ValidateImage(image string) error {
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		return usage.Fieldf("image", "%q: not a valid image reference (%v); e.g. %s or %s", image, err, DefaultImage, BuiltImage)
	}
	return nil
}

// Start starts a server for spec and returns it once it answers queries.
func (p *DockerProvider) Start(ctx context.Context, spec Spec) (Target, error) {
	t, err := p.StartDocker(ctx, spec)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// StartDocker is Start with the concrete type. A failed start removes whatever it created.
func (p *DockerProvider) StartDocker(ctx context.Context, spec Spec) (*DockerTarget, error) {
	began := time.Now()
	t, err := dockerPlanTarget(spec)
	if err != nil {
		return nil, err
	}
	cli, err := dockerConnect(ctx)
	if err != nil {
		return nil, err
	}
	t.cli = cli
	if err := t.checkEngine(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	if err := dockerEnsureImage(ctx, cli, t.image, dockerImageFlag(spec)); err != nil {
		cli.Close()
		return nil, err
	}
	if t.pooler != nil {
		if err := dockerEnsureImage(ctx, cli, t.poolerImage, EnvPoolerImage); err != nil {
			cli.Close()
			return nil, err
		}
	}
	timeout := p.StartTimeout
	if timeout <= 0 {
		timeout = dockerStartTimeout
	}
	if err := t.start(ctx, time.Now().Add(timeout)); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dockerRemoveTimeout)
		defer cancel()
		if rerr := t.shutdown(rctx); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if ctx.Err() != nil {
			// err names the target already.
			err = fmt.Errorf("%w (start cut short: %w)", err, context.Cause(ctx))
		}
		return nil, err
	}
	t.startTime = time.Since(began)
	return t, nil
}

// dockerPlanTarget checks spec (every problem at once) and fills a target that is not started.
func dockerPlanTarget(spec Spec) (*DockerTarget, error) {
	var errs []error
	image, err := dockerImageFor(spec)
	if err != nil {
		errs = append(errs, err)
	}
	var shape *Shape
	if spec.Shape != "" {
		s, err := ParseShape(spec.Shape)
		if err != nil {
			errs = append(errs, err)
		} else {
			shape = &s
		}
	}
	if err := ValidatePooler(spec.Pooler); err != nil {
		errs = append(errs, err)
	}
	for _, name := range SortedKeys(spec.Settings) {
		if err := dockerCheckSetting(name, spec.Settings[name]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	password, err := dockerRandomHex(16)
	if err != nil {
		return nil, err
	}
	id, err := dockerRandomHex(4)
	if err != nil {
		return nil, err
	}
	t := &DockerTarget{
		runID: spec.RunID, id: id, image: image, shape: shape, settings: spec.Settings,
		password: password, poolerImage: dockerPoolerImage(),
	}
	if spec.Pooler != nil {
		pooler := *spec.Pooler
		t.pooler = &pooler
	}
	t.labels = dockerLabels(spec.RunID, id)
	return t, nil
}

// dockerCheckSetting rejects a malformed name, a setting the target manages, and fsync off.
func dockerCheckSetting(name, value string) error {
	if err := ValidateSettingName(name); err != nil {
		return err
	}
	for _, managed := range dockerManagedSettings {
		if strings.EqualFold(name, managed) {
			return usage.Fieldf("pg-setting", "%s: the docker target sets %s itself", name, managed)
		}
	}
	return checkFsyncSetting(name, value)
}

// dockerLabels are the labels of a target's containers and network.
func dockerLabels(runID, targetID string) map[string]string {
	pid := os.Getpid()
	labels := map[string]string{
		LabelRun:       runID,
		LabelTarget:    targetID,
		LabelOwnerPID:  strconv.Itoa(pid),
		LabelOwnerHost: dockerHostname(),
	}
	if st, ok := cleanProcStat(pid); ok {
		labels[LabelOwnerStart] = st.start
	}
	return labels
}

// dockerHostname names this machine in labels.
func dockerHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}

func dockerRandomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("docker target: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
