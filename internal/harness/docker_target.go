package harness

// A started docker target: its addresses, what it tells about itself, and closing it.

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

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
