package measure

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/sizing"
	"github.com/pgscale/pgscale/internal/usage"
)

func TestPrivateKB(t *testing.T) {
	t.Parallel()
	smaps := `55d0c0a00000-7ffd5a1f3000 ---p 00000000 00:00 0                          [rollup]
Rss:                9540 kB
Pss:                1873 kB
Shared_Clean:       7312 kB
Shared_Dirty:        644 kB
Private_Clean:       212 kB
Private_Dirty:      1372 kB
Referenced:         9540 kB
`
	kb, err := PrivateKB(smaps)
	if err != nil || kb != 1584 {
		t.Errorf("PrivateKB = %g, %v; want 212 + 1372 = 1584", kb, err)
	}
	if _, err := PrivateKB("Rss: 10 kB\n"); err == nil {
		t.Error("no Private lines: no error")
	}
}

func TestPrepareRejectsBadShapes(t *testing.T) {
	t.Parallel()
	probes := []sizing.ProbeSpec{{Kind: sizing.ProbeQuery, Scenario: "select-only", Variant: "prepared",
		Sets: map[string]string{"variants": "prepared", "scale": "1"}}}
	base := Options{Duration: time.Second, Rounds: 1, Dir: t.TempDir()}
	for _, c := range []struct {
		shapes []string
		want   string
	}{
		{[]string{"0.5cpu-1gb", "2cpux-1gb"}, `--shapes "2cpux-1gb": not a shape; give <cpus>cpu-<memory>`},
		{[]string{"0.5cpu-1gb"}, "give at least two shapes with different CPU limits"},
		{[]string{"0.5cpu-1gb", "0.5cpu-2gb"}, "both have 0.5 CPUs"},
		{[]string{"0.001cpu-1gb", "1cpu-1gb"}, "below Docker's minimum"},
		{[]string{"0.5cpu-1mb", "1cpu-1gb"}, "too little for PostgreSQL"},
	} {
		o := base
		o.Shapes = c.shapes
		_, err := Prepare(o, probes, time.Now())
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v; want one usage line containing %q", c.shapes, err, c.want)
		}
	}
	// The probes of a workload with connects and jobs are valid runs of their scenarios.
	w := &sizing.Workload{ConnectsPerRequest: sizing.Quantity{Value: 0.5}, JobRate: 100}
	o := base
	o.Shapes = []string{"0.25cpu-512mb", "0.5cpu-512mb"}
	if p, err := Prepare(o, sizing.ProbesFor(w), time.Now()); err != nil || len(p.groups) != 2 {
		t.Errorf("select-only and queue probes: %v; want two groups, no error", err)
	}

	// Fractional CPUs are shapes.
	o = base
	o.Shapes = []string{"0.75cpu-512mb", "0.25cpu-512mb"}
	p, err := Prepare(o, probes, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Shapes(); s[0].CPUs != 0.25 || s[1].CPUs != 0.75 {
		t.Errorf("shapes %v, want by CPU: 0.25 then 0.75", s)
	}
}

// requireDocker skips without a docker target (engine and image), or fails under
// PGSCALE_REQUIRE_DOCKER=1.
func requireDocker(t *testing.T) {
	t.Helper()
	if err := (&harness.DockerProvider{}).AvailableFor(context.Background(), harness.Spec{Image: testImage()}); err != nil {
		if os.Getenv("PGSCALE_REQUIRE_DOCKER") == "1" {
			t.Fatalf("PGSCALE_REQUIRE_DOCKER=1 but the docker target cannot run: %v", err)
		}
		t.Skipf("no docker target here: %v", err)
	}
}

func testImage() string {
	if image := os.Getenv(harness.EnvImage); image != "" {
		return image
	}
	return harness.BuiltImage
}

// TestMeasureOnShapes runs select-only on two real container shapes, briefly, and checks the
// phenomenon --measure rests on: the smaller CPU limit carries less, so the fit has a positive
// slope; and that the memory of idle backends is read, and nothing is left running.
func TestMeasureOnShapes(t *testing.T) {
	requireDocker(t)
	w := &sizing.Workload{}
	var dir string // the last measurement's
	measure := func() *sizing.Measurement {
		dir = t.TempDir()
		plan, err := Prepare(Options{
			Shapes: []string{"0.25cpu-512mb", "0.5cpu-512mb"}, Image: testImage(), Duration: 2 * time.Second,
			Warmup: 500 * time.Millisecond, Rounds: 1, Backends: 10, Dir: dir,
		}, sizing.ProbesFor(w), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		m, err := plan.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Probes) != 1 || len(m.Probes[0].Points) != 2 {
			t.Fatalf("probes %+v; want one with two points", m.Probes)
		}
		return m
	}
	// A host that other test binaries keep busy can hold the larger shape below its CPU limit:
	// the probe then says the shapes did not bind (seen when make test ran this beside the
	// queue and select-only tests: 6,480/s on 0.25 CPU, 5,804/s on 0.5). A second measurement
	// must show the phenomenon.
	m := measure()
	if p := m.Probes[0]; !p.Usable || p.Points[1].Throughput <= p.Points[0].Throughput {
		t.Logf("first measurement: the shapes did not bind, measuring again: %s", p.Text)
		m = measure()
	}
	p := m.Probes[0]
	small, large := p.Points[0], p.Points[1]
	t.Logf("%s", p.Text)
	if small.Throughput <= 0 || large.Throughput <= small.Throughput {
		t.Errorf("throughput %g/s on %g CPU and %g/s on %g: the larger shape should carry more", small.Throughput, small.CPUs, large.Throughput, large.CPUs)
	}
	if !p.Usable || p.PerVCPU <= 0 {
		t.Errorf("fit not usable: %s", p.Text)
	}
	if m.Memory == nil || m.Memory.Backends != 10 || m.Memory.MiB < 0.2 || m.Memory.MiB > 50 {
		t.Errorf("backend memory %+v (warnings %q); want 10 backends of 0.2 to 50 MiB", m.Memory, m.Warnings)
	}
	for _, pt := range p.Points {
		if _, err := os.Stat(pt.Result); err != nil {
			t.Errorf("result file of %s: %v", pt.Shape, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "round-1")); err != nil {
		t.Errorf("results not under the measure directory: %v", err)
	}
	// Nothing of pgscale's is left running.
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	list, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", harness.LabelRole)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Items {
		if strings.Contains(strings.Join(c.Names, ","), "size") {
			t.Errorf("container left behind: %v", c.Names)
		}
	}
}

// A workload probe prepares a run of the workload file per round and shape (its scripts, its
// setup, a closed loop: no stages), and a bad workload file stops the plan before anything runs.
func TestPrepareWorkloadProbe(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "..", "examples", "workloads", "events.yaml") // stages and per-transaction connects
	probes := sizing.WithWorkload(sizing.ProbesFor(&sizing.Workload{}), path, "events")
	o := Options{Shapes: []string{"0.25cpu-512mb", "0.5cpu-512mb"}, Duration: time.Second, Rounds: 2, Dir: t.TempDir()}
	p, err := Prepare(o, probes, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.groups) != 1 || p.groups[0].workload != path || len(p.runs) != 2 || len(p.runs[0]) != 2 {
		t.Fatalf("groups %+v, runs %d: want one workload group run on 2 shapes in 2 rounds", p.groups, len(p.runs))
	}
	ro, err := workloadOptions(path, runnerOptions())
	if err != nil {
		t.Fatal(err)
	}
	if ro.Pacer != nil || ro.Rate != 0 || ro.Params["stages"] != nil || ro.Params["workload"] != "events" || ro.Workers != 32 || ro.Instance == nil {
		t.Errorf("workload probe options %+v: want a closed loop of the file's 32 workers", ro)
	}
	bad := sizing.WithWorkload(nil, filepath.Join(t.TempDir(), "none.yaml"), "none")
	if _, err := Prepare(o, bad, time.Now()); err == nil || !usage.Is(err) || !strings.Contains(err.Error(), "none.yaml: no such file") {
		t.Errorf("a missing workload file: %v", err)
	}
}

func runnerOptions() runner.Options { return runner.Options{Duration: time.Second, Warmup: 0} }
