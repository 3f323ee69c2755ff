package queue

import (
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/shard"
)

// TestRunsSharingADatabaseEndOnlyTheirOwnWorkers runs two queue runs at once on one database of
// the shared server, each in a schema of its own through the dsn target: the shorter one's
// point ends while the longer one's workers are busy, and ends only its own workers' backends.
// With one application_name for every run's workers, it waited 3 s for the other run's workers
// and then terminated them, which broke that run's exactly-once check.
func TestRunsSharingADatabaseEndOnlyTheirOwnWorkers(t *testing.T) {
	harnesstest.RequirePostgres(t)
	sets := map[string]string{"variants": VariantDedicated, "workers": "10", "history": "1000", "backlog": "50000", "work": "2ms"}
	for _, c := range []struct {
		name     string
		duration time.Duration
	}{{"short", time.Second}, {"long", 6 * time.Second}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := run(t, sets, c.duration, 0)[VariantDedicated]
			checkExactlyOnce(t, s)
			if n := s.Metrics[MetricBackendsTerminatedAfterRun]; n != 0 {
				t.Errorf("%s: %v backends terminated after the run, want none: its workers had closed their connections", c.name, n)
			}
		})
	}
}

// TestAppNameIsTheRunsAndFits: the workers' application_name is the run's schema's on a dsn
// target, with the shard's index when sharded, and never longer than the server keeps.
func TestAppNameIsTheRunsAndFits(t *testing.T) {
	t.Parallel()
	whole := shardRole{seg: shard.Whole}
	second := shardRole{seg: shard.Segment{I: 1, N: 3}}
	long := "pgscale_" + strings.Repeat("r", 60)
	for _, c := range []struct {
		role         shardRole
		schema, want string
	}{
		{whole, "public", workerAppName},
		{whole, "", workerAppName},
		{whole, "pgscale_run1", "pgscale_run1-queue"},
		{second, "pgscale_run1", "pgscale_run1-queue-1"},
		{second, "public", workerAppName + "-1"},
		{whole, long, long[:maxAppName]},
		{second, long, long[:maxAppName-2] + "-1"},
	} {
		if got := c.role.appName(c.schema); got != c.want || len(got) > maxAppName {
			t.Errorf("appName(%q) of segment %v = %q, want %q (at most %d bytes)", c.schema, c.role.seg, got, c.want, maxAppName)
		}
	}
}
