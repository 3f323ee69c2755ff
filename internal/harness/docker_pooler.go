package harness

// The PgBouncer container in front of the server.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
)

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
