package harness

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
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
		return Usagef("--image %q: not a valid image reference (%v); e.g. %s or %s", image, err, DefaultImage, BuiltImage)
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
			return Usagef("--pg-setting %s: the docker target sets %s itself", name, managed)
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

// DockerTarget is a server started by DockerProvider: a PostgreSQL container and, when asked
// for, a PgBouncer container and the network they share. Close removes them all.
type DockerTarget struct {
	runID       string
	id          string // LabelTarget
	image       string
	poolerImage string
	shape       *Shape
	pooler      *PoolerSpec
	settings    map[string]string
	password    string
	labels      map[string]string

	cli       *client.Client
	info      dockerEngineInfo
	network   *testcontainers.DockerNetwork
	pg        testcontainers.Container // the postgres module's container
	bouncer   testcontainers.Container
	path      string // PathContainerAddress or PathPublishedPort
	pgAddr    dockerAddr
	poolAddr  dockerAddr
	shapeSeen string // what the cgroup says of the limits
	source    *pgbouncerSource
	poolerVer string
	startTime time.Duration

	closeOnce sync.Once
	closeErr  error
}

// dockerAddr is a host and port the load generator reaches a container by.
type dockerAddr struct {
	host string
	port int
}

func (a dockerAddr) String() string { return fmt.Sprintf("%s:%d", a.host, a.port) }

// dockerEngineInfo is what the target needs to know of the engine.
type dockerEngineInfo struct {
	version       string
	cgroupVersion string
	cpus          int
	memory        int64
	cfsQuota      bool
	memoryLimit   bool
	swapLimit     bool
}

// Kind returns "docker".
func (t *DockerTarget) Kind() string { return KindDocker }

// DSN is where the load goes: PgBouncer when a pooler was asked for, else the server.
func (t *DockerTarget) DSN() string {
	if t.pooler != nil {
		return t.url(t.poolAddr, "postgres")
	}
	return t.AdminDSN()
}

// AdminDSN connects to the server directly.
func (t *DockerTarget) AdminDSN() string { return t.url(t.pgAddr, "postgres") }

func (t *DockerTarget) url(a dockerAddr, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(dockerSuperuser, t.password), Host: a.String(),
		Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Schema is "public": the whole server belongs to the run.
func (t *DockerTarget) Schema() string { return "public" }

// CanChangeSettings is true: every start takes its settings on the server's command line.
func (t *DockerTarget) CanChangeSettings() bool { return true }

// NetworkPath says how the load reaches the server: PathContainerAddress or PathPublishedPort.
func (t *DockerTarget) NetworkPath() string { return t.path }

// ContainerID is the PostgreSQL container's ID.
func (t *DockerTarget) ContainerID() string {
	if t.pg == nil {
		return ""
	}
	return t.pg.GetContainerID()
}

// PoolerContainerID is the PgBouncer container's ID, or "".
func (t *DockerTarget) PoolerContainerID() string {
	if t.bouncer == nil {
		return ""
	}
	return t.bouncer.GetContainerID()
}

// Labels are the labels on the target's containers and network.
func (t *DockerTarget) Labels() map[string]string { return t.labels }

// StartTime is how long the start took, to the first query answered.
func (t *DockerTarget) StartTime() time.Duration { return t.startTime }

// SampleSources is PgBouncer's SHOW POOLS and SHOW STATS when a pooler is in front.
func (t *DockerTarget) SampleSources() []SampleSource {
	if t.source == nil {
		return nil
	}
	return []SampleSource{t.source}
}

// Info reads the server's version, max_connections and non-default settings.
func (t *DockerTarget) Info(ctx context.Context) (ServerInfo, error) {
	info, err := ReadServerInfo(ctx, t.AdminDSN())
	if err != nil {
		return ServerInfo{}, fmt.Errorf("docker target: %s", RedactDSN(err.Error()))
	}
	return info, nil
}

// Detail describes the target for a result's environment: image, shape, pooler, and the network
// path the load takes.
func (t *DockerTarget) Detail() map[string]string {
	d := map[string]string{
		"image":          t.image,
		"engine":         "docker " + t.info.version,
		"cgroup_version": t.info.cgroupVersion,
		"network_path":   t.path,
		"address":        t.pgAddr.String(),
		"shm_size_mb":    strconv.FormatInt(t.shmSize()>>20, 10),
		"start_ms":       strconv.FormatInt(t.startTime.Milliseconds(), 10),
		"reaper":         dockerReaperNote(),
	}
	if t.pg != nil {
		d["container"] = shortID(t.pg.GetContainerID())
		if inspect, err := t.pg.Inspect(context.Background()); err == nil && inspect.Image != "" {
			d["image_id"] = inspect.Image
		}
	}
	if t.shape != nil {
		d["shape"] = t.shape.Name
		d["shape_cpus"] = strconv.FormatFloat(t.shape.CPUs, 'f', -1, 64)
		d["shape_memory_mb"] = strconv.FormatInt(t.shape.MemoryMB(), 10)
		d["shape_enforced"] = t.shapeSeen
		if t.shape.Note != "" {
			d["shape_note"] = t.shape.Note
		}
	}
	if t.pooler != nil {
		poolerDetail(d, t.pooler, t.poolerVer, t.poolAddr.String()+" (container)")
		d["pooler_image"] = t.poolerImage
	}
	return d
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// shmSize is /dev/shm of the PostgreSQL container.
func (t *DockerTarget) shmSize() int64 {
	if t.shape != nil && t.shape.MemoryBytes < dockerShmSize {
		return t.shape.MemoryBytes
	}
	return dockerShmSize
}

// Close removes the target's containers (with their anonymous volumes) and network. It is
// idempotent and safe from any goroutine; it goes on removing after ctx is done, for up to 20 s,
// since a container left behind would outlive pgscale.
func (t *DockerTarget) Close(ctx context.Context) error {
	t.closeOnce.Do(func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dockerRemoveTimeout)
		defer cancel()
		t.closeErr = t.shutdown(rctx)
		t.cli.Close()
	})
	return t.closeErr
}

// shutdown removes every container and network labelled with this target, those whose creation
// was under way when a start failed included.
func (t *DockerTarget) shutdown(ctx context.Context) error {
	if t.source != nil {
		t.source.Close()
	}
	return dockerRemoveLabelled(ctx, t.cli, LabelTarget+"="+t.id)
}

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

// checkEngine reads what the engine can do and rejects a shape it cannot enforce or that could
// never bind.
func (t *DockerTarget) checkEngine(ctx context.Context) error {
	res, err := t.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("docker target: engine info: %w", err)
	}
	in := res.Info
	t.info = dockerEngineInfo{version: in.ServerVersion, cgroupVersion: in.CgroupVersion, cpus: in.NCPU,
		memory: in.MemTotal, cfsQuota: in.CPUCfsQuota, memoryLimit: in.MemoryLimit, swapLimit: in.SwapLimit}
	if t.shape == nil {
		return nil
	}
	s := t.shape
	var errs []error
	if !in.CPUCfsQuota {
		errs = append(errs, fmt.Errorf("docker target: --shape %s: the engine cannot limit CPU (no CFS quota support in its cgroups); "+
			"run without --shape, or on a host whose kernel has CONFIG_CFS_BANDWIDTH", s.Name))
	}
	if !in.MemoryLimit {
		errs = append(errs, fmt.Errorf("docker target: --shape %s: the engine cannot limit memory (no memory cgroup); "+
			"run without --shape, or enable the memory cgroup (cgroup_enable=memory)", s.Name))
	}
	if in.NCPU > 0 && s.CPUs > float64(in.NCPU) {
		errs = append(errs, Usagef("--shape %s: %s CPUs, but the Docker engine has %d; pick a shape with at most %d CPUs",
			s.Name, strconv.FormatFloat(s.CPUs, 'f', -1, 64), in.NCPU, in.NCPU))
	}
	if in.MemTotal > 0 && s.MemoryBytes > in.MemTotal {
		errs = append(errs, Usagef("--shape %s: %d MiB of memory, but the Docker engine has %d MiB, so the limit could never bind; "+
			"pick a smaller shape", s.Name, s.MemoryMB(), in.MemTotal>>20))
	}
	return errors.Join(errs...)
}

// start creates the network (with a pooler), the PostgreSQL container and the PgBouncer
// container, and returns once the load's path answers queries.
func (t *DockerTarget) start(ctx context.Context, deadline time.Time) error {
	noLog := testcontainers.WithLogger(tclog.NewNoopLogger())
	var netOpts []testcontainers.ContainerCustomizer
	if t.pooler != nil {
		nw, err := network.New(ctx, network.WithLabels(t.labels))
		if err != nil {
			return fmt.Errorf("docker target: create network: %w", err)
		}
		t.network = nw
		netOpts = append(netOpts, network.WithNetwork([]string{"postgres"}, nw))
	}
	labels := t.roleLabels("postgres")
	opts := []testcontainers.ContainerCustomizer{
		noLog,
		tcpostgres.WithUsername(dockerSuperuser),
		tcpostgres.WithPassword(t.password),
		tcpostgres.WithDatabase("postgres"),
		// The module's default command adds -c fsync=off; ours replaces it, so fsync stays on.
		testcontainers.WithCmd(append([]string{"postgres"}, SettingArgs(t.settings)...)...),
		testcontainers.WithLabels(labels),
		testcontainers.WithName(t.containerName("postgres")),
		testcontainers.WithHostConfigModifier(t.hostConfig),
		testcontainers.WithWaitStrategyAndDeadline(time.Until(deadline),
			&dockerLogWait{text: dockerReadyLog, times: 2}),
	}
	opts = append(opts, netOpts...)
	pg, err := tcpostgres.Run(ctx, t.image, opts...)
	if pg != nil {
		if c, ok := pg.Container.(*testcontainers.DockerContainer); ok && c != nil {
			t.pg = c
		}
	}
	if err != nil {
		return t.startError("postgres", err)
	}
	if err := t.reachPostgres(ctx, deadline); err != nil {
		return err
	}
	if t.shape != nil {
		if err := t.verifyShape(ctx); err != nil {
			return err
		}
	}
	if t.pooler != nil {
		if err := t.startPooler(ctx, deadline, noLog); err != nil {
			return err
		}
	}
	return nil
}

// roleLabels are the target's labels plus its role.
func (t *DockerTarget) roleLabels(role string) map[string]string {
	labels := map[string]string{LabelRole: role}
	for k, v := range t.labels {
		labels[k] = v
	}
	return labels
}

// containerName is pgscale-<run>-<role>-<target id>: readable in `docker ps`, unique per target.
func (t *DockerTarget) containerName(role string) string {
	return "pgscale-" + strings.Trim(localSafeName(t.runID), "-_") + "-" + role + "-" + t.id
}

// hostConfig sets shared memory and the shape's limits on the PostgreSQL container.
func (t *DockerTarget) hostConfig(hc *container.HostConfig) {
	hc.ShmSize = t.shmSize()
	if t.shape == nil {
		return
	}
	hc.NanoCPUs = t.shape.NanoCPUs()
	hc.Memory = t.shape.MemoryBytes
	if t.info.swapLimit {
		hc.MemorySwap = t.shape.MemoryBytes // no swap beyond the limit, as on a cloud instance
	}
}

// startError explains a container that did not come up, with the end of its log. A setting
// PostgreSQL rejected is a usage error carrying PostgreSQL's own words.
func (t *DockerTarget) startError(role string, err error) error {
	var logs string
	c := t.bouncer
	if role == "postgres" {
		c = t.pg
	}
	if c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		logs = dockerLogs(ctx, c)
	}
	if msg := localRejectedSetting(logs); msg != "" {
		return Usagef("docker target: postgres rejected a setting: %s", msg)
	}
	if logs != "" {
		return fmt.Errorf("docker target: %s container: %w; its log ends: %s", role, err, lastLines(logs, 6))
	}
	return fmt.Errorf("docker target: %s container: %w", role, err)
}

// dockerLogs reads a container's log (stdout and stderr).
func dockerLogs(ctx context.Context, c testcontainers.Container) string {
	rc, err := c.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	return string(b)
}

// reachPostgres picks the path to the server, its container address first, and waits until a
// query answers there.
func (t *DockerTarget) reachPostgres(ctx context.Context, deadline time.Time) error {
	addrs, err := t.candidates(ctx, t.pg, dockerPostgresPort)
	if err != nil {
		return err
	}
	path, addr, err := t.reach(ctx, addrs, deadline, func(a dockerAddr) string {
		return t.url(a, "postgres") + "&connect_timeout=" + strconv.Itoa(int(dockerDialTimeout/time.Second))
	})
	if err != nil {
		return fmt.Errorf("docker target: postgres: %w", err)
	}
	t.path, t.pgAddr = path, addr
	return nil
}

// dockerCandidate is one way to a container.
type dockerCandidate struct {
	path string
	addr dockerAddr
}

// candidates lists the ways to reach port of c: its address on its (first) network, then the
// published port.
func (t *DockerTarget) candidates(ctx context.Context, c testcontainers.Container, port int) ([]dockerCandidate, error) {
	inspect, err := c.Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker target: inspect: %w", err)
	}
	var out []dockerCandidate
	if inspect.NetworkSettings != nil {
		for name, n := range inspect.NetworkSettings.Networks {
			if n == nil || !n.IPAddress.IsValid() {
				continue
			}
			if t.network == nil || name == t.network.Name {
				out = append(out, dockerCandidate{PathContainerAddress, dockerAddr{n.IPAddress.String(), port}})
				break
			}
		}
	}
	host, herr := c.Host(ctx)
	mapped, merr := c.MappedPort(ctx, fmt.Sprintf("%d/tcp", port))
	if herr == nil && merr == nil {
		out = append(out, dockerCandidate{PathPublishedPort, dockerAddr{host, int(mapped.Num())}})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("docker target: the container has neither an address nor a published port for %d (%v, %v)", port, herr, merr)
	}
	return out, nil
}

// reach tries the candidates in order until one answers a query, and returns it. The first that
// answers wins; a later round starts again from the first, until the deadline.
func (t *DockerTarget) reach(ctx context.Context, cands []dockerCandidate, deadline time.Time,
	dsn func(dockerAddr) string) (string, dockerAddr, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var tried []string
	backoff := 20 * time.Millisecond
	for {
		tried = tried[:0]
		for _, c := range cands {
			err := localPing(ctx, dsn(c.addr))
			if err == nil {
				return c.path, c.addr, nil
			}
			tried = append(tried, fmt.Sprintf("%s %s: %s", c.path, c.addr, RedactDSN(err.Error())))
		}
		select {
		case <-ctx.Done():
			return "", dockerAddr{}, fmt.Errorf("no answer by the start timeout (%s)", strings.Join(tried, "; "))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// verifyShape reads the limits back from the engine and from the container's cgroup, and fails
// when they are not what the shape asked for: a run must never go unlimited silently.
func (t *DockerTarget) verifyShape(ctx context.Context) error {
	s := t.shape
	inspect, err := t.cli.ContainerInspect(ctx, t.pg.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("docker target: inspect: %w", err)
	}
	hc := inspect.Container.HostConfig
	if hc == nil || hc.NanoCPUs != s.NanoCPUs() || hc.Memory != s.MemoryBytes {
		var cpus, mem int64
		if hc != nil {
			cpus, mem = hc.NanoCPUs, hc.Memory
		}
		return fmt.Errorf("docker target: --shape %s was not applied: asked %d nano-CPUs and %d bytes, the engine reports %d and %d",
			s.Name, s.NanoCPUs(), s.MemoryBytes, cpus, mem)
	}
	limits, err := ReadCgroupLimits(ctx, t.AdminDSN())
	if err != nil {
		return fmt.Errorf("docker target: --shape %s: cannot read the limits back from the container's cgroup: %w", s.Name, err)
	}
	if err := limits.Check(*s); err != nil {
		return fmt.Errorf("docker target: --shape %s is not enforced: %w", s.Name, err)
	}
	t.shapeSeen = limits.String()
	return nil
}

// CgroupLimits are the CPU and memory limits a server's cgroup holds, read from inside it.
type CgroupLimits struct {
	Version     int   // 1 or 2
	QuotaUs     int64 // CFS quota per period, µs; -1 for none
	PeriodUs    int64
	MemoryBytes int64 // -1 for none
}

// CPUs is quota / period, or 0 for no limit.
func (l CgroupLimits) CPUs() float64 {
	if l.QuotaUs <= 0 || l.PeriodUs <= 0 {
		return 0
	}
	return float64(l.QuotaUs) / float64(l.PeriodUs)
}

// String is how the result records them.
func (l CgroupLimits) String() string {
	if l.Version == 2 {
		return fmt.Sprintf("cgroup v2: cpu.max %d %d, memory.max %d", l.QuotaUs, l.PeriodUs, l.MemoryBytes)
	}
	return fmt.Sprintf("cgroup v1: cpu.cfs_quota_us %d, cpu.cfs_period_us %d, memory.limit_in_bytes %d",
		l.QuotaUs, l.PeriodUs, l.MemoryBytes)
}

// Check compares the limits with a shape: CPUs within 1% (the quota is whole microseconds),
// memory within a page (the kernel rounds down to its page size).
func (l CgroupLimits) Check(s Shape) error {
	var errs []error
	if cpus := l.CPUs(); cpus == 0 || cpus < s.CPUs*0.99 || cpus > s.CPUs*1.01 {
		errs = append(errs, fmt.Errorf("CPU limit %.3g, want %g (%s)", cpus, s.CPUs, l))
	}
	if l.MemoryBytes <= 0 || l.MemoryBytes > s.MemoryBytes || s.MemoryBytes-l.MemoryBytes >= 64<<10 {
		errs = append(errs, fmt.Errorf("memory limit %d bytes, want %d (%s)", l.MemoryBytes, s.MemoryBytes, l))
	}
	return errors.Join(errs...)
}

// ReadCgroupLimits reads the server's own cgroup limits through the server (pg_read_file, as a
// superuser), so it works with any image, with no docker exec: cgroup v2's cpu.max and
// memory.max, else v1's cpu.cfs_quota_us, cpu.cfs_period_us and memory.limit_in_bytes.
func ReadCgroupLimits(ctx context.Context, adminDSN string) (CgroupLimits, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return CgroupLimits{}, fmt.Errorf("connect: %s", RedactDSN(err.Error()))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	read := func(path string) (string, bool) {
		var s *string
		// missing_ok = true: a file that is not there reads as NULL.
		if err := conn.QueryRow(ctx, "SELECT pg_read_file($1, 0, 4096, true)", path).Scan(&s); err != nil || s == nil {
			return "", false
		}
		return strings.TrimSpace(*s), true
	}
	num := func(s string) int64 {
		if s == "max" {
			return -1
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	if cpu, ok := read("/sys/fs/cgroup/cpu.max"); ok {
		l := CgroupLimits{Version: 2}
		if f := strings.Fields(cpu); len(f) == 2 {
			l.QuotaUs, l.PeriodUs = num(f[0]), num(f[1])
		}
		mem, _ := read("/sys/fs/cgroup/memory.max")
		l.MemoryBytes = num(mem)
		return l, nil
	}
	for _, dir := range []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"} {
		quota, ok1 := read(dir + "/cpu.cfs_quota_us")
		period, ok2 := read(dir + "/cpu.cfs_period_us")
		if !ok1 || !ok2 {
			continue
		}
		mem, _ := read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
		l := CgroupLimits{Version: 1, QuotaUs: num(quota), PeriodUs: num(period), MemoryBytes: num(mem)}
		if l.MemoryBytes >= 1<<62 { // v1 writes "no limit" as a huge page-aligned number
			l.MemoryBytes = -1
		}
		return l, nil
	}
	return CgroupLimits{}, errors.New("neither /sys/fs/cgroup/cpu.max (v2) nor /sys/fs/cgroup/cpu/cpu.cfs_quota_us (v1) is readable")
}

// startPooler starts PgBouncer on the run's network in front of the server and waits until a
// query goes through it by the same path as the server's.
func (t *DockerTarget) startPooler(ctx context.Context, deadline time.Time, noLog testcontainers.LoggerOption) error {
	env := map[string]string{
		"PGBOUNCER_DB_HOST":         "postgres", // the server's alias on the run's network
		"PGBOUNCER_DB_PORT":         strconv.Itoa(dockerPostgresPort),
		"PGBOUNCER_DB_USER":         dockerSuperuser,
		"PGBOUNCER_DB_PASSWORD":     t.password,
		"PGBOUNCER_POOL_MODE":       t.pooler.Mode,
		"PGBOUNCER_POOL_SIZE":       strconv.Itoa(t.pooler.Size),
		"PGBOUNCER_MAX_CLIENT_CONN": strconv.Itoa(poolerMaxClients),
		"PGBOUNCER_LISTEN_PORT":     strconv.Itoa(dockerPoolerPort),
	}
	bouncer, err := testcontainers.Run(ctx, t.poolerImage,
		noLog,
		testcontainers.WithEnv(env),
		testcontainers.WithExposedPorts(fmt.Sprintf("%d/tcp", dockerPoolerPort)),
		testcontainers.WithLabels(t.roleLabels("pgbouncer")),
		testcontainers.WithName(t.containerName("pgbouncer")),
		network.WithNetwork([]string{"pgbouncer"}, t.network),
		testcontainers.WithWaitStrategyAndDeadline(time.Until(deadline), &dockerLogWait{text: "process up", times: 1}),
	)
	if bouncer != nil {
		t.bouncer = bouncer
	}
	if err != nil {
		return t.startError("pgbouncer", err)
	}
	if logs := dockerLogs(ctx, bouncer); logs != "" {
		if m := pgbouncerVersionRE.FindStringSubmatch(logs); m != nil {
			t.poolerVer = m[1]
		}
	}
	cands, err := t.candidates(ctx, bouncer, dockerPoolerPort)
	if err != nil {
		return err
	}
	// The same path as the server's: the load must not take docker-proxy on one side only.
	var same []dockerCandidate
	for _, c := range cands {
		if c.path == t.path {
			same = append(same, c)
		}
	}
	if len(same) == 0 {
		return fmt.Errorf("docker target: pgbouncer has no %s to reach it by", t.path)
	}
	// Simple protocol: a statement prepared by the ping must not meet transaction pooling.
	_, addr, err := t.reach(ctx, same, deadline, func(a dockerAddr) string {
		return t.url(a, "postgres") + "&default_query_exec_mode=simple_protocol&connect_timeout=" +
			strconv.Itoa(int(dockerDialTimeout/time.Second))
	})
	if err != nil {
		return fmt.Errorf("docker target: pgbouncer: %w", err)
	}
	t.poolAddr = addr
	t.source = newPgbouncerSource(addr.host, addr.port, dockerSuperuser, t.password)
	return nil
}

// dockerLogWait waits until a container's log holds text at least times times. Unlike
// testcontainers' wait.ForLog it fails at once when the container stops, with its exit code, so
// that a server rejecting a setting does not wait out the start timeout.
type dockerLogWait struct {
	text  string
	times int
}

// WaitUntilReady implements wait.Strategy.
func (w *dockerLogWait) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	backoff := 20 * time.Millisecond
	for {
		state, err := target.State(ctx)
		if err != nil {
			return fmt.Errorf("container state: %w", err)
		}
		if !state.Running {
			if state.OOMKilled {
				return errors.New("the container ran out of memory (OOMKilled) while starting")
			}
			return fmt.Errorf("the container stopped while starting (%s, exit code %d)", state.Status, state.ExitCode)
		}
		if n, err := w.count(ctx, target); err == nil && n >= w.times {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q in the log: %w", w.text, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func (w *dockerLogWait) count(ctx context.Context, target wait.StrategyTarget) (int, error) {
	rc, err := target.Logs(ctx)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n := 0
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), w.text) {
			n++
		}
	}
	return n, nil
}

// Engine connection and process-wide testcontainers settings.

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
// It is a usage error (IsUsage). Its message is one line in pgscale's words: the engine's own
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

// As makes the error a usage error for IsUsage.
func (e *ImageUnavailableError) As(target any) bool {
	if u, ok := target.(**UsageError); ok {
		*u = &UsageError{Msg: e.Error()}
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
