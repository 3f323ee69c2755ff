package harness

// Starting the server container and reaching it: the engine check, the container, the candidate
// addresses, and the shape check.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/network"

	"github.com/pgscale/pgscale/internal/usage"
)

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
		errs = append(errs, usage.Fieldf("shape", "%s: %s CPUs, but the Docker engine has %d; pick a shape with at most %d CPUs",
			s.Name, strconv.FormatFloat(s.CPUs, 'f', -1, 64), in.NCPU, in.NCPU))
	}
	if in.MemTotal > 0 && s.MemoryBytes > in.MemTotal {
		errs = append(errs, usage.Fieldf("shape", "%s: %d MiB of memory, but the Docker engine has %d MiB, so the limit could never bind; "+
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
		return usage.Errorf("docker target: postgres rejected a setting: %s", msg)
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
