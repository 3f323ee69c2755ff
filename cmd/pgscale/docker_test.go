package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// dockerImage is the image the CLI's docker tests run: $PGSCALE_IMAGE, else what `make image`
// builds.
func dockerImage() string {
	if image := os.Getenv(harness.EnvImage); image != "" {
		return image
	}
	return harness.BuiltImage
}

// requireDockerCLI skips without a docker target (engine and images), or fails under
// PGSCALE_REQUIRE_DOCKER=1, which .ci/run sets when `docker info` works.
func requireDockerCLI(t *testing.T) *client.Client {
	t.Helper()
	spec := harness.Spec{Image: dockerImage(), Pooler: &harness.PoolerSpec{Kind: "pgbouncer", Mode: "transaction", Size: 1}}
	if err := (&harness.DockerProvider{}).AvailableFor(context.Background(), spec); err != nil {
		if os.Getenv("PGSCALE_REQUIRE_DOCKER") == "1" {
			t.Fatalf("PGSCALE_REQUIRE_DOCKER=1 but the docker target cannot run: %v", err)
		}
		t.Skipf("no docker target here: %v", err)
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// pgscaleContainers lists the containers (and counts the networks) labelled with label.
func pgscaleContainers(t *testing.T, cli *client.Client, label string) (containers []string, networks int) {
	t.Helper()
	f := make(client.Filters).Add("label", label)
	list, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Items {
		containers = append(containers, strings.Join(c.Names, ","))
	}
	nets, err := cli.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return containers, len(nets.Items)
}

// TestDockerRunWithShapeAndPooler is the acceptance run, shortened: select-only on a 1cpu-1gb
// container with PgBouncer in front succeeds, records image, shape, pooler and network path, and
// leaves no container or network.
func TestDockerRunWithShapeAndPooler(t *testing.T) {
	cli := requireDockerCLI(t)
	t.Parallel()
	out := t.TempDir()
	code, _, stderr := runCLI(t, append([]string{"run", "select-only", "--target", "docker", "--image", dockerImage(),
		"--shape", "1cpu-1gb", "--pooler", "pgbouncer", "--pooler-mode", "session", "--pooler-size", "4",
		"--duration", "2s", "--warmup", "0s", "--set", "scale=1", "--set", "variants=prepared", "--workers", "4", "--out", out},
		pacedLoad...)...)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Environment.TargetDetail
	if res.Environment.Target != "docker" || d["image"] != dockerImage() || d["shape"] != "1cpu-1gb" ||
		d["pooler"] != "pgbouncer" || d["pooler_mode"] != "session" || d["pooler_size"] != "4" || d["network_path"] == "" {
		t.Errorf("the result's environment does not record the docker target: %s %v", res.Environment.Target, d)
	}
	if len(res.Series) != 1 || res.Series[0].Ops == 0 || report.TotalErrors(res.Series[0]) != 0 {
		t.Fatalf("series %+v", res.Series)
	}
	var pooled bool
	for _, sec := range res.Series[0].Timeline {
		if sec.Server != nil && sec.Server.PoolerServersActive != nil {
			pooled = true
			if *sec.Server.PoolerServersActive > 4 {
				t.Errorf("second %d: %d servers active, more than --pooler-size 4", sec.T, *sec.Server.PoolerServersActive)
			}
		}
	}
	if !pooled {
		t.Error("the timeline has no PgBouncer figures")
	}
	if c, n := pgscaleContainers(t, cli, harness.LabelRun+"="+res.RunID); len(c) != 0 || n != 0 {
		t.Errorf("after the run: containers %v and %d networks of run %s", c, n, res.RunID)
	}
}

// TestDockerCtrlCLeavesNoContainer interrupts a docker run under load: it writes an interrupted
// result, and its containers and network are gone.
func TestDockerCtrlCLeavesNoContainer(t *testing.T) {
	cli := requireDockerCLI(t)
	t.Parallel()
	bin := buildPgscale(t)
	out := t.TempDir()
	cmd := exec.Command(bin, append([]string{"run", "select-only", "--target", "docker", "--image", dockerImage(), "--pooler", "pgbouncer",
		"--duration", "60s", "--warmup", "0s", "--workers", "2", "--set", "scale=1", "--set", "variants=simple", "--out", out},
		pacedLoad...)...)
	_, stderr := startRunWithin(t, cmd, 3*time.Minute)
	owner := harness.LabelOwnerPID + "=" + strconv.Itoa(cmd.Process.Pid)
	if c, n := pgscaleContainers(t, cli, owner); len(c) != 2 || n != 1 {
		t.Errorf("while running: containers %v and %d networks labelled %s, want postgres and pgbouncer on one network", c, n, owner)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 60*time.Second); code != exitInterrupted {
		t.Fatalf("exit %d, want %d:\n%s", code, exitInterrupted, stderr())
	}
	res, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusInterrupted {
		t.Errorf("status %q, want interrupted", res.Status)
	}
	if c, n := pgscaleContainers(t, cli, owner); len(c) != 0 || n != 0 {
		t.Errorf("after Ctrl-C: containers %v and %d networks labelled %s", c, n, owner)
	}
}

// TestContainerBadInputExitsTwo: bad docker, pooler and latency flags get one line and exit 2,
// before anything starts (no engine needed).
func TestContainerBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown shape", []string{"--target", "docker", "--shape", "huge"}, `--shape "huge": not a shape; give <cpus>cpu-<memory> (1cpu-1gb, 2cpu-4gb, 0.5cpu-512mb) or one of aws-db.m6g.large`},
		{"malformed image", []string{"--target", "docker", "--image", "Postgres:15"}, `--image "Postgres:15": not a valid image reference`},
		{"pooler size", []string{"--pooler", "pgbouncer", "--pooler-size", "0"}, `--pooler-size 0: must be at least 1`},
		{"pooler mode", []string{"--pooler", "pgbouncer", "--pooler-mode", "statement"}, `--pooler-mode "statement": valid modes are transaction, session`},
		{"unknown pooler", []string{"--pooler", "pgpool"}, `--pooler "pgpool": the valid pooler is pgbouncer`},
		{"pooler size without pooler", []string{"--pooler-size", "5"}, `--pooler-size needs --pooler pgbouncer`},
		{"shape on local", []string{"--target", "local", "--shape", "1cpu-1gb"}, `--shape is for --target docker`},
		{"negative latency", []string{"--latency", "-2ms"}, `--latency -2ms: must be from 0`},
		{"latency twice", []string{"--latency", "0ms,1ms,1ms"}, `--latency 1ms: given twice in the list`},
		{"latency not a duration", []string{"--latency", "1ms,12"}, `invalid argument "1ms,12" for "--latency" flag`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"run", "select-only", "--out", out}, c.args...)
			code, _, stderr := runCLI(t, args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q does not contain %q", stderr, c.want)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines > 0 {
				t.Fatalf("error spans %d lines, want one: %q", lines+1, stderr)
			}
		})
	}
}

// TestDockerMissingImageSaysMakeImage: an image that is not here and cannot be pulled gets a
// usage error saying how to build one.
func TestDockerMissingImageSaysMakeImage(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	code, _, stderr := runCLI(t, "run", "select-only", "--target", "docker", "--image", "pgscale/postgres:no-such-tag", "--out", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, "`make image`") || !strings.Contains(stderr, "pgscale/postgres:no-such-tag") {
		t.Fatalf("exit %d, stderr %q; want exit 2 naming the image and `make image`", code, stderr)
	}
}
