package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/pgscale/pgscale/internal/usage"
)

// EnvRequireDocker makes the docker tests fail, not skip, when no engine or image is there;
// .ci/run sets it when `docker info` works.
const envRequireDocker = "PGSCALE_REQUIRE_DOCKER"

// dockerTestImage is the image the docker tests run: $PGSCALE_IMAGE, else the one `make image`
// builds (this machine has no registry to pull the official one from).
func dockerTestImage() string {
	if image := os.Getenv(EnvImage); image != "" {
		return image
	}
	return BuiltImage
}

// requireDocker skips the test when no engine answers or the images are missing, saying why;
// under PGSCALE_REQUIRE_DOCKER=1 that is a failure instead.
func requireDocker(t *testing.T, pooler bool) {
	t.Helper()
	spec := Spec{Image: dockerTestImage()}
	if pooler {
		spec.Pooler = &PoolerSpec{Kind: PoolerPgBouncer, Mode: PoolerModeTransaction, Size: 1}
	}
	if err := (&DockerProvider{}).AvailableFor(context.Background(), spec); err != nil {
		if os.Getenv(envRequireDocker) == "1" {
			t.Fatalf("%s=1 but the docker target cannot run: %v", envRequireDocker, err)
		}
		t.Skipf("no docker target here: %v", err)
	}
}

// dockerTestClient is a client of the engine for the tests' own checks.
func dockerTestClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := dockerConnect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// labelledCount counts the containers and networks carrying label.
func labelledCount(t *testing.T, cli *client.Client, label string) (containers, networks int) {
	t.Helper()
	f := make(client.Filters).Add("label", label)
	list, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := cli.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items), len(nets.Items)
}

// TestDockerTarget starts one target, a 1cpu-1gb server with PgBouncer in front, and checks
// everything on it: fsync, settings, limits, labels, the pooler's hold on server connections,
// and that Close leaves nothing.
func TestDockerTarget(t *testing.T) {
	requireDocker(t, true)
	t.Parallel()
	cli := dockerTestClient(t)
	const poolSize = 3
	began := time.Now()
	target, err := (&DockerProvider{}).StartDocker(context.Background(), Spec{Kind: KindDocker, RunID: "docker-target-test",
		Image: dockerTestImage(), Shape: "1cpu-1gb", Settings: map[string]string{"max_connections": "57"},
		Pooler: &PoolerSpec{Kind: PoolerPgBouncer, Mode: PoolerModeTransaction, Size: poolSize}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close(context.Background()) })
	t.Logf("docker target with pgbouncer started in %s (network path %s)", time.Since(began).Round(time.Millisecond), target.NetworkPath())
	label := LabelTarget + "=" + target.id

	t.Run("fsync is on and settings are on the command line", func(t *testing.T) {
		info, err := target.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Settings["fsync"] != "on" {
			t.Errorf("fsync = %q in the container, want on (the postgres module's default command turns it off)", info.Settings["fsync"])
		}
		if info.MaxConnections != 57 {
			t.Errorf("max_connections = %d, want 57 from the spec", info.MaxConnections)
		}
	})

	t.Run("shape limits are applied", func(t *testing.T) {
		inspect, err := cli.ContainerInspect(context.Background(), target.ContainerID(), client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hc := inspect.Container.HostConfig
		if hc.NanoCPUs != 1e9 || hc.Memory != 1<<30 {
			t.Errorf("engine reports NanoCPUs %d and Memory %d, want 1e9 and 1 GiB", hc.NanoCPUs, hc.Memory)
		}
		if hc.ShmSize < 256<<20 {
			t.Errorf("/dev/shm is %d bytes; too small for thousands of connections", hc.ShmSize)
		}
		limits, err := ReadCgroupLimits(context.Background(), target.AdminDSN())
		if err != nil {
			t.Fatal(err)
		}
		if limits.CPUs() != 1 || limits.MemoryBytes != 1<<30 {
			t.Errorf("the container's cgroup says %s, want 1 CPU and 1 GiB", limits)
		}
		d := target.Detail()
		if d["shape"] != "1cpu-1gb" || d["shape_cpus"] != "1" || d["shape_memory_mb"] != "1024" || !strings.Contains(d["shape_enforced"], "cgroup") {
			t.Errorf("detail does not record the shape: %v", d)
		}
		if d["network_path"] != PathContainerAddress && d["network_path"] != PathPublishedPort {
			t.Errorf("detail network_path = %q", d["network_path"])
		}
		if d["image"] != dockerTestImage() || d["pooler"] != "pgbouncer" || d["pooler_size"] != "3" {
			t.Errorf("detail does not record image and pooler: %v", d)
		}
		for k, v := range d {
			if strings.Contains(v, target.password) {
				t.Errorf("detail %s holds the password", k)
			}
		}
	})

	t.Run("containers and network are labelled", func(t *testing.T) {
		containers, networks := labelledCount(t, cli, label)
		if containers != 2 || networks != 1 {
			t.Errorf("%d containers and %d networks labelled %s, want 2 (postgres, pgbouncer) and 1", containers, networks, label)
		}
		inspect, err := cli.ContainerInspect(context.Background(), target.ContainerID(), client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l := inspect.Container.Config.Labels
		if l[LabelRun] != "docker-target-test" || l[LabelOwnerPID] != strconv.Itoa(os.Getpid()) || l[LabelRole] != "postgres" {
			t.Errorf("labels %v", l)
		}
		if reason, orphan := dockerOrphaned(l); orphan {
			t.Errorf("a live test's container counts as orphaned: %s", reason)
		}
	})

	t.Run("pgbouncer holds at most pooler-size server connections", func(t *testing.T) {
		checkPoolerLoad(t, loadThroughPooler(t, target, 10, 1500*time.Millisecond), poolSize)
	})

	t.Run("close removes everything", func(t *testing.T) {
		if err := target.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c, n := labelledCount(t, cli, label); c != 0 || n != 0 {
			t.Errorf("after Close %d containers and %d networks labelled %s remain", c, n, label)
		}
		if err := target.Close(context.Background()); err != nil {
			t.Errorf("a second Close: %v", err)
		}
	})
}

// TestDockerStartFailureLeavesNothing: a setting PostgreSQL rejects is a usage error with
// PostgreSQL's words, found at once (not after the start timeout), and the container is gone.
func TestDockerStartFailureLeavesNothing(t *testing.T) {
	requireDocker(t, false)
	t.Parallel()
	cli := dockerTestClient(t)
	began := time.Now()
	// A start timeout far beyond a start on a busy machine: a failure seen only at the timeout
	// would show in how long it took.
	const timeout = 4 * time.Minute
	_, err := (&DockerProvider{StartTimeout: timeout}).Start(context.Background(), Spec{Kind: KindDocker, RunID: "docker-bad-setting-test",
		Image: dockerTestImage(), Settings: map[string]string{"shared_buffers": "lots"}})
	if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), `shared_buffers`) {
		t.Fatalf("start with shared_buffers=lots: %v; want a usage error naming the setting", err)
	}
	if took := time.Since(began); took > timeout*3/4 {
		t.Errorf("the failure took %s: the start waited out its timeout instead of seeing the container stop", took)
	}
	if c, n := labelledCount(t, cli, LabelRun+"=docker-bad-setting-test"); c != 0 || n != 0 {
		t.Errorf("the failed start left %d containers and %d networks", c, n)
	}
}

// TestDockerBadInput: what is wrong is said before anything starts.
func TestDockerBadInput(t *testing.T) {
	requireDocker(t, false)
	t.Parallel()
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"malformed image", Spec{Image: "Postgres:15"}, `--image "Postgres:15": not a valid image reference`},
		{"missing image", Spec{Image: "pgscale/postgres:no-such-tag"}, "`make image`"},
		{"unknown shape", Spec{Image: dockerTestImage(), Shape: "huge"}, `--shape "huge": not a shape`},
		{"more CPUs than the engine", Spec{Image: dockerTestImage(), Shape: "4096cpu-1gb"}, `CPUs, but the Docker engine has`},
		{"pooler size", Spec{Image: dockerTestImage(), Pooler: &PoolerSpec{Kind: "pgbouncer", Mode: "transaction", Size: 0}}, `--pooler-size 0`},
		{"fsync off", Spec{Image: dockerTestImage(), Settings: map[string]string{"fsync": "off"}}, `--pg-setting fsync=off: refused`},
		{"managed setting", Spec{Image: dockerTestImage(), Settings: map[string]string{"port": "5433"}}, `the docker target sets port itself`},
	}
	cli := dockerTestClient(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Kind, c.spec.RunID = KindDocker, "docker-bad-input-"+strings.ReplaceAll(c.name, " ", "-")
			_, err := (&DockerProvider{}).Start(context.Background(), c.spec)
			if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Start: %v; want a usage error containing %q", err, c.want)
			}
			if n, _ := labelledCount(t, cli, LabelRun+"="+c.spec.RunID); n != 0 {
				t.Errorf("bad input started %d containers", n)
			}
		})
	}
}

// TestDockerNoEngine: --target docker with no engine says so, and how to get one.
func TestDockerNoEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/pgscale-test.sock")
	err := (&DockerProvider{}).Available(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no Docker engine answers at unix:///nonexistent/pgscale-test.sock") ||
		!strings.Contains(err.Error(), "--target local") {
		t.Fatalf("Available with no engine: %v", err)
	}
	_, _, err = Choose(context.Background(), KindDocker)
	if err == nil || !strings.HasPrefix(err.Error(), "docker target: no Docker engine answers") {
		t.Errorf("Choose(docker) with no engine: %v", err)
	}
}

// TestCleanReapsDeadRunsContainers: a container labelled by a pgscale process that is gone is
// removed; one of a live process stays.
func TestCleanReapsDeadRunsContainers(t *testing.T) {
	requireDocker(t, false)
	t.Parallel()
	cli := dockerTestClient(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	run := "clean-test-" + strconv.Itoa(os.Getpid())
	create := func(role string, ownerPID int) string {
		labels := dockerLabels(run, "cleantest"+role)
		labels[LabelOwnerPID] = strconv.Itoa(ownerPID)
		delete(labels, LabelOwnerStart)
		res, err := cli.ContainerCreate(context.Background(), client.ContainerCreateOptions{
			Config: &container.Config{Image: dockerTestImage(), Cmd: []string{"sleep", "60"}, Labels: labels},
			Name:   "pgscale-" + run + "-" + role,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = cli.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		})
		return res.ID
	}
	create("dead", dead.Process.Pid)
	create("live", os.Getpid())
	var out bytes.Buffer
	if _, err := reapDockerRuns(context.Background(), &out, false, cleanScope{docker: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "removed docker container pgscale-"+run+"-dead of run "+run) {
		t.Errorf("clean output %q does not report the dead run's container", out.String())
	}
	if strings.Contains(out.String(), run+"-live") {
		t.Errorf("clean removed a live run's container: %q", out.String())
	}
	if c, _ := labelledCount(t, cli, LabelTarget+"=cleantestdead"); c != 0 {
		t.Errorf("the dead run's container is still there")
	}
	if c, _ := labelledCount(t, cli, LabelTarget+"=cleantestlive"); c != 1 {
		t.Errorf("the live run's container is gone")
	}
}

// TestDockerConcurrentCloseIsSafe: the tracker's second-Ctrl-C Close and the runner's deferred
// Close may race; both return and nothing is left.
func TestDockerConcurrentCloseIsSafe(t *testing.T) {
	requireDocker(t, false)
	t.Parallel()
	cli := dockerTestClient(t)
	target, err := (&DockerProvider{}).StartDocker(context.Background(), Spec{Kind: KindDocker, RunID: "docker-close-test",
		Image: dockerTestImage()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), target.DSN())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := target.Close(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if c, n := labelledCount(t, cli, LabelTarget+"="+target.id); c != 0 || n != 0 {
		t.Errorf("%d containers, %d networks left", c, n)
	}
}
